/* Races and stress: many threads against one task's state word (wake, abort, complete, join
 * and handle release at once), spawning from many threads, and runtimes created and freed with
 * work in flight. Every test name contains `race` or `stress`, so CI repeats them under TSan;
 * the counts are scaled so that one run stays well under 2 s there. */
#include <string.h>

#include "harness.h"
#include "util.h"

/* ---- a task whose wakers are handed out to threads --------------------------------------- */

enum { MAX_WAKERS = 8 };

typedef struct {
    edo_waker clones[MAX_WAKERS + 1]; /* one per waking thread, the last for the test */
    int nclones;
    _Atomic int published; /* the clones are set */
    _Atomic int open;      /* complete on the next poll */
    _Atomic long polls;
    _Atomic int dropped;
} shared_task;

typedef struct {
    edo_future base;
    shared_task *s;
} shared_future;

static edo_poll shared_poll(edo_future *f, edo_context *cx, void **out)
{
    shared_task *s = ((shared_future *)f)->s;
    atomic_fetch_add(&s->polls, 1);
    if (!atomic_load(&s->published)) {
        for (int i = 0; i < s->nclones; i++)
            s->clones[i] = edo_waker_clone(edo_context_waker(cx));
        atomic_store(&s->published, 1);
    }
    if (atomic_load(&s->open)) {
        *out = (void *)99;
        return EDO_READY;
    }
    return EDO_PENDING;
}
static void shared_drop(edo_future *f) { atomic_fetch_add(&((shared_future *)f)->s->dropped, 1); }
static const edo_future_vtable shared_vtable = {shared_poll, shared_drop};

typedef struct {
    shared_task *s;
    int index;
    _Atomic int *stop;
    _Atomic long wakes;
    _Atomic int *abort_go;
    edo_task *abort_target; /* when set, this thread aborts it once abort_go is set */
} waking_thread;

/* Wakes its clone in every way there is, until stopped; then releases it. */
static void *waking_main(void *arg)
{
    waking_thread *w = arg;
    shared_task *s = w->s;
    while (!atomic_load(&s->published))
        sched_yield();
    edo_waker *mine = &s->clones[w->index];
    int aborted = 0;
    for (long i = 0; !atomic_load(w->stop); i++) {
        switch (i % 4) {
        case 0:
        case 1:
            edo_waker_wake_by_ref(mine);
            break;
        case 2: {
            edo_waker c = edo_waker_clone(mine);
            edo_waker_wake(&c);
            break;
        }
        default: {
            edo_waker c = edo_waker_clone(mine);
            edo_waker_drop(&c);
            break;
        }
        }
        atomic_fetch_add(&w->wakes, 1);
        if (i % 8 == 7)
            sched_yield(); /* more threads than CPUs: let the workers and the test run */
        if (w->abort_target && !aborted && atomic_load(w->abort_go)) {
            CHECK_EQ(edo_task_abort(w->abort_target), 0);
            aborted = 1;
        }
    }
    if (w->index % 2)
        edo_waker_wake(mine);
    else
        edo_waker_drop(mine);
    return NULL;
}

typedef struct {
    shared_task s;
    waking_thread w[MAX_WAKERS];
    pthread_t th[MAX_WAKERS];
    int nthreads;
    _Atomic int stop, abort_go;
    edo_task *task;
} storm;

static void storm_start(storm *st, edo_runtime *rt, int nthreads, int abort_by_thread)
{
    memset(st, 0, sizeof *st);
    st->nthreads = nthreads;
    st->s.nclones = nthreads + 1;
    shared_future f = {{&shared_vtable}, &st->s};
    CHECK_EQ(edo_spawn_future_on(rt, &f.base, sizeof f, &st->task), 0);
    for (int i = 0; i < nthreads; i++) {
        st->w[i] = (waking_thread){&st->s, i, &st->stop, 0, &st->abort_go,
                                   i == 0 && abort_by_thread ? st->task : NULL};
        CHECK_EQ(pthread_create(&st->th[i], NULL, waking_main, &st->w[i]), 0);
    }
    WAIT_UNTIL(atomic_load(&st->s.published));
}

static long storm_wakes(storm *st)
{
    long n = 0;
    for (int i = 0; i < st->nthreads; i++)
        n += atomic_load(&st->w[i].wakes);
    return n;
}

/* Lets every thread wake a few more times (after whatever just happened), then stops them. */
static void storm_stop(storm *st)
{
    long seen[MAX_WAKERS];
    for (int i = 0; i < st->nthreads; i++)
        seen[i] = atomic_load(&st->w[i].wakes);
    for (int i = 0; i < st->nthreads; i++)
        WAIT_UNTIL(atomic_load(&st->w[i].wakes) > seen[i] + 20);
    atomic_store(&st->stop, 1);
    for (int i = 0; i < st->nthreads; i++)
        pthread_join(st->th[i], NULL);
}

#define STORM_ROUNDS SCALE(1000, 500, 200)
#define STORM_THREADS 3

/* Wakes of every kind from several threads while the task completes. */
TEST(wake_completion_race)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    static storm st;
    long wakes = 0, polls = 0;
    double stop = stress_deadline();
    int round;
    for (round = 0; round < STORM_ROUNDS && now_s() < stop; round++) {
        storm_start(&st, rt, STORM_THREADS, 0);
        long until = storm_wakes(&st) + round % 50;
        WAIT_UNTIL(storm_wakes(&st) >= until);
        atomic_store(&st.s.open, 1);
        edo_waker_wake(&st.s.clones[STORM_THREADS]); /* in case the threads' wakes came first */
        void *out = NULL;
        CHECK_EQ(edo_task_join(st.task, &out), 0);
        CHECK_EQ((intptr_t)out, 99);
        storm_stop(&st);
        CHECK_EQ(atomic_load(&st.s.dropped), 1);
        /* Wakes coalesce: never more polls than wakes (plus the first poll). */
        CHECK(atomic_load(&st.s.polls) <= storm_wakes(&st) + 2);
        wakes += storm_wakes(&st);
        polls += atomic_load(&st.s.polls);
        edo_task_free(st.task);
    }
    fprintf(stderr, "  %d rounds: %ld wakes, %ld polls\n", round, wakes, polls);
    edo_runtime_free(rt);
}

/* Abort from one of the waking threads, in the middle of the storm: the task is cancelled. */
TEST(abort_wake_race)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    static storm st;
    double stop = stress_deadline();
    for (int round = 0; round < STORM_ROUNDS && now_s() < stop; round++) {
        storm_start(&st, rt, STORM_THREADS, 1);
        long until = storm_wakes(&st) + round % 50;
        WAIT_UNTIL(storm_wakes(&st) >= until);
        atomic_store(&st.abort_go, 1);
        CHECK_EQ(edo_task_join(st.task, NULL), -ECANCELED);
        CHECK_EQ(atomic_load(&st.s.dropped), 1);
        storm_stop(&st);
        edo_waker_drop(&st.s.clones[STORM_THREADS]);
        CHECK_EQ(atomic_load(&st.s.dropped), 1);
        edo_task_free(st.task);
    }
    edo_runtime_free(rt);
}

/* Completion (open + wake) and abort released at the same instant from two threads, with
 * other threads waking meanwhile: either outcome is fine, but exactly one, with one drop. */
typedef struct {
    shared_task *s;
    edo_task *task;
    _Atomic int *go;
    int abort;
    int delay; /* spins before acting, so that either side may come first */
} racer;

static void *racer_main(void *arg)
{
    racer *r = arg;
    while (!atomic_load(r->go))
        ;
    for (volatile int i = 0; i < r->delay; i++)
        ;
    if (r->abort) {
        CHECK_EQ(edo_task_abort(r->task), 0);
    } else {
        atomic_store(&r->s->open, 1);
        edo_waker_wake(&r->s->clones[r->s->nclones - 1]);
    }
    return NULL;
}

TEST(abort_completion_race)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    static storm st;
    int completed = 0, cancelled = 0, round;
    double stop = stress_deadline();
    for (round = 0; round < STORM_ROUNDS && now_s() < stop; round++) {
        storm_start(&st, rt, 1, 0);
        _Atomic int go = 0;
        racer a = {&st.s, st.task, &go, 1, (round % 64) * 1000}, c = {&st.s, st.task, &go, 0, 0};
        pthread_t ta, tc;
        CHECK_EQ(pthread_create(&ta, NULL, racer_main, &a), 0);
        CHECK_EQ(pthread_create(&tc, NULL, racer_main, &c), 0);
        atomic_store(&go, 1);
        void *out = NULL;
        int rc = edo_task_join(st.task, &out);
        pthread_join(ta, NULL);
        pthread_join(tc, NULL);
        if (rc == 0) {
            CHECK_EQ((intptr_t)out, 99);
            completed++;
        } else {
            CHECK_EQ(rc, -ECANCELED);
            cancelled++;
        }
        CHECK_EQ(edo_task_is_finished(st.task), 1);
        storm_stop(&st);
        CHECK_EQ(atomic_load(&st.s.dropped), 1);
        edo_task_free(st.task);
    }
    fprintf(stderr, "  %d completed, %d cancelled\n", completed, cancelled);
    CHECK_EQ(completed + cancelled, round);
    edo_runtime_free(rt);
}

/* Tasks that yield on every poll (a yielded task waits in the queue still claimed as running)
 * woken from outside and aborted from outside at once: each ends cancelled, dropped once. */
typedef struct {
    pthread_mutex_t lock;
    edo_waker waker;
    _Atomic long polls;
    _Atomic int dropped;
} yield_box;

typedef struct {
    edo_future base;
    yield_box *b;
} forever_yield_future;

static edo_poll forever_yield_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    yield_box *b = ((forever_yield_future *)f)->b;
    if (atomic_fetch_add(&b->polls, 1) == 0) {
        pthread_mutex_lock(&b->lock);
        b->waker = edo_waker_clone(edo_context_waker(cx));
        pthread_mutex_unlock(&b->lock);
    }
    if (atomic_load(&b->polls) % 3 == 0) {
        edo_waker w = edo_waker_clone(edo_context_waker(cx));
        edo_waker_wake(&w); /* a yield by value */
    } else {
        edo_waker_wake_by_ref(edo_context_waker(cx));
    }
    return EDO_PENDING;
}
static void forever_yield_drop(edo_future *f)
{
    atomic_fetch_add(&((forever_yield_future *)f)->b->dropped, 1);
}
static const edo_future_vtable forever_yield_vtable = {forever_yield_poll, forever_yield_drop};

enum { YIELDERS = 16 };

typedef struct {
    yield_box *boxes;
    edo_task **tasks;
    _Atomic int *stop;
    int abort_from; /* aborts tasks [abort_from, YIELDERS) in turn, or -1: only wakes */
} yield_poker;

static void *yield_poker_main(void *arg)
{
    yield_poker *p = arg;
    int next_abort = p->abort_from;
    for (long i = 0; !atomic_load(p->stop); i++) {
        yield_box *b = &p->boxes[i % YIELDERS];
        pthread_mutex_lock(&b->lock);
        edo_waker w = edo_waker_clone(&b->waker);
        pthread_mutex_unlock(&b->lock);
        if (i % 2)
            edo_waker_wake(&w);
        else {
            edo_waker_wake_by_ref(&w);
            edo_waker_drop(&w);
        }
        if (next_abort >= 0 && next_abort < YIELDERS && i % 8 == 7)
            CHECK_EQ(edo_task_abort(p->tasks[next_abort++]), 0);
        if (i % 16 == 15)
            sched_yield();
    }
    return NULL;
}

static void abort_yielding(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    const int rounds = SCALE(40, 20, 20);
    static yield_box boxes[YIELDERS];
    double stop_at = stress_deadline();
    for (int round = 0; round < rounds && now_s() < stop_at; round++) {
        edo_task *tasks[YIELDERS];
        for (int i = 0; i < YIELDERS; i++) {
            pthread_mutex_init(&boxes[i].lock, NULL);
            boxes[i].waker = EDO_WAKER_EMPTY;
            atomic_store(&boxes[i].polls, 0);
            atomic_store(&boxes[i].dropped, 0);
            forever_yield_future f = {{&forever_yield_vtable}, &boxes[i]};
            CHECK_EQ(edo_spawn_future_on(rt, &f.base, sizeof f, &tasks[i]), 0);
        }
        _Atomic int stop = 0;
        yield_poker pk[2] = {{boxes, tasks, &stop, YIELDERS / 2}, {boxes, tasks, &stop, -1}};
        pthread_t th[2];
        for (int i = 0; i < 2; i++)
            CHECK_EQ(pthread_create(&th[i], NULL, yield_poker_main, &pk[i]), 0);
        /* This thread aborts the first half; a poker aborts the second half. Joining drives
         * a current-thread runtime meanwhile. */
        for (int i = 0; i < YIELDERS / 2; i++) {
            if (flavor == EDO_RUNTIME_MULTI_THREAD)
                WAIT_UNTIL(atomic_load(&boxes[i].polls) > 2);
            CHECK_EQ(edo_task_abort(tasks[i]), 0);
        }
        for (int i = 0; i < YIELDERS; i++) {
            CHECK_EQ(edo_task_join(tasks[i], NULL), -ECANCELED);
            CHECK_EQ(atomic_load(&boxes[i].dropped), 1);
        }
        atomic_store(&stop, 1);
        for (int i = 0; i < 2; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < YIELDERS; i++) {
            CHECK_EQ(atomic_load(&boxes[i].dropped), 1);
            edo_task_free(tasks[i]);
            edo_waker_drop(&boxes[i].waker);
            pthread_mutex_destroy(&boxes[i].lock);
        }
    }
    edo_runtime_free(rt);
}

TEST(abort_yielding_task_race_multi_thread) { abort_yielding(EDO_RUNTIME_MULTI_THREAD); }
TEST(abort_yielding_task_race_current_thread) { abort_yielding(EDO_RUNTIME_CURRENT_THREAD); }

/* ---- the join waker handoff ------------------------------------------------------------- */

/* A waker that counts its live clones and its wakes. */
typedef struct {
    _Atomic long refs; /* clones alive */
    _Atomic long wakes;
} counting_waker;

static edo_waker cw_clone(const void *data);
static void cw_wake_by_ref(const void *data)
{
    atomic_fetch_add(&((counting_waker *)data)->wakes, 1);
}
static void cw_drop(const void *data)
{
    long prev = atomic_fetch_sub(&((counting_waker *)data)->refs, 1);
    CHECK(prev > 0); /* a clone released twice */
}
static void cw_wake(const void *data)
{
    cw_wake_by_ref(data);
    cw_drop(data);
}
static const edo_waker_vtable cw_vtable = {cw_clone, cw_wake, cw_wake_by_ref, cw_drop};
static edo_waker cw_clone(const void *data)
{
    atomic_fetch_add(&((counting_waker *)data)->refs, 1);
    return (edo_waker){&cw_vtable, data};
}

typedef struct {
    edo_task *task;
    counting_waker w[2];
    int switches;    /* polls with alternating wakers before settling */
    int free_at;     /* >= 0: release the handle after that many polls instead of joining */
    _Atomic int go;
    int rc;
    void *out;
    int freed;
    int polls; /* how many times it polled */
} joiner;

static void *joiner_main(void *arg)
{
    joiner *j = arg;
    while (!atomic_load(&j->go))
        ;
    for (int i = 0;; i++) {
        if (j->free_at >= 0 && i == j->free_at) {
            edo_task_free(j->task); /* while a waker is (maybe) registered */
            j->freed = 1;
            return NULL;
        }
        counting_waker *cw = &j->w[i % 2];
        long wakes_before = atomic_load(&cw->wakes);
        edo_waker w = {&cw_vtable, cw}; /* borrowed: poll_join clones what it keeps */
        edo_context cx;
        edo_context_init(&cx, &w, NULL);
        j->polls++;
        if (edo_task_poll_join(j->task, &cx, &j->rc, &j->out) == EDO_READY)
            return NULL;
        if (i >= j->switches) /* the completion must wake the waker registered last */
            WAIT_UNTIL(atomic_load(&cw->wakes) > wakes_before);
    }
}

TEST(join_waker_handoff_race)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    const int rounds = SCALE(2000, 1000, 600);
    int freed = 0, swapped = 0, round;
    double stop = stress_deadline();
    for (round = 0; round < rounds && now_s() < stop; round++) {
        gate g;
        gate_init(&g);
        gate_future gf = gate_future_new(&g, (void *)55);
        static joiner j;
        memset(&j, 0, sizeof j);
        CHECK_EQ(edo_spawn_future_on(rt, &gf.base, sizeof gf, &j.task), 0);
        j.switches = round % 13;
        j.free_at = round % 5 == 4 ? round % 7 : -1;
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, joiner_main, &j), 0);
        atomic_store(&j.go, 1);
        for (volatile int spin = 0; spin < (round % 17) * 300; spin++)
            ;
        gate_open(&g); /* completes the task while the joiner swaps wakers */
        pthread_join(th, NULL);
        swapped += j.polls > 2;
        if (j.freed) {
            freed++;
            WAIT_UNTIL(atomic_load(&g.dropped) == 1); /* completes on its own */
        } else {
            CHECK_EQ(j.rc, 0);
            CHECK_EQ((intptr_t)j.out, 55);
            CHECK_EQ(atomic_load(&g.dropped), 1);
            edo_task_free(j.task);
        }
        /* Every clone the task took of either waker is released: by the handle, or by the
         * completer when the handle was gone first. */
        WAIT_UNTIL(atomic_load(&j.w[0].refs) == 0 && atomic_load(&j.w[1].refs) == 0);
        gate_destroy(&g);
    }
    fprintf(stderr, "  %d rounds, %d with the handle released early, %d swapped wakers twice+\n",
            round, freed, swapped);
    edo_runtime_free(rt);
}

/* A handle released while its task completes, with no join at all. */
TEST(handle_free_completion_race)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    const int rounds = SCALE(5000, 2000, 1500);
    _Atomic long ran = 0;
    double stop = stress_deadline();
    int round;
    for (round = 0; round < rounds && now_s() < stop; round++) {
        count_future c = count_new(&ran, NULL);
        edo_task *t;
        CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, &t), 0);
        if (round % 3 == 0) {
            /* register a waker first, so the completer has one to hand back */
            counting_waker cw = {0, 0};
            edo_waker w = {&cw_vtable, &cw};
            edo_context cx;
            edo_context_init(&cx, &w, NULL);
            int rc;
            edo_poll p = edo_task_poll_join(t, &cx, &rc, NULL);
            edo_task_free(t);
            WAIT_UNTIL(atomic_load(&cw.refs) == 0);
            if (p == EDO_READY)
                CHECK_EQ(rc, 0);
        } else {
            edo_task_free(t);
        }
    }
    WAIT_UNTIL(atomic_load(&ran) == round);
    edo_runtime_free(rt);
}

/* ---- spawning from many threads at once ------------------------------------------------- */

typedef struct {
    edo_runtime *rt;
    _Atomic long *ran;
    _Atomic int *go;
    int per_thread;
    long joined;
} spawner_arg;

/* Yields `left` times, then counts. */
typedef struct {
    edo_future base;
    _Atomic long *ran;
    int left;
} yielder;

static edo_poll yielder_poll(edo_future *f, edo_context *cx, void **out)
{
    yielder *y = (yielder *)f;
    if (y->left-- > 0) {
        edo_waker_wake_by_ref(edo_context_waker(cx));
        return EDO_PENDING;
    }
    atomic_fetch_add(y->ran, 1);
    *out = (void *)(intptr_t)3;
    return EDO_READY;
}
static const edo_future_vtable yielder_vtable = {yielder_poll, NULL};

static void *spawner_main(void *arg)
{
    spawner_arg *a = arg;
    while (!atomic_load(a->go))
        ;
    edo_task *keep[16];
    int nkeep = 0;
    for (int i = 0; i < a->per_thread; i++) {
        if (i % 3 == 0) {
            yielder y = {{&yielder_vtable}, a->ran, i % 5};
            CHECK_EQ(edo_spawn_future_on(a->rt, &y.base, sizeof y, &keep[nkeep++]), 0);
        } else {
            count_future c = count_new(a->ran, NULL);
            CHECK_EQ(edo_spawn_future_on(a->rt, &c.base, sizeof c, NULL), 0);
        }
        if (nkeep == 16 || i == a->per_thread - 1) {
            for (int k = 0; k < nkeep; k++) {
                void *out = NULL;
                CHECK_EQ(edo_task_join(keep[k], &out), 0);
                CHECK_EQ((intptr_t)out, 3);
                edo_task_free(keep[k]);
                a->joined++;
            }
            nkeep = 0;
        }
    }
    return NULL;
}

static void spawn_from_threads(edo_runtime_flavor flavor, int threads, int per_thread)
{
    edo_runtime *rt = new_rt(flavor, 2);
    _Atomic long ran = 0;
    _Atomic int go = 0;
    spawner_arg a[8];
    pthread_t th[8];
    CHECK(threads <= 8);
    for (int i = 0; i < threads; i++) {
        a[i] = (spawner_arg){rt, &ran, &go, per_thread, 0};
        CHECK_EQ(pthread_create(&th[i], NULL, spawner_main, &a[i]), 0);
    }
    watchdog wd;
    watchdog_start(&wd, 60, "spawning and joining from many threads");
    double t0 = now_s();
    atomic_store(&go, 1);
    long joined = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(th[i], NULL);
        joined += a[i].joined;
    }
    watchdog_stop(&wd);
    CHECK_EQ(joined, threads * ((per_thread + 2) / 3));
    if (flavor == EDO_RUNTIME_MULTI_THREAD) {
        WAIT_UNTIL(atomic_load(&ran) == (long)threads * per_thread);
    } else {
        /* The detached ones run while someone drives. */
        double until = now_s() + 60.0;
        while (atomic_load(&ran) < (long)threads * per_thread) {
            CHECK(now_s() < until);
            edo_yield_future y;
            edo_yield_future_init(&y);
            CHECK_EQ(edo_block_on(rt, &y.base, NULL), 0);
        }
    }
    fprintf(stderr, "  %d threads x %d spawns in %.2f s\n", threads, per_thread, now_s() - t0);
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&ran), (long)threads * per_thread);
}

TEST(spawn_from_many_threads_stress)
{
    spawn_from_threads(EDO_RUNTIME_MULTI_THREAD, 8, SCALE(20000, 10000, 5000));
}

/* Several threads joining on one current-thread runtime take turns driving it. */
TEST(current_thread_joiners_stress)
{
    spawn_from_threads(EDO_RUNTIME_CURRENT_THREAD, 4, SCALE(5000, 3000, 1500));
}

/* ---- remote pushes racing with workers going to sleep ---------------------------------- */

/* Opens its gate when it runs. */
typedef struct {
    edo_future base;
    gate *g;
    _Atomic long *ran;
} opener_future;

static edo_poll opener_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)cx;
    (void)out;
    opener_future *o = (opener_future *)f;
    if (o->g)
        gate_open(o->g);
    atomic_fetch_add(o->ran, 1);
    return EDO_READY;
}
static const edo_future_vtable opener_vtable = {opener_poll, NULL};

/* Spins for a delay that varies with `i`: on odd rounds finely over the first half microsecond
 * (where a current-thread driver goes from finding no work to sleeping), on even rounds coarsely
 * over tens of microseconds (a worker's spin-then-park window). */
static void push_delay(long i)
{
    long spins = i % 2 ? (i / 2 % 97) * 5 : (i / 2 % 97) * 400;
    for (volatile long spin = 0; spin < spins; spin++)
        ;
}

/* A plain thread spawns one task at a time, each just as the workers run out of work and go
 * to sleep: a push that lands while the last worker awake parks must still be run. This is a
 * probabilistic detector: a missed wake-up shows within a few thousand rounds on a 2-CPU
 * machine, so CI's repeated runs catch one that a single run may miss. */
static void remote_push_vs_park(unsigned workers)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, workers);
    const long n = SCALE(10000, 5000, 5000);
    _Atomic long ran = 0;
    watchdog wd;
    watchdog_start(&wd, 90, "a task spawned from outside while the workers went to sleep never ran");
    double stop = stress_deadline();
    for (long i = 0; i < n && now_s() < stop; i++) {
        push_delay(i);
        opener_future o = {{&opener_vtable}, NULL, &ran};
        CHECK_EQ(edo_spawn_future_on(rt, &o.base, sizeof o, NULL), 0);
        WAIT_UNTIL(atomic_load(&ran) == i + 1);
    }
    watchdog_stop(&wd);
    edo_runtime_free(rt);
}

TEST(remote_push_park_race_one_worker) { remote_push_vs_park(1); }
TEST(remote_push_park_race_two_workers) { remote_push_vs_park(2); }

/* The same against a current-thread runtime's driver: the main thread sits in edo_block_on on
 * a gate that only the spawned task opens. */
typedef struct {
    edo_runtime *rt;
    gate *gates;
    long n;
    _Atomic long *round; /* the round the main thread is in (or about to be) */
    _Atomic long ran;
} driver_feeder;

static void *feeder_main(void *arg)
{
    driver_feeder *d = arg;
    for (long i = 0; i < d->n; i++) {
        WAIT_UNTIL(atomic_load(d->round) >= i);
        push_delay(i);
        opener_future o = {{&opener_vtable}, &d->gates[i % 2], &d->ran};
        CHECK_EQ(edo_spawn_future_on(d->rt, &o.base, sizeof o, NULL), 0);
        WAIT_UNTIL(atomic_load(&d->ran) == i + 1);
    }
    return NULL;
}

TEST(remote_push_park_race_current_thread)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    const long n = SCALE(30000, 10000, 10000);
    gate gates[2];
    _Atomic long round = -1;
    driver_feeder d = {rt, gates, n, &round, 0};
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, feeder_main, &d), 0);
    watchdog wd;
    /* Rounds are fixed here (the feeder thread walks the same count): a generous watchdog. */
    watchdog_start(&wd, 90, "a current-thread driver missed a task spawned from outside");
    for (long i = 0; i < n; i++) {
        gate *g = &gates[i % 2];
        gate_init(g);
        gate_future gf = gate_future_new(g, (void *)(intptr_t)i);
        atomic_store(&round, i);
        void *out = NULL;
        CHECK_EQ(edo_block_on(rt, &gf.base, &out), 0);
        CHECK_EQ((intptr_t)out, i);
        WAIT_UNTIL(atomic_load(&d.ran) == i + 1); /* the opener has left the gate */
        gate_destroy(g);
    }
    pthread_join(th, NULL);
    watchdog_stop(&wd);
    edo_runtime_free(rt);
}

/* ---- runtimes created and freed with work in flight ------------------------------------- */

enum { CF_GATES = 20, CF_COUNTS = 50, CF_YIELDERS = 10, CF_BLOCKING = 5 };

typedef struct {
    gate *gates;
    _Atomic int *stop;
    edo_waker w[CF_GATES];
    int n;
} waker_pump;

/* Keeps waking the gate tasks' wakers from outside, through the runtime's shutdown. */
static void *pump_main(void *arg)
{
    waker_pump *p = arg;
    while (!atomic_load(p->stop))
        for (int i = 0; i < p->n; i++)
            edo_waker_wake_by_ref(&p->w[i]);
    for (int i = 0; i < p->n; i++)
        edo_waker_drop(&p->w[i]);
    return NULL;
}

static void *blocking_inc(void *arg)
{
    atomic_fetch_add((_Atomic long *)arg, 1);
    return (void *)1;
}

/* Self-waking forever: only shutdown ends it. */
static edo_poll spinner_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)f;
    (void)out;
    edo_waker_wake_by_ref(edo_context_waker(cx));
    return EDO_PENDING;
}
static void spinner_drop(edo_future *f)
{
    (void)f;
}
static const edo_future_vtable spinner_vtable = {spinner_poll, spinner_drop};

TEST(runtime_create_free_stress)
{
    const int rounds = SCALE(100, 60, 40);
    static gate gates[CF_GATES];
    double stop_at = stress_deadline();
    for (int round = 0; round < rounds && now_s() < stop_at; round++) {
        edo_runtime_flavor flavor = round % 3 == 2 ? EDO_RUNTIME_CURRENT_THREAD
                                                   : EDO_RUNTIME_MULTI_THREAD;
        edo_runtime *rt = new_rt(flavor, 2);
        _Atomic long ran = 0, blocking_ran = 0;
        edo_task *handles[CF_GATES + CF_COUNTS + CF_BLOCKING];
        int nh = 0;
        for (int i = 0; i < CF_GATES; i++) {
            gate_init(&gates[i]);
            gate_future gf = gate_future_new(&gates[i], NULL);
            CHECK_EQ(edo_spawn_future_on(rt, &gf.base, sizeof gf, i % 2 ? &handles[nh++] : NULL),
                     0);
        }
        for (int i = 0; i < CF_COUNTS; i++) {
            count_future c = count_new(&ran, (void *)1);
            CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, &handles[nh++]), 0);
        }
        for (int i = 0; i < CF_YIELDERS; i++) {
            edo_future sp = {&spinner_vtable};
            CHECK_EQ(edo_spawn_future_on(rt, &sp, sizeof sp, NULL), 0);
        }
        for (int i = 0; i < CF_BLOCKING; i++)
            CHECK_EQ(edo_spawn_blocking_on(rt, blocking_inc, &blocking_ran, &handles[nh++]),
                     0);

        /* On a multi-thread runtime, wake the gate tasks from another thread throughout. */
        _Atomic int stop = 0;
        static waker_pump pump;
        pump.gates = gates;
        pump.stop = &stop;
        pump.n = 0;
        pthread_t pt;
        if (flavor == EDO_RUNTIME_MULTI_THREAD && round % 2 == 0) {
            for (int i = 0; i < CF_GATES; i++) {
                WAIT_UNTIL(gate_has_waiter(&gates[i]));
                pthread_mutex_lock(&gates[i].lock);
                pump.w[pump.n++] = edo_waker_clone(&gates[i].waker);
                pthread_mutex_unlock(&gates[i].lock);
            }
            CHECK_EQ(pthread_create(&pt, NULL, pump_main, &pump), 0);
        }
        edo_runtime_free(rt);
        if (pump.n) {
            atomic_store(&stop, 1);
            pthread_join(pt, NULL);
        }
        for (int i = 0; i < CF_GATES; i++) {
            CHECK_EQ(atomic_load(&gates[i].dropped), 1);
            gate_destroy(&gates[i]);
        }
        long ok = 0;
        for (int i = 0; i < nh; i++) {
            CHECK_EQ(edo_task_is_finished(handles[i]), 1);
            void *out = NULL;
            int rc = edo_task_join(handles[i], &out);
            if (rc == 0) {
                CHECK_EQ((intptr_t)out, 1);
                ok++;
            } else {
                CHECK_EQ(rc, -ECANCELED);
            }
            edo_task_free(handles[i]);
        }
        CHECK(ok <= atomic_load(&ran) + atomic_load(&blocking_ran));
        CHECK(atomic_load(&ran) <= CF_COUNTS);
        CHECK(atomic_load(&blocking_ran) <= CF_BLOCKING);
    }
}
