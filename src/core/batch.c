/* Batched blocking work (see batch.h): drainers are ordinary blocking-pool calls, so the pool's
 * thread cap, keep-alive and shutdown apply to them unchanged. */
#include "core/batch.h"

#include <stdlib.h>
#include <time.h>

#include "core/runtime.h"
#include "edo/error.h"
#include "platform/thread.h"

/* The argument of a pool call: a drainer, the watch, or a job alone. */
typedef struct pool_call {
    edo_runtime *rt;
    edo__batch_job *job; /* a job alone; NULL for a drainer or the watch */
    bool ran;
} pool_call;

static int start_call(edo_runtime *rt, edo__batch_job *job, bool watch);

void edo__batch_init(edo__batch_queue *q)
{
    edo__spin_init(&q->lock);
    q->head = q->tail = NULL;
    q->queued = q->drainers = 0;
    q->taken_ns = q->job_ns = 0;
    q->watching = false;
    q->watch_linger = EDO__BATCH_WATCH_LINGER;
}

/* Under the lock: the next queued job, or NULL. */
static edo__batch_job *pop(edo__batch_queue *q)
{
    edo__batch_job *job = q->head;
    if (job) {
        q->head = job->next;
        if (!q->head)
            q->tail = NULL;
        q->queued--;
        job->next = NULL;
    }
    return job;
}

/* Under the lock, after a drainer left: with none left, the queued jobs will never run: takes
 * them all (for cancel_all, after unlocking). */
static edo__batch_job *take_orphans(edo__batch_queue *q)
{
    if (q->drainers > 0)
        return NULL;
    edo__batch_job *orphans = q->head;
    q->head = q->tail = NULL;
    q->queued = 0;
    return orphans;
}

/* Tells each of `jobs` that it will never run. */
static void cancel_all(edo__batch_job *jobs)
{
    while (jobs) {
        edo__batch_job *next = jobs->next;
        jobs->run(jobs, true);
        jobs = next;
    }
}

/* A drainer's pool call: runs jobs until none is queued, then ends (under the lock, so a job
 * queued at that moment either is seen here or finds no drainer and starts one). */
static void *drain(void *arg)
{
    pool_call *d = arg;
    edo__batch_queue *q = &d->rt->batch;
    d->ran = true;
    uint64_t last = 0; /* when the previous job started */
    for (;;) {
        uint64_t now = edo__clock_ns();
        edo__spin_lock(&q->lock);
        if (last)
            q->job_ns = (q->job_ns * 7 + (now - last)) / 8;
        last = now;
        edo__batch_job *job = pop(q);
        q->taken_ns = now;
        if (!job) {
            q->drainers--;
            edo__spin_unlock(&q->lock);
            return NULL;
        }
        edo__spin_unlock(&q->lock);
        job->run(job, false);
    }
}

/* After the drainer's call, or instead of it (the pool shut down before it started). A drainer
 * that never ran leaves; when it was the last, the queued jobs will never run: cancel them. */
static void drainer_end(void *arg)
{
    pool_call *d = arg;
    edo__batch_queue *q = &d->rt->batch;
    edo__batch_job *orphans = NULL;
    if (!d->ran) {
        edo__spin_lock(&q->lock);
        q->drainers--;
        orphans = take_orphans(q);
        edo__spin_unlock(&q->lock);
    }
    free(d);
    cancel_all(orphans);
}

/* The watch: while jobs wait, looks every EDO__BATCH_WATCH_NS whether the drainers still take
 * them, and starts one more when none did for that long. Without it, a job that blocks until
 * another job runs (opening a FIFO waits for its other end) would wait for ever behind it when
 * no later submit notices the stall. */
static void *watch(void *arg)
{
    pool_call *w = arg;
    edo__batch_queue *q = &w->rt->batch;
    w->ran = true;
    unsigned idle = 0; /* periods in a row without a job waiting */
    for (;;) {
        struct timespec period = {0, EDO__BATCH_WATCH_NS};
        nanosleep(&period, NULL);
        uint64_t now = edo__clock_ns();
        edo__spin_lock(&q->lock);
        bool start = q->head && q->drainers < EDO__BATCH_MAX_SLOW &&
                     now - q->taken_ns > EDO__BATCH_WATCH_NS;
        if (start) {
            q->drainers++;
            q->taken_ns = now;
        }
        /* Stays a few idle periods: jobs come in bursts, and restarting it costs a pool hop. */
        idle = q->head ? 0 : idle + 1;
        bool done = idle >= q->watch_linger ||
                    (idle && atomic_load_explicit(&w->rt->shutdown, memory_order_relaxed));
        if (done)
            q->watching = false;
        edo__spin_unlock(&q->lock);
        if (done)
            return NULL;
        if (start && edo__blocking_full(w->rt)) {
            /* A new drainer's call would wait for a thread, maybe this one (a pool of one):
             * the watch drains the stalled jobs itself, as a drainer (counted above), and
             * watches again once they ran. */
            drain(w);
            continue;
        }
        if (start && start_call(w->rt, NULL, false) < 0) { /* the pool is closing */
            edo__spin_lock(&q->lock);
            q->drainers--;
            q->watching = false;
            edo__batch_job *orphans = take_orphans(q);
            edo__spin_unlock(&q->lock);
            cancel_all(orphans);
            return NULL;
        }
    }
}

static void watch_end(void *arg)
{
    pool_call *w = arg;
    if (!w->ran) { /* cancelled before it ran: the pool is shutting down */
        edo__batch_queue *q = &w->rt->batch;
        edo__spin_lock(&q->lock);
        q->watching = false;
        edo__spin_unlock(&q->lock);
    }
    free(w);
}

/* A job alone: its pool call runs it, or cancels it when the call never ran. */
static void *run_alone(void *arg)
{
    pool_call *c = arg;
    c->ran = true;
    c->job->run(c->job, false);
    return NULL;
}

static void run_alone_end(void *arg)
{
    pool_call *c = arg;
    if (!c->ran)
        c->job->run(c->job, true);
    free(c);
}

/* Spawns the pool call of a drainer (job NULL), the watch, or a job alone. */
static int start_call(edo_runtime *rt, edo__batch_job *job, bool is_watch)
{
    pool_call *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    *c = (pool_call){rt, job, false};
    edo_blocking_options o = {.drop_arg = job ? run_alone_end : is_watch ? watch_end : drainer_end};
    int rc = edo_spawn_blocking_with(rt, &o, job ? run_alone : is_watch ? watch : drain, c, NULL);
    if (rc < 0)
        free(c);
    return rc;
}

int edo__batch_submit(edo_runtime *rt, edo__batch_job *job, bool alone)
{
    if (!rt && !(rt = edo_runtime_current()))
        return -EPERM;
    job->next = NULL;
    if (alone)
        return start_call(rt, job, false);
    edo__batch_queue *q = &rt->batch;
    uint64_t now = edo__clock_ns();
    edo__spin_lock(&q->lock);
    if (q->tail)
        q->tail->next = job;
    else
        q->head = job;
    q->tail = job;
    q->queued++;
    bool slow = q->job_ns > EDO__BATCH_SLOW_NS;
    bool piling = slow ? q->drainers < EDO__BATCH_MAX_SLOW && q->queued > 0
                       : q->drainers < EDO__BATCH_MAX_DRAINERS &&
                             q->queued > q->drainers * EDO__BATCH_PER_DRAINER;
    bool stuck = q->drainers < EDO__BATCH_MAX_SLOW && q->queued > 1 &&
                 now - q->taken_ns > EDO__BATCH_STALL_NS;
    bool start = q->drainers == 0 || piling || stuck;
    if (start) {
        q->drainers++;
        q->taken_ns = now; /* one more per stall period, not one per job queued meanwhile */
    }
    bool start_watch = !start && !q->watching; /* the job waits behind running ones */
    if (start_watch)
        q->watching = true;
    edo__spin_unlock(&q->lock);
    if (start_watch && start_call(rt, NULL, true) < 0) {
        edo__spin_lock(&q->lock); /* no watch (out of memory, shutting down): the next try */
        q->watching = false;
        edo__spin_unlock(&q->lock);
    }
    if (!start)
        return 0;
    int rc = start_call(rt, NULL, false);
    if (rc == 0)
        return 0;
    /* No drainer: take the job back unless a drainer already has it (then it runs). The jobs
     * of others stay queued for the drainers there are; with none, they are cancelled. */
    bool mine = false;
    edo__spin_lock(&q->lock);
    q->drainers--;
    for (edo__batch_job **p = &q->head, *prev = NULL; *p; prev = *p, p = &(*p)->next) {
        if (*p == job) {
            *p = job->next;
            if (q->tail == job)
                q->tail = prev;
            q->queued--;
            mine = true;
            break;
        }
    }
    edo__batch_job *orphans = take_orphans(q);
    edo__spin_unlock(&q->lock);
    cancel_all(orphans);
    return mine ? rc : 0;
}
