/* A registration's outbox: the send of a stream socket received by completion (io/inbox.h)
 * that goes through a worker's completion ring (completions.h) as an IORING_OP_SEND, instead of
 * a send(2) of the writer's own. The ring's one io_uring_enter per worker turn then carries the
 * sends of every task of the turn, where each would have made a system call of its own.
 *
 * One send at a time per socket: a writer starts a send only while none is in flight and no
 * writer holds the last one's result, so bytes never interleave or reorder; another writer
 * waits for the outbox to be free (`next`), as it would wait for writability.
 *
 * Ownership of the bytes. The kernel reads what a SEND names until its CQE is posted, and the
 * writer of a future may free its buffer as soon as it drops the future. So the bytes are
 * copied into the outbox's own buffer (at most EDO__OUTBOX_MAX a send: a larger write is a
 * short write, as send(2) may make), the outbox lives until the SEND's CQE (a reference for
 * the kernel, one for the registration's slot, one for the writer holding a send), and a
 * writer's buffer is the writer's again when its poll returns, pending or ready. The copy
 * costs one memcpy per send (64 bytes per echo request), the price of a rule with no exception.
 *
 * What a send reports. It is sent with MSG_WAITALL, so the kernel goes on until every byte
 * went out (a short write only at an error or a cancellation), and a send cancelled
 * (IORING_OP_ASYNC_CANCEL) after some bytes went out completes with their count (the kernel's
 * done_io) instead of -ECANCELED. A writer that stops waiting (a dropped future, an aborted
 * task, a deadline) asks for that cancellation; the coroutine calls then wait (shielded) for
 * the CQE and return its count when bytes went out (net/send_ring.c). A registration closed
 * with a send in flight cancels it too (edo__outbox_close), and the writer waiting on it gets
 * the count, or -EBADF when nothing went out.
 *
 * Bytes nobody was told of. A writer that lets go of its send before taking its result (a
 * dropped future or stream waiter) leaves bytes on the wire that its caller believes unsent: a
 * stream's rule was that a pending write has written nothing, and the usual caller (a buffered
 * writer flushing, a TLS record queue, a loop that writes again) then writes the same bytes
 * again. So the outbox keeps them as *stray* bytes (the count the abandoned send let out, still
 * in its buffer), and the next write whose first bytes are those very bytes is told they went
 * (edo__outbox_claim: a short write of that many) instead of sending them twice. A next write
 * of other bytes forgets them: the peer has them already, as after any write cut short.
 *
 * Locking: the outbox's spinlock guards its state; it is never held while a ring's lock is
 * taken or a waker runs (a CQE may be reaped, and `complete` take the lock, inside a
 * submission). */
#ifndef EDO_IO_URING_OUTBOX_H
#define EDO_IO_URING_OUTBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "edo/future.h"
#include "io/uring/completions.h"
#include "platform/spinlock.h"

/* The most bytes one send copies and hands to the kernel. */
#define EDO__OUTBOX_MAX ((size_t)64 * 1024)

typedef struct edo__outbox {
    edo__cring_op op; /* the record the SEND carries (and its cancellation names) */
    edo__spinlock lock;
    unsigned refs;   /* the slot's, the kernel's while `busy`, the writer's while `held` */
    uint32_t seq;    /* sends started: the last one is `seq` */
    bool busy;       /* its CQE has not come */
    bool held;       /* its writer has not taken its result yet, nor let go */
    bool cancelling; /* a cancellation of it is being queued: no new send may start yet */
    bool cancelled;  /* it was asked to stop (once is enough) */
    bool closed;     /* the registration is gone: a send cancelled without a byte is -EBADF */
    bool abandoned;  /* its writer let go of send `seq` in flight: its count becomes stray */
    size_t stray, stray_at; /* bytes of `buf` sent without a writer told; of those, claimed */
    ssize_t result;  /* of send `seq`, once !busy */
    edo_waker waker; /* its writer, while it waits */
    /* Writers waiting for the outbox to be free (all woken then: one starts, the others wait
     * again), a growing array. */
    edo_waker *next;
    unsigned nnext, capnext;
    edo__cring *ring; /* where send `seq` went */
    uint64_t deadline; /* of send `seq`, when `timed`: its linked timeout's (completions.h) */
    bool timed;
    char *buf;        /* the copy the kernel sends */
    size_t cap;
} edo__outbox;

/* A new outbox with the slot's reference (NULL: out of memory). */
edo__outbox *edo__outbox_new(void);
/* Lets go of a reference; the last frees the outbox. NULL: no-op. */
void edo__outbox_unref(edo__outbox *b);

/* Starts a send of the iovecs' bytes (at most EDO__OUTBOX_MAX of them, copied) on `fd` through
 * ring `r`: returns the count it will send, with the ring LOCKED and its SQE queued (the
 * caller submits: edo__runtime_cring_submit_unlock or edo__cring_submit_unlock) and the
 * writer's reference taken, its number in *seq. With a `deadline` (CLOCK_MONOTONIC;
 * EDO_INSTANT_NEVER: none, and nothing more is queued) the SQE carries a linked timeout at it
 * where the ring can (edo__cring_link_deadline): the kernel then stops the send by itself at
 * the deadline, and its result is the count that went out, or -ETIMEDOUT. Or, the ring not
 * locked:
 *   -EBUSY   a send is in flight or its writer holds it: `waker` (when not NULL) is woken once
 *            the outbox is free (the caller waits, then tries again);
 *   -ENOMEM  no buffer for the copy; or the ring's error (no SQE to be had): nothing started,
 *            the caller sends another way.
 * Any thread. */
ssize_t edo__outbox_start(edo__outbox *b, edo__cring *r, int fd, const struct iovec *iov,
                          int iovcnt, const edo_waker *waker, uint64_t deadline, uint32_t *seq);
/* The writer of send `seq` looks at it: EDO_READY with the send's result in *result (the count
 * sent, or -errno), or EDO_PENDING with `waker` left to be woken by its CQE. Any thread. */
edo_poll edo__outbox_poll(edo__outbox *b, uint32_t seq, const edo_waker *waker,
                          ssize_t *result);
/* The writer of send `seq` asks the kernel to stop it early (a no-op once its CQE came or its
 * cancellation was asked): it then completes with the count that went out, or -ECANCELED. The
 * writer still waits for the result (edo__outbox_poll) or lets go (edo__outbox_release). */
void edo__outbox_cancel(edo__outbox *b, uint32_t seq);
/* The writer of send `seq` lets go of it and of its reference: its result `taken`, or
 * abandoned (then the send is cancelled if still in flight, and what it let out is stray). */
void edo__outbox_release(edo__outbox *b, uint32_t seq, bool taken);
/* A write of the iovecs that would not go through the outbox's ring (or before it does): 0
 * to go on; -EBUSY while a send is in flight or held (`waker`, when not NULL, is woken once
 * the outbox is free); or, where the write's first bytes are stray bytes (see above), their
 * count (> 0), which the write reports as written without sending them. Any thread. */
ssize_t edo__outbox_claim(edo__outbox *b, const struct iovec *iov, int iovcnt,
                          const edo_waker *waker);
/* Whether a write other than through the outbox must wait now (a send is in flight or held):
 * then `waker` (when not NULL) is woken once the outbox is free. Any thread. */
bool edo__outbox_blocks(edo__outbox *b, const edo_waker *waker);
/* The registration is being deregistered: a send in flight is cancelled, writers waiting for
 * the outbox are woken, and the slot's reference is let go. */
void edo__outbox_close(edo__outbox *b);

#endif
