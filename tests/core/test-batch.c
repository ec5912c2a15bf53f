/* Batched blocking jobs (core/batch.c): every job runs (or is cancelled) exactly once, from any
 * number of submitting threads, also when the runtime shuts down with jobs queued; jobs that
 * block until other jobs run are never stuck behind each other. */
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>

#include <pthread.h>

#include "core/batch.h"
#include "core/runtime.h"
#include "harness.h"
#include "util.h"

typedef struct counted_job {
    edo__batch_job job;
    _Atomic int runs, cancels;
} counted_job;

static void counted_run(edo__batch_job *job, bool cancelled)
{
    counted_job *c = (counted_job *)job;
    atomic_fetch_add(cancelled ? &c->cancels : &c->runs, 1);
}

typedef struct submitter {
    edo_runtime *rt;
    counted_job *jobs;
    int n;
} submitter;

static void *submit_all(void *arg)
{
    submitter *s = arg;
    for (int i = 0; i < s->n; i++) {
        s->jobs[i].job.run = counted_run;
        CHECK_EQ(edo__batch_submit(s->rt, &s->jobs[i].job, i % 17 == 0), 0);
    }
    return NULL;
}

/* Four plain threads submit at once; then the runtime shuts down, maybe with jobs queued. */
TEST(exactly_once)
{
    enum { THREADS = 4 };
    int per = SCALE(20000, 5000, 2000);
    for (int round = 0; round < 5; round++) {
        edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
        counted_job *jobs = calloc((size_t)(THREADS * per), sizeof *jobs);
        CHECK(jobs);
        submitter s[THREADS];
        pthread_t threads[THREADS];
        for (int t = 0; t < THREADS; t++) {
            s[t] = (submitter){rt, jobs + t * per, per};
            CHECK_EQ(pthread_create(&threads[t], NULL, submit_all, &s[t]), 0);
        }
        for (int t = 0; t < THREADS; t++)
            CHECK_EQ(pthread_join(threads[t], NULL), 0);
        edo_runtime_free(rt); /* waits for running drainers; cancels what never started */
        long ran = 0;
        for (int i = 0; i < THREADS * per; i++) {
            CHECK_EQ(jobs[i].runs + jobs[i].cancels, 1);
            ran += jobs[i].runs;
        }
        CHECK(ran > 0);
        free(jobs);
    }
}

/* Jobs that each wait until all of them run at once: the watch must add drainers (no later
 * submit comes to notice that the first ones are stuck). */
enum { MEET = 12 };
static _Atomic int arrived;

static void meet_run(edo__batch_job *job, bool cancelled)
{
    (void)job;
    CHECK(!cancelled);
    atomic_fetch_add(&arrived, 1);
    double deadline = now_s() + 60;
    while (atomic_load(&arrived) < MEET) {
        CHECK(now_s() < deadline);
        sched_yield();
    }
}

TEST(blocked_jobs_get_drainers)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    static edo__batch_job jobs[MEET];
    for (int i = 0; i < MEET; i++) {
        jobs[i].run = meet_run;
        CHECK_EQ(edo__batch_submit(rt, &jobs[i], false), 0);
    }
    WAIT_UNTIL(atomic_load(&arrived) == MEET);
    edo_runtime_free(rt);
}

/* A pool of one thread, and the watch on it: a job queued then, whose drainer's call can only
 * wait for that thread, must still run (the watch drains it; it used to wait for ever, the
 * watch looking at it every period and starting drainers that could never run). */
static _Atomic bool holding, release_holder;

static void hold_run(edo__batch_job *job, bool cancelled)
{
    (void)job;
    (void)cancelled;
    atomic_store(&holding, true);
    double deadline = now_s() + 60;
    while (!atomic_load(&release_holder)) {
        CHECK(now_s() < deadline);
        sched_yield();
    }
}

/* Whether the pool's one thread runs something that is not a drainer: the watch. */
static bool watch_holds_the_thread(edo_runtime *rt)
{
    edo__batch_queue *q = &rt->batch;
    edo__spin_lock(&q->lock);
    bool no_drainer = q->drainers == 0 && q->watching;
    edo__spin_unlock(&q->lock);
    edo__blocking_pool *p = &rt->blocking;
    pthread_mutex_lock(&p->lock);
    bool busy = p->nthreads == 1 && p->nidle == 0 && !p->head;
    pthread_mutex_unlock(&p->lock);
    return no_drainer && busy;
}

TEST(watch_in_a_pool_of_one_drains)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 1, .max_blocking_threads = 1};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    /* The watch stays until the runtime stops, not ~10 ms after its last job: on a loaded
     * machine this thread may not look within that time, and would wait for a watch gone. */
    edo__spin_lock(&rt->batch.lock);
    rt->batch.watch_linger = UINT_MAX;
    edo__spin_unlock(&rt->batch.lock);
    static edo__batch_job holder = {.run = hold_run};
    static counted_job first, second;
    first.job.run = second.job.run = counted_run;
    CHECK_EQ(edo__batch_submit(rt, &holder, false), 0); /* the drainer takes the thread */
    WAIT_UNTIL(atomic_load(&holding));
    CHECK_EQ(edo__batch_submit(rt, &first.job, false), 0); /* queued; the watch's call waits */
    atomic_store(&release_holder, true);
    WAIT_UNTIL(atomic_load(&first.runs) == 1); /* the drainer ran it, then the watch came */
    WAIT_UNTIL(watch_holds_the_thread(rt));
    CHECK_EQ(edo__batch_submit(rt, &second.job, false), 0); /* its drainer can only queue */
    WAIT_UNTIL(atomic_load(&second.runs) == 1);
    edo_runtime_free(rt);
}

TEST(outside_a_runtime)
{
    edo__batch_job job = {.run = counted_run};
    CHECK_EQ(edo__batch_submit(NULL, &job, false), -EPERM);
}
