/* What the stream tests share. */
#ifndef EDO_TEST_STREAM_TEST_H
#define EDO_TEST_STREAM_TEST_H

#include "edo/stream.h"

/* Polls a stream future once by hand, with a waker that does nothing (no runtime needed). */
static inline edo_poll poll_once(edo_stream_future *f)
{
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    return edo_future_poll(&f->base, &cx, NULL);
}

#endif
