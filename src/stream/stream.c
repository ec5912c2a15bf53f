/* The byte-stream interface: the waiter, and every coroutine call and future form of
 * edo/stream.h, written once over a stream's vtable of poll functions. A coroutine call is its
 * future built on the coroutine's frame and awaited (edo__coro_run), so the two forms cannot
 * disagree. */
#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/stream.h"
#include "stream/vtable.h"

enum op { OP_READ, OP_WRITE, OP_WRITEV, OP_WRITE_ALL, OP_FLUSH, OP_SHUTDOWN, OP_READY };

/* What edo_stream_future.private_ holds: the operation and its arguments. Pointers into the
 * future itself are never kept (a future may be moved until its first poll). */
typedef struct op_state {
    enum op op;
    int error;     /* bad arguments: ready at once with this */
    bool released; /* completed: the stream has let go of the waiter */
    uint32_t interest;
    int iovcnt;
    const struct iovec *iov;
    const void *buf; /* read: the destination; write and write_all: what is left to send */
    size_t len;
} op_state;

_Static_assert(sizeof(op_state) <= sizeof(((edo_stream_future *)0)->private_),
               "edo_stream_future.private_ is too small");
_Static_assert(alignof(op_state) <= alignof(uint64_t), "edo_stream_future.private_ misaligned");

static op_state *state_of(edo_stream_future *f) { return (op_state *)(void *)f->private_; }

void edo_stream_waiter_init(edo_stream_waiter *w)
{
    if (w)
        memset(w, 0, sizeof *w);
}

void edo_stream_waiter_drop(edo_stream *s, edo_stream_waiter *w)
{
    if (!s || !w)
        return;
    if (s->vtable && s->vtable->drop_waiter)
        s->vtable->drop_waiter(s, w);
    memset(w, 0, sizeof *w);
}

/* ---- argument checks, shared by both forms ------------------------------------------------- */

bool edo__stream_is_valid(const edo_stream *s)
{
    return s && s->vtable && s->vtable->poll_read && s->vtable->poll_write && s->vtable->close;
}

static bool buffer_valid(const void *buf, size_t len) { return (buf || !len) && len <= SSIZE_MAX; }

/* The bytes `iov` holds, or -EINVAL (a NULL array or buffer, a count outside 1 to IOV_MAX, a
 * total above SSIZE_MAX). */
static ssize_t iov_total(const struct iovec *iov, int iovcnt)
{
    if (!iov || iovcnt <= 0 || iovcnt > IOV_MAX)
        return -EINVAL;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (!buffer_valid(iov[i].iov_base, iov[i].iov_len) ||
            iov[i].iov_len > (size_t)SSIZE_MAX - total)
            return -EINVAL;
        total += iov[i].iov_len;
    }
    return (ssize_t)total;
}

/* ---- the future ---------------------------------------------------------------------------- */

/* One poll of a write of `len` bytes at `buf` (len > 0). */
static edo_poll poll_write_buffer(edo_stream_future *f, edo_context *cx, const void *buf,
                                  size_t len, ssize_t *result)
{
    struct iovec one = {(void *)buf, len};
    return f->stream_->vtable->poll_write(f->stream_, &f->waiter_, cx, &one, 1, result);
}

edo_poll edo__stream_poll_write_all(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                    const void **buf, size_t *len, ssize_t zero_error,
                                    ssize_t *result)
{
    while (*len > 0) {
        struct iovec one = {(void *)*buf, *len};
        ssize_t n;
        if (s->vtable->poll_write(s, w, cx, &one, 1, &n) == EDO_PENDING)
            return EDO_PENDING;
        edo_stream_waiter_drop(s, w);
        if (n <= 0)
            return edo__stream_ready_with(result, n < 0 ? n : zero_error);
        *buf = (const char *)*buf + n;
        *len -= (size_t)n;
    }
    return edo__stream_ready_with(result, 0);
}

/* Polls the operation, or completes it at once when there is nothing to move or the stream
 * does not support it. */
static edo_poll poll_op(edo_stream_future *f, op_state *st, edo_context *cx, ssize_t *result)
{
    edo_stream *s = f->stream_;
    const edo_stream_vtable *vt = s->vtable;
    switch (st->op) {
    case OP_READ:
        if (st->len == 0)
            break;
        return vt->poll_read(s, &f->waiter_, cx, (void *)st->buf, st->len, result);
    case OP_WRITE:
        if (st->len == 0)
            break;
        return poll_write_buffer(f, cx, st->buf, st->len, result);
    case OP_WRITEV:
        if (st->len == 0) /* the total, checked at init */
            break;
        return vt->poll_write(s, &f->waiter_, cx, st->iov, st->iovcnt, result);
    case OP_WRITE_ALL:
        return edo__stream_poll_write_all(s, &f->waiter_, cx, &st->buf, &st->len, -EIO, result);
    case OP_FLUSH:
        return edo__stream_poll_flush(s, &f->waiter_, cx, result);
    case OP_SHUTDOWN:
        return edo__stream_poll_shutdown(s, &f->waiter_, cx, result);
    case OP_READY:
        return edo__stream_poll_ready(s, &f->waiter_, cx, st->interest, result);
    }
    *result = 0;
    return EDO_READY;
}

/* Lets the stream forget the waiter, once: at completion, or at the drop of a future that
 * never completed. (No reset for reuse: the future is done with it.) */
static void release(edo_stream_future *f, op_state *st)
{
    if (f->stream_->vtable->drop_waiter)
        f->stream_->vtable->drop_waiter(f->stream_, &f->waiter_);
    st->released = true;
}

static edo_poll stream_future_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_stream_future *f = (edo_stream_future *)self;
    op_state *st = state_of(f);
    if (st->error) {
        f->result = st->error;
        return EDO_READY;
    }
    ssize_t result;
    if (poll_op(f, st, cx, &result) == EDO_PENDING)
        return EDO_PENDING;
    release(f, st);
    f->result = result;
    return EDO_READY;
}

static void stream_future_drop(edo_future *self)
{
    edo_stream_future *f = (edo_stream_future *)self;
    op_state *st = state_of(f);
    if (!st->error && !st->released)
        release(f, st);
}

static const edo_future_vtable stream_future_vtable = {stream_future_poll, stream_future_drop};

/* Prepares `f` for `op` on `s`; an invalid stream makes it complete with -EINVAL. */
static op_state *init(edo_stream_future *f, edo_stream *s, enum op op)
{
    memset(f, 0, sizeof *f);
    f->base.vtable = &stream_future_vtable;
    f->stream_ = s;
    op_state *st = state_of(f);
    st->op = op;
    st->error = edo__stream_is_valid(s) ? 0 : -EINVAL;
    return st;
}

static void buffer_init(edo_stream_future *f, edo_stream *s, enum op op, const void *buf,
                        size_t len)
{
    if (!f)
        return;
    op_state *st = init(f, s, op);
    if (!buffer_valid(buf, len))
        st->error = -EINVAL;
    st->buf = buf;
    st->len = len;
}

void edo_stream_read_future_init(edo_stream_future *f, edo_stream *s, void *buf, size_t len)
{
    buffer_init(f, s, OP_READ, buf, len);
}

void edo_stream_write_future_init(edo_stream_future *f, edo_stream *s, const void *buf,
                                  size_t len)
{
    buffer_init(f, s, OP_WRITE, buf, len);
}

void edo_stream_write_all_future_init(edo_stream_future *f, edo_stream *s, const void *buf,
                                      size_t len)
{
    buffer_init(f, s, OP_WRITE_ALL, buf, len);
}

void edo_stream_writev_future_init(edo_stream_future *f, edo_stream *s, const struct iovec *iov,
                                   int iovcnt)
{
    if (!f)
        return;
    op_state *st = init(f, s, OP_WRITEV);
    ssize_t total = iov_total(iov, iovcnt);
    if (total < 0)
        st->error = (int)total;
    st->iov = iov;
    st->iovcnt = iovcnt;
    st->len = total < 0 ? 0 : (size_t)total;
}

void edo_stream_flush_future_init(edo_stream_future *f, edo_stream *s)
{
    if (f)
        init(f, s, OP_FLUSH);
}

void edo_stream_shutdown_future_init(edo_stream_future *f, edo_stream *s)
{
    if (f)
        init(f, s, OP_SHUTDOWN);
}

void edo_stream_ready_future_init(edo_stream_future *f, edo_stream *s, uint32_t interest)
{
    if (!f)
        return;
    op_state *st = init(f, s, OP_READY);
    const uint32_t both = EDO_READABLE | EDO_WRITABLE;
    if (!(interest & both) || (interest & ~both))
        st->error = -EINVAL;
    st->interest = interest;
}

/* ---- coroutine calls: the future, awaited on this frame ------------------------------------ */

/* Runs `f` (just initialised) to completion in the calling coroutine. Bad arguments come back
 * first, without a wait; so does an operation with nothing to move (as a zero-length read).
 * edo__coro_run's steps, with the first poll a direct call on the coroutine's context, as the
 * sockets' own calls do (net/sock.c): a read or write that can proceed at once (most do) then
 * costs no await; only a wait that must suspend goes through edo__await_pending. */
static ssize_t run(edo_stream_future *f, bool empty)
{
    int error = state_of(f)->error;
    if (error)
        return error;
    if (empty)
        return 0;
    edo__coro *co = edo__coro_running();
    if (!co)
        return -EPERM;
    if (co->cancelled)
        return -ECANCELED;
    int rc = 0;
    if (stream_future_poll(&f->base, co->cx, NULL) == EDO_PENDING)
        rc = edo__await_pending(&f->base, NULL);
    stream_future_drop(&f->base);
    return rc < 0 ? rc : f->result;
}

ssize_t edo_stream_read(edo_stream *s, void *buf, size_t len)
{
    edo_stream_future f;
    edo_stream_read_future_init(&f, s, buf, len);
    return run(&f, len == 0);
}

ssize_t edo_stream_write(edo_stream *s, const void *buf, size_t len)
{
    edo_stream_future f;
    edo_stream_write_future_init(&f, s, buf, len);
    return run(&f, len == 0);
}

ssize_t edo_stream_writev(edo_stream *s, const struct iovec *iov, int iovcnt)
{
    edo_stream_future f;
    edo_stream_writev_future_init(&f, s, iov, iovcnt);
    return run(&f, state_of(&f)->len == 0);
}

int edo_stream_write_all(edo_stream *s, const void *buf, size_t len)
{
    edo_stream_future f;
    edo_stream_write_all_future_init(&f, s, buf, len);
    return (int)run(&f, len == 0);
}

int edo_stream_flush(edo_stream *s)
{
    edo_stream_future f;
    edo_stream_flush_future_init(&f, s);
    return (int)run(&f, false);
}

int edo_stream_shutdown(edo_stream *s)
{
    edo_stream_future f;
    edo_stream_shutdown_future_init(&f, s);
    return (int)run(&f, false);
}

int edo_stream_ready(edo_stream *s, uint32_t interest)
{
    edo_stream_future f;
    edo_stream_ready_future_init(&f, s, interest);
    return (int)run(&f, false);
}

/* ---- tries: one poll, no wait ------------------------------------------------------------- */

/* Polls `f` (just initialised) once with a waker that does nothing and no budget, and drops it:
 * its result, or -EAGAIN when it would have waited (dropping a pending read or write moves no
 * byte). */
static ssize_t try_once(edo_stream_future *f, bool empty)
{
    int error = state_of(f)->error;
    if (error)
        return error;
    if (empty)
        return 0;
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    ssize_t rc = edo_future_poll(&f->base, &cx, NULL) == EDO_READY ? f->result : -EAGAIN;
    edo_future_drop(&f->base);
    return rc;
}

ssize_t edo_stream_try_read(edo_stream *s, void *buf, size_t len)
{
    edo_stream_future f;
    edo_stream_read_future_init(&f, s, buf, len);
    return try_once(&f, len == 0);
}

ssize_t edo_stream_try_write(edo_stream *s, const void *buf, size_t len)
{
    edo_stream_future f;
    edo_stream_write_future_init(&f, s, buf, len);
    return try_once(&f, len == 0);
}

int edo_stream_close(edo_stream *s)
{
    if (!edo__stream_is_valid(s))
        return -EINVAL;
    return s->vtable->close(s);
}

int edo_stream_raw_fd(const edo_stream *s, bool write)
{
    if (!edo__stream_is_valid(s))
        return -EINVAL;
    return s->vtable->raw_fd ? s->vtable->raw_fd(s, write) : -ENOTSUP;
}
