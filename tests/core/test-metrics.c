/* edo_runtime_metrics_get: live tasks come and go with the tasks, bad input and a shut-down
 * runtime are refused. */
#include <sched.h>

#include "harness.h"
#include "util.h"

#define TASKS 50

typedef struct parked {
    edo_semaphore *gate; /* no permits until the test lets the tasks finish */
    _Atomic int started;
} parked;

static void *wait_at_gate(void *arg)
{
    parked *p = arg;
    atomic_fetch_add(&p->started, 1);
    CHECK_EQ(edo_semaphore_acquire(p->gate, 1), 0);
    return NULL;
}

/* Outputs the live tasks as the task itself sees them, once every gate task has started. */
static void *live_from_inside(void *arg)
{
    parked *p = arg;
    CHECK_EQ(atomic_load(&p->started), TASKS);
    edo_runtime_metrics m;
    CHECK_EQ(edo_runtime_metrics_get(edo_runtime_current(), &m), 0);
    return (void *)(uintptr_t)m.live_tasks;
}

/* Waits (bounded: a task that never gets there fails the test) until the runtime has `want` live tasks. */
static void wait_for_live(edo_runtime *rt, size_t want)
{
    edo_runtime_metrics m = {0};
    for (long spins = 0; spins < 100000000; spins++) {
        CHECK_EQ(edo_runtime_metrics_get(rt, &m), 0);
        if (m.live_tasks == want)
            return;
        sched_yield();
    }
    fprintf(stderr, "live_tasks stayed at %zu, expected %zu\n", m.live_tasks, want);
    CHECK(0);
}

static void live_tasks_follow(edo_runtime_flavor flavor, unsigned workers)
{
    edo_runtime *rt = new_rt(flavor, workers);
    edo_runtime_metrics m;
    CHECK_EQ(edo_runtime_metrics_get(rt, &m), 0);
    CHECK_EQ(m.live_tasks, 0);
    CHECK_EQ(m.workers, flavor == EDO_RUNTIME_CURRENT_THREAD ? 0 : workers);

    parked p = {.started = 0};
    CHECK_EQ(edo_semaphore_new(0, &p.gate), 0);
    edo_task *tasks[TASKS];
    for (int i = 0; i < TASKS; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, wait_at_gate, &p, &tasks[i]), 0);
    if (flavor == EDO_RUNTIME_CURRENT_THREAD) {
        /* Nobody drives a current-thread runtime but a join: a task spawned after the others
         * runs after each of them has been polled up to the gate, and counts itself too. */
        edo_task *checker;
        void *seen = NULL;
        CHECK_EQ(edo_spawn_with(rt, NULL, live_from_inside, &p, &checker), 0);
        CHECK_EQ(edo_task_join(checker, &seen), 0);
        edo_task_free(checker);
        CHECK_EQ((uintptr_t)seen, TASKS + 1);
        CHECK_EQ(edo_semaphore_release(p.gate, TASKS), 0);
    } else {
        /* A task counts as live from its first poll, a moment before its body bumps
         * `started`: wait for both (bounded). */
        for (long spins = 0; atomic_load(&p.started) < TASKS && spins < 100000000; spins++)
            sched_yield();
        CHECK_EQ(atomic_load(&p.started), TASKS);
        wait_for_live(rt, TASKS); /* every task has been polled and waits at the gate */
        CHECK_EQ(edo_semaphore_release(p.gate, TASKS), 0);
    }
    for (int i = 0; i < TASKS; i++) {
        CHECK_EQ(edo_task_join(tasks[i], NULL), 0);
        edo_task_free(tasks[i]);
    }
    /* A task leaves its table right after publishing its output: the join may see it first. */
    wait_for_live(rt, 0);
    edo_semaphore_free(p.gate);
    edo_runtime_free(rt);
}

TEST(live_tasks_multi_thread) { live_tasks_follow(EDO_RUNTIME_MULTI_THREAD, 2); }

TEST(live_tasks_current_thread) { live_tasks_follow(EDO_RUNTIME_CURRENT_THREAD, 1); }

static void *count_blocking(void *arg)
{
    (void)arg;
    return NULL;
}

TEST(blocking_threads_counted)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
    edo_task *t;
    CHECK_EQ(edo_spawn_blocking_on(rt, count_blocking, NULL, &t), 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    edo_runtime_metrics m;
    CHECK_EQ(edo_runtime_metrics_get(rt, &m), 0);
    CHECK_EQ(m.blocking_threads, 1); /* idle now, kept alive for the next call */
    edo_runtime_free(rt);
}

TEST(bad_input_and_shutdown)
{
    edo_runtime_metrics m = {.workers = 77};
    CHECK_EQ(edo_runtime_metrics_get(NULL, &m), -EINVAL);
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
    CHECK_EQ(edo_runtime_metrics_get(rt, NULL), -EINVAL);
    edo_runtime *handle = edo_runtime_ref(rt);
    edo_runtime_free(rt);
    CHECK_EQ(edo_runtime_metrics_get(handle, &m), -ESHUTDOWN);
    CHECK_EQ(m.workers, 77); /* left alone */
    edo_runtime_unref(handle);
}
