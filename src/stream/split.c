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

typedef struct split split;

typedef struct half {
    edo_stream base;
    split *owner;
} half;

struct split {
    half read, write;
    edo_stream *inner;
    atomic_int open; /* halves not yet closed */
};

static edo_stream *inner_of(edo_stream *s)
{
    return ((half *)s)->owner->inner;
}
static const edo_stream *inner_of_const(const edo_stream *s)
{
    return ((const half *)s)->owner->inner;
}

/* What a half answers for the other half's operations: "not open for that" (as write(2) on a
 * file opened for reading only). */
static edo_poll wrong_half(ssize_t *result)
{
    *result = -EBADF;
    return EDO_READY;
}

static edo_poll read_half_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                               size_t len, ssize_t *result)
{
    edo_stream *in = inner_of(s);
    return in->vtable->poll_read(in, w, cx, buf, len, result);
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

static edo_poll write_half_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                 const struct iovec *iov, int iovcnt, ssize_t *result)
{
    edo_stream *in = inner_of(s);
    return in->vtable->poll_write(in, w, cx, iov, iovcnt, result);
}

static edo_poll write_half_flush(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                 ssize_t *result)
{
    edo_stream *in = inner_of(s);
    if (!in->vtable->poll_flush) {
        *result = 0; /* as the stream itself: nothing buffered */
        return EDO_READY;
    }
    return in->vtable->poll_flush(in, w, cx, result);
}

static edo_poll write_half_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                    ssize_t *result)
{
    edo_stream *in = inner_of(s);
    if (!in->vtable->poll_shutdown) {
        *result = -ENOTSUP;
        return EDO_READY;
    }
    return in->vtable->poll_shutdown(in, w, cx, result);
}

/* A half's readiness: only its own direction's (the other's bits are not asked of the stream). */
static edo_poll half_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx, uint32_t interest,
                           ssize_t *result, uint32_t own)
{
    edo_stream *in = inner_of(s);
    if (!(interest & own)) return wrong_half(result);
    if (!in->vtable->poll_ready) {
        *result = -ENOTSUP;
        return EDO_READY;
    }
    return in->vtable->poll_ready(in, w, cx, interest & own, result);
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

static void half_drop_waiter(edo_stream *s, edo_stream_waiter *w)
{
    edo_stream *in = inner_of(s);
    if (in->vtable->drop_waiter) in->vtable->drop_waiter(in, w);
}

static int half_raw_fd(const edo_stream *s, bool write, bool own)
{
    const edo_stream *in = inner_of_const(s);
    if (write != own) return -EBADF;
    return in->vtable->raw_fd ? in->vtable->raw_fd(in, write) : -ENOTSUP;
}

static int read_half_raw_fd(const edo_stream *s, bool write)
{
    return half_raw_fd(s, write, false);
}
static int write_half_raw_fd(const edo_stream *s, bool write)
{
    return half_raw_fd(s, write, true);
}

static edo_poll half_raw_io(edo_stream *s, edo_stream_waiter *w, edo_context *cx, bool write,
                            edo_stream_raw_op op, void *ctx, ssize_t *result, bool own)
{
    edo_stream *in = inner_of(s);
    if (write != own) return wrong_half(result);
    if (!in->vtable->poll_raw_io) {
        *result = -ENOTSUP;
        return EDO_READY;
    }
    return in->vtable->poll_raw_io(in, w, cx, write, op, ctx, result);
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
    if (atomic_fetch_sub_explicit(&sp->open, 1, memory_order_acq_rel) != 1) return 0;
    int rc = sp->inner->vtable->close(sp->inner);
    free(sp);
    return rc;
}

static const edo_stream_vtable read_half_vtable = {
    .poll_read = read_half_read,
    .poll_write = read_half_write,
    .poll_ready = read_half_ready,
    .drop_waiter = half_drop_waiter,
    .raw_fd = read_half_raw_fd,
    .poll_raw_io = read_half_raw_io,
    .close = half_close,
};

static const edo_stream_vtable write_half_vtable = {
    .poll_read = write_half_read,
    .poll_write = write_half_write,
    .poll_flush = write_half_flush,
    .poll_shutdown = write_half_shutdown,
    .poll_ready = write_half_ready,
    .drop_waiter = half_drop_waiter,
    .raw_fd = write_half_raw_fd,
    .poll_raw_io = write_half_raw_io,
    .close = half_close,
};

int edo_stream_split(edo_stream *s, edo_stream **read_half, edo_stream **write_half)
{
    if (!s || !s->vtable || !s->vtable->poll_read || !s->vtable->poll_write || !s->vtable->close ||
        !read_half || !write_half || (void *)read_half == (void *)write_half)
        return -EINVAL;
    split *sp = malloc(sizeof *sp);
    if (!sp) return -ENOMEM;
    sp->read = (half){{&read_half_vtable}, sp};
    sp->write = (half){{&write_half_vtable}, sp};
    sp->inner = s;
    atomic_init(&sp->open, 2);
    *read_half = &sp->read.base;
    *write_half = &sp->write.base;
    return 0;
}
