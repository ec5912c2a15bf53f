/* A registration's outbox (see outbox.h): the copy, the SEND in a completion ring, its
 * cancellation, and the wake-ups of its writer and of the next one. */
#include "io/uring/outbox.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "edo/time.h"
#include "platform/iov.h"

static edo__outbox *outbox_of(edo__cring_op *op)
{
    return (edo__outbox *)(void *)((char *)op - offsetof(edo__outbox, op));
}

/* Whether a new send may start (lock held). */
static bool is_free(const edo__outbox *b) { return !b->busy && !b->held && !b->cancelling; }

/* Leaves `waker` in `slot` (lock held), replacing another; what it replaced is returned for
 * the caller to drop after unlocking. */
static edo_waker leave_waker(edo_waker *slot, const edo_waker *waker)
{
    edo_waker old = EDO_WAKER_EMPTY;
    if (waker && !edo_waker_will_wake(slot, waker)) {
        old = *slot;
        *slot = edo_waker_clone(waker);
    }
    return old;
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

/* The writers waiting for a free outbox, taken out (lock held) when it is free, to be woken
 * after unlocking (wake_next). */
typedef struct woken {
    edo_waker *all;
    unsigned n;
} woken;

/* With the lock held: false when the outbox is free (the lock still held); else `waker` (when
 * not NULL) is left to be woken once it is, the lock released, and true. */
static bool wait_free_unlock(edo__outbox *b, const edo_waker *waker)
{
    if (is_free(b))
        return false;
    bool added = !waker || add_next(b, waker);
    edo__spin_unlock(&b->lock);
    if (!added)
        edo_waker_wake_by_ref(waker); /* out of memory: it polls again, never waits blind */
    return true;
}

static woken take_next(edo__outbox *b)
{
    woken w = {NULL, 0};
    if (is_free(b) && b->nnext) {
        w.all = b->next, w.n = b->nnext;
        b->next = NULL, b->nnext = b->capnext = 0;
    }
    return w;
}

/* Wakes what take_next took (lock not held). */
static void wake_next(woken w)
{
    for (unsigned i = 0; i < w.n; i++)
        edo_waker_wake(&w.all[i]);
    free(w.all);
}

static void complete(edo__cring_op *op, unsigned index, int32_t res, uint32_t flags)
{
    (void)index, (void)flags;
    edo__outbox *b = outbox_of(op);
    edo__spin_lock(&b->lock);
    /* Cancelled with nothing sent because the registration went: as a readiness wait is told;
     * stopped by its linked timeout (not by a cancellation of ours): as a deadline is told. */
    if (res == -ECANCELED && b->closed)
        res = -EBADF;
    else if (b->timed && !b->cancelled && edo__cring_timed_out(res, b->deadline))
        res = -ETIMEDOUT;
    b->result = res;
    b->busy = false;
    if (b->abandoned) { /* nobody will be told of what it let out */
        b->abandoned = false;
        b->stray = res > 0 ? (size_t)res : 0, b->stray_at = 0;
    }
    edo_waker writer = b->waker;
    b->waker = EDO_WAKER_EMPTY;
    woken next = take_next(b);
    edo__spin_unlock(&b->lock);
    edo_waker_wake(&writer);
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
    edo_waker_drop(&b->waker);
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
                          int iovcnt, const edo_waker *waker, uint64_t deadline, uint32_t *seq)
{
    edo__spin_lock(&b->lock);
    if (wait_free_unlock(b, waker))
        return -EBUSY;
    size_t n = edo__iov_len_capped(iov, iovcnt, EDO__OUTBOX_MAX);
    if (!make_room(b, n)) {
        edo__spin_unlock(&b->lock);
        return -ENOMEM;
    }
    b->busy = b->held = true;
    b->cancelled = false;
    b->stray = 0; /* a write of other bytes: the peer has them already, as after any cut */
    b->refs += 2; /* the kernel's and the writer's */
    b->ring = r;
    b->timed = false;
    *seq = ++b->seq;
    edo__spin_unlock(&b->lock);
    /* No other writer can start now (busy): the buffer is ours to fill, then the kernel's. */
    edo__iov_gather(b->buf, iov, iovcnt, n);
    edo__cring_lock(r);
    struct io_uring_sqe *sqe;
    int rc = edo__cring_sqe(r, &b->op, 0, &sqe);
    if (rc < 0) {
        edo__cring_unlock(r);
        edo__spin_lock(&b->lock);
        b->busy = b->held = false;
        b->refs -= 2;
        woken next = take_next(b);
        edo__spin_unlock(&b->lock);
        wake_next(next);
        return rc;
    }
    sqe->opcode = IORING_OP_SEND;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)b->buf;
    sqe->len = (uint32_t)n;
    /* WAITALL: all of it unless it fails or is cancelled, and then the count that went out. */
    sqe->msg_flags = MSG_NOSIGNAL | MSG_WAITALL;
    if (deadline != EDO_INSTANT_NEVER && edo__cring_link_deadline(r, sqe, deadline)) {
        /* Its CQE cannot come before the caller submits: the ring stays locked until then. */
        edo__spin_lock(&b->lock);
        b->deadline = deadline, b->timed = true;
        edo__spin_unlock(&b->lock);
    }
    return (ssize_t)n;
}

edo_poll edo__outbox_poll(edo__outbox *b, uint32_t seq, const edo_waker *waker,
                          ssize_t *result)
{
    edo__spin_lock(&b->lock);
    if (b->seq == seq && b->busy) {
        edo_waker old = leave_waker(&b->waker, waker);
        edo__spin_unlock(&b->lock);
        edo_waker_drop(&old);
        return EDO_PENDING;
    }
    *result = b->result;
    edo__spin_unlock(&b->lock);
    return EDO_READY;
}

/* Queues the cancellation of the send in flight, once (lock held on entry, released). */
static void cancel_unlock(edo__outbox *b)
{
    if (!b->busy || b->cancelled) {
        edo__spin_unlock(&b->lock);
        return;
    }
    /* No new send may start until the cancellation is in the kernel: it names the record, not
     * the send, and must not stop the next one. */
    b->cancelled = b->cancelling = true;
    edo__cring *r = b->ring;
    b->refs++; /* ours, across the unlocked part */
    edo__spin_unlock(&b->lock);
    edo__cring_lock(r);
    edo__cring_cancel(r, &b->op, 0);
    edo__cring_submit_unlock(r); /* at once: the writer is waiting for it */
    edo__spin_lock(&b->lock);
    b->cancelling = false;
    woken next = take_next(b);
    edo__spin_unlock(&b->lock);
    wake_next(next);
    edo__outbox_unref(b);
}

void edo__outbox_cancel(edo__outbox *b, uint32_t seq)
{
    edo__spin_lock(&b->lock);
    if (b->seq != seq) {
        edo__spin_unlock(&b->lock);
        return;
    }
    cancel_unlock(b);
}

void edo__outbox_release(edo__outbox *b, uint32_t seq, bool taken)
{
    edo__spin_lock(&b->lock);
    edo_waker mine = EDO_WAKER_EMPTY;
    if (b->seq == seq && b->held) {
        b->held = false;
        if (!taken && b->busy)
            b->abandoned = true; /* its CQE makes its count stray */
        else if (!taken)
            b->stray = b->result > 0 ? (size_t)b->result : 0, b->stray_at = 0;
        mine = b->waker; /* nobody waits for it any more */
        b->waker = EDO_WAKER_EMPTY;
    }
    woken next = take_next(b);
    edo__spin_unlock(&b->lock);
    edo_waker_drop(&mine);
    wake_next(next);
    edo__outbox_cancel(b, seq); /* abandoned in flight: stop it */
    edo__outbox_unref(b);
}

ssize_t edo__outbox_claim(edo__outbox *b, const struct iovec *iov, int iovcnt,
                          const edo_waker *waker)
{
    edo__spin_lock(&b->lock);
    if (wait_free_unlock(b, waker))
        return -EBUSY;
    ssize_t claimed = 0;
    if (b->stray > b->stray_at) {
        size_t n = edo__iov_len_capped(iov, iovcnt, b->stray - b->stray_at);
        if (n && edo__iov_equal(b->buf + b->stray_at, iov, iovcnt, n)) {
            claimed = (ssize_t)n;
            b->stray_at += n;
        } else {
            b->stray = 0; /* other bytes: those went for nothing, as after any cut */
        }
    }
    edo__spin_unlock(&b->lock);
    return claimed;
}

bool edo__outbox_blocks(edo__outbox *b, const edo_waker *waker)
{
    edo__spin_lock(&b->lock);
    if (wait_free_unlock(b, waker))
        return true;
    edo__spin_unlock(&b->lock);
    return false;
}

void edo__outbox_close(edo__outbox *b)
{
    edo__spin_lock(&b->lock);
    b->closed = true;
    woken next = {b->next, b->nnext}; /* they look again, and find the registration gone */
    b->next = NULL, b->nnext = b->capnext = 0;
    edo__spin_unlock(&b->lock);
    wake_next(next);
    edo__spin_lock(&b->lock);
    cancel_unlock(b);
    edo__outbox_unref(b); /* the slot's */
}
