/* Tasks: spawn, join, abort and wake in every state, on both runtime flavours. */
#include <string.h>

#include "harness.h"
#include "util.h"

static void spawn_join_output(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    _Atomic long n = 0;
    count_future c = count_new(&n, (void *)(intptr_t)42);
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, &t), 0);
    CHECK(edo_task_id(t) != 0);
    void *out = NULL;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 42);
    CHECK_EQ(atomic_load(&n), 1);
    CHECK_EQ(edo_task_is_finished(t), 1);
    CHECK_EQ(edo_task_join(t, &out), -EALREADY); /* joining twice */
    edo_task_free(t);
    edo_runtime_free(rt);
}

TEST(spawn_join_multi_thread) { spawn_join_output(EDO_RUNTIME_MULTI_THREAD); }
TEST(spawn_join_current_thread) { spawn_join_output(EDO_RUNTIME_CURRENT_THREAD); }

TEST(task_ids_are_unique)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    enum { N = 1000 };
    static edo_task *tasks[N];
    static uint64_t ids[N];
    for (int i = 0; i < N; i++) {
        count_future c = count_new(NULL, NULL);
        CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, &tasks[i]), 0);
        ids[i] = edo_task_id(tasks[i]);
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ(edo_task_join(tasks[i], NULL), 0);
        edo_task_free(tasks[i]);
        for (int j = 0; j < i; j++)
            CHECK(ids[i] != ids[j]);
    }
    edo_runtime_free(rt);
}

/* Wake from another thread while the task is idle, then complete it. */
static void wake_idle_then_open(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    gate g;
    gate_init(&g);
    gate_future gf = gate_future_new(&g, (void *)7);
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &gf.base, sizeof gf, &t), 0);
    if (flavor == EDO_RUNTIME_MULTI_THREAD) {
        WAIT_UNTIL(gate_has_waiter(&g));
        gate_poke(&g); /* spurious wake: polled again, still pending */
        WAIT_UNTIL(atomic_load(&g.polls) >= 2);
        CHECK_EQ(edo_task_is_finished(t), 0);
    }
    gate_open(&g);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 7);
    CHECK_EQ(atomic_load(&g.dropped), 1);
    edo_task_free(t);
    edo_runtime_free(rt);
    gate_destroy(&g);
}

TEST(wake_idle_multi_thread) { wake_idle_then_open(EDO_RUNTIME_MULTI_THREAD); }
TEST(wake_idle_current_thread) { wake_idle_then_open(EDO_RUNTIME_CURRENT_THREAD); }

/* On its first poll: registers with its gate, signals it is running, and spins until
 * released, so the test can act while the task is RUNNING. Later polls wait on the gate. */
typedef struct {
    edo_future base;
    _Atomic int *running, *release;
    gate *g;
    int polls;
} hold_future;

static edo_poll hold_poll(edo_future *f, edo_context *cx, void **out)
{
    hold_future *h = (hold_future *)f;
    gate_future inner = gate_future_new(h->g, (void *)9);
    edo_poll p = gate_vtable.poll(&inner.base, cx, out);
    if (h->polls++ == 0) {
        atomic_store(h->running, 1);
        while (!atomic_load(h->release))
            sched_yield();
        return EDO_PENDING; /* whatever happened meanwhile must lead to a re-poll */
    }
    return p;
}
static const edo_future_vtable hold_vtable = {hold_poll, NULL};

TEST(wake_while_running_repolls)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    gate g;
    gate_init(&g);
    _Atomic int running = 0, release = 0;
    hold_future h = {{&hold_vtable}, &running, &release, &g, 0};
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &h.base, sizeof h, &t), 0);
    WAIT_UNTIL(atomic_load(&running));
    gate_open(&g); /* wakes the task while its first poll is still running */
    atomic_store(&release, 1);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 9);
    CHECK_EQ(atomic_load(&g.polls), 2);
    edo_task_free(t);
    edo_runtime_free(rt);
    gate_destroy(&g);
}

/* Self-wake during the poll (while RUNNING): the task is polled again, not lost. */
typedef struct {
    edo_future base;
    int left;
} self_wake_future;

static edo_poll self_wake_poll(edo_future *f, edo_context *cx, void **out)
{
    self_wake_future *s = (self_wake_future *)f;
    if (s->left-- > 0) {
        edo_waker w = edo_waker_clone(edo_context_waker(cx));
        edo_waker_wake(&w); /* by value, while running */
        return EDO_PENDING;
    }
    *out = (void *)1;
    return EDO_READY;
}
static const edo_future_vtable self_wake_vtable = {self_wake_poll, NULL};

TEST(wake_by_value_while_running)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    self_wake_future s = {{&self_wake_vtable}, 1000};
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &s.base, sizeof s, &t), 0);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 1);
    edo_task_free(t);
    edo_runtime_free(rt);
}

TEST(wake_after_completion_is_harmless)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    gate g;
    gate_init(&g);
    gate_future gf = gate_future_new(&g, NULL);
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &gf.base, sizeof gf, &t), 0);
    WAIT_UNTIL(gate_has_waiter(&g));
    pthread_mutex_lock(&g.lock);
    edo_waker kept = edo_waker_clone(&g.waker); /* outlives the task */
    pthread_mutex_unlock(&g.lock);
    gate_open(&g);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    edo_waker_wake_by_ref(&kept);
    edo_waker extra = edo_waker_clone(&kept);
    edo_waker_wake(&extra);
    edo_runtime_free(rt);
    edo_waker_wake(&kept); /* even after the runtime is gone */
    gate_destroy(&g);
}

static void abort_idle(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    gate g;
    gate_init(&g);
    gate_future gf = gate_future_new(&g, NULL);
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &gf.base, sizeof gf, &t), 0);
    if (flavor == EDO_RUNTIME_MULTI_THREAD)
        WAIT_UNTIL(gate_has_waiter(&g));
    CHECK_EQ(edo_task_abort(t), 0);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    CHECK_EQ(atomic_load(&g.dropped), 1);
    CHECK_EQ(edo_task_abort(t), 0); /* aborting a finished task: nothing happens */
    CHECK_EQ(edo_task_join(t, NULL), -EALREADY);
    edo_task_free(t);
    edo_runtime_free(rt);
    gate_destroy(&g);
}

TEST(abort_idle_multi_thread) { abort_idle(EDO_RUNTIME_MULTI_THREAD); }
TEST(abort_queued_current_thread) { abort_idle(EDO_RUNTIME_CURRENT_THREAD); }

TEST(abort_queued_never_polls)
{
    /* Current-thread: nothing runs until someone drives, so the task is still queued. */
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    gate g;
    gate_init(&g);
    gate_future gf = gate_future_new(&g, NULL);
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &gf.base, sizeof gf, &t), 0);
    CHECK_EQ(edo_task_abort(t), 0);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    CHECK_EQ(atomic_load(&g.polls), 0);
    CHECK_EQ(atomic_load(&g.dropped), 1);
    edo_task_free(t);
    edo_runtime_free(rt);
    gate_destroy(&g);
}

TEST(abort_running)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    gate g;
    gate_init(&g);
    _Atomic int running = 0, release = 0;
    hold_future h = {{&hold_vtable}, &running, &release, &g, 0};
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &h.base, sizeof h, &t), 0);
    WAIT_UNTIL(atomic_load(&running));
    CHECK_EQ(edo_task_abort(t), 0); /* while its poll is in progress */
    CHECK_EQ(edo_task_is_finished(t), 0);
    atomic_store(&release, 1);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
    edo_runtime_free(rt);
    gate_destroy(&g);
}

/* A poll in progress when the abort comes and that completes: the task keeps its output (a
 * malloc'd one here, which ASan's leak checker watches), and the join delivers it. */
static edo_poll malloc_when_released(edo_future *f, edo_context *cx, void **out)
{
    (void)cx;
    hold_future *h = (hold_future *)f;
    atomic_store(h->running, 1);
    while (!atomic_load(h->release))
        sched_yield();
    *out = malloc(24);
    return EDO_READY;
}
static const edo_future_vtable malloc_when_released_vtable = {malloc_when_released, NULL};

TEST(abort_during_completing_poll_keeps_output)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    _Atomic int running = 0, release = 0;
    hold_future h = {{&malloc_when_released_vtable}, &running, &release, NULL, 0};
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &h.base, sizeof h, &t), 0);
    WAIT_UNTIL(atomic_load(&running));
    CHECK_EQ(edo_task_abort(t), 0);
    atomic_store(&release, 1);
    void *out = NULL;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK(out != NULL);
    free(out);
    edo_task_free(t);
    edo_runtime_free(rt);
}

TEST(abort_after_completion_keeps_output)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    count_future c = count_new(NULL, (void *)5);
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, &t), 0);
    WAIT_UNTIL(edo_task_is_finished(t) == 1);
    CHECK_EQ(edo_task_abort(t), 0);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 5);
    edo_task_free(t);
    edo_runtime_free(rt);
}

TEST(free_handle_task_runs_on)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    gate g;
    gate_init(&g);
    gate_future gf = gate_future_new(&g, NULL);
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &gf.base, sizeof gf, &t), 0);
    WAIT_UNTIL(gate_has_waiter(&g));
    edo_task_free(t); /* detaches */
    gate_open(&g);
    WAIT_UNTIL(atomic_load(&g.dropped) == 1); /* it completed */
    _Atomic long n = 0;
    count_future c = count_new(&n, NULL);
    CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, NULL), 0); /* detached spawn */
    WAIT_UNTIL(atomic_load(&n) == 1);
    edo_runtime_free(rt);
    gate_destroy(&g);
}

/* Join from a future (the poll form), inside the runtime. */
typedef struct {
    edo_future base;
    edo_task *inner;
    int spawned;
} parent_future;

static edo_poll parent_poll(edo_future *f, edo_context *cx, void **out)
{
    parent_future *p = (parent_future *)f;
    if (!p->spawned) {
        count_future c = count_new(NULL, (void *)11);
        CHECK_EQ(edo_spawn_future(&c.base, sizeof c, &p->inner), 0);
        p->spawned = 1;
        void *o;
        CHECK_EQ(edo_task_join(p->inner, &o), -EDEADLK); /* blocking join inside: refused */
    }
    int rc;
    void *o = NULL;
    if (edo_task_poll_join(p->inner, cx, &rc, &o) == EDO_PENDING)
        return EDO_PENDING;
    CHECK_EQ(rc, 0);
    edo_task_free(p->inner);
    *out = (void *)((intptr_t)o + 1);
    return EDO_READY;
}
static const edo_future_vtable parent_vtable = {parent_poll, NULL};

static void join_from_future(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    parent_future p = {{&parent_vtable}, NULL, 0};
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &p.base, sizeof p, &t), 0);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 12);
    edo_task_free(t);
    edo_runtime_free(rt);
}

TEST(join_from_future_multi_thread) { join_from_future(EDO_RUNTIME_MULTI_THREAD); }
TEST(join_from_future_current_thread) { join_from_future(EDO_RUNTIME_CURRENT_THREAD); }

TEST(block_on_polls_in_place)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    parent_future p = {{&parent_vtable}, NULL, 0};
    void *out;
    CHECK_EQ(edo_block_on(rt, &p.base, &out), 0);
    CHECK_EQ((intptr_t)out, 12);
    edo_runtime_free(rt);
}

TEST(bad_input)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
    count_future c = count_new(NULL, NULL);
    edo_future no_poll = {NULL};
    edo_task *t = NULL;
    CHECK_EQ(edo_spawn_future_on(NULL, &c.base, sizeof c, &t), -EINVAL);
    CHECK_EQ(edo_spawn_future_on(rt, NULL, sizeof c, &t), -EINVAL);
    CHECK_EQ(edo_spawn_future_on(rt, &no_poll, sizeof no_poll, &t), -EINVAL);
    CHECK_EQ(edo_spawn_future_on(rt, &c.base, 0, &t), -EINVAL);
    CHECK_EQ(edo_spawn_future_on(rt, &c.base, 1, &t), -EINVAL);
    CHECK_EQ(edo_spawn_future(&c.base, sizeof c, &t), -EPERM); /* not inside a runtime */
    CHECK_EQ(edo_spawn_future(NULL, sizeof c, &t), -EINVAL);
    CHECK(t == NULL);
    CHECK_EQ(edo_task_join(NULL, NULL), -EINVAL);
    CHECK_EQ(edo_task_abort(NULL), -EINVAL);
    CHECK_EQ(edo_task_is_finished(NULL), false);
    CHECK_EQ(edo_task_id(NULL), 0);
    edo_task_free(NULL);
    int rc;
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    CHECK_EQ(edo_task_poll_join(NULL, &cx, &rc, NULL), EDO_READY);
    CHECK_EQ(rc, -EINVAL);
    CHECK_EQ(edo_block_on(NULL, &c.base, NULL), -EINVAL);
    CHECK_EQ(edo_block_on(rt, NULL, NULL), -EINVAL);
    CHECK(strcmp(edo_strerror(-ECANCELED), "Operation canceled (the task was aborted)") == 0);
    CHECK(strcmp(edo_strerror(-123456), "Unknown error") == 0);
    edo_runtime_free(rt);
    edo_runtime_free(NULL);
}

static edo_poll id_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)f;
    (void)cx;
    *out = (void *)(uintptr_t)edo_task_current_id();
    return EDO_READY;
}
static const edo_future_vtable id_vtable = {id_poll, NULL};

TEST(current_task_id)
{
    CHECK_EQ(edo_task_current_id(), 0);
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    edo_future f = {&id_vtable};
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &f, sizeof f, &t), 0);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((uintptr_t)out, edo_task_id(t));
    edo_task_free(t);
    edo_runtime_free(rt);
}

/* A remote spawn racing with the current-thread driver going to sleep must still wake it (the
 * last worker awake re-checks the queues after announcing it parks). */
typedef struct {
    edo_runtime *rt;
    gate *g;
} opener_arg;

static edo_poll open_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)cx, (void)out;
    gate_open(((gate_future *)f)->g);
    return EDO_READY;
}
static const edo_future_vtable open_vtable = {open_poll, NULL};

static void *spawn_opener(void *arg)
{
    opener_arg *a = arg;
    WAIT_UNTIL(gate_has_waiter(a->g));
    gate_future opener = {{&open_vtable}, a->g, NULL};
    CHECK_EQ(edo_spawn_future_on(a->rt, &opener.base, sizeof opener, NULL), 0);
    return NULL;
}

TEST(remote_spawn_wakes_current_thread_driver)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    for (int i = 0; i < 500; i++) {
        gate g;
        gate_init(&g);
        opener_arg a = {rt, &g};
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, spawn_opener, &a), 0);
        gate_future gf = gate_future_new(&g, (void *)3);
        void *out;
        CHECK_EQ(edo_block_on(rt, &gf.base, &out), 0);
        CHECK_EQ((intptr_t)out, 3);
        pthread_join(th, NULL);
        gate_destroy(&g);
    }
    edo_runtime_free(rt);
}
