/* Semaphore and mutex: FIFO fairness, multi-permit acquires collected in parts, cancellation at
 * every wait point without losing permits, close, 1,000 tasks on one mutex, a randomized stress
 * across workers (TSan), the future forms, bad input. */
#include <string.h>
#include <unistd.h>

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
    CHECK_EQ(edo_semaphore_new(0, &s), 0);
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
    CHECK_EQ(edo_semaphore_new(0, &s), 0);
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

TEST(cancellation_never_loses_permits) { run_paused(cancel_keeps_permits, NULL); }

static void *close_wakes_waiters(void *arg)
{
    (void)arg;
    edo_semaphore *s;
    CHECK_EQ(edo_semaphore_new(1, &s), 0);
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
    CHECK_EQ(edo_semaphore_new(8, &st.s), 0);
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
    CHECK_EQ(edo_semaphore_new(2, &s), 0);
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
    CHECK_EQ(edo_semaphore_new(1, NULL), -EINVAL);
    CHECK_EQ(edo_semaphore_new(EDO_SEMAPHORE_MAX_PERMITS + 1, &bad), -EINVAL);
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

/* ---- notify ------------------------------------------------------------------------------------ */

typedef struct {
    edo_notify *n;
    int id;
    _Atomic int *order;
    int *log;
} notified;

static void *wait_and_log(void *arg)
{
    notified *w = arg;
    int rc = edo_notify_wait(w->n);
    if (rc == 0)
        w->log[atomic_fetch_add(w->order, 1)] = w->id;
    return (void *)(intptr_t)rc;
}

static void *notify_cases(void *arg)
{
    (void)arg;
    edo_notify *n;
    CHECK_EQ(edo_notify_new(&n), 0);
    /* A notification with nobody waiting is stored, once. */
    edo_notify_one(n);
    edo_notify_one(n);
    CHECK_EQ(edo_notify_wait(n), 0);
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_notify_wait(n), -ETIMEDOUT); /* only one was kept */
    edo_deadline_pop(saved);

    enum { N = 4 };
    int log[N] = {-1, -1, -1, -1};
    _Atomic int order = 0;
    notified w[N];
    edo_task *t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (notified){n, i, &order, log};
        CHECK_EQ(edo_spawn(wait_and_log, &w[i], &t[i]), 0);
        CHECK_EQ(edo_yield(), 0);
    }
    /* notify_one serves in order; a chosen waiter cancelled before it runs passes it on. */
    edo_notify_one(n);  /* chooses 0 */
    edo_task_abort(t[0]);
    CHECK_EQ(edo_task_join(t[0], NULL), -ECANCELED);
    CHECK_EQ(edo_yield(), 0);
    CHECK_EQ(log[0], 1); /* 0's notification went to 1 */
    edo_notify_one(n);   /* 2 */
    CHECK_EQ(edo_yield(), 0);
    CHECK_EQ(log[1], 2);
    /* notify_all wakes whoever waits now (3), and stores nothing. */
    edo_notify_all(n);
    for (int i = 1; i < N; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    edo_task_free(t[0]);
    CHECK_EQ(log[2], 3);
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_notify_wait(n), -ETIMEDOUT);
    edo_deadline_pop(saved);
    edo_notify_free(n);
    return NULL;
}

TEST(notify_one_all_and_cancellation) { run_paused(notify_cases, NULL); }

/* Polls a notify future once by hand, with a waker that does nothing. */
static edo_poll poll_noop(edo_notify_wait_future *f)
{
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    return edo_future_poll(&f->base, &cx, NULL);
}

/* What counts for notify_all is the waiter's initialisation, not its first poll. Polled by
 * hand, outside a runtime (notify needs none). */
TEST(notify_all_counts_waiters_from_their_initialisation)
{
    edo_notify *n;
    CHECK_EQ(edo_notify_new(&n), 0);
    edo_notify_wait_future queued, fresh, late;
    edo_notify_wait_future_init(&queued, n);
    CHECK_EQ(poll_noop(&queued), EDO_PENDING);
    edo_notify_wait_future_init(&fresh, n); /* a waiter, not polled yet */
    edo_notify_all(n);
    edo_notify_wait_future_init(&late, n); /* after the call: not its waiter */
    CHECK_EQ(poll_noop(&queued), EDO_READY);
    CHECK_EQ(queued.result, 0);
    CHECK_EQ(poll_noop(&fresh), EDO_READY); /* at its first poll */
    CHECK_EQ(fresh.result, 0);
    CHECK_EQ(poll_noop(&late), EDO_PENDING);
    CHECK_EQ(poll_noop(&late), EDO_PENDING);
    edo_notify_all(n); /* the next one does */
    CHECK_EQ(poll_noop(&late), EDO_READY);
    edo_future_drop(&queued.base);
    edo_future_drop(&fresh.base);
    edo_future_drop(&late.base);
    /* A waiter dropped before its first poll leaves nothing behind. */
    edo_notify_wait_future_init(&fresh, n);
    edo_notify_all(n);
    edo_future_drop(&fresh.base);
    edo_notify_wait_future_init(&late, n);
    CHECK_EQ(poll_noop(&late), EDO_PENDING);
    edo_future_drop(&late.base);
    edo_notify_free(n);
}

/* notify_one is unchanged: with nobody queued it stores one permit, which the next waiter to be
 * polled takes, however old; a waiter that notify_all completes leaves the permit alone. */
TEST(notify_one_stores_a_permit_for_unpolled_waiters)
{
    edo_notify *n;
    CHECK_EQ(edo_notify_new(&n), 0);
    edo_notify_wait_future a, b, c;
    edo_notify_wait_future_init(&a, n);
    edo_notify_one(n);
    edo_notify_one(n); /* still one permit */
    edo_notify_wait_future_init(&b, n);
    CHECK_EQ(poll_noop(&b), EDO_READY); /* polled first: takes it */
    CHECK_EQ(poll_noop(&a), EDO_PENDING);
    edo_notify_one(n); /* a is queued now: chosen, nothing stored */
    CHECK_EQ(poll_noop(&a), EDO_READY);
    edo_future_drop(&a.base);
    edo_future_drop(&b.base);
    edo_notify_wait_future_init(&a, n);
    edo_notify_one(n);                                         /* stored */
    edo_notify_all(n);                                         /* completes a */
    CHECK_EQ(poll_noop(&a), EDO_READY); /* by notify_all */
    edo_notify_wait_future_init(&b, n);
    CHECK_EQ(poll_noop(&b), EDO_READY); /* the permit was kept */
    edo_notify_wait_future_init(&c, n);
    CHECK_EQ(poll_noop(&c), EDO_PENDING);
    edo_future_drop(&a.base);
    edo_future_drop(&b.base);
    edo_future_drop(&c.base);
    edo_notify_free(n);
}

typedef struct {
    edo_notify *n;
    int flag;
} condition;

static void *set_and_notify_all(void *arg)
{
    condition *c = arg;
    c->flag = 1;
    edo_notify_all(c->n);
    return NULL;
}

/* The check-then-wait pattern of sync.h: the setter runs between the check and the wait. */
static void *check_then_wait(void *arg)
{
    (void)arg;
    condition c = {0};
    CHECK_EQ(edo_notify_new(&c.n), 0);
    edo_task *setter;
    CHECK_EQ(edo_spawn(set_and_notify_all, &c, &setter), 0);
    edo_notify_wait_future w;
    edo_notify_wait_future_init(&w, c.n);
    CHECK_EQ(c.flag, 0);         /* checked: not yet */
    CHECK_EQ(edo_yield(), 0);    /* the setter runs here */
    CHECK_EQ(c.flag, 1);
    edo_instant saved, before = edo_now();
    CHECK_EQ(edo_deadline_push(edo_after(EDO_SEC(1)), &saved), 0);
    CHECK_EQ(edo_await(&w.base, NULL), 0); /* not -ETIMEDOUT: the notify_all counted */
    CHECK_EQ(edo_deadline_pop(saved), 0);
    CHECK_EQ(edo_now(), before);
    CHECK_EQ(w.result, 0);
    edo_future_drop(&w.base);
    CHECK_EQ(edo_task_join(setter, NULL), 0);
    edo_task_free(setter);
    edo_notify_free(c.n);
    return NULL;
}

TEST(notify_all_between_check_and_wait) { run_paused(check_then_wait, NULL); }

/* Across workers: waiters initialised on several threads, then one notify_all from another,
 * then their first polls: every one is ready at once (TSan checks the generation's handling). */
typedef struct {
    edo_notify *n;
    _Atomic int ready, go;
} crowd;

static void *init_then_wait(void *arg)
{
    crowd *c = arg;
    edo_notify_wait_future w;
    edo_notify_wait_future_init(&w, c->n);
    atomic_fetch_add(&c->ready, 1);
    while (!atomic_load(&c->go))
        CHECK_EQ(edo_yield(), 0);
    edo_poll first = poll_noop(&w); /* the notify_all came before `go` */
    edo_future_drop(&w.base);
    return (void *)(intptr_t)(first == EDO_READY ? w.result : -EAGAIN);
}

TEST(notify_all_reaches_unpolled_waiters_across_workers)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 4);
    enum { N = 64 };
    for (int round = 0; round < SCALE(20, 5, 5); round++) {
        crowd c = {0};
        CHECK_EQ(edo_notify_new(&c.n), 0);
        edo_task *t[N];
        for (int i = 0; i < N; i++)
            CHECK_EQ(edo_spawn_with(rt, NULL, init_then_wait, &c, &t[i]), 0);
        WAIT_UNTIL(atomic_load(&c.ready) == N);
        edo_notify_all(c.n);
        atomic_store(&c.go, 1);
        for (int i = 0; i < N; i++) {
            void *out = (void *)1;
            CHECK_EQ(edo_task_join(t[i], &out), 0);
            CHECK_EQ((intptr_t)out, 0);
            edo_task_free(t[i]);
        }
        edo_notify_free(c.n);
    }
    edo_runtime_free(rt);
}

TEST(notify_bad_input)
{
    CHECK_EQ(edo_notify_new(NULL), -EINVAL);
    CHECK_EQ(edo_notify_wait(NULL), -EINVAL);
    edo_notify_one(NULL);
    edo_notify_all(NULL);
    edo_notify_free(NULL);
    edo_notify_wait_future_init(NULL, NULL);
    edo_notify_wait_future f;
    edo_notify_wait_future_init(&f, NULL);
    CHECK_EQ(poll_noop(&f), EDO_READY);
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    edo_notify *n;
    CHECK_EQ(edo_notify_new(&n), 0);
    CHECK_EQ(edo_notify_wait(n), -EPERM); /* not in a coroutine */
    edo_notify_free(n);
}

/* ---- oneshot ---------------------------------------------------------------------------------- */

static void *send_later(void *arg)
{
    CHECK_EQ(edo_sleep(EDO_MSEC(5)), 0);
    CHECK_EQ(edo_oneshot_send(arg, (void *)42), 0);
    return NULL;
}

static void *oneshot_cases(void *arg)
{
    (void)arg;
    edo_oneshot *o;
    void *v = NULL;
    /* Sent before the receive. */
    CHECK_EQ(edo_oneshot_new(&o), 0);
    CHECK_EQ(edo_oneshot_send(o, (void *)7), 0);
    CHECK_EQ(edo_oneshot_recv(o, &v), 0);
    CHECK_EQ((intptr_t)v, 7);
    /* The receive waits for the send. */
    CHECK_EQ(edo_oneshot_new(&o), 0);
    CHECK_EQ(edo_spawn(send_later, o, NULL), 0);
    CHECK_EQ(edo_oneshot_recv(o, &v), 0);
    CHECK_EQ((intptr_t)v, 42);
    /* The sender leaves without sending. */
    CHECK_EQ(edo_oneshot_new(&o), 0);
    edo_oneshot_sender_close(o);
    CHECK_EQ(edo_oneshot_recv(o, &v), -EPIPE);
    /* The receiver leaves: the send fails and the value stays the sender's. */
    CHECK_EQ(edo_oneshot_new(&o), 0);
    CHECK(edo_oneshot_receiver_close(o) == NULL);
    CHECK_EQ(edo_oneshot_send(o, (void *)9), -EPIPE);
    /* A receive cut short keeps the channel: the value is not lost. */
    CHECK_EQ(edo_oneshot_new(&o), 0);
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(1)), &saved), 0);
    CHECK_EQ(edo_oneshot_recv(o, &v), -ETIMEDOUT);
    edo_deadline_pop(saved);
    CHECK_EQ(edo_oneshot_try_recv(o, &v), -EAGAIN);
    CHECK_EQ(edo_oneshot_send(o, (void *)11), 0);
    CHECK_EQ(edo_oneshot_try_recv(o, &v), 0);
    CHECK_EQ((intptr_t)v, 11);
    /* Sent, then the receiver closes: close hands the value back. */
    CHECK_EQ(edo_oneshot_new(&o), 0);
    CHECK_EQ(edo_oneshot_send(o, (void *)13), 0);
    CHECK_EQ((intptr_t)edo_oneshot_receiver_close(o), 13);
    /* The future form. */
    CHECK_EQ(edo_oneshot_new(&o), 0);
    edo_oneshot_recv_future f;
    edo_oneshot_recv_future_init(&f, o);
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    CHECK_EQ(edo_future_poll(&f.base, &cx, &v), EDO_PENDING);
    CHECK_EQ(edo_oneshot_send(o, (void *)15), 0);
    CHECK_EQ(edo_future_poll(&f.base, &cx, &v), EDO_READY);
    CHECK_EQ(f.result, 0);
    CHECK_EQ((intptr_t)v, 15);
    edo_future_drop(&f.base);
    CHECK_EQ(edo_oneshot_new(NULL), -EINVAL);
    CHECK_EQ(edo_oneshot_send(NULL, NULL), -EINVAL);
    CHECK_EQ(edo_oneshot_recv(NULL, &v), -EINVAL);
    return NULL;
}

TEST(oneshot_cases) { run_paused(oneshot_cases, NULL); }

static void *recv_one(void *arg)
{
    void *v = NULL;
    int rc = edo_oneshot_recv(arg, &v);
    return rc < 0 ? (void *)(intptr_t)rc : v;
}

/* A receiving coroutine aborted in its wait withdraws its waker and leaves the receiver side
 * open: the next receiver waits afresh and gets the value (ASan: no wake of the freed task). */
static void *oneshot_abort_cases(void *arg)
{
    (void)arg;
    edo_oneshot *o;
    CHECK_EQ(edo_oneshot_new(&o), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn(recv_one, o, &t), 0);
    CHECK_EQ(edo_yield(), 0); /* it waits in the receive */
    CHECK_EQ(edo_task_abort(t), 0);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
    CHECK_EQ(edo_spawn(recv_one, o, &t), 0);
    CHECK_EQ(edo_yield(), 0); /* the second receiver waits too */
    CHECK_EQ(edo_oneshot_send(o, (void *)17), 0);
    void *v = NULL;
    CHECK_EQ(edo_task_join(t, &v), 0);
    CHECK_EQ((intptr_t)v, 17);
    edo_task_free(t);
    return NULL;
}

TEST(oneshot_recv_aborted_keeps_channel) { run_paused(oneshot_abort_cases, NULL); }

/* Pairs bounce oneshots back and forth across workers (a small ping_pong, under TSan too). */
typedef struct {
    edo_oneshot *to_pong;
    _Atomic(edo_oneshot *) to_ping;
    int rounds;
} pair;

static void *ponger(void *arg)
{
    pair *p = arg;
    for (int i = 0; i < p->rounds; i++) {
        edo_oneshot *in = p->to_pong;
        void *v;
        CHECK_EQ(edo_oneshot_recv(in, &v), 0);
        edo_oneshot *back = v; /* the ping sends the channel for the answer */
        CHECK_EQ(edo_oneshot_send(back, (void *)(intptr_t)(i + 1)), 0);
        while (!(p->to_pong = atomic_exchange(&p->to_ping, NULL)) && i + 1 < p->rounds)
            CHECK_EQ(edo_yield(), 0);
    }
    return NULL;
}

static void *pinger(void *arg)
{
    pair *p = arg;
    for (int i = 0; i < p->rounds; i++) {
        edo_oneshot *back;
        CHECK_EQ(edo_oneshot_new(&back), 0);
        edo_oneshot *out = i == 0 ? p->to_pong : NULL;
        if (i > 0) {
            CHECK_EQ(edo_oneshot_new(&out), 0);
            atomic_store(&p->to_ping, out);
        }
        CHECK_EQ(edo_oneshot_send(out, back), 0);
        void *v;
        CHECK_EQ(edo_oneshot_recv(back, &v), 0);
        CHECK_EQ((intptr_t)v, i + 1);
    }
    return NULL;
}

TEST(oneshot_ping_pong_race)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    enum { PAIRS = 20 };
    pair p[PAIRS];
    edo_task *t[2 * PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        p[i].rounds = SCALE(500, 100, 50);
        atomic_init(&p[i].to_ping, NULL);
        CHECK_EQ(edo_oneshot_new(&p[i].to_pong), 0);
        CHECK_EQ(edo_spawn_with(rt, NULL, ponger, &p[i], &t[2 * i]), 0);
        CHECK_EQ(edo_spawn_with(rt, NULL, pinger, &p[i], &t[2 * i + 1]), 0);
    }
    for (int i = 0; i < 2 * PAIRS; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    edo_runtime_free(rt);
}

/* ---- mpsc channel ------------------------------------------------------------------------------ */

static _Atomic long unreceived_count;
static void count_unreceived(void *msg)
{
    (void)msg;
    atomic_fetch_add(&unreceived_count, 1);
}

static void *send_one(void *arg)
{
    edo_chan *ch = arg;
    return (void *)(intptr_t)edo_chan_send(ch, (void *)3);
}

static void *chan_cases(void *arg)
{
    (void)arg;
    edo_chan *ch;
    CHECK_EQ(edo_chan_new(2, count_unreceived, &ch), 0);
    CHECK_EQ(edo_chan_send(ch, (void *)1), 0);
    CHECK_EQ(edo_chan_try_send(ch, (void *)2), 0);
    CHECK_EQ(edo_chan_try_send(ch, (void *)9), -EAGAIN); /* full */
    /* A sender waiting for room, cancelled by its deadline, sends nothing. */
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_chan_send(ch, (void *)9), -ETIMEDOUT);
    edo_deadline_pop(saved);
    CHECK_EQ(edo_chan_len(ch), 2);
    /* A waiting sender gets the room the receiver frees. */
    edo_task *t;
    CHECK_EQ(edo_spawn(send_one, ch, &t), 0);
    CHECK_EQ(edo_yield(), 0);
    void *m;
    CHECK_EQ(edo_chan_recv(ch, &m), 0);
    CHECK_EQ((intptr_t)m, 1);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    void *many[8];
    CHECK_EQ(edo_chan_recv_many(ch, many, 8), 2); /* FIFO */
    CHECK_EQ((intptr_t)many[0], 2);
    CHECK_EQ((intptr_t)many[1], 3);
    /* A receiver cut short takes nothing; the next receive gets the message. */
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_chan_recv(ch, &m), -ETIMEDOUT);
    edo_deadline_pop(saved);
    CHECK_EQ(edo_chan_try_recv(ch, &m), -EAGAIN);
    /* Reserve, then send without waiting; or give the claim back. */
    CHECK_EQ(edo_chan_reserve(ch), 0);
    CHECK_EQ(edo_chan_reserve(ch), 0);
    CHECK_EQ(edo_chan_try_send(ch, (void *)9), -EAGAIN); /* both slots claimed */
    edo_chan_unreserve(ch);
    CHECK_EQ(edo_chan_send_reserved(ch, (void *)4), 0);
    CHECK_EQ(edo_chan_try_send(ch, (void *)5), 0);
    /* Every sender gone: what is queued is still received, then -EPIPE. */
    edo_chan_sender_add(ch);
    edo_chan_sender_close(ch);
    CHECK_EQ(edo_chan_try_recv(ch, &m), 0);
    CHECK_EQ((intptr_t)m, 4);
    edo_chan_sender_close(ch);
    CHECK_EQ(edo_chan_recv(ch, &m), 0);
    CHECK_EQ((intptr_t)m, 5);
    CHECK_EQ(edo_chan_recv(ch, &m), -EPIPE);
    edo_chan_receiver_close(ch); /* freed now */

    /* The receiver gone: sends fail and keep their message; a sender waiting for room too;
     * what was queued reaches on_unreceived when the channel is freed. */
    atomic_store(&unreceived_count, 0);
    CHECK_EQ(edo_chan_new(1, count_unreceived, &ch), 0);
    CHECK_EQ(edo_chan_send(ch, (void *)1), 0);
    edo_chan_sender_add(ch);
    CHECK_EQ(edo_spawn(send_one, ch, &t), 0);
    CHECK_EQ(edo_yield(), 0); /* waits for room */
    edo_chan_receiver_close(ch);
    void *rc;
    CHECK_EQ(edo_task_join(t, &rc), 0);
    CHECK_EQ((intptr_t)rc, -EPIPE);
    edo_task_free(t);
    CHECK_EQ(edo_chan_try_send(ch, (void *)2), -EPIPE);
    edo_chan_sender_close(ch);
    CHECK_EQ(atomic_load(&unreceived_count), 0);
    edo_chan_sender_close(ch); /* the last reference: the queued message is handed over */
    CHECK_EQ(atomic_load(&unreceived_count), 1);

    /* Unbounded: never full. */
    CHECK_EQ(edo_chan_new(0, NULL, &ch), 0);
    for (long i = 0; i < 1000; i++)
        CHECK_EQ(edo_chan_try_send(ch, (void *)i), 0);
    for (long i = 0; i < 1000; i++) {
        CHECK_EQ(edo_chan_try_recv(ch, &m), 0);
        CHECK_EQ((intptr_t)m, i);
    }
    edo_chan_sender_close(ch);
    edo_chan_receiver_close(ch);
    CHECK_EQ(edo_chan_new(1, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_chan_send(NULL, NULL), -EINVAL);
    CHECK_EQ(edo_chan_recv(NULL, &m), -EINVAL);
    return NULL;
}

TEST(chan_cases) { run_paused(chan_cases, NULL); }

/* Producers on several workers into a small bounded channel: every message arrives once, each
 * producer's in order. */
typedef struct {
    edo_chan *ch;
    long id, count;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    for (long i = 0; i < p->count; i++)
        CHECK_EQ(edo_chan_send(p->ch, (void *)(intptr_t)((p->id << 32) | i)), 0);
    edo_chan_sender_close(p->ch);
    return NULL;
}

TEST(chan_producers_race)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    enum { P = 4 };
    const long count = SCALE(50000, 10000, 2000);
    edo_chan *ch;
    CHECK_EQ(edo_chan_new(16, NULL, &ch), 0);
    producer p[P];
    edo_task *t[P];
    for (int i = 0; i < P; i++) {
        if (i > 0)
            edo_chan_sender_add(ch);
        p[i] = (producer){ch, i, count};
    }
    for (int i = 0; i < P; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, produce, &p[i], &t[i]), 0);
    long next[P] = {0};
    edo_chan_recv_future f;
    for (;;) {
        /* Received from this plain thread with the future form and block_on. */
        edo_chan_recv_future_init(&f, ch);
        void *m = NULL;
        CHECK_EQ(edo_block_on(rt, &f.base, &m), 0);
        if (f.result == -EPIPE)
            break;
        CHECK_EQ(f.result, 0);
        long id = (intptr_t)m >> 32, seq = (intptr_t)m & 0xffffffff;
        CHECK(id >= 0 && id < P);
        CHECK_EQ(seq, next[id]);
        next[id]++;
    }
    for (int i = 0; i < P; i++) {
        CHECK_EQ(next[i], count);
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    edo_chan_receiver_close(ch);
    edo_runtime_free(rt);
}

/* ---- cancellation tokens --------------------------------------------------------------------- */

static void *wait_token(void *arg) { return (void *)(intptr_t)edo_cancel_token_wait(arg); }

static void *token_cases(void *arg)
{
    (void)arg;
    edo_cancel_token *root, *a, *b, *other;
    CHECK_EQ(edo_cancel_token_new(NULL, &root), 0);
    CHECK_EQ(edo_cancel_token_new(root, &a), 0);
    CHECK_EQ(edo_cancel_token_new(a, &b), 0);
    CHECK_EQ(edo_cancel_token_new(root, &other), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn(wait_token, b, &t), 0);
    CHECK_EQ(edo_yield(), 0);
    edo_cancel_token_cancel(a); /* a and everything below it; not the root, not a's sibling */
    void *rc;
    CHECK_EQ(edo_task_join(t, &rc), 0);
    CHECK_EQ((intptr_t)rc, 0);
    edo_task_free(t);
    CHECK_EQ(edo_cancel_token_is_cancelled(a), 1);
    CHECK_EQ(edo_cancel_token_is_cancelled(b), 1);
    CHECK_EQ(edo_cancel_token_is_cancelled(root), 0);
    CHECK_EQ(edo_cancel_token_is_cancelled(other), 0);
    /* Born under a cancelled parent: cancelled. Waiting on a cancelled token returns at once. */
    edo_cancel_token *late;
    CHECK_EQ(edo_cancel_token_new(a, &late), 0);
    CHECK_EQ(edo_cancel_token_is_cancelled(late), 1);
    CHECK_EQ(edo_cancel_token_wait(late), 0);
    /* In a select: the token beats a receive that never completes. */
    edo_chan *ch;
    CHECK_EQ(edo_chan_new(1, NULL, &ch), 0);
    edo_chan_recv_future recv;
    edo_chan_recv_future_init(&recv, ch);
    edo_cancel_token_wait_future stop;
    edo_cancel_token_wait_future_init(&stop, other);
    edo_future *either[] = {&recv.base, &stop.base};
    edo_cancel_token_cancel(root);
    CHECK_EQ(edo_select(either, 2, EDO_SELECT_BIASED, NULL), 1);
    edo_future_drop(&recv.base);
    edo_future_drop(&stop.base);
    edo_chan_sender_close(ch);
    edo_chan_receiver_close(ch);
    /* A wait cut short leaves no waiter behind. */
    edo_cancel_token *fresh;
    CHECK_EQ(edo_cancel_token_new(NULL, &fresh), 0);
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_cancel_token_wait(fresh), -ETIMEDOUT);
    edo_deadline_pop(saved);
    edo_cancel_token_cancel(fresh);
    /* Freed in any order: a child keeps its parent alive. */
    edo_cancel_token_free(root);
    edo_cancel_token_free(a);
    edo_cancel_token_free(late);
    edo_cancel_token_free(b);
    edo_cancel_token_free(other);
    edo_cancel_token_free(fresh);
    CHECK_EQ(edo_cancel_token_new(NULL, NULL), -EINVAL);
    CHECK_EQ(edo_cancel_token_is_cancelled(NULL), false);
    CHECK_EQ(edo_cancel_token_wait(NULL), -EINVAL);
    return NULL;
}

TEST(cancel_token_tree) { run_paused(token_cases, NULL); }

/* Tasks across workers wait on a tree of tokens while a plain thread cancels the root. */
TEST(cancel_token_race)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    for (int round = 0; round < SCALE(20, 10, 5); round++) {
        edo_cancel_token *root, *mid[4], *leaf[16];
        CHECK_EQ(edo_cancel_token_new(NULL, &root), 0);
        for (int i = 0; i < 4; i++)
            CHECK_EQ(edo_cancel_token_new(root, &mid[i]), 0);
        edo_task *t[16];
        for (int i = 0; i < 16; i++) {
            CHECK_EQ(edo_cancel_token_new(mid[i % 4], &leaf[i]), 0);
            CHECK_EQ(edo_spawn_with(rt, NULL, wait_token, leaf[i], &t[i]), 0);
        }
        if (round % 2)
            usleep(200);
        edo_cancel_token_cancel(root);
        for (int i = 0; i < 16; i++) {
            void *rc;
            CHECK_EQ(edo_task_join(t[i], &rc), 0);
            CHECK_EQ((intptr_t)rc, 0);
            edo_task_free(t[i]);
            edo_cancel_token_free(leaf[i]);
        }
        for (int i = 0; i < 4; i++)
            edo_cancel_token_free(mid[i]);
        edo_cancel_token_free(root);
    }
    edo_runtime_free(rt);
}
