/* One file-system call handed to the blocking pool (through the core's batched queue) or, where
 * the runtime runs io_uring and the call has a way through it, to the completion ring
 * (io/uring/completions.h); and the edo_fs_future that waits for it. Every operation of edo/fs.h is a call: a struct that starts
 * with edo__fs_call, holds copies of its arguments (paths, bytes to write) and its results, and
 * names its work in an edo__fs_ops.
 *
 * A call is shared by the waiting future and the pool (a reference each). The future copies the
 * results out (deliver) only when it sees the call done, so a future dropped early never has
 * its caller's memory written; whatever results nobody took are freed with the call (release).
 * A call whose future was dropped before a pool thread reached it is skipped: its work never
 * happens. Once started, it runs to its end.
 *
 * Through the ring, the kernel holds the second reference instead of the pool: the call is the
 * operation record of its SQEs, and everything they point at (paths, buffers, a statx struct)
 * lives in the call, so nothing the kernel writes into can go before the last CQE came. A call
 * runs as steps: `ring` queues the SQEs of one step (a chain of linked SQEs where one system
 * call needs another's result: openat, read, close into a fixed-file slot), and is called again
 * with their results once all came, to queue the next step or end the call. A future dropped
 * mid-step asks the kernel to cancel the SQEs the step marked cancellable (never a close: a file
 * a step opened is closed exactly once, by the step that opened it or the next), and a step
 * that finds its call abandoned queues only what releases resources.
 *
 * A call started by a coroutine under a deadline carries it into the kernel: each step that is
 * one cancellable SQE (a statx, an fsync, a pread, a rename, the type check's O_PATH open) gets
 * a linked timeout at the deadline (io/uring/completions.h), so the kernel stops it on time
 * even while no thread of ours runs, and the call ends with -ETIMEDOUT (a pwrite cut short: the
 * count written). Chains (a whole-file read's open, read and close) and steps with a close go
 * without: a timeout inside a chain would cut the close that must run. The timer wheel still
 * ends the coroutine's wait, as before. */
#ifndef EDO_FS_CALL_H
#define EDO_FS_CALL_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/batch.h"
#include "edo/fs.h"
#include "io/uring/completions.h"
#include "platform/spinlock.h"

typedef struct edo__fs_call edo__fs_call;

typedef struct edo__fs_ops {
    /* The blocking work, on a pool thread: the result (>= 0) or -errno. */
    ssize_t (*work)(edo__fs_call *c);
    /* In the waiting task, once the call succeeded: moves results to the caller's `outs` (the
     * future's out-pointers). NULL: nothing to deliver. */
    void (*deliver)(edo__fs_call *c, void *const *outs);
    /* Frees what the call still owns (results not delivered, argument copies in allocations of
     * their own); the call's own block is freed after. NULL: nothing. */
    void (*release)(edo__fs_call *c);
    /* The call through the completion ring, NULL: none (the pool does it). Called with the
     * ring locked (edo__cring_lock): `res` NULL at the start, else the results of the SQEs the
     * last step queued, by index. Queues the next step's SQEs (edo__fs_ring_sqe) and returns
     * EDO__FS_MORE, or returns the call's result (>= 0 or -errno), or EDO__FS_POOL: the pool
     * does the whole call instead (an opcode the kernel lacks, a file larger than a first
     * read; only while the call changed nothing the pool's work would not redo). */
    ssize_t (*ring)(edo__fs_call *c, edo__cring *r, const int32_t *res);
} edo__fs_ops;

#define EDO__FS_MORE (-100000)
#define EDO__FS_POOL (-100001)

struct edo__fs_call {
    edo__batch_job job;
    const edo__fs_ops *ops;
    edo__spinlock lock;
    unsigned refs;  /* the future's (or its owner's) and, while submitted, the pool's */
    bool done;      /* result is final */
    bool alone;     /* may take long (fsync, a tree removal): a pool call of its own */
    edo_waker waker;
    ssize_t result;
    /* Through the ring: the record its SQEs carry, and the step in flight. */
    edo__cring_op op;
    edo__cring *ring;     /* NULL: the pool's call */
    edo_runtime *rt;      /* where the pool is, for a step that hands the call over */
    unsigned pending;     /* SQEs of the step whose CQE has not come (under the ring's lock) */
    unsigned cancellable; /* of those, a bit per index the future's drop may cancel */
    int32_t res[EDO__CRING_INDEXES];
    /* The caller's deadline (edo__runtime_op_deadline, when the call started; never: none),
     * carried as a linked timeout by each step of one cancellable SQE (`timed`: its index's
     * bit), whose -ECANCELED then reads -ETIMEDOUT. The step's last SQE, to link behind. */
    uint64_t deadline;
    unsigned timed;
    struct io_uring_sqe *last_sqe;
};

/* A zeroed call block of `size` bytes (at least sizeof(edo__fs_call)) for `ops`, one
 * reference; NULL when out of memory. */
edo__fs_call *edo__fs_call_new(size_t size, const edo__fs_ops *ops);
/* Hands `c` to the pool (taking the pool's reference). 0, or the error of edo__batch_submit
 * (then `c` is done with that error). */
int edo__fs_call_submit(edo__fs_call *c);
/* Whether `c` is done; if not, cx's waker is woken when it is (replacing any earlier one). */
edo_poll edo__fs_call_poll(edo__fs_call *c, edo_context *cx);
/* Queues an SQE of `c`'s step at `index` (in the ring's lock, in a step), cancellable or
 * not: 0, or the ring's error (nothing queued). Reserve a chain's SQEs first
 * (edo__cring_reserve), so that a chain is never cut. */
int edo__fs_ring_sqe(edo__fs_call *c, edo__cring *r, unsigned index, bool cancellable,
                     struct io_uring_sqe **out);
/* Whether only the kernel still holds `c` (its future was dropped): a step then only releases
 * what it holds. */
bool edo__fs_call_abandoned(edo__fs_call *c);
/* Drops a reference; the last one releases and frees the call. */
void edo__fs_call_unref(edo__fs_call *c);

/* A write this large gets a pool call of its own (`alone`) rather than a place in a batch. */
#define EDO__FS_BIG_WRITE ((size_t)1 << 20)

/* Makes `f` a future over `c` (owned by the future from here on; NULL: `error`, else -ENOMEM,
 * at the first poll), delivering to `outs` (up to EDO__FS_OUTS pointers, the rest NULL). */
#define EDO__FS_OUTS 3
void edo__fs_future_init(edo_fs_future *f, edo__fs_call *c, int error, void *out0, void *out1,
                         void *out2);
/* A future that completes with `error` at its first poll (bad arguments). */
static inline void edo__fs_future_fail(edo_fs_future *f, int error)
{
    edo__fs_future_init(f, NULL, error, NULL, NULL, NULL);
}
/* The coroutine form: an argument error at once, else awaits `f` in the calling coroutine
 * (-EPERM outside one, -ECANCELED, -ETIMEDOUT), drops it, and returns its result. */
ssize_t edo__fs_run(edo_fs_future *f);

#endif
