/* Batched blocking work: small blocking jobs (a stat, an open, a 4 KiB read) queued by the tasks
 * of a runtime and run by pool threads several at a time, so a burst of them costs a few pool
 * hops instead of one each. The file-system module submits through it.
 *
 * Why: a pool hop (queue the call, wake a pool thread, run, wake the task back) costs several
 * microseconds, more than the system call of a small file operation. Here the first job of a
 * burst starts a drainer (one blocking-pool call) that runs queued jobs until the queue is
 * empty; jobs queued meanwhile ride along. More drainers start while jobs pile up faster than
 * the drainers take them: up to EDO__BATCH_MAX_DRAINERS while jobs are quick (the page cache:
 * more threads than cores would not help), and up to EDO__BATCH_MAX_SLOW, one per waiting job,
 * while they are slow (each blocks in the kernel: a journal commit, a disk), as many as Tokio
 * would use, so slow jobs never queue behind each other. Also when no drainer took a job for
 * EDO__BATCH_STALL_NS while jobs wait (every drainer stuck), noticed by the next submit or,
 * while jobs wait, by a watch that looks every millisecond. A job known to take long (an fsync)
 * asks for a call of its own. */
#ifndef EDO_CORE_BATCH_H
#define EDO_CORE_BATCH_H

#include <stdbool.h>
#include <stdint.h>

#include "platform/spinlock.h"

struct edo_runtime;

#define EDO__BATCH_MAX_DRAINERS 4u /* drainers started because jobs pile up */
#define EDO__BATCH_PER_DRAINER 8u  /* queued jobs per drainer before another one starts */
#define EDO__BATCH_MAX_SLOW 64u    /* drainers for slow jobs, or when the others are stuck */
#define EDO__BATCH_SLOW_NS 50000u  /* a mean job time above this: the jobs are slow */
#define EDO__BATCH_STALL_NS 200000u /* no job taken for this long while jobs wait: stuck */
#define EDO__BATCH_WATCH_NS 1000000 /* the watch's period (see batch.c) */
#define EDO__BATCH_WATCH_LINGER 10u /* idle periods before the watch ends */

typedef struct edo__batch_job {
    struct edo__batch_job *next;
    /* Called exactly once: on a pool thread to do the work (`cancelled` false), or, when the
     * runtime's pool is shutting down and will not run it, to say so (`cancelled` true: do no
     * work, release and report -ECANCELED). */
    void (*run)(struct edo__batch_job *job, bool cancelled);
} edo__batch_job;

/* A runtime's queue (in struct edo_runtime). */
typedef struct edo__batch_queue {
    edo__spinlock lock;
    edo__batch_job *head, *tail;
    unsigned queued;   /* jobs waiting for a drainer */
    unsigned drainers; /* drainer calls spawned and not yet ended */
    uint64_t taken_ns; /* when a drainer last took a job (or started) */
    uint64_t job_ns;   /* a moving mean of how long jobs take */
    bool watching;     /* the watch runs (batch.c) */
    /* Idle periods before the watch ends: EDO__BATCH_WATCH_LINGER (a test that must find the
     * watch running raises it). */
    unsigned watch_linger;
} edo__batch_queue;

void edo__batch_init(edo__batch_queue *q);

/* Runs `job` on the blocking pool of `rt` (NULL: the current runtime): batched with the other
 * queued jobs, or on a pool call of its own when `alone`. Returns 0 (job->run will be called
 * exactly once, maybe before this returns), or -EPERM (not in a runtime), -ESHUTDOWN, -ENOMEM:
 * then job->run is never called. Never blocks; thread-safe. */
int edo__batch_submit(struct edo_runtime *rt, edo__batch_job *job, bool alone);

#endif
