/* The blocking pool: edo_spawn_blocking and edo_spawn_blocking_on. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/runtime.h"
#include "harness.h"
#include "util.h"

static void *times_three(void *arg) { return (void *)((intptr_t)arg * 3); }

static void *inc_fn(void *arg)
{
    atomic_fetch_add((_Atomic long *)arg, 1);
    return (void *)1;
}

TEST(output_joins_like_a_task)
{
    for (int flavor = 0; flavor < 2; flavor++) {
        edo_runtime *rt = new_rt((edo_runtime_flavor)flavor, 2);
        edo_task *t;
        CHECK_EQ(edo_spawn_blocking_on(rt, times_three, (void *)14, &t), 0);
        CHECK(edo_task_id(t) != 0);
        void *out = NULL;
        CHECK_EQ(edo_task_join(t, &out), 0);
        CHECK_EQ((intptr_t)out, 42);
        CHECK_EQ(edo_task_is_finished(t), 1);
        CHECK_EQ(edo_task_join(t, &out), -EALREADY);
        edo_task_free(t);

        /* Detached: runs all the same. */
        _Atomic long n = 0;
        CHECK_EQ(edo_spawn_blocking_on(rt, inc_fn, &n, NULL), 0);
        WAIT_UNTIL(atomic_load(&n) == 1);
        edo_runtime_free(rt);
    }
}

/* Spawns a blocking call from inside a task (edo_spawn_blocking) and joins it with the poll
 * form; the call runs on another thread than the task. */
typedef struct {
    edo_future base;
    edo_task *call;
    pthread_t task_thread;
} spawn_blocking_future;

static void *self_thread_fn(void *arg)
{
    (void)arg;
    pthread_t *p = malloc(sizeof *p);
    CHECK(p != NULL);
    *p = pthread_self();
    return p;
}

static edo_poll spawn_blocking_poll(edo_future *f, edo_context *cx, void **out)
{
    spawn_blocking_future *s = (spawn_blocking_future *)f;
    if (!s->call) {
        s->task_thread = pthread_self();
        CHECK_EQ(edo_spawn_blocking(self_thread_fn, NULL, &s->call), 0);
    }
    int rc;
    void *o = NULL;
    if (edo_task_poll_join(s->call, cx, &rc, &o) == EDO_PENDING)
        return EDO_PENDING;
    CHECK_EQ(rc, 0);
    edo_task_free(s->call);
    pthread_t *ran_on = o;
    CHECK(!pthread_equal(*ran_on, s->task_thread));
    free(ran_on);
    *out = (void *)1;
    return EDO_READY;
}
static const edo_future_vtable spawn_blocking_vtable = {spawn_blocking_poll, NULL};

TEST(spawn_blocking_from_task)
{
    for (int flavor = 0; flavor < 2; flavor++) {
        edo_runtime *rt = new_rt((edo_runtime_flavor)flavor, 2);
        spawn_blocking_future f = {{&spawn_blocking_vtable}, NULL, pthread_self()};
        edo_task *t;
        CHECK_EQ(edo_spawn_future_on(rt, &f.base, sizeof f, &t), 0);
        void *out = NULL;
        CHECK_EQ(edo_task_join(t, &out), 0);
        CHECK_EQ((intptr_t)out, 1);
        edo_task_free(t);

        /* From a future polled by edo_block_on (the caller is in the runtime too). */
        spawn_blocking_future g = {{&spawn_blocking_vtable}, NULL, pthread_self()};
        out = NULL;
        CHECK_EQ(edo_block_on(rt, &g.base, &out), 0);
        CHECK_EQ((intptr_t)out, 1);
        edo_runtime_free(rt);
    }
}

/* A blocking function runs in the runtime: it may spawn tasks and blocking calls itself. */
static void *spawning_fn(void *arg)
{
    _Atomic long *n = arg;
    CHECK(edo_runtime_current() != NULL);
    count_future c = count_new(n, NULL);
    edo_task *t;
    CHECK_EQ(edo_spawn_future(&c.base, sizeof c, &t), 0);
    edo_task_free(t);
    CHECK_EQ(edo_spawn_blocking(inc_fn, n, NULL), 0);
    return (void *)1;
}

TEST(blocking_fn_can_spawn)
{
    for (int flavor = 0; flavor < 2; flavor++) {
        edo_runtime *rt = new_rt((edo_runtime_flavor)flavor, 2);
        _Atomic long n = 0;
        edo_task *t;
        CHECK_EQ(edo_spawn_blocking_on(rt, spawning_fn, &n, &t), 0);
        CHECK_EQ(edo_task_join(t, NULL), 0);
        edo_task_free(t);
        /* On a current-thread runtime the spawned task runs while someone drives. */
        double until = now_s() + 60.0;
        while (atomic_load(&n) < 2) {
            CHECK(now_s() < until);
            edo_yield_future y;
            edo_yield_future_init(&y);
            CHECK_EQ(edo_block_on(rt, &y.base, NULL), 0);
        }
        WAIT_UNTIL(atomic_load(&n) == 2);
        edo_runtime_free(rt);
    }
}

/* ---- the thread cap -------------------------------------------------------------------- */

typedef struct {
    _Atomic int started, running, peak, released;
} cap_state;

static void note_running(cap_state *c)
{
    int now = atomic_fetch_add(&c->running, 1) + 1;
    int peak = atomic_load(&c->peak);
    while (now > peak && !atomic_compare_exchange_weak(&c->peak, &peak, now))
        ;
}

/* Takes a ticket in start order and holds its thread until the test released that many. */
static void *ticket_fn(void *arg)
{
    cap_state *c = arg;
    note_running(c);
    int ticket = atomic_fetch_add(&c->started, 1);
    WAIT_UNTIL(atomic_load(&c->released) > ticket);
    atomic_fetch_sub(&c->running, 1);
    return (void *)(intptr_t)(ticket + 1);
}

typedef struct {
    _Atomic int starts, stops;
} hooks;

static void hook_start(void *arg) { atomic_fetch_add(&((hooks *)arg)->starts, 1); }
static void hook_stop(void *arg) { atomic_fetch_add(&((hooks *)arg)->stops, 1); }

/* A current-thread runtime (so every thread it starts is a pool thread) whose start and stop
 * hooks count into `h`. */
static edo_runtime *pool_rt(unsigned max_blocking_threads, hooks *h)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_CURRENT_THREAD,
                              .max_blocking_threads = max_blocking_threads,
                              .on_thread_start = hook_start, .on_thread_stop = hook_stop,
                              .hook_arg = h};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    return rt;
}

TEST(max_blocking_threads_respected)
{
    /* Current-thread: every runtime thread is a pool thread, so the hooks count those. */
    hooks h = {0, 0};
    edo_runtime *rt = pool_rt(2, &h);
    enum { CALLS = 6 };
    cap_state c;
    memset(&c, 0, sizeof c);
    edo_task *t[CALLS];
    for (int i = 0; i < CALLS; i++)
        CHECK_EQ(edo_spawn_blocking_on(rt, ticket_fn, &c, &t[i]), 0);
    /* Two run, the rest queue; each release lets exactly one more start. */
    for (int k = 0; k <= CALLS; k++) {
        int want = 2 + k < CALLS ? 2 + k : CALLS;
        WAIT_UNTIL(atomic_load(&c.started) == want);
        CHECK(atomic_load(&c.running) <= 2);
        CHECK(atomic_load(&h.starts) <= 2);
        atomic_fetch_add(&c.released, 1);
    }
    int seen = 0;
    for (int i = 0; i < CALLS; i++) {
        void *out;
        CHECK_EQ(edo_task_join(t[i], &out), 0);
        CHECK((intptr_t)out >= 1 && (intptr_t)out <= CALLS);
        seen |= 1 << ((intptr_t)out - 1);
        edo_task_free(t[i]);
    }
    CHECK_EQ(seen, (1 << CALLS) - 1);
    CHECK_EQ(atomic_load(&c.peak), 2);
    CHECK_EQ(atomic_load(&h.starts), 2);
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&h.stops), 2);
}

/* Short calls that overlap: the cap still holds, and all of them complete. */
static void *short_fn(void *arg)
{
    cap_state *c = arg;
    note_running(c);
    usleep(3000); /* the work itself: a blocking call that takes a while */
    atomic_fetch_sub(&c->running, 1);
    atomic_fetch_add(&c->started, 1);
    return (void *)1;
}

TEST(max_blocking_threads_short_calls)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 2, .max_blocking_threads = 2};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    enum { CALLS = 30 };
    cap_state c;
    memset(&c, 0, sizeof c);
    edo_task *t[CALLS];
    for (int i = 0; i < CALLS; i++)
        CHECK_EQ(edo_spawn_blocking_on(rt, short_fn, &c, &t[i]), 0);
    for (int i = 0; i < CALLS; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    CHECK_EQ(atomic_load(&c.started), CALLS);
    CHECK(atomic_load(&c.peak) >= 1 && atomic_load(&c.peak) <= 2);
    edo_runtime_free(rt);
}

/* With one pool thread, calls made one after another reuse it. */
TEST(idle_thread_is_reused)
{
    hooks h = {0, 0};
    edo_runtime *rt = pool_rt(1, &h);
    for (int i = 0; i < 10; i++) {
        edo_task *t;
        CHECK_EQ(edo_spawn_blocking_on(rt, times_three, (void *)(intptr_t)i, &t), 0);
        void *out;
        CHECK_EQ(edo_task_join(t, &out), 0);
        CHECK_EQ((intptr_t)out, 3 * i);
        edo_task_free(t);
    }
    CHECK_EQ(atomic_load(&h.starts), 1); /* the default keep-alive is 10 s */
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&h.stops), 1);
}

/* ---- keep-alive ------------------------------------------------------------------------ */

typedef struct {
    _Atomic int arrived;
    int n;
} rendezvous;

/* Returns once `n` calls are inside at once: makes the pool start `n` threads. */
static void *rendezvous_fn(void *arg)
{
    rendezvous *r = arg;
    atomic_fetch_add(&r->arrived, 1);
    WAIT_UNTIL(atomic_load(&r->arrived) >= r->n);
    return (void *)1;
}

/* Spawns `n` (at most 8) calls of fn(arg) on rt's pool one right after the other, joins them
 * all, and returns how many output 1. */
static int spawn_all_and_join(edo_runtime *rt, void *(*fn)(void *), void *arg, int n)
{
    edo_task *t[8];
    CHECK(n <= 8);
    for (int i = 0; i < n; i++)
        CHECK_EQ(edo_spawn_blocking_on(rt, fn, arg, &t[i]), 0);
    int ones = 0;
    for (int i = 0; i < n; i++) {
        void *out = NULL;
        CHECK_EQ(edo_task_join(t[i], &out), 0);
        ones += (intptr_t)out == 1;
        edo_task_free(t[i]);
    }
    return ones;
}

/* Returns 1 once `n` calls are inside at once, 0 if they never are within 10 s. */
static void *meet_fn(void *arg)
{
    rendezvous *m = arg;
    atomic_fetch_add(&m->arrived, 1);
    for (double until = now_s() + 10.0; now_s() < until;) {
        if (atomic_load(&m->arrived) >= m->n)
            return (void *)1;
        usleep(100);
    }
    return (void *)0;
}

/* How many pool threads wait for work and were not signalled for a call yet. */
static unsigned idle_threads(edo_runtime *rt)
{
    pthread_mutex_lock(&rt->blocking.lock);
    unsigned n = rt->blocking.nidle;
    pthread_mutex_unlock(&rt->blocking.lock);
    return n;
}

/* Calls pushed one right after the other while one thread is idle: the idle thread takes the
 * first, and each of the others gets a thread of its own at once, even before the idle one
 * has woken up (counting on it twice would queue a call behind another: calls that wait for
 * each other, like these, would never meet). */
TEST(calls_pushed_together_each_get_a_thread)
{
    hooks h = {0, 0};
    edo_runtime *rt = pool_rt(64, &h);
    for (int round = 0; round < 20; round++) {
        /* At least one idle thread (the default keep-alive is 10 s): those the last round
         * left, or a first one, once it waits for work again. */
        edo_task *warm;
        CHECK_EQ(edo_spawn_blocking_on(rt, times_three, (void *)1, &warm), 0);
        CHECK_EQ(edo_task_join(warm, NULL), 0);
        edo_task_free(warm);
        WAIT_UNTIL(idle_threads(rt) >= 1);
        int before = atomic_load(&h.starts);
        enum { N = 4 };
        rendezvous m = {0, N};
        CHECK_EQ(spawn_all_and_join(rt, meet_fn, &m, N), N); /* they all met */
        /* The idle threads were reused: never more started than the calls needed. */
        CHECK(atomic_load(&h.starts) - before <= N - 1);
    }
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&h.stops), atomic_load(&h.starts));
}

TEST(keep_alive_retires_idle_threads)
{
    hooks h = {0, 0};
    edo_runtime *rt;
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_CURRENT_THREAD,
                              .blocking_keep_alive_ns = 50 * 1000000ull,
                              .on_thread_start = hook_start, .on_thread_stop = hook_stop,
                              .hook_arg = &h};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    enum { N = 3 };
    rendezvous r = {0, N};
    CHECK_EQ(spawn_all_and_join(rt, rendezvous_fn, &r, N), N);
    CHECK_EQ(atomic_load(&h.starts), N);
    double t0 = now_s();
    WAIT_UNTIL(atomic_load(&h.stops) == N); /* idle for 50 ms: all retire */
    fprintf(stderr, "  %d idle threads retired after %.3f s\n", N, now_s() - t0);

    /* The pool starts a thread again for new work. */
    edo_task *again;
    CHECK_EQ(edo_spawn_blocking_on(rt, times_three, (void *)5, &again), 0);
    void *out;
    CHECK_EQ(edo_task_join(again, &out), 0);
    CHECK_EQ((intptr_t)out, 15);
    edo_task_free(again);
    CHECK_EQ(atomic_load(&h.starts), N + 1);
    WAIT_UNTIL(atomic_load(&h.stops) == N + 1);
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&h.starts), N + 1);
    CHECK_EQ(atomic_load(&h.stops), N + 1);
}

/* ---- abort and shutdown ---------------------------------------------------------------- */

typedef struct {
    _Atomic int running, release, done;
} hold_state;

/* Runs until released, then finishes some work and returns 7. */
static void *hold_fn(void *arg)
{
    hold_state *h = arg;
    atomic_store(&h->running, 1);
    WAIT_UNTIL(atomic_load(&h->release));
    usleep(20000); /* work that takes a while after the release */
    atomic_store(&h->done, 1);
    return (void *)7;
}

/* A runtime with one worker and one blocking thread. */
static edo_runtime *one_pool_thread(void)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 1, .max_blocking_threads = 1};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    return rt;
}

/* Starts hold_fn(h) on rt's pool and waits until it runs: later calls queue behind it. */
static edo_task *hold_pool(edo_runtime *rt, hold_state *h)
{
    memset(h, 0, sizeof *h);
    edo_task *running;
    CHECK_EQ(edo_spawn_blocking_on(rt, hold_fn, h, &running), 0);
    WAIT_UNTIL(atomic_load(&h->running));
    return running;
}

TEST(abort_queued_call_cancels_it)
{
    edo_runtime *rt = one_pool_thread();
    hold_state h;
    edo_task *queued, *running = hold_pool(rt, &h);
    _Atomic long ran = 0;
    CHECK_EQ(edo_spawn_blocking_on(rt, inc_fn, &ran, &queued), 0); /* waits: cap is 1 */
    CHECK_EQ(edo_task_abort(queued), 0);
    /* The running one cannot be interrupted: aborting it lets it finish with its output. */
    CHECK_EQ(edo_task_abort(running), 0);
    atomic_store(&h.release, 1);
    void *out = NULL;
    CHECK_EQ(edo_task_join(running, &out), 0);
    CHECK_EQ((intptr_t)out, 7);
    CHECK_EQ(atomic_load(&h.done), 1);
    CHECK_EQ(edo_task_join(queued, &out), -ECANCELED);
    CHECK_EQ(edo_task_is_finished(queued), 1);
    CHECK_EQ(atomic_load(&ran), 0);
    edo_task_free(running);
    edo_task_free(queued);

    /* The pool goes on with later calls. */
    edo_task *later;
    CHECK_EQ(edo_spawn_blocking_on(rt, inc_fn, &ran, &later), 0);
    CHECK_EQ(edo_task_join(later, NULL), 0);
    CHECK_EQ(atomic_load(&ran), 1);
    edo_task_free(later);
    edo_runtime_free(rt);
}

/* Shutdown choreography: the running call is released from the worker's on_thread_stop hook,
 * which only runs once edo_runtime_free has started. Pool threads are told apart from the
 * worker by a thread-local their blocking function sets. */
static _Thread_local int is_pool_thread;

typedef struct {
    hold_state h;
    _Atomic long queued_ran;
    _Atomic int pool_stopped;
    int strict; /* wait in the worker's hook until the pool thread has made its choice */
} shutdown_state;

static void *shutdown_hold_fn(void *arg)
{
    is_pool_thread = 1;
    return hold_fn(arg);
}

static void *queued_fn(void *arg)
{
    atomic_fetch_add(&((shutdown_state *)arg)->queued_ran, 1);
    return (void *)1;
}

static void shutdown_stop_hook(void *arg)
{
    shutdown_state *s = arg;
    if (is_pool_thread) {
        atomic_store(&s->pool_stopped, 1);
        return;
    }
    /* A worker stopping: edo_runtime_free is under way. */
    atomic_store(&s->h.release, 1);
    if (s->strict) /* the pool thread either starts a queued call or exits */
        WAIT_UNTIL(atomic_load(&s->queued_ran) > 0 || atomic_load(&s->pool_stopped));
}

static edo_runtime *shutdown_rt(shutdown_state *s)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 1, .max_blocking_threads = 1,
                              .on_thread_stop = shutdown_stop_hook, .hook_arg = s};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    return rt;
}

/* edo_runtime_free waits for a running call: its effect is visible once free returns. */
TEST(shutdown_waits_for_running_call)
{
    shutdown_state s;
    memset(&s, 0, sizeof s);
    edo_runtime *rt = shutdown_rt(&s);
    edo_task *running, *queued[2];
    CHECK_EQ(edo_spawn_blocking_on(rt, shutdown_hold_fn, &s.h, &running), 0);
    WAIT_UNTIL(atomic_load(&s.h.running));
    for (int i = 0; i < 2; i++)
        CHECK_EQ(edo_spawn_blocking_on(rt, queued_fn, &s, &queued[i]), 0);
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&s.h.done), 1);
    void *out = NULL;
    CHECK_EQ(edo_task_join(running, &out), 0);
    CHECK_EQ((intptr_t)out, 7);
    edo_task_free(running);
    /* Each queued call either ran or was cancelled, never both, never twice. */
    long ran = 0;
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(edo_task_is_finished(queued[i]), 1);
        int rc = edo_task_join(queued[i], &out);
        CHECK(rc == 0 || rc == -ECANCELED);
        ran += rc == 0;
        edo_task_free(queued[i]);
    }
    CHECK_EQ(atomic_load(&s.queued_ran), ran);
}

/* Calls still queued when edo_runtime_free is called are cancelled, even when the running call
 * finishes while free is stopping the workers. */
TEST(shutdown_cancels_queued_calls)
{
    shutdown_state s;
    memset(&s, 0, sizeof s);
    s.strict = 1;
    edo_runtime *rt = shutdown_rt(&s);
    edo_task *running, *queued[2];
    CHECK_EQ(edo_spawn_blocking_on(rt, shutdown_hold_fn, &s.h, &running), 0);
    WAIT_UNTIL(atomic_load(&s.h.running));
    for (int i = 0; i < 2; i++)
        CHECK_EQ(edo_spawn_blocking_on(rt, queued_fn, &s, &queued[i]), 0);
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&s.h.done), 1);
    CHECK_EQ(edo_task_join(running, NULL), 0);
    edo_task_free(running);
    fprintf(stderr, "  queued calls that ran after edo_runtime_free began: %ld\n",
            (long)atomic_load(&s.queued_ran));
    CHECK_EQ(atomic_load(&s.queued_ran), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(edo_task_join(queued[i], NULL), -ECANCELED);
        edo_task_free(queued[i]);
    }
}

/* Queued calls on a runtime freed while its only pool thread is busy, with no worker hook in
 * play: the running one completes, nothing leaks, every handle is finished. */
TEST(shutdown_with_calls_queued_current_thread)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_CURRENT_THREAD, .max_blocking_threads = 1};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    _Atomic long ran = 0;
    enum { N = 50 };
    edo_task *t[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(edo_spawn_blocking_on(rt, inc_fn, &ran, i % 2 ? &t[i / 2] : NULL), 0);
    edo_runtime_free(rt);
    long joined_ok = 0;
    for (int i = 0; i < N / 2; i++) {
        CHECK_EQ(edo_task_is_finished(t[i]), 1);
        int rc = edo_task_join(t[i], NULL);
        CHECK(rc == 0 || rc == -ECANCELED);
        joined_ok += rc == 0;
        edo_task_free(t[i]);
    }
    CHECK(atomic_load(&ran) >= joined_ok);
    CHECK(atomic_load(&ran) <= N);
}

/* ---- calls that own their argument and output (edo_spawn_blocking_with) ------------------- */

/* What the call owns: handed over at spawn, freed by drop_arg. */
typedef struct {
    _Atomic int *release; /* the call finishes once this is set */
    int written;
} owned_job;

static _Atomic long args_dropped, outputs_dropped;

static void drop_job(void *arg)
{
    atomic_fetch_add(&args_dropped, 1);
    free(arg);
}

static void drop_result(void *output)
{
    atomic_fetch_add(&outputs_dropped, 1);
    free(output);
}

static const edo_blocking_options owned = {drop_job, drop_result};

static void *fill_job(void *arg)
{
    owned_job *j = arg;
    if (j->release)
        WAIT_UNTIL(atomic_load(j->release));
    j->written = 1; /* into memory the call owns: valid whatever the caller did meanwhile */
    return malloc(32);
}

static owned_job *job_new(_Atomic int *release)
{
    owned_job *j = malloc(sizeof *j);
    CHECK(j != NULL);
    j->release = release;
    j->written = 0;
    return j;
}

static void reset_drops(void)
{
    atomic_store(&args_dropped, 0);
    atomic_store(&outputs_dropped, 0);
}

static int join_call(void *t) { return edo_task_join(t, NULL); }

static _Atomic int gave_up_release;

/* A coroutine joins a call under a deadline, gives up, frees the handle and returns while the
 * call still runs: the call's memory stays valid, and its argument and output are freed when it
 * ends (ASan checks both the use and the leak). */
static void *give_up_on_call(void *arg)
{
    (void)arg;
    edo_task *t;
    CHECK_EQ(edo_spawn_blocking_with(NULL, &owned, fill_job, job_new(&gave_up_release), &t), 0);
    CHECK_EQ(edo_timeout(EDO_MSEC(10), join_call, t), -ETIMEDOUT);
    edo_task_free(t);
    return NULL;
}

TEST(owned_call_outlives_a_join_that_gives_up)
{
    reset_drops();
    atomic_store(&gave_up_release, 0);
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    run_on(rt, give_up_on_call, NULL);
    CHECK_EQ(atomic_load(&args_dropped), 0); /* still running */
    atomic_store(&gave_up_release, 1);
    WAIT_UNTIL(atomic_load(&args_dropped) == 1 && atomic_load(&outputs_dropped) == 1);
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&args_dropped), 1);
    CHECK_EQ(atomic_load(&outputs_dropped), 1);
}

/* Who frees the output, in every order: joined (the caller), handle freed before or after the
 * call ends, no handle at all (the call's drop_output); the argument always by drop_arg. */
TEST(owned_call_output_has_one_owner)
{
    reset_drops();
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    edo_task *t;
    /* joined: the output is the caller's */
    CHECK_EQ(edo_spawn_blocking_with(rt, &owned, fill_job, job_new(NULL), &t), 0);
    void *out = NULL;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK(out != NULL);
    free(out);
    edo_task_free(t);
    CHECK_EQ(atomic_load(&args_dropped), 1);
    CHECK_EQ(atomic_load(&outputs_dropped), 0);
    /* finished, handle freed without a join */
    CHECK_EQ(edo_spawn_blocking_with(rt, &owned, fill_job, job_new(NULL), &t), 0);
    WAIT_UNTIL(edo_task_is_finished(t) == 1);
    CHECK_EQ(atomic_load(&outputs_dropped), 0);
    edo_task_free(t);
    CHECK_EQ(atomic_load(&outputs_dropped), 1);
    /* handle freed while it runs */
    _Atomic int release = 0;
    CHECK_EQ(edo_spawn_blocking_with(rt, &owned, fill_job, job_new(&release), &t), 0);
    edo_task_free(t);
    atomic_store(&release, 1);
    WAIT_UNTIL(atomic_load(&outputs_dropped) == 2);
    /* detached */
    CHECK_EQ(edo_spawn_blocking_with(rt, &owned, fill_job, job_new(NULL), NULL), 0);
    WAIT_UNTIL(atomic_load(&outputs_dropped) == 3);
    WAIT_UNTIL(atomic_load(&args_dropped) == 4);
    /* options NULL: like edo_spawn_blocking_on */
    CHECK_EQ(edo_spawn_blocking_with(rt, NULL, times_three, (void *)2, &t), 0);
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 6);
    edo_task_free(t);
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&args_dropped), 4);
    CHECK_EQ(atomic_load(&outputs_dropped), 3);
}

/* A call cancelled before it started (aborted while queued, or at shutdown): drop_arg instead of
 * fn, no output to drop. */
TEST(owned_call_cancelled_drops_its_arg)
{
    reset_drops();
    edo_runtime *rt = one_pool_thread();
    hold_state h;
    edo_task *queued, *running = hold_pool(rt, &h);
    CHECK_EQ(edo_spawn_blocking_with(rt, &owned, fill_job, job_new(NULL), &queued), 0);
    CHECK_EQ(edo_task_abort(queued), 0);
    atomic_store(&h.release, 1); /* the pool thread then reaches the cancelled call */
    CHECK_EQ(edo_task_join(running, NULL), 0);
    edo_task_free(running);
    void *out = (void *)1;
    CHECK_EQ(edo_task_join(queued, &out), -ECANCELED);
    CHECK(out == NULL);
    CHECK_EQ(atomic_load(&args_dropped), 1);
    CHECK_EQ(atomic_load(&outputs_dropped), 0);
    edo_task_free(queued);
    /* queued behind a running call at shutdown, detached and with a handle */
    running = hold_pool(rt, &h);
    CHECK_EQ(edo_spawn_blocking_with(rt, &owned, fill_job, job_new(NULL), NULL), 0);
    CHECK_EQ(edo_spawn_blocking_with(rt, &owned, fill_job, job_new(NULL), &queued), 0);
    atomic_store(&h.release, 1); /* ends while shutdown runs, or before: both are fine */
    edo_runtime_free(rt);
    CHECK_EQ(edo_task_join(running, NULL), 0);
    edo_task_free(running);
    int rc = edo_task_join(queued, &out);
    CHECK(rc == 0 || rc == -ECANCELED);
    if (rc == 0)
        free(out);
    edo_task_free(queued);
    CHECK_EQ(atomic_load(&args_dropped), 3);
    CHECK(atomic_load(&outputs_dropped) <= 1); /* the detached one, if it ran */
}

/* ---- bad input ------------------------------------------------------------------------- */

TEST(blocking_bad_input)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
    edo_task *t = NULL;
    _Atomic long n = 0;
    CHECK_EQ(edo_spawn_blocking_on(NULL, inc_fn, &n, &t), -EINVAL);
    CHECK_EQ(edo_spawn_blocking_on(rt, NULL, &n, &t), -EINVAL);
    CHECK_EQ(edo_spawn_blocking(NULL, &n, &t), -EINVAL);
    CHECK_EQ(edo_spawn_blocking(inc_fn, &n, &t), -EPERM); /* a plain thread */
    CHECK_EQ(edo_spawn_blocking(inc_fn, &n, NULL), -EPERM);
    CHECK_EQ(edo_spawn_blocking_with(NULL, NULL, inc_fn, &n, &t), -EPERM);
    CHECK_EQ(edo_spawn_blocking_with(rt, &owned, NULL, &n, &t), -EINVAL);
    CHECK_EQ(edo_spawn_blocking_with(NULL, NULL, NULL, &n, NULL), -EINVAL);
    CHECK(t == NULL);
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&n), 0);
}
