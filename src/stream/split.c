/* edo_stream_split: a read half and a write half over one stream, so that a reader task and a
 * writer task each own a stream of their own. The halves forward to the stream: the contract
 * already allows one read and one write in flight at once, from different threads, so the
 * halves need no lock; what they add is that each can only do its own direction, and that the
 * stream is closed when both halves are.
 *
 * Both halves live in one allocation with a count of open halves; the second close closes the
 * stream and frees it. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "edo/io.h"
#include "edo/stream_copy.h"
#include "stream/forward.h"

typedef struct split split;

/* A wrapper of the stream: its own direction's operations are forward.h's. */
typedef struct half {
    edo__stream_wrapper w;
    split *owner;
} half;

struct split {
    half read, write;
    atomic_int open; /* halves not yet closed */
};

static edo_stream *inner_of(edo_stream *s) { return ((half *)s)->w.inner; }

/* What a half answers for the other half's operations: "not open for that" (as write(2) on a
 * file opened for reading only). */
static edo_poll wrong_half(ssize_t *result)
{
    *result = -EBADF;
    return EDO_READY;
}

static edo_poll write_half_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                                size_t len, ssize_t *result)
{
    (void)s, (void)w, (void)cx, (void)buf, (void)len;
    return wrong_half(result);
}

static edo_poll read_half_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                const struct iovec *iov, int iovcnt, ssize_t *result)
{
    (void)s, (void)w, (void)cx, (void)iov, (void)iovcnt;
    return wrong_half(result);
}

/* A half's readiness: only its own direction's (the other's bits are not asked of the stream). */
static edo_poll half_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx, uint32_t interest,
                           ssize_t *result, uint32_t own)
{
    edo_stream *in = inner_of(s);
    if (!(interest & own))
        return wrong_half(result);
    return edo__stream_poll_ready(in, w, cx, interest & own, result);
}

static edo_poll read_half_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                uint32_t interest, ssize_t *result)
{
    return half_ready(s, w, cx, interest, result, EDO_READABLE);
}

static edo_poll write_half_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                 uint32_t interest, ssize_t *result)
{
    return half_ready(s, w, cx, interest, result, EDO_WRITABLE);
}

static edo_poll half_raw_io(edo_stream *s, edo_stream_waiter *w, edo_context *cx, bool write,
                            edo_stream_raw_op op, void *ctx, ssize_t *result, bool own)
{
    edo_stream *in = inner_of(s);
    if (write != own)
        return wrong_half(result);
    return edo__stream_poll_raw_io(in, w, cx, write, op, ctx, result);
}

static edo_poll read_half_raw_io(edo_stream *s, edo_stream_waiter *w, edo_context *cx, bool write,
                                 edo_stream_raw_op op, void *ctx, ssize_t *result)
{
    return half_raw_io(s, w, cx, write, op, ctx, result, false);
}

static edo_poll write_half_raw_io(edo_stream *s, edo_stream_waiter *w, edo_context *cx, bool write,
                                  edo_stream_raw_op op, void *ctx, ssize_t *result)
{
    return half_raw_io(s, w, cx, write, op, ctx, result, true);
}

/* The second close closes the stream (its error is this close's); the first only counts. */
static int half_close(edo_stream *s)
{
    split *sp = ((half *)s)->owner;
    if (atomic_fetch_sub_explicit(&sp->open, 1, memory_order_acq_rel) != 1)
        return 0;
    edo_stream *inner = sp->read.w.inner;
    free(sp);
    return inner->vtable->close(inner);
}

static const edo_stream_vtable read_half_vtable = {
    .poll_read = edo__wrapper_poll_read,
    .poll_write = read_half_write,
    .poll_ready = read_half_ready,
    .drop_waiter = edo__wrapper_drop_waiter,
    .raw_fd = edo__wrapper_raw_fd_read_side,
    .poll_raw_io = read_half_raw_io,
    .close = half_close,
};

static const edo_stream_vtable write_half_vtable = {
    .poll_read = write_half_read,
    .poll_write = edo__wrapper_poll_write,
    .poll_flush = edo__wrapper_poll_flush,
    .poll_shutdown = edo__wrapper_poll_shutdown,
    .poll_ready = write_half_ready,
    .drop_waiter = edo__wrapper_drop_waiter,
    .raw_fd = edo__wrapper_raw_fd_write_side,
    .poll_raw_io = write_half_raw_io,
    .close = half_close,
};

int edo_stream_split(edo_stream *s, edo_stream **read_half, edo_stream **write_half)
{
    if (!edo__stream_is_valid(s) || !read_half || !write_half ||
        (void *)read_half == (void *)write_half)
        return -EINVAL;
    split *sp = malloc(sizeof *sp);
    if (!sp)
        return -ENOMEM;
    sp->read = (half){{{&read_half_vtable}, s}, sp};
    sp->write = (half){{{&write_half_vtable}, s}, sp};
    atomic_init(&sp->open, 2);
    *read_half = &sp->read.w.base;
    *write_half = &sp->write.w.base;
    return 0;
}
