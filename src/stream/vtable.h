/* What a stream's vtable must have and what it may leave out (edo/stream.h).
 *
 * Every stream has poll_read, poll_write and close; edo__stream_is_valid checks them (defined in
 * stream.c, with the calls). The other poll entries are optional, and a missing one has one
 * meaning wherever a stream is driven: no poll_flush, the stream buffers nothing (flushed: 0);
 * no poll_shutdown, poll_ready or poll_raw_io, it cannot do that (-ENOTSUP). The helpers below
 * are the only place that rule is written. */
#ifndef EDO_STREAM_VTABLE_H
#define EDO_STREAM_VTABLE_H

#include <errno.h>
#include <stdbool.h>

#include "edo/stream.h"

/* A stream that may be used: a vtable with the entries every stream has (poll_read,
 * poll_write, close). */
bool edo__stream_is_valid(const edo_stream *s);

/* Writes `*len` bytes at `*buf` until none is left, releasing the waiter after each write that
 * completes; `*buf` and `*len` follow what the stream took, also when it returns PENDING (so
 * the caller can drop what went out). Ready with *result 0 when all went out, or -errno; a
 * write that takes 0 bytes of a non-empty buffer would loop for ever and ends it with
 * `zero_error`. */
edo_poll edo__stream_poll_write_all(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                    const void **buf, size_t *len, ssize_t zero_error,
                                    ssize_t *result);

static inline edo_poll edo__stream_ready_with(ssize_t *result, ssize_t value)
{
    *result = value;
    return EDO_READY;
}

static inline edo_poll edo__stream_poll_flush(edo_stream *s, edo_stream_waiter *w,
                                              edo_context *cx, ssize_t *result)
{
    if (!s->vtable->poll_flush)
        return edo__stream_ready_with(result, 0);
    return s->vtable->poll_flush(s, w, cx, result);
}

static inline edo_poll edo__stream_poll_shutdown(edo_stream *s, edo_stream_waiter *w,
                                                 edo_context *cx, ssize_t *result)
{
    if (!s->vtable->poll_shutdown)
        return edo__stream_ready_with(result, -ENOTSUP);
    return s->vtable->poll_shutdown(s, w, cx, result);
}

static inline edo_poll edo__stream_poll_ready(edo_stream *s, edo_stream_waiter *w,
                                              edo_context *cx, uint32_t interest,
                                              ssize_t *result)
{
    if (!s->vtable->poll_ready)
        return edo__stream_ready_with(result, -ENOTSUP);
    return s->vtable->poll_ready(s, w, cx, interest, result);
}

static inline edo_poll edo__stream_poll_raw_io(edo_stream *s, edo_stream_waiter *w,
                                               edo_context *cx, bool write, edo_stream_raw_op op,
                                               void *ctx, ssize_t *result)
{
    if (!s->vtable->poll_raw_io)
        return edo__stream_ready_with(result, -ENOTSUP);
    return s->vtable->poll_raw_io(s, w, cx, write, op, ctx, result);
}

#endif
