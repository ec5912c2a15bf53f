/* Futures the tests share. */
#ifndef EDO_TEST_UTIL_H
#define EDO_TEST_UTIL_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "edo.h"
#include "harness.h"

/* A runtime of the given flavour and worker count (0: default), or the test fails. */
static inline edo_runtime *new_rt(edo_runtime_flavor flavor, unsigned workers)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.flavor = flavor, .worker_threads = workers};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    return rt;
}

/* Runs fn(arg) as a coroutine on `rt`, joins it (it must complete) and returns its output. */
static inline void *run_on(edo_runtime *rt, void *(*fn)(void *), void *arg)
{
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, fn, arg, &t), 0);
    void *out = NULL;
    CHECK_EQ(edo_task_join(t, &out), 0);
    edo_task_free(t);
    return out;
}

/* run_on a new current-thread runtime whose clock starts paused, freed afterwards. */
static inline void *run_paused(void *(*fn)(void *), void *arg)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_CURRENT_THREAD, .start_paused = true};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    void *out = run_on(rt, fn, arg);
    edo_runtime_free(rt);
    return out;
}

static inline void *call_void_fn(void *arg)
{
    ((void (*)(void))arg)();
    return NULL;
}
/* Runs fn() as a coroutine on a fresh current-thread runtime whose clock starts paused. */
static inline void in_coroutine(void (*fn)(void)) { run_paused(call_void_fn, (void *)fn); }

/* run_on a new runtime of `flavor` with `workers` workers, freed afterwards. */
static inline void *run_coro(edo_runtime_flavor flavor, unsigned workers, void *(*fn)(void *),
                             void *arg)
{
    edo_runtime *rt = new_rt(flavor, workers);
    void *out = run_on(rt, fn, arg);
    edo_runtime_free(rt);
    return out;
}

/* Ready at once: adds 1 to *counter and outputs `value`. */
typedef struct {
    edo_future base;
    _Atomic long *counter;
    void *value;
} count_future;

static edo_poll count_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)cx;
    count_future *c = (count_future *)f;
    if (c->counter)
        atomic_fetch_add(c->counter, 1);
    *out = c->value;
    return EDO_READY;
}
static const edo_future_vtable count_vtable = {count_poll, NULL};

static inline count_future count_new(_Atomic long *counter, void *value)
{
    count_future c = {{&count_vtable}, counter, value};
    return c;
}

/* A gate: a waker slot and an open flag, shared between a waiting future and the test. */
typedef struct {
    pthread_mutex_t lock;
    edo_waker waker;
    int open;
    _Atomic int polls;   /* how often a gate_future polled it */
    _Atomic int dropped; /* how many gate_futures were dropped */
} gate;

static inline void gate_init(gate *g)
{
    pthread_mutex_init(&g->lock, NULL);
    g->waker = EDO_WAKER_EMPTY;
    g->open = 0;
    atomic_init(&g->polls, 0);
    atomic_init(&g->dropped, 0);
}

static inline void gate_destroy(gate *g)
{
    pthread_mutex_lock(&g->lock);
    edo_waker_drop(&g->waker);
    pthread_mutex_unlock(&g->lock);
    pthread_mutex_destroy(&g->lock);
}

/* Opens the gate and wakes the waiter (from any thread). */
static inline void gate_open(gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = 1;
    edo_waker w = g->waker;
    g->waker = EDO_WAKER_EMPTY;
    pthread_mutex_unlock(&g->lock);
    edo_waker_wake(&w);
}

/* Wakes the waiter without opening (a spurious wake). */
static inline void gate_poke(gate *g)
{
    pthread_mutex_lock(&g->lock);
    edo_waker w = edo_waker_clone(&g->waker);
    pthread_mutex_unlock(&g->lock);
    edo_waker_wake(&w);
}

static inline int gate_has_waiter(gate *g)
{
    pthread_mutex_lock(&g->lock);
    int has = g->waker.vtable != NULL;
    pthread_mutex_unlock(&g->lock);
    return has;
}

/* Pending until its gate opens; outputs `value`. */
typedef struct {
    edo_future base;
    gate *g;
    void *value;
} gate_future;

static edo_poll gate_poll(edo_future *f, edo_context *cx, void **out)
{
    gate_future *gf = (gate_future *)f;
    atomic_fetch_add(&gf->g->polls, 1);
    pthread_mutex_lock(&gf->g->lock);
    if (gf->g->open) {
        pthread_mutex_unlock(&gf->g->lock);
        *out = gf->value;
        return EDO_READY;
    }
    if (!edo_waker_will_wake(&gf->g->waker, edo_context_waker(cx))) {
        edo_waker_drop(&gf->g->waker);
        gf->g->waker = edo_waker_clone(edo_context_waker(cx));
    }
    pthread_mutex_unlock(&gf->g->lock);
    return EDO_PENDING;
}
static void gate_drop(edo_future *f) { atomic_fetch_add(&((gate_future *)f)->g->dropped, 1); }
static const edo_future_vtable gate_vtable = {gate_poll, gate_drop};

static inline gate_future gate_future_new(gate *g, void *value)
{
    gate_future gf = {{&gate_vtable}, g, value};
    return gf;
}

/* A coroutine body: awaits a gate_future on the gate `arg` (output 5) and returns the output,
 * or the wait's error as a pointer-sized integer. */
static inline void *await_gate(void *arg)
{
    gate_future gf = gate_future_new(arg, (void *)5);
    void *out = NULL;
    int rc = edo_await(&gf.base, &out);
    edo_future_drop(&gf.base);
    return rc == 0 ? out : (void *)(intptr_t)rc;
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Spins (yielding the CPU) until `cond` holds; aborts after 60 s so a bug fails with a message
 * rather than at ctest's timeout (120 s). Generous: a million coroutines take over 20 s to start
 * on a loaded 2-core machine. */
#define WAIT_UNTIL(cond)                                                                       \
    do {                                                                                       \
        double until_ = now_s() + 60.0;                                                        \
        while (!(cond)) {                                                                      \
            if (now_s() > until_) {                                                            \
                fprintf(stderr, "%s:%d: timed out waiting for %s\n", __FILE__, __LINE__,       \
                        #cond);                                                                \
                abort();                                                                       \
            }                                                                                  \
            sched_yield();                                                                     \
        }                                                                                      \
    } while (0)

/* Spawns fn on `rt` and lets it run until it sets *waiting: on a current-thread runtime by
 * driving the runtime for 5 ms first. */
static inline edo_task *spawn_until(edo_runtime *rt, edo_runtime_flavor flavor,
                                    void *(*fn)(void *), _Atomic int *waiting)
{
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, fn, NULL, &t), 0);
    if (flavor == EDO_RUNTIME_CURRENT_THREAD) {
        edo_sleep_future nap;
        edo_sleep_future_init(&nap, EDO_MSEC(5));
        CHECK_EQ(edo_block_on(rt, &nap.base, NULL), 0);
        edo_future_drop(&nap.base);
    }
    WAIT_UNTIL(atomic_load(waiting));
    return t;
}

/* Sanitizer builds run the same tests with smaller counts (TSan is ~10-20x slower). */
#if defined(__SANITIZE_THREAD__)
#define EDO_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define EDO_TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define EDO_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define EDO_TEST_ASAN 1
#endif
#endif
#if defined(EDO_TEST_TSAN) || defined(EDO_TEST_ASAN)
#define EDO_TEST_SANITIZED 1
#endif

/* Scales a count for the build: full in release, `asan` under ASan, `tsan` under TSan. */
#if defined(EDO_TEST_TSAN)
#define SCALE(full, asan, tsan) (tsan)
#elif defined(EDO_TEST_ASAN)
#define SCALE(full, asan, tsan) (asan)
#else
#define SCALE(full, asan, tsan) (full)
#endif

/* The wall time a stress test's rounds may take: its loop ends after its rounds or at this
 * deadline, whichever comes first. Each round is as strong as ever; a slow machine (qemu, a
 * sanitizer, a loaded CI box, where fixed round counts took up to 90 s) just runs fewer. */
#define STRESS_SECONDS 20.0
static inline double stress_deadline(void) { return now_s() + STRESS_SECONDS; }

/* A watchdog for tests whose failure mode is a thread stuck inside edo (where WAIT_UNTIL cannot
 * run): aborts the process with a message unless watchdog_stop() comes within `secs`. */
typedef struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stopped;
    double secs;
    const char *what;
} watchdog;

static inline void *watchdog_main(void *arg)
{
    watchdog *wd = arg;
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += (time_t)wd->secs;
    pthread_mutex_lock(&wd->lock);
    while (!wd->stopped) {
        if (pthread_cond_timedwait(&wd->cond, &wd->lock, &deadline) != 0 && !wd->stopped) {
            fprintf(stderr, "watchdog: still stuck after %.0f s: %s\n", wd->secs, wd->what);
            abort();
        }
    }
    pthread_mutex_unlock(&wd->lock);
    return NULL;
}

static inline void watchdog_start(watchdog *wd, double secs, const char *what)
{
    pthread_mutex_init(&wd->lock, NULL);
    pthread_cond_init(&wd->cond, NULL);
    wd->stopped = 0;
    wd->secs = secs;
    wd->what = what;
    if (pthread_create(&wd->thread, NULL, watchdog_main, wd) != 0)
        abort();
}

static inline void watchdog_stop(watchdog *wd)
{
    pthread_mutex_lock(&wd->lock);
    wd->stopped = 1;
    pthread_cond_signal(&wd->cond);
    pthread_mutex_unlock(&wd->lock);
    pthread_join(wd->thread, NULL);
    pthread_cond_destroy(&wd->cond);
    pthread_mutex_destroy(&wd->lock);
}

/* A connected TCP pair over loopback, through a listener closed afterwards (in a coroutine). */
static inline void tcp_pair(edo_tcp **client, edo_tcp **server)
{
    edo_tcp_listener *l;
    edo_sockaddr addr;
    CHECK_EQ(edo_tcp_listen("127.0.0.1:0", NULL, &l), 0);
    CHECK_EQ(edo_tcp_listener_local_addr(l, &addr), 0);
    CHECK_EQ(edo_tcp_connect_addr(&addr, client), 0);
    CHECK_EQ(edo_tcp_accept(l, server, NULL), 0);
    edo_tcp_listener_close(l);
}

/* Loopback is not lossless: when something floods it, its per-CPU backlog overflows and drops
 * packets before they reach a socket (column 2 of /proc/net/softnet_stat), and ICMP errors are
 * rate-limited. A test that needs a datagram (or the error it provokes) to arrive runs `send`,
 * then the waiting expression `wait` under a one-second deadline, again until `wait` gives
 * anything but -ETIMEDOUT (at most 20 times), and leaves wait's value in `result`. */
#define DELIVER(result, send, wait)                                                            \
    do {                                                                                       \
        for (int tries_ = 0;; tries_++) {                                                      \
            CHECK(tries_ < 20);                                                                \
            send;                                                                              \
            edo_instant saved_;                                                                \
            CHECK_EQ(edo_deadline_push(edo_after(EDO_SEC(1)), &saved_), 0);                    \
            result = (wait);                                                                   \
            edo_deadline_pop(saved_);                                                          \
            if (result != -ETIMEDOUT)                                                          \
                break;                                                                         \
        }                                                                                      \
    } while (0)

#endif
