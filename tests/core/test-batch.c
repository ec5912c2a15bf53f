/* Batched blocking jobs (core/batch.c): every job runs (or is cancelled) exactly once, from any
 * number of submitting threads, also when the runtime shuts down with jobs queued; jobs that
 * block until other jobs run are never stuck behind each other. */
#include <stdatomic.h>
#include <stdlib.h>

#include "core/batch.h"
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

TEST(outside_a_runtime)
{
    edo__batch_job job = {.run = counted_run};
    CHECK_EQ(edo__batch_submit(NULL, &job, false), -EPERM);
}
