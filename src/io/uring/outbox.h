/* A registration's outbox: the send of a stream socket received by completion (io/inbox.h)
 * that goes through a worker's completion ring (completions.h) as an IORING_OP_SEND, instead of
 * a send(2) of the writer's own. The ring's one io_uring_enter per worker turn then carries the
 * sends of every task of the turn, where each would have made a system call of its own.
 *
 * Written behind, as send(2) writes into the socket's buffer: a write copies its bytes into
 * the outbox (at most EDO__OUTBOX_MAX of them: a larger write is a short write, as send(2) may
 * make), queues the SEND and returns the count at once, without waiting for the CQE. The bytes
 * are the outbox's from then on, and they go: the SEND has MSG_WAITALL (the kernel goes on until
 * every byte went out, or the connection failed), and nothing cancels it, not even a close of
 * the socket (the fd's close then waits for the CQE, as the kernel's close lets a socket's
 * buffer drain) or a deadline (none waits on it). What waits is the next write: one send at a
 * time per socket, so bytes never interleave or reorder, and another writer waits for the
 * outbox to be free (all the waiting writers are woken then: one starts, the others wait
 * again), which is the backpressure a full socket buffer gives.
 *
 * What the writer is told. The count of a write is the bytes it handed over, as send(2)'s is.
 * Should the SEND fail (the peer reset the connection, or went: a short count), the failure is
 * kept and reported by the next operation that would write: a write, a flush, a shutdown, a
 * try; those after it get -EPIPE, as TCP reports a failure of bytes already in its buffer and
 * then refuses more. A write that waits for a busy outbox has
 * sent nothing: cancelled, dropped or timed out there, it leaves nothing behind.
 *
 * The fd's life. The SEND names the socket's fd, read by the kernel when the ring is entered,
 * which for a write of a worker's turn is the end of the turn. So while a send is in flight
 * the outbox owns the fd's end: a close hands the fd over (edo__outbox_close) and the outbox
 * closes it at the CQE, and a shutdown of the write side waits for it too
 * (edo__outbox_shutdown), or its FIN would overtake the bytes.
 *
 * A close's grace. A peer that never reads would hold such a send, and so the fd, for ever
 * (the kernel's own close lets an orphaned socket time out). So a close that hands the fd over
 * also queues an IORING_OP_TIMEOUT of EDO__OUTBOX_CLOSE_GRACE_NS in the same ring (the record's
 * second index): should it fire while the send is still in flight, the send is cancelled, its
 * bytes not yet in the socket's buffer are dropped, and the fd is closed at its CQE. A send
 * that ends first cancels the timeout, so nothing outlives the send for long.
 *
 * Locking: the outbox's spinlock guards its state; it is never held while a ring's lock is
 * taken, a waker runs or a system call is made (it may be taken under a ring's lock). */
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
/* How long a send in flight may hold a closed socket's fd (see "A close's grace"). */
#define EDO__OUTBOX_CLOSE_GRACE_NS (60ull * 1000 * 1000 * 1000)

/* The grace of the closes from now on (0: EDO__OUTBOX_CLOSE_GRACE_NS): a knob for tests.
 * Thread-safe. */
void edo__outbox_set_close_grace(uint64_t ns);

typedef struct edo__outbox {
    edo__cring_op op; /* the record the SEND carries */
    edo__spinlock lock;
    unsigned refs; /* the slot's, and the kernel's while `busy` */
    bool busy;     /* a SEND was queued and its CQE has not come */
    bool closed;   /* the registration is gone */
    int fd;        /* of the send in flight */
    int close_fd;  /* -1, or the fd to close at the CQE (handed over by a close) */
    int shut_how;  /* -1, or the shutdown(2) owed to `fd` at the CQE */
    int error;     /* of a send that failed, not reported yet (0: none) */
    bool broken;   /* a send failed: the connection cannot be written any more (-EPIPE) */
    bool shut;     /* the write half was shut down: no send starts any more (-EPIPE) */
    bool grace;    /* a close's grace timeout is in the ring (its SQE queued) */
    size_t len;    /* of the send in flight */
    edo__cring *ring; /* of the send in flight (and of the grace timeout) */
    struct __kernel_timespec grace_ts; /* the timeout's, read by the kernel when it takes it */
    uint32_t started; /* sends started, for tests */
    /* Writers waiting for the outbox to be free, a growing array. */
    edo_waker *next;
    unsigned nnext, capnext;
    char *buf; /* the copy the kernel sends */
    size_t cap;
} edo__outbox;

/* A new outbox with the slot's reference (NULL: out of memory). */
edo__outbox *edo__outbox_new(void);
/* Lets go of a reference; the last frees the outbox. NULL: no-op. */
void edo__outbox_unref(edo__outbox *b);

/* Starts a send of the iovecs' bytes (at most EDO__OUTBOX_MAX of them, copied) on `fd` through
 * ring `r`: returns the count handed over (> 0), with the ring LOCKED and its SQE queued (the
 * caller submits: edo__runtime_cring_submit_unlock or edo__cring_submit_unlock). Or, the ring
 * not locked and nothing started:
 *   -EBUSY   a send is in flight: `waker` (when not NULL) is woken once the outbox is free (the
 *            caller waits, then tries again);
 *   0        no buffer for the copy or no SQE to be had: the caller sends another way;
 *   -errno   the failure of the last send, reported now (see above).
 * Any thread. */
ssize_t edo__outbox_start(edo__outbox *b, edo__cring *r, int fd, const struct iovec *iov,
                          int iovcnt, const edo_waker *waker);
/* Before a write that does not go through the outbox (another thread's, a try, a splice), a
 * flush or a shutdown: 0 to go on; -EBUSY while a send is in flight (`waker`, when not NULL,
 * is woken once it is not); or the failure of the last send, reported now. Any thread. */
int edo__outbox_idle(edo__outbox *b, const edo_waker *waker);
/* A shutdown(2) of `fd` with `how` (SHUT_WR or SHUT_RDWR), which must not overtake the send
 * in flight: when one is, it is done at its CQE and this returns true; false when none is
 * (the caller shuts down now). Either way no send starts after it (-EPIPE, as send(2) says
 * after a shutdown). Any thread. */
bool edo__outbox_shutdown(edo__outbox *b, int fd, int how);
/* The registration is being deregistered, its fd `fd` (or -1) to be closed: the writers
 * waiting for the outbox are woken (they find the registration gone), and the slot's reference
 * is let go. Returns true when a send is in flight: the outbox closes `fd` at its CQE (the
 * caller must not); false: the caller closes it. */
bool edo__outbox_close(edo__outbox *b, int fd);

#endif
