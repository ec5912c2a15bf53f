/* Scale: a million tasks spawned and joined, and wakes from many plain threads at once. */
#include <dirent.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

/* ---- a million tasks ------------------------------------------------------------------- */

/* A million (a hundred thousand on a current-thread runtime) in release and under ASan, which
 * is about 3x slower; TSan, 10-20x slower, runs a tenth (and half) of that. */
#define MANY_TASKS SCALE(1000000L, 1000000L, 100000L)
#define MANY_TASKS_CURRENT SCALE(100000L, 100000L, 50000L)

typedef struct {
    edo_future base;
    long n;
    _Atomic long *sum;
} add_future;

static edo_poll add_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)cx;
    add_future *a = (add_future *)f;
    atomic_fetch_add_explicit(a->sum, a->n, memory_order_relaxed);
    *out = (void *)(intptr_t)a->n;
    return EDO_READY;
}
static const edo_future_vtable add_vtable = {add_poll, NULL};

typedef struct {
    edo_task **handles;
    long total;
    _Atomic long sum;
    long spawned, joined;
} spawner_state;

/* Spawns `total` add tasks with handles from inside the runtime, then joins every one. */
typedef struct {
    edo_future base;
    spawner_state *s;
} spawner_future;

static edo_poll spawner_poll(edo_future *f, edo_context *cx, void **out)
{
    spawner_state *s = ((spawner_future *)f)->s;
    for (; s->spawned < s->total; s->spawned++) {
        add_future a = {{&add_vtable}, s->spawned + 1, &s->sum};
        CHECK_EQ(edo_spawn_future(&a.base, sizeof a, &s->handles[s->spawned]), 0);
    }
    for (; s->joined < s->total; s->joined++) {
        int rc = 1;
        void *o = NULL;
        if (edo_task_poll_join(s->handles[s->joined], cx, &rc, &o) == EDO_PENDING)
            return EDO_PENDING;
        CHECK_EQ(rc, 0);
        CHECK_EQ((intptr_t)o, s->joined + 1);
        edo_task_free(s->handles[s->joined]);
    }
    *out = (void *)(intptr_t)s->total;
    return EDO_READY;
}
static const edo_future_vtable spawner_vtable = {spawner_poll, NULL};

static spawner_state *spawner_new(long total)
{
    spawner_state *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    s->handles = malloc((size_t)total * sizeof *s->handles);
    CHECK(s->handles != NULL);
    s->total = total;
    return s;
}

static void spawner_check_free(spawner_state *s)
{
    CHECK_EQ(s->joined, s->total);
    CHECK_EQ(atomic_load(&s->sum), s->total * (s->total + 1) / 2);
    free(s->handles);
    free(s);
}

TEST(million_spawn_join_from_task)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    spawner_state *s = spawner_new(MANY_TASKS);
    spawner_future root = {{&spawner_vtable}, s};
    double t0 = now_s();
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &root.base, sizeof root, &t), 0);
    void *out = NULL;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, MANY_TASKS);
    edo_task_free(t);
    fprintf(stderr, "  %ld tasks spawned and joined in %.2f s\n", MANY_TASKS, now_s() - t0);
    spawner_check_free(s);
    edo_runtime_free(rt);
}

TEST(million_detached_from_plain_thread)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    _Atomic long ran = 0;
    double t0 = now_s();
    for (long i = 0; i < MANY_TASKS; i++) {
        count_future c = count_new(&ran, NULL);
        CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, NULL), 0);
    }
    WAIT_UNTIL(atomic_load(&ran) >= MANY_TASKS);
    fprintf(stderr, "  %ld detached tasks ran in %.2f s\n", MANY_TASKS, now_s() - t0);
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&ran), MANY_TASKS); /* and none ran twice */
}

TEST(many_tasks_current_thread)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    spawner_state *s = spawner_new(MANY_TASKS_CURRENT);
    spawner_future root = {{&spawner_vtable}, s};
    void *out = NULL;
    CHECK_EQ(edo_block_on(rt, &root.base, &out), 0);
    CHECK_EQ((intptr_t)out, MANY_TASKS_CURRENT);
    spawner_check_free(s);

    /* And detached, spawned from outside, run by a later block_on. */
    _Atomic long ran = 0;
    for (long i = 0; i < MANY_TASKS_CURRENT; i++) {
        count_future c = count_new(&ran, NULL);
        CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, NULL), 0);
    }
    CHECK_EQ(atomic_load(&ran), 0); /* nobody drives a current-thread runtime yet */
    spawner_state *s2 = spawner_new(1);
    spawner_future last = {{&spawner_vtable}, s2};
    CHECK_EQ(edo_block_on(rt, &last.base, NULL), 0);
    spawner_check_free(s2);
    /* block_on returns once its own future is done; the rest runs on later drives. */
    while (atomic_load(&ran) < MANY_TASKS_CURRENT) {
        edo_yield_future y;
        edo_yield_future_init(&y);
        CHECK_EQ(edo_block_on(rt, &y.base, NULL), 0);
    }
    CHECK_EQ(atomic_load(&ran), MANY_TASKS_CURRENT);
    edo_runtime_free(rt);
}

/* ---- wakes from many plain threads -------------------------------------------------------- */

/* A task that finishes once it received `target` tickets; every ticket comes with a wake. */
typedef struct {
    pthread_mutex_t lock;
    edo_waker waker;
    long tickets, target;
    _Atomic long polls;
    _Atomic int done;
} ticket_box;

typedef struct {
    edo_future base;
    ticket_box *b;
} ticket_future;

static edo_poll ticket_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    ticket_box *b = ((ticket_future *)f)->b;
    atomic_fetch_add(&b->polls, 1);
    pthread_mutex_lock(&b->lock);
    if (b->tickets >= b->target) {
        pthread_mutex_unlock(&b->lock);
        atomic_store(&b->done, 1);
        return EDO_READY;
    }
    if (!edo_waker_will_wake(&b->waker, edo_context_waker(cx))) {
        edo_waker_drop(&b->waker);
        b->waker = edo_waker_clone(edo_context_waker(cx));
    }
    pthread_mutex_unlock(&b->lock);
    return EDO_PENDING;
}
static const edo_future_vtable ticket_vtable = {ticket_poll, NULL};

enum { WAKE_THREADS = 8, WAKES_PER_THREAD = 1000, WAKE_TASKS = 100 };

typedef struct {
    ticket_box *boxes;
    int index;
    _Atomic int *go;
} waker_thread_arg;

static void *waker_thread(void *arg)
{
    waker_thread_arg *a = arg;
    while (!atomic_load(a->go))
        sched_yield();
    for (int j = 0; j < WAKES_PER_THREAD; j++) {
        ticket_box *b = &a->boxes[(a->index * WAKES_PER_THREAD + j) % WAKE_TASKS];
        pthread_mutex_lock(&b->lock);
        b->tickets++;
        edo_waker w = edo_waker_clone(&b->waker);
        pthread_mutex_unlock(&b->lock);
        if (j % 2)
            edo_waker_wake(&w);
        else {
            edo_waker_wake_by_ref(&w);
            edo_waker_drop(&w);
        }
    }
    return NULL;
}

static void wakes_from_many_threads(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    static ticket_box boxes[WAKE_TASKS];
    edo_task *handles[WAKE_TASKS];
    const long per_task = (long)WAKE_THREADS * WAKES_PER_THREAD / WAKE_TASKS;
    for (int i = 0; i < WAKE_TASKS; i++) {
        pthread_mutex_init(&boxes[i].lock, NULL);
        boxes[i].waker = EDO_WAKER_EMPTY;
        boxes[i].tickets = 0;
        boxes[i].target = per_task;
        atomic_store(&boxes[i].polls, 0);
        atomic_store(&boxes[i].done, 0);
        ticket_future tf = {{&ticket_vtable}, &boxes[i]};
        CHECK_EQ(edo_spawn_future_on(rt, &tf.base, sizeof tf, &handles[i]), 0);
    }
    _Atomic int go = 0;
    pthread_t th[WAKE_THREADS];
    waker_thread_arg args[WAKE_THREADS];
    for (int i = 0; i < WAKE_THREADS; i++) {
        args[i] = (waker_thread_arg){boxes, i, &go};
        CHECK_EQ(pthread_create(&th[i], NULL, waker_thread, &args[i]), 0);
    }
    watchdog wd;
    watchdog_start(&wd, 60, "tasks woken from many threads did not all complete");
    atomic_store(&go, 1);
    /* Joining drives a current-thread runtime, while the wakes are still coming. */
    long polls = 0;
    for (int i = 0; i < WAKE_TASKS; i++) {
        CHECK_EQ(edo_task_join(handles[i], NULL), 0);
        edo_task_free(handles[i]);
        CHECK_EQ(atomic_load(&boxes[i].done), 1);
        CHECK_EQ(boxes[i].tickets, per_task);
        /* At most one poll per wake, plus the first. */
        CHECK(atomic_load(&boxes[i].polls) >= 1);
        CHECK(atomic_load(&boxes[i].polls) <= per_task + 1);
        polls += atomic_load(&boxes[i].polls);
    }
    for (int i = 0; i < WAKE_THREADS; i++)
        pthread_join(th[i], NULL);
    watchdog_stop(&wd);
    fprintf(stderr, "  %d wakes gave %ld polls of %d tasks\n", WAKE_THREADS * WAKES_PER_THREAD,
            polls, WAKE_TASKS);
    edo_runtime_free(rt);
    for (int i = 0; i < WAKE_TASKS; i++) {
        edo_waker_drop(&boxes[i].waker);
        pthread_mutex_destroy(&boxes[i].lock);
    }
}

TEST(wakes_from_many_threads_multi_thread) { wakes_from_many_threads(EDO_RUNTIME_MULTI_THREAD); }
TEST(wakes_from_many_threads_current_thread)
{
    wakes_from_many_threads(EDO_RUNTIME_CURRENT_THREAD);
}
