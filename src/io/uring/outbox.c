/* A registration's outbox (see outbox.h): the copy, the SEND in a completion ring, the
 * failure it leaves for the next writer, the fd work owed at its CQE, and the wake-ups of the
 * writers waiting for it. */
#include "io/uring/outbox.h"

#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "platform/iov.h"

/* The indexes of the record's SQEs: the send, and a close's grace timeout. */
enum { SEND, GRACE };

static _Atomic uint64_t close_grace_ns = EDO__OUTBOX_CLOSE_GRACE_NS;

void edo__outbox_set_close_grace(uint64_t ns)
{
    atomic_store_explicit(&close_grace_ns, ns ? ns : EDO__OUTBOX_CLOSE_GRACE_NS,
                          memory_order_relaxed);
}

static edo__outbox *outbox_of(edo__cring_op *op)
{
    return (edo__outbox *)(void *)((char *)op - offsetof(edo__outbox, op));
}

/* Adds `waker` to the writers waiting for a free outbox (lock held), unless it is there.
 * False when out of memory: the caller wakes it at once instead (it polls again). */
static bool add_next(edo__outbox *b, const edo_waker *waker)
{
    for (unsigned i = 0; i < b->nnext; i++)
        if (edo_waker_will_wake(&b->next[i], waker))
            return true;
    if (b->nnext == b->capnext) {
        unsigned cap = b->capnext ? 2 * b->capnext : 2;
        edo_waker *more = realloc(b->next, cap * sizeof *more);
        if (!more)
            return false;
        b->next = more, b->capnext = cap;
    }
    b->next[b->nnext++] = edo_waker_clone(waker);
    return true;
}

/* With the lock held: false when no send is in flight (the lock still held); else `waker`
 * (when not NULL) is left to be woken once none is, the lock released, and true. */
static bool wait_free_unlock(edo__outbox *b, const edo_waker *waker)
{
    if (!b->busy)
        return false;
    bool added = !waker || add_next(b, waker);
    edo__spin_unlock(&b->lock);
    if (!added)
        edo_waker_wake_by_ref(waker); /* out of memory: it polls again, never waits blind */
    return true;
}

/* The failure of the last send, reported once, then -EPIPE (lock held); 0 when none failed. */
static int take_error(edo__outbox *b)
{
    int e = b->error ? b->error : b->broken ? -EPIPE : 0;
    b->error = 0;
    return e;
}

/* The writers waiting for a free outbox, taken out (lock held) to be woken after unlocking. */
typedef struct woken {
    edo_waker *all;
    unsigned n;
} woken;

static woken take_next(edo__outbox *b)
{
    woken w = {b->next, b->nnext};
    b->next = NULL, b->nnext = b->capnext = 0;
    return w;
}

static void wake_next(woken w)
{
    for (unsigned i = 0; i < w.n; i++)
        edo_waker_wake(&w.all[i]);
    free(w.all);
}

/* Asks ring `r` to end the record's SQE `index` early (any thread; no lock of the outbox held).
 * Harmless when it has ended already (the kernel answers -ENOENT to nobody). */
static void cancel_in(edo__cring *r, edo__outbox *b, unsigned index)
{
    edo__cring_lock(r);
    if (edo__cring_cancel(r, &b->op, index) == 0)
        edo__cring_submit_unlock(r);
    else
        edo__cring_unlock(r);
}

/* The grace timeout's CQE: fired (-ETIME) while the send is still in flight, the send is
 * cancelled (its CQE then closes the fd); cancelled, or too late: nothing. */
static void grace_ended(edo__outbox *b, int32_t res)
{
    edo__spin_lock(&b->lock);
    b->grace = false;
    bool stalled = res == -ETIME && b->busy;
    edo__cring *r = b->ring;
    edo__spin_unlock(&b->lock);
    if (stalled)
        cancel_in(r, b, SEND);
    edo__outbox_unref(b); /* the timeout's */
}

static void complete(edo__cring_op *op, unsigned index, int32_t res, uint32_t flags)
{
    (void)flags;
    edo__outbox *b = outbox_of(op);
    if (index == GRACE) {
        grace_ended(b, res);
        return;
    }
    edo__spin_lock(&b->lock);
    /* A shutdown that waited for these bytes, done while still busy: a close meanwhile hands
     * its fd to us instead of closing it under the shutdown. */
    while (b->shut_how >= 0) {
        int how = b->shut_how;
        b->shut_how = -1;
        edo__spin_unlock(&b->lock);
        shutdown(b->fd, how);
        edo__spin_lock(&b->lock);
    }
    b->busy = false;
    /* MSG_WAITALL: short only when the connection failed on the way. */
    if (!b->closed && (res < 0 || (size_t)res < b->len)) {
        b->error = res < 0 ? res : -EPIPE;
        b->broken = true;
    }
    int fd = b->close_fd;
    b->close_fd = -1;
    bool grace = b->grace; /* no longer needed: ended now, not in a minute */
    woken next = take_next(b);
    edo__spin_unlock(&b->lock);
    if (fd >= 0)
        close(fd);
    if (grace)
        cancel_in(b->ring, b, GRACE);
    wake_next(next);
    edo__outbox_unref(b); /* the kernel's */
}

edo__outbox *edo__outbox_new(void)
{
    edo__outbox *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    b->op.complete = complete;
    edo__spin_init(&b->lock);
    b->refs = 1;
    b->fd = b->close_fd = b->shut_how = -1;
    return b;
}

void edo__outbox_unref(edo__outbox *b)
{
    if (!b)
        return;
    edo__spin_lock(&b->lock);
    bool last = --b->refs == 0;
    edo__spin_unlock(&b->lock);
    if (!last)
        return;
    for (unsigned i = 0; i < b->nnext; i++)
        edo_waker_drop(&b->next[i]);
    free(b->next);
    free(b->buf);
    free(b);
}

/* Room for `want` bytes in the buffer (lock held): false when out of memory. */
static bool make_room(edo__outbox *b, size_t want)
{
    if (want <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    char *buf = realloc(b->buf, cap); /* nothing of the old bytes is needed: any is fine */
    if (!buf)
        return false;
    b->buf = buf, b->cap = cap;
    return true;
}

ssize_t edo__outbox_start(edo__outbox *b, edo__cring *r, int fd, const struct iovec *iov,
                          int iovcnt, const edo_waker *waker)
{
    edo__spin_lock(&b->lock);
    if (wait_free_unlock(b, waker))
        return -EBUSY;
    int error = b->shut ? -EPIPE : take_error(b);
    size_t n = edo__iov_len_capped(iov, iovcnt, EDO__OUTBOX_MAX);
    if (error || !make_room(b, n)) {
        edo__spin_unlock(&b->lock);
        return error;
    }
    b->busy = true;
    b->refs++; /* the kernel's */
    b->fd = fd, b->len = n;
    b->ring = r;
    b->started++;
    edo__spin_unlock(&b->lock);
    /* No other writer can start now (busy): the buffer is ours to fill, then the kernel's. */
    edo__iov_gather(b->buf, iov, iovcnt, n);
    edo__cring_lock(r);
    struct io_uring_sqe *sqe;
    if (edo__cring_sqe(r, &b->op, 0, &sqe) < 0) {
        edo__cring_unlock(r);
        edo__spin_lock(&b->lock);
        b->busy = false;
        b->refs--;
        b->started--;
        int fd_owed = b->close_fd; /* a close that came meanwhile: ours to do */
        b->close_fd = -1;
        woken next = take_next(b);
        edo__spin_unlock(&b->lock);
        if (fd_owed >= 0)
            close(fd_owed);
        wake_next(next);
        return 0;
    }
    sqe->opcode = IORING_OP_SEND;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)b->buf;
    sqe->len = (uint32_t)n;
    /* WAITALL: all of it unless the connection fails. */
    sqe->msg_flags = MSG_NOSIGNAL | MSG_WAITALL;
    return (ssize_t)n;
}

int edo__outbox_idle(edo__outbox *b, const edo_waker *waker)
{
    edo__spin_lock(&b->lock);
    if (wait_free_unlock(b, waker))
        return -EBUSY;
    int error = take_error(b);
    edo__spin_unlock(&b->lock);
    return error;
}

bool edo__outbox_shutdown(edo__outbox *b, int fd, int how)
{
    edo__spin_lock(&b->lock);
    b->shut = true;
    bool busy = b->busy && b->fd == fd;
    if (busy)
        b->shut_how = b->shut_how < 0 || b->shut_how == how ? how : SHUT_RDWR;
    edo__spin_unlock(&b->lock);
    return busy;
}

/* Queues the close's grace timeout in the send's ring (no lock of the outbox held; the caller
 * holds a reference until it returns), with a reference of its own. When no SQE can be had,
 * the send keeps the fd until it ends, as without the grace. Should the send have ended while
 * the timeout was being queued, its CQE saw no timeout to cancel: it is cancelled here. */
static void start_grace(edo__outbox *b, edo__cring *r)
{
    uint64_t ns = atomic_load_explicit(&close_grace_ns, memory_order_relaxed);
    b->grace_ts = (struct __kernel_timespec){(long long)(ns / 1000000000u),
                                             (long long)(ns % 1000000000u)};
    edo__cring_lock(r);
    struct io_uring_sqe *sqe;
    if (edo__cring_sqe(r, &b->op, GRACE, &sqe) < 0) {
        edo__cring_unlock(r);
        return;
    }
    sqe->opcode = IORING_OP_TIMEOUT;
    sqe->addr = (uint64_t)(uintptr_t)&b->grace_ts;
    sqe->len = 1;
    sqe->off = 0; /* a pure timeout: no completion count ends it */
    edo__spin_lock(&b->lock); /* before the submission: its CQE cannot come sooner */
    b->refs++; /* the timeout's */
    b->grace = true;
    bool ended = !b->busy;
    edo__spin_unlock(&b->lock);
    edo__cring_submit_unlock(r);
    if (ended)
        cancel_in(r, b, GRACE);
}

bool edo__outbox_close(edo__outbox *b, int fd)
{
    edo__spin_lock(&b->lock);
    b->closed = true;
    bool busy = b->busy;
    edo__cring *r = b->ring;
    if (busy)
        b->close_fd = fd;
    woken next = take_next(b); /* they look again, and find the registration gone */
    edo__spin_unlock(&b->lock);
    wake_next(next);
    if (busy && fd >= 0)
        start_grace(b, r);
    edo__outbox_unref(b); /* the slot's */
    return busy;
}
