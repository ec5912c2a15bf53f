/* Coroutine tasks: spawn, join, yield, await, migration, cancellation at every suspension,
 * a million live coroutines, deep stacks, bad input. */
#include <string.h>

#include "harness.h"
#include "util.h"

static void *return_arg(void *arg) { return arg; }

static void spawn_join(edo_runtime_flavor flavor)
{
    CHECK_EQ((intptr_t)run_coro(flavor, 2, return_arg, (void *)17), 17);
}

TEST(spawn_join_multi_thread) { spawn_join(EDO_RUNTIME_MULTI_THREAD); }
TEST(spawn_join_current_thread) { spawn_join(EDO_RUNTIME_CURRENT_THREAD); }

static void *yield_n(void *arg)
{
    long n = (long)(intptr_t)arg, done = 0;
    for (long i = 0; i < n; i++) {
        CHECK_EQ(edo_in_coroutine(), 1);
        if (edo_yield() == 0)
            done++;
    }
    return (void *)(intptr_t)done;
}

TEST(yield_many_coroutines)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    enum { N = 200 };
    edo_task *t[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, yield_n, (void *)(intptr_t)(100 + i), &t[i]), 0);
    for (int i = 0; i < N; i++) {
        void *out;
        CHECK_EQ(edo_task_join(t[i], &out), 0);
        CHECK_EQ((intptr_t)out, 100 + i);
        edo_task_free(t[i]);
    }
    edo_runtime_free(rt);
}

/* Await a future that another thread completes (util.h's await_gate). */
TEST(await_woken_from_other_thread)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    gate g;
    gate_init(&g);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, await_gate, &g, &t), 0);
    WAIT_UNTIL(gate_has_waiter(&g));
    gate_open(&g);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 5);
    CHECK_EQ(atomic_load(&g.dropped), 1);
    edo_task_free(t);
    edo_runtime_free(rt);
    gate_destroy(&g);
}

/* A coroutine spawning children and joining them (suspending, not blocking the worker). */
static void *child(void *arg) { return (void *)((intptr_t)arg * 2); }

static void *parent(void *arg)
{
    (void)arg;
    enum { KIDS = 50 };
    edo_task *kids[KIDS];
    for (int i = 0; i < KIDS; i++)
        CHECK_EQ(edo_spawn(child, (void *)(intptr_t)i, &kids[i]), 0);
    intptr_t sum = 0;
    for (int i = 0; i < KIDS; i++) {
        void *out;
        CHECK_EQ(edo_task_join(kids[i], &out), 0);
        sum += (intptr_t)out;
        edo_task_free(kids[i]);
    }
    return (void *)sum;
}

static void join_children(edo_runtime_flavor flavor)
{
    CHECK_EQ((intptr_t)run_coro(flavor, 2, parent, NULL), 2 * (49 * 50 / 2));
}

TEST(join_children_multi_thread) { join_children(EDO_RUNTIME_MULTI_THREAD); }
TEST(join_children_current_thread) { join_children(EDO_RUNTIME_CURRENT_THREAD); }

/* ---- migration -------------------------------------------------------------------------- */

static _Thread_local int thread_mark;
__attribute__((noinline)) static int read_mark(void)
{
    __asm__ volatile("" ::: "memory");
    return thread_mark;
}

typedef struct {
    gate *resume;
    int before, after;
} migrate_arg;

static void *migrating(void *arg)
{
    migrate_arg *m = arg;
    m->before = read_mark();
    gate_future gf = gate_future_new(m->resume, NULL);
    CHECK_EQ(edo_await(&gf.base, NULL), 0);
    m->after = read_mark(); /* the thread it runs on now */
    return NULL;
}

typedef struct {
    edo_runtime *rt;
    edo_task *task;
    gate *resume;
} driver_arg;

static void *second_driver(void *arg)
{
    driver_arg *d = arg;
    thread_mark = 2;
    gate_open(d->resume);
    CHECK_EQ(edo_task_join(d->task, NULL), 0); /* drives the runtime: resumes it here */
    return NULL;
}

/* Deterministic migration: a current-thread runtime driven first by one thread, then by
 * another; the coroutine suspended on the first resumes on the second and sees its
 * thread-locals. */
TEST(migrates_between_driving_threads)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    gate g;
    gate_init(&g);
    migrate_arg m = {&g, 0, 0};
    thread_mark = 1;
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, migrating, &m, &t), 0);
    /* Drive until it waits on the gate. */
    edo_yield_future y;
    while (!gate_has_waiter(&g)) {
        edo_yield_future_init(&y);
        CHECK_EQ(edo_block_on(rt, &y.base, NULL), 0);
    }
    CHECK_EQ(m.before, 1);
    driver_arg d = {rt, t, &g};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, second_driver, &d), 0);
    pthread_join(th, NULL);
    CHECK_EQ(m.after, 2);
    edo_task_free(t);
    edo_runtime_free(rt);
    gate_destroy(&g);
}

/* Under work stealing: coroutines yield while workers steal from each other; each checks at
 * every step that its thread-local view matches the thread it is on. */
static _Thread_local pthread_t tls_self;
/* The empty asm keeps the compiler from deciding these functions are pure or const (glibc
 * declares pthread_self() const, so a bare call could be reused across a suspension). */
__attribute__((noinline)) static pthread_t read_tls_self(void)
{
    __asm__ volatile("" ::: "memory");
    return tls_self;
}
__attribute__((noinline)) static pthread_t this_thread(void)
{
    __asm__ volatile("" ::: "memory");
    return pthread_self();
}

static void mark_thread(void *arg)
{
    (void)arg;
    tls_self = pthread_self();
}

static void *hop(void *arg)
{
    _Atomic int *migrations = arg;
    pthread_t last = this_thread();
    for (int i = 0; i < 200; i++) {
        pthread_t now = this_thread();
        CHECK(pthread_equal(read_tls_self(), now));
        if (!pthread_equal(last, now)) {
            atomic_fetch_add(migrations, 1);
            last = now;
        }
        CHECK_EQ(edo_yield(), 0);
    }
    return NULL;
}

TEST(migrates_under_stealing)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 2, .on_thread_start = mark_thread};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    _Atomic int migrations = 0;
    enum { N = 64 };
    edo_task *t[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, hop, &migrations, &t[i]), 0);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    fprintf(stderr, "migrations: %d\n", atomic_load(&migrations));
    edo_runtime_free(rt);
}

/* ---- cancellation --------------------------------------------------------------------- */

typedef struct {
    gate *g;
    _Atomic int stage;    /* how far it got */
    _Atomic int cleanups; /* how often it ran its cleanup */
    _Atomic int later_rc; /* what the next suspending call returned after cancellation */
    int kind;             /* 0: await a gate, 1: yield loop, 2: join a task */
    edo_task *other;
} cancel_arg;

static void *cancellable(void *arg)
{
    cancel_arg *c = arg;
    char *owned = malloc(64); /* must be freed on every path (ASan checks) */
    atomic_store(&c->stage, 1);
    int rc = 0;
    if (c->kind == 0) {
        gate_future gf = gate_future_new(c->g, NULL);
        rc = edo_await(&gf.base, NULL);
        edo_future_drop(&gf.base);
    } else if (c->kind == 1) {
        while ((rc = edo_yield()) == 0)
            ;
    } else {
        rc = edo_task_join(c->other, NULL);
    }
    atomic_store(&c->stage, rc == -ECANCELED ? 2 : 3);
    atomic_store(&c->later_rc, edo_yield()); /* every later call fails at once */
    CHECK_EQ(edo_coro_is_cancelled(), 1);
    free(owned);
    atomic_fetch_add(&c->cleanups, 1);
    return NULL;
}

static void abort_at(int kind)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    gate g;
    gate_init(&g);
    cancel_arg c = {&g, 0, 0, 0, kind, NULL};
    if (kind == 2) {
        gate_future gf = gate_future_new(&g, NULL);
        CHECK_EQ(edo_spawn_future_on(rt, &gf.base, sizeof gf, &c.other), 0);
    }
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, cancellable, &c, &t), 0);
    WAIT_UNTIL(atomic_load(&c.stage) == 1);
    if (kind != 1)
        WAIT_UNTIL(gate_has_waiter(&g));
    CHECK_EQ(edo_task_abort(t), 0);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    CHECK_EQ(atomic_load(&c.stage), 2);
    CHECK_EQ(atomic_load(&c.later_rc), -ECANCELED);
    CHECK_EQ(atomic_load(&c.cleanups), 1);
    edo_task_free(t);
    if (c.other) {
        edo_task_abort(c.other);
        edo_task_free(c.other);
    }
    edo_runtime_free(rt);
    gate_destroy(&g);
}

TEST(abort_while_awaiting) { abort_at(0); }
TEST(abort_while_yielding) { abort_at(1); }
TEST(abort_while_joining) { abort_at(2); }

TEST(abort_before_start_still_runs_cleanup)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0); /* nothing runs until driven */
    gate g;
    gate_init(&g);
    cancel_arg c = {&g, 0, 0, 0, 0, NULL};
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, cancellable, &c, &t), 0);
    CHECK_EQ(edo_task_abort(t), 0);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    CHECK_EQ(atomic_load(&c.stage), 2); /* its first suspending call failed at once */
    CHECK_EQ(atomic_load(&c.cleanups), 1);
    CHECK_EQ(atomic_load(&g.polls), 0);
    edo_task_free(t);
    edo_runtime_free(rt);
    gate_destroy(&g);
}

static void shutdown_unwinds(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    gate g;
    gate_init(&g);
    enum { N = 100 };
    static cancel_arg c[N];
    for (int i = 0; i < N; i++) {
        c[i] = (cancel_arg){&g, 0, 0, 0, i % 2, NULL};
        CHECK_EQ(edo_spawn_with(rt, NULL, cancellable, &c[i], NULL), 0);
    }
    edo_runtime_free(rt); /* every coroutine unwinds and frees what it holds */
    for (int i = 0; i < N; i++)
        CHECK_EQ(atomic_load(&c[i].cleanups), 1);
    gate_destroy(&g);
}

TEST(shutdown_unwinds_every_coroutine_multi_thread) { shutdown_unwinds(EDO_RUNTIME_MULTI_THREAD); }
TEST(shutdown_unwinds_every_coroutine_current_thread)
{
    shutdown_unwinds(EDO_RUNTIME_CURRENT_THREAD);
}

/* A coroutine that notices its cancellation and returns a value anyway (here a malloc'd one,
 * which ASan's leak checker watches): the join still says -ECANCELED, and hands the value over
 * instead of losing it. */
static void *leftover_on_cancel(void *arg)
{
    gate_future gf = gate_future_new(arg, NULL);
    int rc = edo_await(&gf.base, NULL);
    edo_future_drop(&gf.base);
    char *left = malloc(32);
    strcpy(left, rc == -ECANCELED ? "cancelled" : "completed");
    return left;
}

static void join_leftover(edo_task *t)
{
    char *out = NULL;
    CHECK_EQ(edo_task_join(t, (void **)&out), -ECANCELED);
    CHECK(out != NULL);
    CHECK_EQ(strcmp(out, "cancelled"), 0);
    free(out);
    edo_task_free(t);
}

TEST(cancelled_coroutine_output_is_delivered)
{
    gate g;
    gate_init(&g);
    for (int flavor = 0; flavor < 2; flavor++) {
        edo_runtime *rt = new_rt((edo_runtime_flavor)flavor, 2);
        /* aborted while it waits */
        edo_task *t;
        CHECK_EQ(edo_spawn_with(rt, NULL, leftover_on_cancel, &g, &t), 0);
        if (flavor == EDO_RUNTIME_MULTI_THREAD)
            WAIT_UNTIL(gate_has_waiter(&g));
        CHECK_EQ(edo_task_abort(t), 0);
        join_leftover(t);
        /* aborted before it ever ran (current-thread: nothing runs until driven) */
        CHECK_EQ(edo_spawn_with(rt, NULL, leftover_on_cancel, &g, &t), 0);
        CHECK_EQ(edo_task_abort(t), 0);
        join_leftover(t);
        /* cancelled by the runtime's shutdown, joined after it */
        CHECK_EQ(edo_spawn_with(rt, NULL, leftover_on_cancel, &g, &t), 0);
        if (flavor == EDO_RUNTIME_MULTI_THREAD)
            WAIT_UNTIL(gate_has_waiter(&g));
        edo_runtime_free(rt);
        join_leftover(t);
    }
    gate_destroy(&g);
}

/* ---- scale and stacks ------------------------------------------------------------------- */

static void *park_on_gate(void *arg)
{
    gate_future gf = gate_future_new(arg, NULL);
    int rc = edo_await(&gf.base, NULL);
    edo_future_drop(&gf.base);
    return (void *)(intptr_t)rc;
}

/* A gate many coroutines wait on: a lock-free counter of waiters is enough here, since the
 * test only opens it at shutdown (every waiter is cancelled). */
TEST(million_live_coroutines)
{
    long n = SCALE(1000000L, 50000L, 4000L); /* TSan counts each coroutine as a thread (8128 max) */
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 2, .coro_stack_size = 16 * 1024};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    gate g;
    gate_init(&g);
    for (long i = 0; i < n; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, park_on_gate, &g, NULL), 0);
    WAIT_UNTIL(atomic_load(&g.polls) >= n); /* all of them are alive and waiting */
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&g.dropped), n);
    gate_destroy(&g);
}

static long recurse(int depth)
{
    volatile unsigned char pad[1000];
    memset((unsigned char *)pad, depth & 0xff, sizeof pad);
    if (depth == 0)
        return 0;
    return recurse(depth - 1) + pad[7];
}

static void *deep(void *arg) { return (void *)(intptr_t)recurse((int)(intptr_t)arg); }

TEST(deep_recursion_near_stack_size)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    /* ~1 KiB per frame (several under ASan): 150 frames in a 1 MiB stack; 600 in 4 MiB. */
    edo_spawn_options big = {.stack_size = SCALE(256, 1024, 256) * 1024};
    int depth = SCALE(150, 150, 150);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, &big, deep, (void *)(intptr_t)depth, &t), 0);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    long expect = 0;
    for (int d = 1; d <= depth; d++)
        expect += d & 0xff;
    CHECK_EQ((intptr_t)out, expect);
    edo_task_free(t);
    edo_runtime_free(rt);
}

TEST(bad_input)
{
    CHECK_EQ(edo_yield(), -EPERM);
    CHECK_EQ(edo_await(NULL, NULL), -EINVAL); /* bad input first, then -EPERM */
    CHECK_EQ(edo_coro_is_cancelled(), false);
    CHECK_EQ(edo_in_coroutine(), 0);
    CHECK_EQ(edo_spawn(return_arg, NULL, NULL), -EPERM);
    CHECK_EQ(edo_spawn(NULL, NULL, NULL), -EINVAL);
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
    edo_spawn_options tiny = {.stack_size = 1024}, huge = {.stack_size = EDO_MAX_STACK_SIZE + 1};
    edo_task *t = NULL;
    CHECK_EQ(edo_spawn_with(rt, &tiny, return_arg, NULL, &t), -EINVAL);
    CHECK_EQ(edo_spawn_with(rt, &huge, return_arg, NULL, &t), -EINVAL);
    CHECK(t == NULL);
    edo_runtime_config cfg = {.coro_stack_size = 1};
    edo_runtime *bad;
    CHECK_EQ(edo_runtime_new(&cfg, &bad), -EINVAL);
    edo_runtime_free(rt);
}

static void *await_null(void *arg)
{
    (void)arg;
    CHECK_EQ(edo_await(NULL, NULL), -EINVAL);
    edo_future no_poll = {NULL};
    CHECK_EQ(edo_await(&no_poll, NULL), -EINVAL);
    return (void *)1;
}

TEST(await_bad_input_in_coroutine)
{
    CHECK_EQ((intptr_t)run_coro(EDO_RUNTIME_MULTI_THREAD, 1, await_null, NULL), 1);
}

/* ---- stack overflow is reported, not silent ------------------------------------------------ */

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile long runaway_limit = 1L << 40; /* never reached: keeps the compiler quiet */

static long runaway(long depth)
{
    volatile char pad[256];
    pad[0] = (char)depth;
    if (depth > runaway_limit)
        return pad[0];
    return runaway(depth + 1) + pad[0];
}

static void *overflow_fn(void *arg) { return (void *)runaway((long)(intptr_t)arg); }

/* In a child process: a coroutine on a 16 KiB guarded stack recurses without end. The child
 * must die by abort with edo's message, not by a bare segmentation fault. */
static void overflow_reported(edo_runtime_flavor flavor)
{
#if defined(EDO_TEST_TSAN) || defined(EDO_TEST_ASAN)
    (void)flavor;
    fprintf(stderr, "skipped: the sanitizer owns SIGSEGV and reports the overflow itself\n");
    return;
#endif
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 2);
        edo_runtime *rt = new_rt(flavor, 1);
        edo_spawn_options small = {.stack_size = EDO_MIN_STACK_SIZE};
        edo_task *t;
        if (edo_spawn_with(rt, &small, overflow_fn, NULL, &t) == 0)
            edo_task_join(t, NULL);
        _exit(0); /* not reached */
    }
    close(fds[1]);
    char buf[4096] = {0};
    size_t got = 0;
    ssize_t n;
    while (got < sizeof buf - 1 && (n = read(fds[0], buf + got, sizeof buf - 1 - got)) > 0)
        got += (size_t)n;
    close(fds[0]);
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFSIGNALED(status));
    CHECK_EQ(WTERMSIG(status), SIGABRT);
    CHECK(strstr(buf, "edo: coroutine stack overflow") != NULL);
}

TEST(stack_overflow_reported_multi_thread) { overflow_reported(EDO_RUNTIME_MULTI_THREAD); }
TEST(stack_overflow_reported_current_thread) { overflow_reported(EDO_RUNTIME_CURRENT_THREAD); }

/* ---- task-local storage follows the task across workers ------------------------------------ */

static _Atomic int locals_destroyed;
static void count_destroy(void *value)
{
    free(value);
    atomic_fetch_add(&locals_destroyed, 1);
}
static const edo_task_local local_key = {count_destroy};
static const edo_task_local plain_key = {NULL};

static void *use_locals(void *arg)
{
    intptr_t me = (intptr_t)arg;
    CHECK(edo_task_local_get(&local_key) == NULL);
    int *v = malloc(sizeof *v);
    *v = (int)me;
    CHECK_EQ(edo_task_local_set(&local_key, v), 0);
    CHECK_EQ(edo_task_local_set(&plain_key, (void *)me), 0);
    for (int i = 0; i < 50; i++) { /* it may move between workers meanwhile */
        CHECK_EQ(*(int *)edo_task_local_get(&local_key), me);
        CHECK_EQ((intptr_t)edo_task_local_get(&plain_key), me);
        edo_yield();
    }
    int *w = malloc(sizeof *w);
    *w = (int)me;
    CHECK_EQ(edo_task_local_set(&local_key, w), 0); /* destroys the first value */
    return NULL;
}

TEST(task_locals_follow_the_task)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    atomic_store(&locals_destroyed, 0);
    enum { N = 32 };
    edo_task *t[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, use_locals, (void *)(intptr_t)(i + 1), &t[i]), 0);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    CHECK_EQ(atomic_load(&locals_destroyed), 2 * N); /* replaced ones, then the last at exit */
    CHECK_EQ(edo_task_local_set(&local_key, NULL), -EPERM); /* not in a task */
    CHECK(edo_task_local_get(&local_key) == NULL);
    CHECK_EQ(edo_task_local_set(NULL, NULL), -EINVAL);
    edo_runtime_free(rt);
}

static void *locals_until_cancelled(void *arg)
{
    (void)arg;
    CHECK_EQ(edo_task_local_set(&local_key, malloc(8)), 0);
    while (edo_yield() == 0)
        ;
    CHECK(edo_task_local_get(&local_key) != NULL); /* still there while unwinding */
    return NULL;
}

TEST(task_locals_destroyed_on_cancel)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    atomic_store(&locals_destroyed, 0);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, locals_until_cancelled, NULL, &t), 0);
    edo_task_abort(t);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    CHECK_EQ(atomic_load(&locals_destroyed), 1);
    edo_task_free(t);
    edo_runtime_free(rt);
}

/* ---- pinned (local) coroutines stay on their worker ---------------------------------------- */

typedef struct {
    pthread_t home;
    _Atomic int moved;    /* steps seen on another thread */
    _Atomic int finished;
    gate *g;              /* optional: await it halfway */
} pinned_arg;

static void *pinned_body(void *arg)
{
    pinned_arg *p = arg;
    for (int i = 0; i < 200; i++) {
        if (!pthread_equal(this_thread(), p->home))
            atomic_fetch_add(&p->moved, 1);
        if (i == 100 && p->g) {
            gate_future gf = gate_future_new(p->g, NULL);
            CHECK_EQ(edo_await(&gf.base, NULL), 0);
            edo_future_drop(&gf.base);
        } else {
            CHECK_EQ(edo_yield(), 0);
        }
    }
    atomic_fetch_add(&p->finished, 1);
    return NULL;
}

enum { PINNED = 16, BUSY = 32 };

typedef struct {
    pinned_arg pins[PINNED];
    gate *g;
} pinned_setup;

/* Runs on a worker: pins PINNED coroutines to it, and spawns BUSY unpinned ones to keep both
 * workers stealing from each other. */
static void *spawn_pinned(void *arg)
{
    pinned_setup *s = arg;
    edo_task *busy[BUSY], *pins[PINNED];
    for (int i = 0; i < PINNED; i++) {
        s->pins[i].home = this_thread();
        s->pins[i].g = i == 0 ? s->g : NULL;
        CHECK_EQ(edo_spawn_local(NULL, pinned_body, &s->pins[i], &pins[i]), 0);
    }
    for (int i = 0; i < BUSY; i++)
        CHECK_EQ(edo_spawn(yield_n, (void *)(intptr_t)300, &busy[i]), 0);
    for (int i = 0; i < BUSY; i++) {
        CHECK_EQ(edo_task_join(busy[i], NULL), 0);
        edo_task_free(busy[i]);
    }
    for (int i = 0; i < PINNED; i++) {
        CHECK_EQ(edo_task_join(pins[i], NULL), 0);
        edo_task_free(pins[i]);
    }
    return NULL;
}

static void *open_later(void *arg)
{
    gate *g = arg;
    WAIT_UNTIL(gate_has_waiter(g));
    gate_open(g); /* a wake from a plain thread must reach the pinned coroutine's worker */
    return NULL;
}

TEST(pinned_coroutines_never_move)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    gate g;
    gate_init(&g);
    static pinned_setup s;
    memset(&s, 0, sizeof s);
    s.g = &g;
    pthread_t opener;
    CHECK_EQ(pthread_create(&opener, NULL, open_later, &g), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, spawn_pinned, &s, &t), 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    pthread_join(opener, NULL);
    for (int i = 0; i < PINNED; i++) {
        CHECK_EQ(atomic_load(&s.pins[i].finished), 1);
        CHECK_EQ(atomic_load(&s.pins[i].moved), 0);
    }
    edo_runtime_free(rt);
    gate_destroy(&g);
}

static void *pin_and_leave(void *arg)
{
    cancel_arg *c = arg;
    CHECK_EQ(edo_spawn_local(NULL, cancellable, c, NULL), 0);
    return NULL;
}

TEST(pinned_shutdown_unwinds)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    gate g;
    gate_init(&g);
    cancel_arg c = {&g, 0, 0, 0, 0, NULL};
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, pin_and_leave, &c, &t), 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    WAIT_UNTIL(gate_has_waiter(&g));
    edo_runtime_free(rt); /* the pinned coroutine is idle on its worker: cancelled, unwinds */
    CHECK_EQ(atomic_load(&c.cleanups), 1);
    CHECK_EQ(atomic_load(&c.stage), 2);
    gate_destroy(&g);
}

static void *try_local_in_current_thread(void *arg)
{
    (void)arg;
    CHECK_EQ(edo_spawn_local(NULL, return_arg, NULL, NULL), -EPERM);
    return NULL;
}

TEST(pinned_bad_input)
{
    CHECK_EQ(edo_spawn_local(NULL, return_arg, NULL, NULL), -EPERM); /* not on a worker */
    edo_future f = {&count_vtable};
    CHECK_EQ(edo_spawn_future_local(&f, sizeof f, NULL), -EPERM);
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, try_local_in_current_thread, NULL, &t), 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    edo_runtime_free(rt);
}

/* ---- calls that would block the worker are refused in a coroutine --------------------------- */

static int never_called(void *arg)
{
    (void)arg;
    abort();
}

static void *blocking_calls(void *arg)
{
    (void)arg;
    edo_yield_future y;
    edo_yield_future_init(&y);
    CHECK_EQ(edo_block_on(edo_runtime_current(), &y.base, NULL), -EDEADLK);
    CHECK_EQ(edo_main(never_called, NULL), -EDEADLK);
    /* ...while its suspending forms work: join a blocking-pool call. */
    edo_task *t;
    CHECK_EQ(edo_spawn_blocking(return_arg, (void *)9, &t), 0);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    edo_task_free(t);
    return out;
}

TEST(blocking_calls_refused_in_coroutine)
{
    CHECK_EQ((intptr_t)run_coro(EDO_RUNTIME_MULTI_THREAD, 2, blocking_calls, NULL), 9);
}
