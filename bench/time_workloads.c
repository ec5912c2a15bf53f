/* edo's side of the timer benchmarks (bench/tokio/src/main.rs has Tokio's). */
#include "time_workloads.h"
#include "bench.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

/* ---- timeout_cancel ---- */

typedef struct {
    edo_future base;
    long value;
} ready_future;

static edo_poll ready_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)cx;
    *out = (void *)(intptr_t)((ready_future *)f)->value;
    return EDO_READY;
}
static const edo_future_vtable ready_vtable = {ready_poll, NULL};

typedef struct {
    long n;
    double ns;
} timeout_loop;

static void *timeout_cancel_loop(void *arg)
{
    timeout_loop *l = arg;
    long sum = 0;
    double t0 = clock_ns();
    for (long i = 0; i < l->n; i++) {
        ready_future inner = {{&ready_vtable}, i};
        edo_timeout_future t;
        must(edo_timeout_future_init(&t, &inner.base, EDO_SEC(10)), "timeout");
        void *out = NULL;
        must(edo_await(&t.base, &out), "await");
        if (t.result != 0) {
            fprintf(stderr, "edo-bench: a ready future timed out\n");
            exit(1);
        }
        sum += (long)(intptr_t)out;
        edo_future_drop(&t.base);
    }
    l->ns = clock_ns() - t0;
    /* Keep the outputs observable so the loop cannot be optimised away. */
    __asm__ volatile("" : : "r"(sum) : "memory");
    return NULL;
}

double timeout_cancel(edo_runtime *rt, long n)
{
    timeout_loop l = {n, 0};
    edo_task *t;
    must(edo_spawn_with(rt, NULL, timeout_cancel_loop, &l, &t), "spawn");
    must(edo_task_join(t, NULL), "join");
    edo_task_free(t);
    return l.ns;
}

/* ---- sleep_overshoot ---- */

/* SplitMix64, one step from state x: the same sleep lengths as the Tokio side. */
static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    uint64_t z = x;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

typedef struct {
    uint64_t *late_us; /* one slot per task */
    _Atomic long remaining;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} sleep_run;

/* Records how late sleep `index` woke, having slept `took` ns of the `asked`. */
static void woke(sleep_run *run, long index, uint64_t asked, uint64_t took)
{
    run->late_us[index] = took > asked ? (took - asked) / 1000 : 0;
    if (atomic_fetch_sub_explicit(&run->remaining, 1, memory_order_acq_rel) == 1) {
        pthread_mutex_lock(&run->lock);
        run->done = 1;
        pthread_cond_signal(&run->cond);
        pthread_mutex_unlock(&run->lock);
    }
}

static uint64_t sleep_asked(long index) { return EDO_MSEC(1 + splitmix64((uint64_t)index) % 1000); }

typedef struct {
    edo_future base;
    sleep_run *run;
    long index;
    uint64_t asked;
    edo_instant before;
    edo_sleep_future sleep;
} sleeper;

static edo_poll sleeper_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    sleeper *s = (sleeper *)f;
    if (s->before == 0) {
        s->before = edo_now();
        edo_sleep_future_init_at(&s->sleep, s->before + s->asked);
    }
    if (edo_future_poll(&s->sleep.base, cx, NULL) == EDO_PENDING)
        return EDO_PENDING;
    woke(s->run, s->index, s->asked, edo_now() - s->before);
    return EDO_READY;
}

static void sleeper_drop(edo_future *f)
{
    sleeper *s = (sleeper *)f;
    if (s->before != 0)
        edo_future_drop(&s->sleep.base);
}
static const edo_future_vtable sleeper_vtable = {sleeper_poll, sleeper_drop};

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The coroutine form: one of these per coroutine. */
typedef struct {
    sleep_run *run;
    long index;
} coro_sleep;

static void *coro_sleeper(void *arg)
{
    coro_sleep *c = arg;
    uint64_t asked = sleep_asked(c->index);
    edo_instant before = edo_now();
    must(edo_sleep_at(before + asked), "sleep");
    woke(c->run, c->index, asked, edo_now() - before);
    return NULL;
}

/* Spawns `n` sleepers (coroutines when `coro`), waits for them all and returns the stats. */
static sleep_stats overshoot(edo_runtime *rt, long n, bool coro)
{
    sleep_run run = {calloc((size_t)n, sizeof(uint64_t)), n, PTHREAD_MUTEX_INITIALIZER,
                     PTHREAD_COND_INITIALIZER, 0};
    coro_sleep *args = coro ? calloc((size_t)n, sizeof *args) : NULL;
    if (!run.late_us || (coro && !args))
        must(-ENOMEM, "calloc");
    double t0 = clock_ns();
    for (long i = 0; i < n; i++) {
        if (coro) {
            args[i] = (coro_sleep){&run, i};
            must(edo_spawn_with(rt, NULL, coro_sleeper, &args[i], NULL), "spawn");
        } else {
            sleeper s = {.base = {&sleeper_vtable}, .run = &run, .index = i,
                         .asked = sleep_asked(i)};
            must(edo_spawn_future_on(rt, &s.base, sizeof s, NULL), "spawn");
        }
    }
    pthread_mutex_lock(&run.lock);
    while (!run.done)
        pthread_cond_wait(&run.cond, &run.lock);
    pthread_mutex_unlock(&run.lock);
    double wall = clock_ns() - t0;
    qsort(run.late_us, (size_t)n, sizeof *run.late_us, cmp_u64);
    size_t last = (size_t)n - 1;
    sleep_stats st = {(double)run.late_us[last / 2], (double)run.late_us[last * 99 / 100],
                      (double)run.late_us[last], wall / 1e6};
    free(run.late_us);
    free(args);
    return st;
}

sleep_stats sleep_overshoot(edo_runtime *rt, long n) { return overshoot(rt, n, false); }

sleep_stats coro_sleep_overshoot(edo_runtime *rt, long n) { return overshoot(rt, n, true); }
