/* edo's side of the fairness benchmark (Tokio's: `fairness` in bench/tokio/src/main.rs).
 *
 * One busy task per worker spins FAIRNESS_SPIN_NS on the clock and then yields, over and over,
 * until told to stop. Once they run, a sleeper task sleeps 1 ms FAIRNESS_SLEEPS times and keeps
 * the worst lateness, and a plain thread spawns `n` tiny tasks; the one that takes the count to
 * `n` records the time since that thread's first spawn. A runtime that puts a yielded task back
 * in front of the injection queue and the timers starves both. */
#include "fairness_workloads.h"
#include "bench.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define FAIRNESS_SPIN_NS 1e6 /* each busy round */
#define FAIRNESS_SLEEP EDO_MSEC(1)
#define FAIRNESS_SLEEPS 20

typedef struct {
    edo_runtime *rt;
    bool coro; /* every task a coroutine, or every task a future */
    long n;
    _Atomic bool stop;
    _Atomic unsigned busy_started;
    _Atomic long ran;
    _Atomic int sleeps; /* the sleeper's, done */
    double spawn_start_ns; /* the spawning thread's clock before its first spawn */
    double all_ran_ns, late_max_ns;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool all_ran, slept; /* under lock */
} fair_run;

static void finish(fair_run *r, bool *flag)
{
    pthread_mutex_lock(&r->lock);
    *flag = true;
    pthread_cond_signal(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

static void spin(void)
{
    double until = clock_ns() + FAIRNESS_SPIN_NS;
    while (clock_ns() < until)
        ;
}

static void tiny_ran(fair_run *r)
{
    if (atomic_fetch_add_explicit(&r->ran, 1, memory_order_relaxed) + 1 == r->n) {
        r->all_ran_ns = clock_ns() - r->spawn_start_ns;
        finish(r, &r->all_ran);
    }
}

static void slept(fair_run *r, double late_max_ns)
{
    r->late_max_ns = late_max_ns;
    finish(r, &r->slept);
}

/* ---- the future tasks ---- */

typedef struct {
    edo_future base;
    fair_run *run;
} tiny_task;

static edo_poll tiny_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)cx, (void)out;
    tiny_ran(((tiny_task *)f)->run);
    return EDO_READY;
}
static const edo_future_vtable tiny_vtable = {tiny_poll, NULL};

/* `loop { if stop break; spin; yield }` as a future. */
typedef struct {
    edo_future base;
    fair_run *run;
    bool started, yielding;
    edo_yield_future y;
} busy_task;

static edo_poll busy_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    busy_task *b = (busy_task *)f;
    if (!b->started) {
        b->started = true;
        atomic_fetch_add_explicit(&b->run->busy_started, 1, memory_order_relaxed);
    }
    if (b->yielding && edo_future_poll(&b->y.base, cx, NULL) == EDO_PENDING)
        return EDO_PENDING;
    if (atomic_load_explicit(&b->run->stop, memory_order_relaxed))
        return EDO_READY;
    spin();
    edo_yield_future_init(&b->y);
    b->yielding = true;
    return edo_future_poll(&b->y.base, cx, NULL);
}
static const edo_future_vtable busy_vtable = {busy_poll, NULL};

typedef struct {
    edo_future base;
    fair_run *run;
    int done;
    bool sleeping;
    double before, worst;
    edo_sleep_future sleep;
} sleeper_task;

static edo_poll sleeper_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    sleeper_task *s = (sleeper_task *)f;
    for (;;) {
        if (!s->sleeping) {
            if (s->done == FAIRNESS_SLEEPS) {
                slept(s->run, s->worst);
                return EDO_READY;
            }
            s->before = clock_ns();
            edo_sleep_future_init(&s->sleep, FAIRNESS_SLEEP);
            s->sleeping = true;
        }
        if (edo_future_poll(&s->sleep.base, cx, NULL) == EDO_PENDING)
            return EDO_PENDING;
        double late = clock_ns() - s->before - (double)FAIRNESS_SLEEP;
        edo_future_drop(&s->sleep.base);
        s->sleeping = false;
        s->done++;
        atomic_store_explicit(&s->run->sleeps, s->done, memory_order_relaxed);
        if (late > s->worst)
            s->worst = late;
    }
}

static void sleeper_drop(edo_future *f)
{
    sleeper_task *s = (sleeper_task *)f;
    if (s->sleeping)
        edo_future_drop(&s->sleep.base);
}
static const edo_future_vtable sleeper_vtable = {sleeper_poll, sleeper_drop};

/* ---- the coroutines ---- */

static void *tiny_coro(void *arg)
{
    tiny_ran(arg);
    return NULL;
}

static void *busy_coro(void *arg)
{
    fair_run *r = arg;
    atomic_fetch_add_explicit(&r->busy_started, 1, memory_order_relaxed);
    while (!atomic_load_explicit(&r->stop, memory_order_relaxed)) {
        spin();
        edo_yield();
    }
    return NULL;
}

static void *sleeper_coro(void *arg)
{
    double worst = 0;
    for (int i = 0; i < FAIRNESS_SLEEPS; i++) {
        double before = clock_ns();
        must(edo_sleep(FAIRNESS_SLEEP), "sleep");
        double late = clock_ns() - before - (double)FAIRNESS_SLEEP;
        if (late > worst)
            worst = late;
        atomic_store_explicit(&((fair_run *)arg)->sleeps, i + 1, memory_order_relaxed);
    }
    slept(arg, worst);
    return NULL;
}

/* ---- the run ---- */

static void *spawner_main(void *arg)
{
    fair_run *r = arg;
    r->spawn_start_ns = clock_ns();
    for (long i = 0; i < r->n; i++) {
        if (r->coro) {
            must(edo_spawn_with(r->rt, NULL, tiny_coro, r, NULL), "spawn");
        } else {
            tiny_task t = {{&tiny_vtable}, r};
            must(edo_spawn_future_on(r->rt, &t.base, sizeof t, NULL), "spawn");
        }
    }
    return NULL;
}

static fairness_stats run_fairness(edo_runtime *rt, unsigned workers, long n, bool coro)
{
    fair_run r = {.rt = rt, .coro = coro, .n = n};
    pthread_mutex_init(&r.lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&r.cond, &attr);
    pthread_condattr_destroy(&attr);

    edo_task **busy = calloc(workers, sizeof *busy);
    if (!busy)
        must(-ENOMEM, "calloc");
    for (unsigned w = 0; w < workers; w++) {
        if (coro) {
            must(edo_spawn_with(rt, NULL, busy_coro, &r, &busy[w]), "spawn");
        } else {
            busy_task b = {.base = {&busy_vtable}, .run = &r};
            must(edo_spawn_future_on(rt, &b.base, sizeof b, &busy[w]), "spawn");
        }
    }
    while (atomic_load_explicit(&r.busy_started, memory_order_relaxed) < workers)
        usleep(1000);

    if (coro) {
        must(edo_spawn_with(rt, NULL, sleeper_coro, &r, NULL), "spawn");
    } else {
        sleeper_task s = {.base = {&sleeper_vtable}, .run = &r};
        must(edo_spawn_future_on(rt, &s.base, sizeof s, NULL), "spawn");
    }
    pthread_t spawner;
    if (pthread_create(&spawner, NULL, spawner_main, &r) != 0)
        must(-EAGAIN, "pthread_create");

    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += (time_t)(FAIRNESS_CAP_MS / 1000);
    pthread_mutex_lock(&r.lock);
    while (!(r.all_ran && r.slept) &&
           pthread_cond_timedwait(&r.cond, &r.lock, &deadline) != ETIMEDOUT)
        ;
    fairness_stats st = {r.all_ran ? r.all_ran_ns / 1e6 : FAIRNESS_CAP_MS,
                         r.slept ? r.late_max_ns / 1e6 : FAIRNESS_CAP_MS,
                         atomic_load_explicit(&r.ran, memory_order_relaxed),
                         atomic_load_explicit(&r.sleeps, memory_order_relaxed)};
    pthread_mutex_unlock(&r.lock);

    /* Stop the busy tasks, then let whatever is left finish: nothing may touch `r` after. */
    atomic_store_explicit(&r.stop, true, memory_order_relaxed);
    pthread_join(spawner, NULL);
    for (unsigned w = 0; w < workers; w++) {
        must(edo_task_join(busy[w], NULL), "join");
        edo_task_free(busy[w]);
    }
    free(busy);
    pthread_mutex_lock(&r.lock);
    while (!(r.all_ran && r.slept))
        pthread_cond_wait(&r.cond, &r.lock);
    pthread_mutex_unlock(&r.lock);
    pthread_cond_destroy(&r.cond);
    pthread_mutex_destroy(&r.lock);
    return st;
}

fairness_stats fairness(edo_runtime *rt, unsigned workers, long n)
{
    return run_fairness(rt, workers, n, false);
}

fairness_stats coro_fairness(edo_runtime *rt, unsigned workers, long n)
{
    return run_fairness(rt, workers, n, true);
}
