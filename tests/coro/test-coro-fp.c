/* The floating-point control state of coroutine tasks (rounding mode, exception masks,
 * flush-to-zero): each coroutine keeps a mode of its own across yields and moves between
 * threads; the threads that poll it (workers, a thread driving a current-thread runtime) and
 * the other tasks on them keep theirs. Each test runs on a thread of its own, whose state the
 * runtime's threads inherit. */
#include <pthread.h>

#include "fp_control.h"
#include "harness.h"
#include "util.h"

/* Runs fn on a new thread (a fresh floating-point state, read by edo when it first polls). */
static void on_own_thread(void *(*fn)(void *), void *arg)
{
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, fn, arg), 0);
    CHECK_EQ(pthread_join(th, NULL), 0);
}

/* Not inlined, not pure: the thread it runs on now, also after a move. */
__attribute__((noinline)) static pthread_t this_thread(void)
{
    __asm__ volatile("" ::: "memory");
    return pthread_self();
}

typedef struct {
    uint64_t start;  /* the state it must start with: its poller's */
    int mode;        /* fp_set_mode's: 0 keeps the one it started with */
    int yields;
    _Atomic int *moves; /* how often it found itself on another thread after a yield */
} fp_arg;

/* Checks it starts with its poller's state, sets its own mode, then yields, checking at every
 * resume that its mode is still its own. */
static void *keep_own_mode(void *arg)
{
    fp_arg *a = arg;
    CHECK_EQ(fp_control(), a->start);
    fp_set_mode(a->mode);
    uint64_t own = fp_control();
    CHECK(a->mode == 0 || own != a->start);
    pthread_t last = this_thread();
    for (int i = 0; i < a->yields; i++) {
        CHECK_EQ(edo_yield(), 0);
        CHECK_EQ(fp_control(), own);
        pthread_t now = this_thread();
        if (!pthread_equal(now, last)) {
            atomic_fetch_add(a->moves, 1);
            last = now;
        }
    }
    return NULL;
}

/* A future that checks at each of its polls that it sees `expect`, waking itself `left` times. */
typedef struct {
    edo_future base;
    uint64_t expect;
    int left;
} check_fp_future;

static edo_poll check_fp_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    check_fp_future *c = (check_fp_future *)f;
    CHECK_EQ(fp_control(), c->expect);
    if (c->left-- == 0)
        return EDO_READY;
    edo_waker_wake_by_ref(edo_context_waker(cx));
    return EDO_PENDING;
}
static const edo_future_vtable check_fp_vtable = {check_fp_poll, NULL};

static uint64_t stop_expect;
static void check_fp_at_stop(void *arg)
{
    (void)arg;
    CHECK_EQ(fp_control(), stop_expect); /* each runtime thread, as it exits */
}

/* Coroutines with four different modes and future tasks share two workers, all yielding: each
 * coroutine sees its own mode at every resume, wherever it runs, the future tasks always the
 * default, and so does each worker when it stops. */
static void *shared_workers(void *unused)
{
    (void)unused;
    uint64_t def = fp_control();
    stop_expect = def;
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 2, .on_thread_stop = check_fp_at_stop};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    _Atomic int moves = 0;
    enum { CORO = 16, FUT = 4, YIELDS = 500 };
    fp_arg args[CORO];
    edo_task *t[CORO + FUT];
    for (int i = 0; i < CORO; i++) {
        args[i] = (fp_arg){def, i % 4, YIELDS, &moves};
        CHECK_EQ(edo_spawn_with(rt, NULL, keep_own_mode, &args[i], &t[i]), 0);
    }
    for (int i = 0; i < FUT; i++) {
        check_fp_future f = {{&check_fp_vtable}, def, YIELDS};
        CHECK_EQ(edo_spawn_future_on(rt, &f.base, sizeof f, &t[CORO + i]), 0);
    }
    for (int i = 0; i < CORO + FUT; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    /* New coroutines after those ended start with the default. */
    for (int i = 0; i < 4; i++) {
        fp_arg a = {def, 0, 10, &moves};
        run_on(rt, keep_own_mode, &a);
    }
    fprintf(stderr, "moves between workers: %d\n", atomic_load(&moves));
    edo_runtime_free(rt);
    CHECK_EQ(fp_control(), def);
    return NULL;
}

TEST(coroutines_keep_own_fp_mode_on_shared_workers) { on_own_thread(shared_workers, NULL); }

/* Deterministic moves: a current-thread runtime driven by one thread, then by another whose
 * state differs. The coroutine keeps its mode across the move; each driver gets its own state
 * back; a coroutine spawned on the second driver starts with that driver's state. */
typedef struct {
    gate g;
    uint64_t first_driver, second_driver;
    int mode;
    pthread_t ran_after;
} move_arg;

static void *move_between_drivers(void *arg)
{
    move_arg *m = arg;
    CHECK_EQ(fp_control(), m->first_driver);
    fp_set_mode(m->mode);
    uint64_t own = fp_control();
    gate_future gf = gate_future_new(&m->g, NULL);
    CHECK_EQ(edo_await(&gf.base, NULL), 0);
    edo_future_drop(&gf.base);
    m->ran_after = this_thread();
    CHECK_EQ(fp_control(), own);
    _Atomic int moves = 0;
    fp_arg child = {m->second_driver, 3, 50, &moves};
    edo_task *t;
    CHECK_EQ(edo_spawn(keep_own_mode, &child, &t), 0);
    for (int i = 0; i < 50; i++) {
        CHECK_EQ(edo_yield(), 0);
        CHECK_EQ(fp_control(), own);
    }
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    CHECK_EQ(fp_control(), own);
    return NULL;
}

typedef struct {
    edo_task *task;
    move_arg *m;
} second_driver_arg;

static void *second_driver(void *arg)
{
    second_driver_arg *d = arg;
    fp_set_mode(2);
    d->m->second_driver = fp_control();
    gate_open(&d->m->g);
    CHECK_EQ(edo_task_join(d->task, NULL), 0); /* drives the runtime: resumes it here */
    CHECK(pthread_equal(d->m->ran_after, pthread_self()));
    CHECK_EQ(fp_control(), d->m->second_driver);
    return NULL;
}

static void *first_driver(void *unused)
{
    (void)unused;
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    move_arg m = {.first_driver = fp_control(), .mode = 1};
    gate_init(&m.g);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, move_between_drivers, &m, &t), 0);
    while (!gate_has_waiter(&m.g)) {
        edo_yield_future y;
        edo_yield_future_init(&y);
        CHECK_EQ(edo_block_on(rt, &y.base, NULL), 0);
        CHECK_EQ(fp_control(), m.first_driver);
    }
    second_driver_arg d = {t, &m};
    on_own_thread(second_driver, &d);
    CHECK(m.second_driver != m.first_driver);
    CHECK_EQ(fp_control(), m.first_driver);
    edo_task_free(t);
    edo_runtime_free(rt);
    gate_destroy(&m.g);
    return NULL;
}

TEST(coroutine_fp_mode_moves_between_driving_threads) { on_own_thread(first_driver, NULL); }

/* A thread that drives a current-thread runtime, changes its own mode between two calls and
 * drives again gets the new mode back, and the coroutines it starts start with it. */
static void *drive_twice(void *unused)
{
    (void)unused;
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    _Atomic int moves = 0;
    fp_arg a = {fp_control(), 1, 20, &moves};
    run_on(rt, keep_own_mode, &a);
    CHECK_EQ(fp_control(), a.start);
    fp_set_mode(3);
    fp_arg b = {fp_control(), 2, 20, &moves};
    CHECK(b.start != a.start);
    run_on(rt, keep_own_mode, &b);
    CHECK_EQ(fp_control(), b.start);
    edo_runtime_free(rt);
    return NULL;
}

TEST(driving_thread_keeps_mode_set_between_calls) { on_own_thread(drive_twice, NULL); }

/* A coroutine with a mode of its own dropped unfinished (the runtime freed while it waits) on a
 * thread whose mode changed since it last drove: the thread keeps its mode. */
static void *wait_in_own_mode(void *arg)
{
    fp_set_mode(1);
    return await_gate(arg);
}

static void *drop_in_own_mode(void *unused)
{
    (void)unused;
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    gate g;
    gate_init(&g);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, wait_in_own_mode, &g, &t), 0);
    while (!gate_has_waiter(&g)) {
        edo_yield_future y;
        edo_yield_future_init(&y);
        CHECK_EQ(edo_block_on(rt, &y.base, NULL), 0);
    }
    fp_set_mode(2);
    uint64_t mine = fp_control();
    edo_task_free(t);
    edo_runtime_free(rt); /* drops the waiting coroutine: its wait returns -ECANCELED */
    CHECK_EQ(fp_control(), mine);
    CHECK_EQ(atomic_load(&g.dropped), 1);
    gate_destroy(&g);
    return NULL;
}

TEST(dropping_thread_keeps_its_mode) { on_own_thread(drop_in_own_mode, NULL); }
