/* What the stream tests share. */
#ifndef EDO_TEST_STREAM_TEST_H
#define EDO_TEST_STREAM_TEST_H

#include "edo/stream.h"
#include "harness.h"

/* Polls a stream future once by hand, with a waker that does nothing (no runtime needed). */
static inline edo_poll poll_once(edo_stream_future *f)
{
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    return edo_future_poll(&f->base, &cx, NULL);
}

/* Reads exactly `len` bytes (in a coroutine), failing the test at an error or the end. */
static inline void read_exact(edo_stream *s, char *buf, size_t len)
{
    size_t have = 0;
    while (have < len) {
        ssize_t n = edo_stream_read(s, buf + have, len - have);
        CHECK(n > 0);
        have += (size_t)n;
    }
}

#endif
