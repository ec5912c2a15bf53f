/* Batched blocking work (see batch.h): drainers are ordinary blocking-pool calls, so the pool's
 * thread cap, keep-alive and shutdown apply to them unchanged. */
#include "core/batch.h"

#include <stdlib.h>

#include "core/runtime.h"
#include "edo/error.h"
#include "platform/thread.h"

/* The argument of a pool call: a drainer (job NULL) or a job alone. */
typedef struct pool_call {
    edo_runtime *rt;
    edo__batch_job *job;
    bool ran;
} pool_call;

void edo__batch_init(edo__batch_queue *q)
{
    edo__spin_init(&q->lock);
    q->head = q->tail = NULL;
    q->queued = q->drainers = 0;
    q->taken_ns = q->job_ns = 0;
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
        if (--q->drainers == 0) {
            orphans = q->head;
            q->head = q->tail = NULL;
            q->queued = 0;
        }
        edo__spin_unlock(&q->lock);
    }
    free(d);
    while (orphans) {
        edo__batch_job *next = orphans->next;
        orphans->run(orphans, true);
        orphans = next;
    }
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

/* Spawns the pool call of a drainer (job NULL) or of a job alone. */
static int start_call(edo_runtime *rt, edo__batch_job *job)
{
    pool_call *c = malloc(sizeof *c);
    if (!c)
        return -ENOMEM;
    *c = (pool_call){rt, job, false};
    edo_blocking_options o = {.drop_arg = job ? run_alone_end : drainer_end};
    int rc = edo_spawn_blocking_with(rt, &o, job ? run_alone : drain, c, NULL);
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
        return start_call(rt, job);
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
    edo__spin_unlock(&q->lock);
    if (!start)
        return 0;
    int rc = start_call(rt, NULL);
    if (rc == 0)
        return 0;
    /* No drainer: take the job back unless a drainer already has it (then it runs). The jobs
     * of others stay queued for the drainers there are; with none, they are cancelled. */
    edo__batch_job *orphans = NULL;
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
    if (q->drainers == 0) {
        orphans = q->head;
        q->head = q->tail = NULL;
        q->queued = 0;
    }
    edo__spin_unlock(&q->lock);
    while (orphans) {
        edo__batch_job *next = orphans->next;
        orphans->run(orphans, true);
        orphans = next;
    }
    return mine ? rc : 0;
}
