/* The completion ring: operations submitted to io_uring as SQEs that carry a pointer to an
 * operation record, whose results come back as CQEs (read, write, openat, statx, fsync, ...),
 * beside the readiness the backend reports. The I/O driver keeps one per worker and one for
 * the other threads (io/driver.h, edo__io_cring: inline work runs under a ring's kernel mutex,
 * so workers sharing a ring would take turns), each made on first use, and only where the
 * runtime runs the io_uring backend.
 *
 * Why each ring is still safe from any thread: an operation is started by whichever worker
 * (or block_on thread) polls its future, and finished by whichever thread reaps its CQE; a
 * task may migrate between the two, and a dropped future cancels on the ring its operation
 * went to, from wherever it is dropped. So, as the readiness ring of io/uring.c, a ring has
 * no SINGLE_ISSUER, DEFER_TASKRUN or COOP_TASKRUN (with COOP_TASKRUN a completion that runs
 * as task work on a submitter asleep on its futex would wait for that thread's next system
 * call), and two locks: one for the submission side (not held across io_uring_enter), one for
 * reaping.
 *
 * Who reaps. A CQE is reaped, and its operation told, by
 *   1. the submitter, right after submitting: on a warm cache a file read, an openat or a
 *      statx completes inside io_uring_enter, so most operations finish without suspending;
 *   2. a future waiting on an operation, each time it is polled (edo__cring_reap), where its
 *      thread may (edo__runtime_cring_may_reap: not a worker polling a task whose operation
 *      went to another worker's ring);
 *   3. the driver, after a wait that this ring's eventfd ended (edo__cring_on_dispatch): an
 *      eventfd registered with the ring (IORING_REGISTER_EVENTFD) is watched by the driver
 *      like any fd (in the lane of the worker whose ring it is, with io_uring's lanes), so a
 *      worker parked in the driver wakes for a completion nobody reaped, and a busy one reaps
 *      its own at its next look. A future only leaves its waker with its operation, which
 *      `complete` wakes.
 * Why not every thread reaps every ring: a reap runs the completed calls' next steps, which
 * submit to the same ring (fixed-file slots are a ring's own), and two threads entering one
 * ring take turns on its kernel mutex, as does the completions' task work.
 * The eventfd counts only while operations are in flight after their submitter's reap
 * (IORING_CQ_EVENTFD_DISABLED otherwise): a completion its submitter reaps at once (the common
 * case on a warm cache) then costs no wake-up of a parked worker.
 * Reaping uses a try-lock: a thread that finds another reaping leaves the CQEs to it, and the
 * reaper looks again after unlocking, so that a CQE posted while it held the lock is never
 * left behind.
 *
 * Ownership (the rule everything else follows): an SQE's user_data is its operation record's
 * address, with an index 0..7 in the low bits (a chain of linked SQEs is one record). The
 * kernel may write into what the SQE points at (a buffer, a statx struct, the path it reads)
 * until its CQE is posted. So the record, and every buffer an SQE names, belongs to the
 * runtime from the submission until `complete` was called for that SQE's index: whoever
 * submits keeps them alive until then (the file-system calls hold a reference for the kernel,
 * fs/call.c), and a caller that stops waiting (a dropped future, an aborted task, a deadline)
 * only asks the kernel to stop early (edo__cring_cancel, IORING_OP_ASYNC_CANCEL) and lets go of
 * its own reference: the memory is freed by the last `complete`. Results go to the caller's
 * memory only when the caller polls and sees the operation done, never from `complete`.
 *
 * A full SQ delays an operation, never drops it: the ring submits what it holds to make room
 * (edo__ring_get_sqe). A full CQ loses nothing either: the kernel keeps the overflow
 * (IORING_FEAT_NODROP, required here) and the reaper flushes it in.
 *
 * What the kernel lacks is found by probing (IORING_REGISTER_PROBE, and registering a sparse
 * file table for fixed files): callers ask edo__cring_has_op and take another path (the
 * blocking pool) for an opcode the kernel does not have.
 *
 * Deadlines (edo__cring_link_deadline). An operation whose caller has a deadline may carry an
 * IORING_OP_LINK_TIMEOUT right behind its SQE, at that instant (absolute, CLOCK_MONOTONIC), so
 * the kernel ends it on time by itself, also while every thread that could send an
 * ASYNC_CANCEL is busy. The timeout's SQE names no record: its CQE (-ETIME when it fired,
 * -ECANCELED or -ENOENT when the operation ended first, -EALREADY when it fired too late to
 * stop it) only counts in `links_reaped`, so the record's life is unchanged (it ends with its
 * own operation's CQE); the kernel copies the timespec when it takes the SQE, so the ring keeps
 * one per SQ slot, reused only once the kernel moved past that slot. An operation the timeout
 * stopped completes with -ECANCELED (an interrupted wait in io_uring's worker: -EINTR; a send
 * that let bytes out: their count): its caller turns that into -ETIMEDOUT
 * (edo__cring_timed_out). Operations without a deadline carry nothing.
 */
#ifndef EDO_IO_URING_COMPLETIONS_H
#define EDO_IO_URING_COMPLETIONS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "edo/io.h"
#include "io/uring/ring.h"
#include "platform/spinlock.h"

/* The SQEs one operation record may have in flight at once (the low bits of user_data). */
#define EDO__CRING_INDEXES 8

typedef struct edo__cring_op edo__cring_op;
/* Told, on the reaping thread, that the SQE with `index` finished with `res` (IORING_CQE_*
 * `flags`). Must not block; may submit more SQEs for the same record. The record may be freed
 * once every index it submitted was told. */
typedef void (*edo__cring_complete_fn)(edo__cring_op *op, unsigned index, int32_t res,
                                       uint32_t flags);

/* The head of an operation record: 8-byte aligned, as user_data's low bits hold the index. */
struct edo__cring_op {
    edo__cring_complete_fn complete;
} __attribute__((aligned(8)));

typedef struct edo__cring {
    edo__ring ring;
    edo__spinlock sq_lock; /* the submission side and the slot table */
    edo__spinlock cq_lock; /* one reaper at a time */
    int eventfd;
    edo_io *io;               /* the eventfd, watched by the driver */
    /* SQEs of operations whose CQE was not reaped yet. Counted up (release) with each SQE,
     * released again before each publication (a record is still read while its SQE is filled
     * in), and down (acquire) before its record is touched by the reaper: the order the kernel
     * gives between an SQE and its CQE, in a form ThreadSanitizer sees (it cannot follow the
     * pointer through the kernel). */
    _Atomic size_t inflight;
    _Atomic bool unsubmitted; /* a submission took nothing: SQEs wait in the SQ */
    _Atomic bool unentered;   /* SQEs published for a later entry (edo__cring_publish_unlock) */
    bool notify; /* the eventfd counts completions (under sq_lock) */

    /* Fixed files (a sparse table registered at creation, where the kernel takes it): slots
     * handed out by edo__cring_slot_take, under sq_lock. 0 slots: none. */
    unsigned nslots;
    unsigned *free_slots, nfree;

    /* Linked timeouts: the timespec of the LINK_TIMEOUT in each SQ slot (NULL: none made, the
     * callers go without), and counts for tests and metrics: linked, their CQEs reaped, and of
     * those the ones that fired (-ETIME). */
    struct __kernel_timespec *link_ts;
    _Atomic unsigned long links, links_reaped, links_fired;
} edo__cring;

/* Ring sizes for the completion rings made from now on (0: the defaults, SQ 256, CQ 1024):
 * tests use tiny ones to exhaust the SQ. */
void edo__cring_set_sizes(unsigned sq_entries, unsigned cq_entries);

/* Makes a completion ring whose eventfd is registered through `reg` (the driver's
 * registration function, with `ctx`): 0, or -errno (-ENOSYS where io_uring, or a feature it
 * needs, is missing). */
int edo__cring_create(edo__cring **out, int (*reg)(void *ctx, int fd, edo_io **io), void *ctx);
/* Cancels what is in flight, waits for every CQE (each operation told, as a record is freed
 * only then), deregisters and frees. No submission may come after. */
void edo__cring_destroy(edo__cring *c);

/* Whether the kernel has opcode `op` (IORING_OP_*). */
static inline bool edo__cring_has_op(const edo__cring *c, unsigned op)
{
    return edo__ring_has_op(&c->ring, op);
}

/* ---- submitting: lock, take SQEs, submit ------------------------------------------------ */

static inline void edo__cring_lock(edo__cring *c) { edo__spin_lock(&c->sq_lock); }
static inline void edo__cring_unlock(edo__cring *c) { edo__spin_unlock(&c->sq_lock); }
/* Makes room for `n` SQEs (at most the SQ's size), submitting what is queued if needed, so
 * that a chain of linked SQEs is queued whole: 0, or the kernel's error (-EBUSY, -EAGAIN)
 * when it takes nothing, or -EINVAL for more than the SQ holds. */
int edo__cring_reserve(edo__cring *c, unsigned n);
/* A zeroed SQE for `op`'s `index` (user_data set; fill in the rest), counted in flight.
 * 0, or the ring's error (out of kernel resources with a full SQ): then nothing was queued. */
int edo__cring_sqe(edo__cring *c, edo__cring_op *op, unsigned index, struct io_uring_sqe **out);
/* Links an IORING_OP_LINK_TIMEOUT at `deadline_ns` (CLOCK_MONOTONIC, edo__clock_ns's clock)
 * behind `sqe`, the last SQE queued (under the lock), which must stand alone (no IOSQE_IO_LINK
 * of its own). Only when the kernel has the opcode and the SQ has a free slot right now (taking
 * one must not submit `sqe` without its timeout: the pair goes in one submission): returns
 * whether it linked. Not linked, the operation goes without; nothing else changes. */
bool edo__cring_link_deadline(edo__cring *c, struct io_uring_sqe *sqe, uint64_t deadline_ns);
/* Whether an operation linked to a timeout at `deadline_ns` that completed with `res` was
 * stopped by it (see Deadlines above): `res` is -ECANCELED or -EINTR and the deadline has
 * passed. Its caller then reports -ETIMEDOUT, as a deadline from the timer wheel does. */
bool edo__cring_timed_out(int32_t res, uint64_t deadline_ns);
/* Queues an ASYNC_CANCEL of `op`'s `index` (its own CQE is ignored). 0 or -errno. */
int edo__cring_cancel(edo__cring *c, edo__cring_op *op, unsigned index);
/* Submits what was queued, unlocks, and reaps what completed at once. Returns 0, or the
 * kernel's error when it took nothing (the SQEs stay queued and go with the next submission,
 * or the next wait's, so nothing is lost; the waiters are woken through the eventfd). */
int edo__cring_submit_unlock(edo__cring *c);
/* Publishes what was queued and unlocks, without entering: the SQEs wait in the SQ for the
 * next entry, by anyone, so that the SQEs of many operations go in in one io_uring_enter.
 * Whoever calls this owes the ring an edo__cring_flush soon (before it sleeps: until some
 * thread enters, the kernel does not see them), or another entry. Never blocks. */
void edo__cring_publish_unlock(edo__cring *c);
/* Enters the ring if SQEs were published without an entry since the last flush, reaps what
 * completed (whose steps may publish more: they go in too, in the next round), as
 * edo__cring_submit_unlock does. Returns whether it entered. Never blocks; any thread. */
bool edo__cring_flush(edo__cring *c);

/* A free fixed-file slot (under the lock), or -ENFILE when all are taken or there are none. */
int edo__cring_slot_take(edo__cring *c);
/* Gives back a slot whose file was closed (under the lock). */
void edo__cring_slot_put(edo__cring *c, unsigned slot);

/* ---- reaping ---------------------------------------------------------------------------- */

/* Reaps what the CQ holds (unless another thread is reaping: it takes them): each operation's
 * `complete` is called. Never blocks. */
void edo__cring_reap(edo__cring *c);
/* For the driver, after each wait in its backend: when the ring's eventfd was ready (emptied
 * first) or SQEs a failed submission left are submitted now, reaps; else nothing. Never
 * blocks. */
void edo__cring_on_dispatch(edo__cring *c);

#endif
