/* Allocation failures in the task core and the scheduler: runtimes of both flavours, spawn and
 * join of both task kinds, abort, join sets, block_on, the blocking pool and shutdown with
 * tasks still waiting. See alloc_test.h for what every case checks. */
#include "alloc_test.h"

#include <stdint.h>

#define CHILDREN 4

static void *plus_one(void *arg) { return (void *)((uintptr_t)arg + 1); }

/* Spawns CHILDREN coroutines and CHILDREN future tasks from the current task and joins every
 * one the spawn accepted: each must have run. */
static void *spawn_both_kinds(void *unused)
{
    (void)unused;
    edo_task *tasks[2 * CHILDREN];
    uintptr_t expect[2 * CHILDREN];
    int n = 0;
    for (uintptr_t i = 0; i < CHILDREN; i++) {
        if (ALLOC_OK(edo_spawn(plus_one, (void *)i, &tasks[n])))
            expect[n++] = i + 1;
        count_future f = {{&count_vtable}, NULL, (void *)(i + 100)};
        if (ALLOC_OK(edo_spawn_future(&f.base, sizeof f, &tasks[n])))
            expect[n++] = i + 100;
    }
    for (int i = 0; i < n; i++) {
        void *out = NULL;
        CHECK_EQ(edo_task_join(tasks[i], &out), 0);
        CHECK_EQ((uintptr_t)out, expect[i]);
        edo_task_free(tasks[i]);
    }
    return NULL;
}

TEST(spawn_join)
{
    for (size_t i = 0; i < ALLOC_NFLAVORS; i++)
        alloc_run(alloc_flavors[i], false, spawn_both_kinds, NULL);
}

static void *sleep_for_ever(void *unused)
{
    (void)unused;
    CHECK_EQ(edo_sleep_at(EDO_INSTANT_NEVER), -ECANCELED);
    return NULL;
}

/* Aborted tasks of both kinds (started or not) join with -ECANCELED. */
static void *abort_both_kinds(void *unused)
{
    (void)unused;
    edo_task *tasks[2];
    int n = 0;
    if (ALLOC_OK(edo_spawn(sleep_for_ever, NULL, &tasks[n])))
        n++;
    edo_future never = {&never_vtable};
    if (ALLOC_OK(edo_spawn_future(&never, sizeof never, &tasks[n])))
        n++;
    CHECK_EQ(edo_yield(), 0); /* let them start (or not: both are fine) */
    for (int i = 0; i < n; i++) {
        CHECK_EQ(edo_task_abort(tasks[i]), 0);
        CHECK_EQ(edo_task_join(tasks[i], NULL), -ECANCELED);
        edo_task_free(tasks[i]);
    }
    return NULL;
}

TEST(abort)
{
    for (size_t i = 0; i < ALLOC_NFLAVORS; i++)
        alloc_run(alloc_flavors[i], false, abort_both_kinds, NULL);
}

/* A join set gives back the result of every task spawned into it, and shuts down the rest. */
static void *join_set_body(void *unused)
{
    (void)unused;
    edo_join_set *set;
    if (!ALLOC_OK(edo_join_set_new(NULL, &set)))
        return NULL;
    uintptr_t sum = 0, expect = 0;
    for (uintptr_t i = 0; i < CHILDREN; i++) {
        if (ALLOC_OK(edo_join_set_spawn(set, plus_one, (void *)i, NULL)))
            expect += i + 1;
        count_future f = {{&count_vtable}, NULL, (void *)(i + 100)};
        if (ALLOC_OK(edo_join_set_spawn_future(set, &f.base, sizeof f, NULL)))
            expect += i + 100;
    }
    edo_join_result r;
    int rc;
    while ((rc = edo_join_set_next(set, &r)) == 0) {
        CHECK_EQ(r.result, 0);
        sum += (uintptr_t)r.output;
    }
    CHECK_EQ(rc, -ECHILD);
    CHECK_EQ(sum, expect);
    /* Tasks still running when the set is shut down are aborted and waited for. */
    size_t waiting = 0;
    for (int i = 0; i < 2; i++)
        if (ALLOC_OK(edo_join_set_spawn(set, sleep_for_ever, NULL, NULL)))
            waiting++;
    CHECK_EQ(edo_join_set_len(set), waiting);
    CHECK_EQ(edo_join_set_shutdown(set), 0);
    CHECK_EQ(edo_join_set_len(set), 0);
    edo_join_set_free(set);
    return NULL;
}

TEST(join_set)
{
    for (size_t i = 0; i < ALLOC_NFLAVORS; i++)
        alloc_run(alloc_flavors[i], false, join_set_body, NULL);
}

/* edo_block_on and joins from a plain thread, on both flavours. */
TEST(block_on)
{
    for (size_t i = 0; i < ALLOC_NFLAVORS; i++) {
        edo_runtime *rt = alloc_rt(alloc_flavors[i], false);
        if (!rt)
            continue;
        _Atomic long polls = 0;
        count_future f = {{&count_vtable}, &polls, (void *)7};
        void *out = NULL;
        if (ALLOC_OK(edo_block_on(rt, &f.base, &out))) {
            CHECK_EQ((uintptr_t)out, 7);
            CHECK_EQ(atomic_load(&polls), 1);
        }
        edo_task *t;
        count_future g = {{&count_vtable}, NULL, (void *)8};
        if (ALLOC_OK(edo_spawn_future_on(rt, &g.base, sizeof g, &t))) {
            CHECK_EQ(alloc_join(t, &out), 0);
            CHECK_EQ((uintptr_t)out, 8);
            edo_task_free(t);
        }
        edo_runtime_free(rt);
    }
}

static void *blocking_call(void *arg) { return (void *)((uintptr_t)arg * 2); }

TEST(spawn_blocking)
{
    for (size_t i = 0; i < ALLOC_NFLAVORS; i++) {
        edo_runtime *rt = alloc_rt(alloc_flavors[i], false);
        if (!rt)
            continue;
        edo_task *t;
        if (ALLOC_OK(edo_spawn_blocking_on(rt, blocking_call, (void *)21, &t))) {
            void *out = NULL;
            CHECK_EQ(alloc_join(t, &out), 0);
            CHECK_EQ((uintptr_t)out, 42);
            edo_task_free(t);
        }
        edo_runtime_free(rt);
    }
}

/* Frees the memory it was given however it ends: a leak shows a coroutine that never ran. */
static void *own_and_wait(void *arg)
{
    int rc = edo_sleep_at(EDO_INSTANT_NEVER);
    free(arg);
    CHECK_EQ(rc, -ECANCELED);
    return NULL;
}

/* A shutdown cancels every task still waiting, of both kinds, joined or detached. */
TEST(shutdown_cancels)
{
    for (size_t i = 0; i < ALLOC_NFLAVORS; i++) {
        edo_runtime *rt = alloc_rt(alloc_flavors[i], false);
        if (!rt)
            continue;
        edo_task *tasks[3];
        int n = 0;
        if (ALLOC_OK(edo_spawn_with(rt, NULL, sleep_for_ever, NULL, &tasks[n])))
            n++;
        edo_future never = {&never_vtable};
        if (ALLOC_OK(edo_spawn_future_on(rt, &never, sizeof never, &tasks[n])))
            n++;
        void *owned = malloc(64);
        CHECK(owned);
        if (!ALLOC_OK(edo_spawn_with(rt, NULL, own_and_wait, owned, NULL)))
            free(owned);
        count_future ready = {{&count_vtable}, NULL, (void *)5};
        if (ALLOC_OK(edo_spawn_future_on(rt, &ready.base, sizeof ready, &tasks[n]))) {
            void *out = NULL;
            CHECK_EQ(alloc_join(tasks[n], &out), 0);
            CHECK_EQ((uintptr_t)out, 5);
            edo_task_free(tasks[n]);
        }
        edo_runtime_free(rt);
        for (int k = 0; k < n; k++) {
            CHECK_EQ(alloc_join(tasks[k], NULL), -ECANCELED);
            edo_task_free(tasks[k]);
        }
    }
}
