/* Sends by completion: the writes of a stream socket received by completion go through the
 * calling worker's completion ring (io/uring/outbox.h) as IORING_OP_SEND, so the worker's one
 * io_uring_enter per turn carries every send of the turn (see sock.h, edo__sock_send_poll).
 * Written behind: a write returns once its bytes are the outbox's, as send(2) returns once
 * they are in the socket's buffer.
 *
 * Which ring: the worker's completion ring, through the layer the file calls use. It is safe
 * from any thread (a task migrates; a close hands the fd over from wherever it runs), it
 * batches a turn's SQEs for one entry (core/io.c), and it already has the rule that a record
 * lives until its last CQE. The readiness lane (uring.c) has SINGLE_ISSUER: only its owner
 * could submit, so a write from a migrated task would be mail to the owner and a wait for its
 * next look. */
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/runtime.h"
#include "io/uring/outbox.h"
#include "net/sock.h"

/* The calling worker's ring, where it has what a send needs; NULL: the direct path. */
static edo__cring *ring_for(edo_io *io)
{
    edo__cring *r = edo__runtime_worker_cring(edo__io_owner(io));
    return r && edo__cring_has_op(r, IORING_OP_SEND) ? r : NULL;
}

/* A wait for the outbox's result as a poll's: 0 goes on, else decided. */
static bool decided(int e, ssize_t *result, edo_poll *p)
{
    if (e == 0)
        return false;
    *p = e == -EBUSY ? EDO_PENDING : EDO_READY;
    *result = e;
    return true;
}

bool edo__sock_send_poll(edo_io *io, edo__sock_op_fn op, void *ctx, bool by_ring,
                         edo_context *cx, ssize_t *result, edo_poll *p)
{
    const edo_waker *waker = edo_context_waker(cx);
    edo__transfer *x = ctx;
    bool transfer = op == edo__sock_do_transfer && !x->addr && !x->flags;
    edo__cring *r = by_ring && transfer && !x->no_wait ? ring_for(io) : NULL;
    if (!r) { /* another way (a thread that is not a worker, a splice, a connect's wait), once
                 no send is in flight */
        edo__outbox *made = edo__io_outbox_made(io);
        return made && decided(edo__outbox_idle(made, waker), result, p);
    }
    edo__outbox *b = edo__io_outbox(io);
    if (!b)
        return false; /* out of memory: the direct path, which needs none */
    if (!edo_coop_proceed(cx)) {
        *p = EDO_PENDING; /* budget spent: it queued us again, behind the others */
        return true;
    }
    struct iovec one = {x->buf, x->len};
    ssize_t n = edo__outbox_start(b, r, io->fd, x->iov ? x->iov : &one,
                                  x->iov ? x->iovcnt : 1, waker);
    if (n <= 0)
        return decided((int)n, result, p); /* 0: no copy or no SQE: the direct path */
    edo__runtime_cring_submit_unlock(edo__io_owner(io), r);
    *result = n;
    *p = EDO_READY;
    return true;
}

ssize_t edo__sock_send_try(edo_io *io)
{
    edo__outbox *b = edo__io_outbox_made(io);
    int e = b ? edo__outbox_idle(b, NULL) : 0;
    return e == -EBUSY ? -EAGAIN : e;
}

edo_poll edo__sock_poll_sent(edo_io *io, edo_context *cx, int *result)
{
    edo__outbox *b = edo__io_outbox_made(io);
    int e = b ? edo__outbox_idle(b, edo_context_waker(cx)) : 0;
    if (e == -EBUSY)
        return EDO_PENDING;
    *result = e;
    return EDO_READY;
}

bool edo__sock_shutdown_later(edo_io *io, int how)
{
    if (!io->recv_mode || how == SHUT_RD)
        return false;
    edo__outbox *b = edo__io_outbox(io); /* made now: a later write must hear of it */
    return b && edo__outbox_shutdown(b, io->fd, how);
}
