/* A stream that reads at most a given number of bytes of another (edo/stream_util.h). Reads are
 * clipped to what remains; every other operation is inner's. */
#include <errno.h>
#include <stdlib.h>

#include "edo/io.h"
#include "edo/stream_util.h"
#include "stream/forward.h"

struct edo_stream_take {
    edo__stream_wrapper w; /* first: the stream, and inner */
    uint64_t remaining;
};

static edo_stream_take *take_of(edo_stream *s) { return (edo_stream_take *)s; }

static edo_poll take_poll_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                               size_t len, ssize_t *result)
{
    edo_stream_take *t = take_of(s);
    if (t->remaining == 0) {
        *result = 0; /* the limit is the end of this stream */
        return EDO_READY;
    }
    if (len > t->remaining)
        len = (size_t)t->remaining;
    edo_poll p = t->w.inner->vtable->poll_read(t->w.inner, w, cx, buf, len, result);
    if (p == EDO_READY && *result > 0)
        t->remaining -= (uint64_t)*result;
    return p;
}

static edo_poll take_poll_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                uint32_t interest, ssize_t *result)
{
    edo_stream_take *t = take_of(s);
    if (t->remaining == 0 && (interest & EDO_READABLE)) {
        *result = EDO_READABLE; /* a read returns the end at once */
        return EDO_READY;
    }
    return edo__wrapper_poll_ready(s, w, cx, interest, result);
}

static int take_close(edo_stream *s)
{
    return edo_stream_close(edo_stream_take_into_inner(take_of(s)));
}

static const edo_stream_vtable take_vtable = {
    .poll_read = take_poll_read,
    .poll_write = edo__wrapper_poll_write,
    .poll_flush = edo__wrapper_poll_flush,
    .poll_shutdown = edo__wrapper_poll_shutdown,
    .poll_ready = take_poll_ready,
    .drop_waiter = edo__wrapper_drop_waiter,
    /* reading the fd directly would read past the limit */
    .raw_fd = edo__wrapper_raw_fd_write_side,
    .close = take_close,
};

int edo_stream_take_new(edo_stream *inner, uint64_t limit, edo_stream_take **out)
{
    if (!edo__stream_is_valid(inner) || !out)
        return -EINVAL;
    edo_stream_take *t = malloc(sizeof *t);
    if (!t)
        return -ENOMEM;
    *t = (edo_stream_take){{{&take_vtable}, inner}, limit};
    *out = t;
    return 0;
}

edo_stream *edo_stream_take_stream(edo_stream_take *t) { return t ? &t->w.base : NULL; }

uint64_t edo_stream_take_remaining(const edo_stream_take *t) { return t ? t->remaining : 0; }

void edo_stream_take_set_limit(edo_stream_take *t, uint64_t limit)
{
    if (t)
        t->remaining = limit;
}

edo_stream *edo_stream_take_into_inner(edo_stream_take *t)
{
    if (!t)
        return NULL;
    edo_stream *inner = t->w.inner;
    free(t);
    return inner;
}
