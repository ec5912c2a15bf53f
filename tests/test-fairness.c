/* Fairness: busy tasks never starve remote spawns or the local queue. */
#include <dirent.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

/* ---- fairness ---------------------------------------------------------------------------- */

/* A task that never finishes: it wakes itself on every poll. On request it pauses inside one
 * poll (so the test knows exactly which poll it is in) until resumed. */
typedef struct {
    _Atomic long polls;
    _Atomic int pause_req, paused, resume, stop;
    _Atomic long paused_at;
} busy_state;

typedef struct {
    edo_future base;
    busy_state *s;
} busy_future;

static edo_poll busy_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    busy_state *s = ((busy_future *)f)->s;
    long n = atomic_fetch_add(&s->polls, 1) + 1;
    if (atomic_exchange(&s->pause_req, 0)) {
        atomic_store(&s->paused_at, n);
        atomic_store(&s->paused, 1);
        while (!atomic_load(&s->resume))
            sched_yield();
    }
    if (atomic_load(&s->stop))
        return EDO_READY;
    edo_waker_wake_by_ref(edo_context_waker(cx));
    return EDO_PENDING;
}
static const edo_future_vtable busy_vtable = {busy_poll, NULL};

/* Records how many polls the busy task had made when this task ran. */
typedef struct {
    edo_future base;
    _Atomic long *polls;
    _Atomic long *ran_at;
} probe_future;

static edo_poll probe_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)cx;
    (void)out;
    probe_future *p = (probe_future *)f;
    atomic_store(p->ran_at, atomic_load(p->polls));
    return EDO_READY;
}
static const edo_future_vtable probe_vtable = {probe_poll, NULL};

/* One worker, one task that always wakes itself: a task spawned from outside (into the global
 * queue) must run within about `interval` polls of the busy task. The busy task is paused
 * inside a known poll while the probe is spawned, so the count is exact. */
static void remote_spawn_not_starved(unsigned interval)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 1, .global_queue_interval = interval};
    CHECK_EQ(edo_runtime_new(&rt, &cfg), 0);
    unsigned expect = interval ? interval : 61; /* the documented default */
    busy_state s;
    memset(&s, 0, sizeof s);
    busy_future b = {{&busy_vtable}, &s};
    edo_task *bt;
    CHECK_EQ(edo_runtime_spawn_future(rt, &b.base, sizeof b, &bt), 0);
    WAIT_UNTIL(atomic_load(&s.polls) > 5);

    long worst = 0;
    for (int round = 0; round < 25; round++) {
        atomic_store(&s.paused, 0);
        atomic_store(&s.resume, 0);
        atomic_store(&s.pause_req, 1);
        WAIT_UNTIL(atomic_load(&s.paused));
        long k = atomic_load(&s.paused_at);
        _Atomic long ran_at = -1;
        probe_future p = {{&probe_vtable}, &s.polls, &ran_at};
        edo_task *pt;
        CHECK_EQ(edo_runtime_spawn_future(rt, &p.base, sizeof p, &pt), 0);
        atomic_store(&s.resume, 1);
        WAIT_UNTIL(atomic_load(&ran_at) >= 0); /* starvation fails here, after 20 s */
        CHECK_EQ(edo_task_join(pt, NULL), 0);
        edo_task_free(pt);
        long waited = atomic_load(&ran_at) - k;
        CHECK(waited >= 0);
        if (waited > worst)
            worst = waited;
        /* Let the busy task run a varying number of polls so the rounds start at different
         * points of the worker's global-queue cycle. */
        long until = atomic_load(&s.polls) + round * 3 + 1;
        WAIT_UNTIL(atomic_load(&s.polls) >= until);
    }
    fprintf(stderr, "  interval %u: the remote task waited at most %ld busy polls\n", expect,
            worst);
    CHECK(worst <= 2 * (long)expect);
    atomic_store(&s.stop, 1);
    CHECK_EQ(edo_task_join(bt, NULL), 0);
    edo_task_free(bt);
    edo_runtime_free(rt);
}

TEST(fairness_remote_spawn_default_interval) { remote_spawn_not_starved(0); }
TEST(fairness_remote_spawn_interval_7) { remote_spawn_not_starved(7); }
TEST(fairness_remote_spawn_interval_1) { remote_spawn_not_starved(1); }

/* Two tasks that wake each other on every poll (each wake from a running task goes to the
 * run-next slot) must not starve a third task queued on the same worker, nor a remote one. */
typedef struct {
    pthread_mutex_t lock;
    edo_waker w[2];
    _Atomic long polls;
    _Atomic int stop;
    _Atomic long spawned_at, third_ran_at, remote_ran_at;
    edo_task *third;
} pingpong;

typedef struct {
    edo_future base;
    pingpong *p;
    int side;
} pingpong_future;

static edo_poll pingpong_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    pingpong_future *pf = (pingpong_future *)f;
    pingpong *p = pf->p;
    long n = atomic_fetch_add(&p->polls, 1) + 1;
    pthread_mutex_lock(&p->lock);
    if (!edo_waker_will_wake(&p->w[pf->side], edo_context_waker(cx))) {
        edo_waker_drop(&p->w[pf->side]);
        p->w[pf->side] = edo_waker_clone(edo_context_waker(cx));
    }
    edo_waker other = edo_waker_clone(&p->w[1 - pf->side]);
    pthread_mutex_unlock(&p->lock);
    if (pf->side == 0 && n >= 20 && atomic_load(&p->spawned_at) < 0) {
        /* Spawned from the running task: lands in this worker's run-next slot / queue. */
        probe_future pr = {{&probe_vtable}, &p->polls, &p->third_ran_at};
        CHECK_EQ(edo_spawn_future(&pr.base, sizeof pr, &p->third), 0);
        atomic_store(&p->spawned_at, n);
    }
    edo_waker_wake(&other);
    return atomic_load(&p->stop) ? EDO_READY : EDO_PENDING;
}
static const edo_future_vtable pingpong_vtable = {pingpong_poll, NULL};

TEST(fairness_pingpong_does_not_starve_queue)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
    pingpong p;
    memset(&p, 0, sizeof p);
    pthread_mutex_init(&p.lock, NULL);
    atomic_store(&p.spawned_at, -1);
    atomic_store(&p.third_ran_at, -1);
    atomic_store(&p.remote_ran_at, -1);
    edo_task *a, *b;
    pingpong_future fa = {{&pingpong_vtable}, &p, 0}, fb = {{&pingpong_vtable}, &p, 1};
    CHECK_EQ(edo_runtime_spawn_future(rt, &fa.base, sizeof fa, &a), 0);
    CHECK_EQ(edo_runtime_spawn_future(rt, &fb.base, sizeof fb, &b), 0);

    WAIT_UNTIL(atomic_load(&p.third_ran_at) >= 0);
    long waited = atomic_load(&p.third_ran_at) - atomic_load(&p.spawned_at);
    fprintf(stderr, "  the queued task waited %ld ping-pong polls\n", waited);
    CHECK(waited >= 0);
    CHECK(waited <= 32); /* the run-next slot yields to the queue after a few polls */
    CHECK_EQ(edo_task_join(p.third, NULL), 0);
    edo_task_free(p.third);

    /* A remote task gets through too. */
    probe_future pr = {{&probe_vtable}, &p.polls, &p.remote_ran_at};
    edo_task *rt_task;
    CHECK_EQ(edo_runtime_spawn_future(rt, &pr.base, sizeof pr, &rt_task), 0);
    WAIT_UNTIL(atomic_load(&p.remote_ran_at) >= 0);
    CHECK_EQ(edo_task_join(rt_task, NULL), 0);
    edo_task_free(rt_task);

    long before = atomic_load(&p.polls);
    WAIT_UNTIL(atomic_load(&p.polls) > before + 100); /* still ping-ponging */
    atomic_store(&p.stop, 1);
    CHECK_EQ(edo_task_join(a, NULL), 0);
    CHECK_EQ(edo_task_join(b, NULL), 0);
    edo_task_free(a);
    edo_task_free(b);
    edo_runtime_free(rt);
    edo_waker_drop(&p.w[0]);
    edo_waker_drop(&p.w[1]);
    pthread_mutex_destroy(&p.lock);
}
