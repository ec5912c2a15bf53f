/* Sends by completion: the writes of a stream socket received by completion go through the
 * calling worker's completion ring (io/uring/outbox.h) as IORING_OP_SEND, so the worker's one
 * io_uring_enter per turn carries every send of the turn (see sock.h, edo__sock_send_poll).
 *
 * Which ring: the worker's completion ring, through the layer the file calls use. It is safe
 * from any thread (a task migrates, a dropped write cancels from wherever it is dropped), it
 * batches a turn's SQEs for one entry (core/io.c), and it already has the rule that a record
 * lives until its last CQE. The readiness lane (uring.c) has SINGLE_ISSUER: only its owner
 * could submit or cancel, so a write from a migrated task or a cancellation from another
 * thread would be mail to the owner and a wait for its next look. */
#include <errno.h>
#include <stddef.h>

#include "coro/coro.h"
#include "core/runtime.h"
#include "io/uring/outbox.h"
#include "net/sock.h"

/* The calling worker's ring, where it has what a send needs; NULL: the direct path. */
static edo__cring *ring_for(edo_io *io)
{
    edo__cring *r = edo__runtime_worker_cring(edo__io_owner(io));
    if (!r || !edo__cring_has_op(r, IORING_OP_SEND) ||
        !edo__cring_has_op(r, IORING_OP_ASYNC_CANCEL))
        return NULL;
    return r;
}

/* The writer lets go of its send: its result taken (then returned), or not (abandoned). */
static ssize_t settle(edo__sock_send *s, ssize_t result, bool taken)
{
    edo__outbox_release(s->box, s->seq, taken);
    s->box = NULL;
    return result;
}

/* The writer's send in flight: its result, or pending (the ring reaped first where this
 * thread may, edo__runtime_cring_may_reap: a worker's own turn may have completed it). */
static edo_poll poll_mine(edo__sock_send *s, const edo_waker *waker, ssize_t *result)
{
    if (edo__outbox_poll(s->box, s->seq, waker, result) == EDO_PENDING) {
        if (edo__runtime_cring_may_reap(s->box->ring))
            edo__cring_reap(s->box->ring);
        if (edo__outbox_poll(s->box, s->seq, waker, result) == EDO_PENDING)
            return EDO_PENDING;
    }
    *result = settle(s, *result, true);
    return EDO_READY;
}

bool edo__sock_send_poll(edo_io *io, edo__sock_op_fn op, void *ctx, edo__sock_send *s,
                         edo_context *cx, ssize_t *result, edo_poll *p)
{
    const edo_waker *waker = edo_context_waker(cx);
    if (s && s->box) {
        *p = poll_mine(s, waker, result);
        return true;
    }
    edo__transfer *x = ctx;
    bool transfer = op == edo__sock_do_transfer && !x->addr && !x->flags;
    edo__cring *r = s && transfer && !x->no_wait ? ring_for(io) : NULL;
    edo__outbox *b = edo__io_outbox(io);
    if (!b)
        return false; /* out of memory: the direct path, which needs none */
    struct iovec one = transfer ? (struct iovec){x->buf, x->len} : (struct iovec){0};
    const struct iovec *iov = transfer && x->iov ? x->iov : &one;
    int iovcnt = transfer && x->iov ? x->iovcnt : 1;
    /* Whichever way it goes: not while a send is in the kernel (bytes would overtake it), and
     * not again where the bytes went already (a send abandoned in flight). */
    ssize_t k = transfer ? edo__outbox_claim(b, iov, iovcnt, waker)
                         : edo__outbox_blocks(b, waker) ? -EBUSY : 0;
    if (k != 0) {
        *p = k > 0 ? EDO_READY : EDO_PENDING;
        *result = k;
        return true;
    }
    if (!r)
        return false; /* another way: a thread that is not a worker, a try, a splice */
    if (!edo_coop_proceed(cx)) {
        *p = EDO_PENDING; /* budget spent: it queued us again, behind the others */
        return true;
    }
    /* A coroutine's deadline goes into the kernel with the send (a linked timeout); no SQE
     * more without one. */
    uint64_t deadline = edo__runtime_op_deadline(edo__io_owner(io));
    ssize_t n = edo__outbox_start(b, r, io->fd, iov, iovcnt, waker, deadline, &s->seq);
    if (n == -EBUSY) {
        *p = EDO_PENDING;
        return true;
    }
    if (n < 0)
        return false; /* no copy or no SQE: the direct path */
    s->box = b;
    edo__runtime_cring_submit_unlock(edo__io_owner(io), r);
    *p = poll_mine(s, waker, result);
    return true;
}

ssize_t edo__sock_send_try(edo_io *io, const edo__transfer *x)
{
    edo__outbox *b = edo__io_outbox(io);
    if (!b)
        return 0;
    if (x->addr || x->flags)
        return edo__outbox_blocks(b, NULL) ? -EAGAIN : 0;
    struct iovec one = {x->buf, x->len};
    ssize_t k = edo__outbox_claim(b, x->iov ? x->iov : &one, x->iov ? x->iovcnt : 1, NULL);
    return k == -EBUSY ? -EAGAIN : k;
}

void edo__sock_send_drop(edo__sock_send *s)
{
    if (s->box)
        settle(s, 0, false); /* cancelled if still in flight; what it let out is stray */
}

/* The shielded wait of a cancelled coroutine write for its send's CQE. */
typedef struct settle_future {
    edo_future base;
    edo__sock_send *send;
    ssize_t result;
} settle_future;

static edo_poll settle_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    settle_future *f = (settle_future *)self;
    return poll_mine(f->send, edo_context_waker(cx), &f->result);
}

static const edo_future_vtable settle_vtable = {settle_poll, NULL};

ssize_t edo__sock_send_interrupted(edo__sock_send *s, ssize_t err)
{
    edo__outbox_cancel(s->box, s->seq);
    settle_future f = {{&settle_vtable}, s, 0};
    if (edo__await_shielded(&f.base, NULL) < 0) {
        edo__sock_send_drop(s);
        return err;
    }
    return f.result > 0 ? f.result : err;
}
