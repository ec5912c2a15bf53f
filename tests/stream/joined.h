/* A test's two-way stream made of two one-way streams (a pipe's reader and another pipe's
 * writer, stdin and stdout): reads go to `in`, writes, flush and shutdown to `out`. A waiter is
 * given back to the stream it was used with: the reading side's and the writing side's are
 * remembered apart (each touched only by its own side). */
#ifndef EDO_TEST_STREAM_JOINED_H
#define EDO_TEST_STREAM_JOINED_H

#include <stdlib.h>
#include <unistd.h>

#include "edo/stream.h"
#include "harness.h"

typedef struct joined {
    edo_stream base;
    edo_stream *in, *out;
    int close_at_shutdown; /* an fd shutdown closes too (stdout's fd 1), or -1 */
    edo_stream_waiter *reading, *writing;
} joined;

static edo_poll joined_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                            size_t len, ssize_t *result)
{
    joined *j = (joined *)s;
    j->reading = w;
    return j->in->vtable->poll_read(j->in, w, cx, buf, len, result);
}

static edo_poll joined_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                             const struct iovec *iov, int iovcnt, ssize_t *result)
{
    joined *j = (joined *)s;
    j->writing = w;
    return j->out->vtable->poll_write(j->out, w, cx, iov, iovcnt, result);
}

static edo_poll joined_flush(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                             ssize_t *result)
{
    joined *j = (joined *)s;
    j->writing = w;
    if (!j->out->vtable->poll_flush) {
        *result = 0;
        return EDO_READY;
    }
    return j->out->vtable->poll_flush(j->out, w, cx, result);
}

static edo_poll joined_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                ssize_t *result)
{
    joined *j = (joined *)s;
    j->writing = w;
    if (j->out->vtable->poll_shutdown(j->out, w, cx, result) == EDO_PENDING)
        return EDO_PENDING;
    if (j->close_at_shutdown >= 0) {
        close(j->close_at_shutdown);
        j->close_at_shutdown = -1;
    }
    return EDO_READY;
}

/* One direction at a time (what the tests ask). */
static edo_poll joined_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                             uint32_t interest, ssize_t *result)
{
    joined *j = (joined *)s;
    CHECK(interest == EDO_READABLE || interest == EDO_WRITABLE);
    edo_stream *side = interest == EDO_READABLE ? j->in : j->out;
    if (interest == EDO_READABLE)
        j->reading = w;
    else
        j->writing = w;
    return side->vtable->poll_ready(side, w, cx, interest, result);
}

static void joined_drop_waiter(edo_stream *s, edo_stream_waiter *w)
{
    joined *j = (joined *)s;
    edo_stream *side = w == j->reading ? j->in : w == j->writing ? j->out : NULL;
    if (side && side->vtable->drop_waiter)
        side->vtable->drop_waiter(side, w);
}

static int joined_close(edo_stream *s)
{
    joined *j = (joined *)s;
    int rc = edo_stream_close(j->in);
    int rc2 = edo_stream_close(j->out);
    free(j);
    return rc < 0 ? rc : rc2;
}

static const edo_stream_vtable joined_vtable = {
    .poll_read = joined_read,
    .poll_write = joined_write,
    .poll_flush = joined_flush,
    .poll_shutdown = joined_shutdown,
    .poll_ready = joined_ready,
    .drop_waiter = joined_drop_waiter,
    .close = joined_close,
};

static inline edo_stream *joined_new(edo_stream *in, edo_stream *out, int close_at_shutdown)
{
    joined *j = calloc(1, sizeof *j);
    CHECK(j);
    *j = (joined){{&joined_vtable}, in, out, close_at_shutdown, NULL, NULL};
    return &j->base;
}

#endif
