/* A registration's outbox (see outbox.h): the copy, the SEND in a completion ring, its
 * cancellation, and the wake-ups of its writer and of the next one. */
#include "io/uring/outbox.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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

/* The waiter for a free outbox, taken out to be woken (lock held): empty unless free. */
static edo_waker take_next(edo__outbox *b)
{
    edo_waker w = EDO_WAKER_EMPTY;
    if (is_free(b)) {
        w = b->next;
        b->next = EDO_WAKER_EMPTY;
    }
    return w;
}

static void complete(edo__cring_op *op, unsigned index, int32_t res, uint32_t flags)
{
    (void)index, (void)flags;
    edo__outbox *b = outbox_of(op);
    edo__spin_lock(&b->lock);
    /* Cancelled with nothing sent because the registration went: as a readiness wait is told. */
    b->result = res == -ECANCELED && b->closed ? -EBADF : res;
    b->busy = false;
    edo_waker writer = b->waker;
    b->waker = EDO_WAKER_EMPTY;
    edo_waker next = take_next(b);
    edo__spin_unlock(&b->lock);
    edo_waker_wake(&writer);
    edo_waker_wake(&next);
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
    edo_waker_drop(&b->next);
    free(b->buf);
    free(b);
}

/* Copies up to EDO__OUTBOX_MAX of the iovecs' bytes into the buffer (lock held): the count,
 * or -ENOMEM. */
static ssize_t copy_in(edo__outbox *b, const struct iovec *iov, int iovcnt)
{
    size_t want = edo__iov_len_capped(iov, iovcnt, EDO__OUTBOX_MAX);
    if (want > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < want)
            cap *= 2;
        char *buf = realloc(b->buf, cap); /* nothing of the old bytes is needed: any is fine */
        if (!buf)
            return -ENOMEM;
        b->buf = buf, b->cap = cap;
    }
    edo__iov_gather(b->buf, iov, iovcnt, want);
    return (ssize_t)want;
}

ssize_t edo__outbox_start(edo__outbox *b, edo__cring *r, int fd, const struct iovec *iov,
                          int iovcnt, const edo_waker *waker, uint32_t *seq)
{
    edo__spin_lock(&b->lock);
    if (!is_free(b)) {
        edo_waker old = leave_waker(&b->next, waker);
        edo__spin_unlock(&b->lock);
        edo_waker_wake(&old); /* a writer displaced (two at once: the caller's mistake) looks
                                 again rather than waiting for ever */
        return -EBUSY;
    }
    ssize_t n = copy_in(b, iov, iovcnt);
    if (n < 0) {
        edo__spin_unlock(&b->lock);
        return n;
    }
    b->busy = b->held = true;
    b->cancelled = false;
    b->refs += 2; /* the kernel's and the writer's */
    b->ring = r;
    *seq = ++b->seq;
    edo__spin_unlock(&b->lock);
    /* No other writer can start now (busy): the buffer is the kernel's from here. */
    edo__cring_lock(r);
    struct io_uring_sqe *sqe;
    int rc = edo__cring_sqe(r, &b->op, 0, &sqe);
    if (rc < 0) {
        edo__cring_unlock(r);
        edo__spin_lock(&b->lock);
        b->busy = b->held = false;
        b->refs -= 2;
        edo_waker next = take_next(b);
        edo__spin_unlock(&b->lock);
        edo_waker_wake(&next);
        return rc;
    }
    sqe->opcode = IORING_OP_SEND;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)b->buf;
    sqe->len = (uint32_t)n;
    /* WAITALL: all of it unless it fails or is cancelled, and then the count that went out. */
    sqe->msg_flags = MSG_NOSIGNAL | MSG_WAITALL;
    return n;
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
    edo_waker next = take_next(b);
    edo__spin_unlock(&b->lock);
    edo_waker_wake(&next);
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

void edo__outbox_release(edo__outbox *b, uint32_t seq)
{
    edo__spin_lock(&b->lock);
    edo_waker mine = EDO_WAKER_EMPTY;
    if (b->seq == seq && b->held) {
        b->held = false;
        mine = b->waker; /* nobody waits for it any more */
        b->waker = EDO_WAKER_EMPTY;
    }
    edo_waker next = take_next(b);
    edo__spin_unlock(&b->lock);
    edo_waker_drop(&mine);
    edo_waker_wake(&next);
    edo__outbox_cancel(b, seq); /* abandoned in flight: stop it */
    edo__outbox_unref(b);
}

bool edo__outbox_blocks(edo__outbox *b, const edo_waker *waker)
{
    edo__spin_lock(&b->lock);
    if (is_free(b)) {
        edo__spin_unlock(&b->lock);
        return false;
    }
    edo_waker old = leave_waker(&b->next, waker);
    edo__spin_unlock(&b->lock);
    edo_waker_wake(&old);
    return true;
}

void edo__outbox_close(edo__outbox *b)
{
    edo__spin_lock(&b->lock);
    b->closed = true;
    edo_waker next = b->next; /* they look again, and find the registration gone */
    b->next = EDO_WAKER_EMPTY;
    edo__spin_unlock(&b->lock);
    edo_waker_wake(&next);
    edo__spin_lock(&b->lock);
    cancel_unlock(b);
    edo__outbox_unref(b); /* the slot's */
}
