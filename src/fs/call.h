/* One file-system call handed to the blocking pool (through the core's batched queue), and the
 * edo_fs_future that waits for it. Every operation of edo/fs.h is a call: a struct that starts
 * with edo__fs_call, holds copies of its arguments (paths, bytes to write) and its results, and
 * names its work in an edo__fs_ops.
 *
 * A call is shared by the waiting future and the pool (a reference each). The future copies the
 * results out (deliver) only when it sees the call done, so a future dropped early never has
 * its caller's memory written; whatever results nobody took are freed with the call (release).
 * A call whose future was dropped before a pool thread reached it is skipped: its work never
 * happens. Once started, it runs to its end. */
#ifndef EDO_FS_CALL_H
#define EDO_FS_CALL_H

#include <stdbool.h>
#include <sys/types.h>

#include "core/batch.h"
#include "edo/fs.h"
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
} edo__fs_ops;

struct edo__fs_call {
    edo__batch_job job;
    const edo__fs_ops *ops;
    edo__spinlock lock;
    unsigned refs;  /* the future's (or its owner's) and, while submitted, the pool's */
    bool done;      /* result is final */
    bool alone;     /* may take long (fsync, a tree removal): a pool call of its own */
    edo_waker waker;
    ssize_t result;
};

/* A zeroed call block of `size` bytes (at least sizeof(edo__fs_call)) for `ops`, one
 * reference; NULL when out of memory. */
edo__fs_call *edo__fs_call_new(size_t size, const edo__fs_ops *ops);
/* Hands `c` to the pool (taking the pool's reference). 0, or the error of edo__batch_submit
 * (then `c` is done with that error). */
int edo__fs_call_submit(edo__fs_call *c);
/* Whether `c` is done; if not, cx's waker is woken when it is (replacing any earlier one). */
edo_poll edo__fs_call_poll(edo__fs_call *c, edo_context *cx);
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
