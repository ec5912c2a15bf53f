/* Semaphore and mutex: FIFO fairness, multi-permit acquires collected in parts, cancellation at
 * every wait point without losing permits, close, 1,000 tasks on one mutex, a randomized stress
 * across workers (TSan), the future forms, bad input. */
#include <string.h>

#include "harness.h"
#include "util.h"

/* ---- FIFO order ------------------------------------------------------------------------------- */

typedef struct {
    edo_semaphore *s;
    size_t n;
    int id;
    _Atomic int *order;
    int *log; /* ids in the order they acquired */
} taker;

static void *take_and_log(void *arg)
{
    taker *t = arg;
    CHECK_EQ(edo_semaphore_acquire(t->s, t->n), 0);
    t->log[atomic_fetch_add(t->order, 1)] = t->id;
    return NULL;
}

/* On the paused single-thread runtime the tasks queue in spawn order; releases serve them in
 * that order, a large request included (no small request overtakes it). */
static void *fifo(void *arg)
{
    (void)arg;
    edo_semaphore *s;
    CHECK_EQ(edo_semaphore_new(&s, 0), 0);
    enum { N = 6 };
    static const size_t want[N] = {1, 3, 1, 2, 1, 1};
    int log[N];
    _Atomic int order = 0;
    taker t[N];
    edo_task *h[N];
    for (int i = 0; i < N; i++) {
        t[i] = (taker){s, want[i], i, &order, log};
        CHECK_EQ(edo_spawn(take_and_log, &t[i], &h[i]), 0);
        CHECK_EQ(edo_yield(), 0); /* let it queue before the next one */
    }
    CHECK_EQ(edo_semaphore_try_acquire(s, 1), -EAGAIN); /* no barging past the queue */
    for (int i = 0; i < 9; i++) {
        CHECK_EQ(edo_semaphore_release(s, 1), 0);
        CHECK_EQ(edo_yield(), 0);
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ(edo_task_join(h[i], NULL), 0);
        edo_task_free(h[i]);
    }
    for (int i = 0; i < N; i++)
        CHECK_EQ(log[i], i);
    CHECK_EQ(edo_semaphore_available(s), 0);
    edo_semaphore_free(s);
    return NULL;
}

TEST(fifo_fairness_and_partial_grants) { run_coro(EDO_RUNTIME_CURRENT_THREAD, 0, fifo, NULL); }

/* ---- cancellation ------------------------------------------------------------------------------ */

static void *acquire_three(void *arg)
{
    return (void *)(intptr_t)edo_semaphore_acquire(arg, 3);
}

static void *cancel_keeps_permits(void *arg)
{
    (void)arg;
    edo_semaphore *s;
    CHECK_EQ(edo_semaphore_new(&s, 0), 0);
    edo_task *big, *small;
    CHECK_EQ(edo_spawn(acquire_three, s, &big), 0);
    CHECK_EQ(edo_yield(), 0);
    CHECK_EQ(edo_semaphore_release(s, 2), 0); /* the waiter holds 2 of its 3 */
    CHECK_EQ(edo_semaphore_available(s), 0);
    edo_task_abort(big); /* cancelled while holding a part: the part goes back */
    CHECK_EQ(edo_task_join(big, NULL), -ECANCELED);
    edo_task_free(big);
    CHECK_EQ(edo_semaphore_available(s), 2);
    /* A deadline cuts a wait short the same way. */
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_semaphore_acquire(s, 3), -ETIMEDOUT);
    edo_deadline_pop(saved);
    CHECK_EQ(edo_semaphore_available(s), 2);
    /* A waiter served but cancelled before it ran gives the permits on. */
    CHECK_EQ(edo_spawn(acquire_three, s, &big), 0);
    CHECK_EQ(edo_yield(), 0);
    CHECK_EQ(edo_spawn(acquire_three, s, &small), 0);
    CHECK_EQ(edo_yield(), 0);
    CHECK_EQ(edo_semaphore_release(s, 1), 0); /* serves `big` (3), not yet run */
    edo_task_abort(big);
    CHECK_EQ(edo_task_join(big, NULL), -ECANCELED);
    edo_task_free(big);
    CHECK_EQ(edo_semaphore_release(s, 3), 0);
    void *rc;
    CHECK_EQ(edo_task_join(small, &rc), 0); /* got big's 3 */
    CHECK_EQ((intptr_t)rc, 0);
    edo_task_free(small);
    CHECK_EQ(edo_semaphore_available(s), 3);
    edo_semaphore_free(s);
    return NULL;
}

TEST(cancellation_never_loses_permits)
{
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_CURRENT_THREAD, .start_paused = true};
    edo_runtime *rt;
    CHECK_EQ(edo_runtime_new(&rt, &cfg), 0);
    run_on(rt, cancel_keeps_permits, NULL);
    edo_runtime_free(rt);
}

static void *close_wakes_waiters(void *arg)
{
    (void)arg;
    edo_semaphore *s;
    CHECK_EQ(edo_semaphore_new(&s, 1), 0);
    edo_task *h[3];
    for (int i = 0; i < 3; i++)
        CHECK_EQ(edo_spawn(acquire_three, s, &h[i]), 0);
    CHECK_EQ(edo_yield(), 0);
    edo_semaphore_close(s);
    for (int i = 0; i < 3; i++) {
        void *rc;
        CHECK_EQ(edo_task_join(h[i], &rc), 0);
        CHECK_EQ((intptr_t)rc, -ESHUTDOWN);
        edo_task_free(h[i]);
    }
    CHECK_EQ(edo_semaphore_acquire(s, 1), -ESHUTDOWN);
    CHECK_EQ(edo_semaphore_try_acquire(s, 1), -ESHUTDOWN);
    CHECK_EQ(edo_semaphore_available(s), 0);
    CHECK_EQ(edo_semaphore_release(s, 1), 0); /* still allowed */
    edo_semaphore_free(s);
    return NULL;
}

TEST(close_wakes_every_waiter) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, close_wakes_waiters, NULL); }

/* ---- contention ---------------------------------------------------------------------------------- */

typedef struct {
    edo_mutex *m;
    long counter; /* protected by m */
    _Atomic int inside;
    int rounds;
} shared;

static void *lock_loop(void *arg)
{
    shared *sh = arg;
    for (int i = 0; i < sh->rounds; i++) {
        CHECK_EQ(edo_mutex_lock(sh->m), 0);
        CHECK_EQ(atomic_fetch_add(&sh->inside, 1), 0); /* alone inside */
        long c = sh->counter;
        if (i % 7 == 0)
            CHECK_EQ(edo_yield(), 0); /* hold it across a suspension */
        sh->counter = c + 1;
        atomic_fetch_sub(&sh->inside, 1);
        CHECK_EQ(edo_mutex_unlock(sh->m), 0);
    }
    return NULL;
}

static void *thousand_tasks(void *arg)
{
    (void)arg;
    shared sh = {.rounds = SCALE(50, 20, 5)};
    CHECK_EQ(edo_mutex_new(&sh.m), 0);
    enum { N = 1000 };
    edo_task **h = calloc(N, sizeof *h);
    CHECK(h != NULL);
    for (int i = 0; i < N; i++)
        CHECK_EQ(edo_spawn(lock_loop, &sh, &h[i]), 0);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(edo_task_join(h[i], NULL), 0);
        edo_task_free(h[i]);
    }
    free(h);
    CHECK_EQ(sh.counter, (long)N * sh.rounds);
    CHECK_EQ(edo_mutex_try_lock(sh.m), 0);
    CHECK_EQ(edo_mutex_try_lock(sh.m), -EAGAIN);
    CHECK_EQ(edo_mutex_unlock(sh.m), 0);
    edo_mutex_free(sh.m);
    return NULL;
}

TEST(thousand_tasks_one_mutex) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, thousand_tasks, NULL); }

/* Random acquires and releases of random sizes, with aborts, across workers: the permits always
 * add up. */
typedef struct {
    edo_semaphore *s;
    _Atomic long held;
    uint64_t seed;
} stress;

static void *random_user(void *arg)
{
    stress *st = arg;
    uint64_t x = atomic_fetch_add((_Atomic uint64_t *)&st->seed, 0x9e3779b97f4a7c15ull);
    for (int i = 0; i < SCALE(200, 100, 40); i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        size_t n = 1 + x % 4;
        int rc = edo_semaphore_acquire(st->s, n);
        if (rc < 0)
            return NULL; /* aborted */
        atomic_fetch_add(&st->held, (long)n);
        CHECK(atomic_load(&st->held) <= 8);
        if (x & 16)
            edo_yield();
        atomic_fetch_sub(&st->held, (long)n);
        CHECK_EQ(edo_semaphore_release(st->s, n), 0);
    }
    return NULL;
}

TEST(randomized_stress)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    stress st = {.seed = 12345};
    CHECK_EQ(edo_semaphore_new(&st.s, 8), 0);
    enum { N = 64 };
    edo_task *h[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, random_user, &st, &h[i]), 0);
    for (int i = 0; i < N; i += 5)
        edo_task_abort(h[i]);
    for (int i = 0; i < N; i++) {
        int rc = edo_task_join(h[i], NULL);
        CHECK(rc == 0 || rc == -ECANCELED);
        edo_task_free(h[i]);
    }
    CHECK_EQ(edo_semaphore_available(st.s), 8); /* every permit came back */
    edo_semaphore_free(st.s);
    edo_runtime_free(rt);
}

/* ---- future form, bad input ------------------------------------------------------------------- */

TEST(future_form_and_bad_input)
{
    edo_semaphore *s;
    CHECK_EQ(edo_semaphore_new(&s, 2), 0);
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    edo_semaphore_acquire_future a, b;
    edo_semaphore_acquire_future_init(&a, s, 2);
    CHECK_EQ(edo_future_poll(&a.base, &cx, NULL), EDO_READY);
    CHECK_EQ(a.result, 0);
    edo_semaphore_acquire_future_init(&b, s, 1);
    CHECK_EQ(edo_future_poll(&b.base, &cx, NULL), EDO_PENDING);
    CHECK_EQ(edo_semaphore_release(s, 2), 0); /* b is served 1; 1 goes to the pool */
    CHECK_EQ(edo_future_poll(&b.base, &cx, NULL), EDO_READY);
    CHECK_EQ(b.result, 0);
    edo_future_drop(&a.base); /* taken: dropping keeps them with the caller */
    edo_future_drop(&b.base);
    CHECK_EQ(edo_semaphore_available(s), 1);
    /* Dropped while queued: nothing lost. */
    edo_semaphore_acquire_future_init(&b, s, 5);
    CHECK_EQ(edo_future_poll(&b.base, &cx, NULL), EDO_PENDING);
    CHECK_EQ(edo_semaphore_available(s), 0); /* its first permit went to it */
    edo_future_drop(&b.base);
    CHECK_EQ(edo_semaphore_available(s), 1);
    CHECK_EQ(edo_semaphore_release(s, 2), 0);
    CHECK_EQ(edo_semaphore_available(s), 3);

    edo_semaphore *bad;
    CHECK_EQ(edo_semaphore_new(NULL, 1), -EINVAL);
    CHECK_EQ(edo_semaphore_new(&bad, EDO_SEMAPHORE_MAX_PERMITS + 1), -EINVAL);
    CHECK_EQ(edo_semaphore_acquire(s, 1), -EPERM); /* not in a coroutine */
    CHECK_EQ(edo_semaphore_acquire(NULL, 1), -EINVAL);
    CHECK_EQ(edo_semaphore_try_acquire(s, 0), -EINVAL);
    CHECK_EQ(edo_semaphore_release(NULL, 1), -EINVAL);
    CHECK_EQ(edo_semaphore_release(s, EDO_SEMAPHORE_MAX_PERMITS), -EINVAL); /* overflow */
    edo_semaphore_acquire_future_init(&b, s, 0);
    CHECK_EQ(edo_future_poll(&b.base, &cx, NULL), EDO_READY);
    CHECK_EQ(b.result, -EINVAL);
    edo_future_drop(&b.base);
    edo_mutex *m;
    CHECK_EQ(edo_mutex_new(NULL), -EINVAL);
    CHECK_EQ(edo_mutex_new(&m), 0);
    CHECK_EQ(edo_mutex_lock(m), -EPERM);
    edo_mutex_lock_future_init(&b, m);
    CHECK_EQ(edo_future_poll(&b.base, &cx, NULL), EDO_READY);
    CHECK_EQ(b.result, 0);
    edo_future_drop(&b.base);
    CHECK_EQ(edo_mutex_try_lock(m), -EAGAIN);
    CHECK_EQ(edo_mutex_unlock(m), 0);
    edo_mutex_free(m);
    edo_semaphore_free(s);
    edo_semaphore_free(NULL);
}
