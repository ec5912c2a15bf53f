/* Bad input (issue 13), the core: every function of edo/task.h and edo/runtime.h (tasks, their
 * handles, task-locals, join sets and scopes, spawning, edo_block_on, edo_main, the blocking
 * pool, runtimes and their handles) called with each kind of nonsense it can be handed (NULL
 * handles and out-pointers, sizes beyond the documented maxima, durations at the end of time,
 * a task waiting for itself, a runtime shut down from inside or twice, a join set used by its
 * own tasks after it was freed), checking the documented result. Run under ASan and UBSan, a
 * crash, a leak or undefined behaviour fails the test too. One test per area; each calls from
 * a plain thread and from inside a coroutine on a runtime. */
#include <limits.h>
#include <string.h>

#include "harness.h"
#include "util.h"

static edo_context noop_cx(edo_waker *w)
{
    *w = edo_waker_noop();
    return (edo_context){w, NULL};
}

/* Runs fn() as a coroutine on a fresh multi-thread runtime of two workers (in_coroutine: on a
 * current-thread one). */
static void in_multi(void (*fn)(void))
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, call_void_fn, (void *)fn);
}

static void *return_arg(void *arg) { return arg; }

static _Atomic int drops;
static void count_drop(void *p)
{
    (void)p;
    atomic_fetch_add(&drops, 1);
}

/* Ready at once with output 42. */
static edo_poll ready_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)f;
    (void)cx;
    *out = (void *)42;
    return EDO_READY;
}
static const edo_future_vtable ready_vtable = {ready_poll, NULL};
static const edo_future_vtable no_poll_vtable = {NULL, NULL};

/* The largest future a spawn accepts: the header, then padding up to the maximum. */
typedef struct big_future {
    edo_future base;
    char pad[EDO_MAX_FUTURE_SIZE - sizeof(edo_future)];
} big_future;
static big_future big = {{&ready_vtable}, {0}};

/* ---- task.h: spawning futures ----------------------------------------------------------------- */

static void spawn_future_calls(void)
{
    edo_runtime *rt = edo_runtime_current();
    edo_task *t = (edo_task *)&t; /* no handle on failure */
    edo_task *const before = t;
    edo_future bare = {NULL}, pollless = {&no_poll_vtable}, ok = {&ready_vtable};
    edo_future *const bad[] = {NULL, &bare, &pollless};
    const size_t bad_sizes[] = {0, 1, sizeof(edo_future) - 1, EDO_MAX_FUTURE_SIZE + 1,
                                SIZE_MAX / 2, SIZE_MAX - 8, SIZE_MAX};
    for (size_t i = 0; i < 3; i++) { /* checked before -EPERM */
        CHECK_EQ(edo_spawn_future(bad[i], sizeof(edo_future), &t), -EINVAL);
        CHECK_EQ(edo_spawn_future_local(bad[i], sizeof(edo_future), &t), -EINVAL);
        CHECK_EQ(edo_spawn_future_on(rt, bad[i], sizeof(edo_future), &t), -EINVAL);
    }
    for (size_t i = 0; i < sizeof bad_sizes / sizeof bad_sizes[0]; i++) {
        CHECK_EQ(edo_spawn_future(&ok, bad_sizes[i], &t), -EINVAL);
        CHECK_EQ(edo_spawn_future(&ok, bad_sizes[i], NULL), -EINVAL);
        CHECK_EQ(edo_spawn_future_local(&ok, bad_sizes[i], &t), -EINVAL);
        CHECK_EQ(edo_spawn_future_on(rt, &ok, bad_sizes[i], &t), -EINVAL);
    }
    CHECK_EQ(edo_spawn_future_on(NULL, &ok, sizeof ok, &t), -EINVAL);
    CHECK(t == before);
    if (!rt) {
        CHECK_EQ(edo_spawn_future(&ok, sizeof ok, &t), -EPERM);
        CHECK_EQ(edo_spawn_future_local(&ok, sizeof ok, &t), -EPERM);
        CHECK(t == before);
        return;
    }
    /* The bounds themselves, and no handle (detached). */
    void *out = NULL;
    CHECK_EQ(edo_spawn_future(&ok, sizeof ok, NULL), 0);
    CHECK_EQ(edo_spawn_future(&big.base, sizeof big, &t), 0);
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK(out == (void *)42);
    edo_task_free(t);
    bool multi = edo_runtime_worker_count(rt) > 0;
    int rc = edo_spawn_future_local(&ok, sizeof ok, &t);
    CHECK_EQ(rc, multi ? 0 : -EPERM);
    if (rc == 0) {
        CHECK_EQ(edo_task_join(t, NULL), 0);
        edo_task_free(t);
    }
}

TEST(task_spawn_future_bad_input)
{
    spawn_future_calls();
    in_coroutine(spawn_future_calls);
    in_multi(spawn_future_calls);
}

/* ---- task.h: handles ---------------------------------------------------------------------------- */

/* A coroutine that joins its own handle, found in *arg once its spawner has stored it. */
static void *join_self(void *arg)
{
    edo_task *const *slot = arg;
    void *out = (void *)1;
    int rc = edo_task_join(*slot, &out);
    CHECK(out == (void *)1);
    return (void *)(intptr_t)rc;
}

/* A future task that poll-joins its own handle with its own waker. */
typedef struct self_poller {
    edo_future base;
    edo_task *const *slot;
} self_poller;
static edo_poll self_poll(edo_future *f, edo_context *cx, void **out)
{
    self_poller *s = (self_poller *)f;
    int rc = 1;
    CHECK_EQ(edo_task_poll_join(*s->slot, cx, &rc, NULL), EDO_READY);
    *out = (void *)(intptr_t)rc;
    return EDO_READY;
}
static const edo_future_vtable self_poll_vtable = {self_poll, NULL};

static void handle_calls(void)
{
    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    void *out = (void *)1;
    int rc = 1;
    CHECK_EQ(edo_task_join(NULL, &out), -EINVAL);
    CHECK_EQ(edo_task_join(NULL, NULL), -EINVAL);
    CHECK(out == (void *)1);
    CHECK_EQ(edo_task_poll_join(NULL, &cx, &rc, &out), EDO_READY);
    CHECK_EQ(rc, -EINVAL);
    CHECK_EQ(edo_task_poll_join(NULL, &cx, NULL, NULL), EDO_READY);
    CHECK(out == (void *)1);
    CHECK_EQ(edo_task_abort(NULL), -EINVAL);
    CHECK_EQ(edo_task_is_finished(NULL), false);
    CHECK_EQ(edo_task_id(NULL), 0);
    edo_task_free(NULL);
    CHECK_EQ(edo_task_current_id(), edo_in_coroutine() ? edo_task_current_id() : 0);

    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return;
    edo_task *t;
    CHECK_EQ(edo_spawn(return_arg, (void *)7, &t), 0);
    CHECK(edo_task_id(t) != 0);
    rc = 1;
    CHECK_EQ(edo_task_poll_join(t, NULL, &rc, &out), EDO_READY); /* NULL cx */
    CHECK_EQ(rc, -EINVAL);
    CHECK_EQ(edo_task_join(t, NULL), 0); /* out NULL: the output goes nowhere */
    CHECK_EQ(edo_task_join(t, &out), -EALREADY);
    CHECK(out == (void *)1);
    CHECK_EQ(edo_task_poll_join(t, &cx, &rc, &out), EDO_READY);
    CHECK_EQ(rc, -EALREADY);
    CHECK_EQ(edo_task_is_finished(t), 1);
    CHECK_EQ(edo_task_abort(t), 0); /* finished: nothing */
    CHECK_EQ(edo_task_join(t, &out), -EALREADY);
    edo_task_free(t);

    /* rc and out NULL: the result is taken all the same. */
    CHECK_EQ(edo_spawn(return_arg, (void *)7, &t), 0);
    while (edo_task_poll_join(t, &cx, NULL, NULL) == EDO_PENDING)
        if (edo_in_coroutine())
            edo_yield();
    CHECK_EQ(edo_task_join(t, &out), -EALREADY);
    edo_task_free(t);

    /* A task waiting for itself: -EDEADLK instead of a hang. */
    edo_task *self = NULL;
    CHECK_EQ(edo_spawn(join_self, &self, &self), 0);
    CHECK_EQ(edo_task_join(self, &out), 0);
    CHECK(out == (void *)(intptr_t)-EDEADLK);
    edo_task_free(self);
    self_poller sp = {{&self_poll_vtable}, &self};
    CHECK_EQ(edo_spawn_future(&sp.base, sizeof sp, &self), 0);
    CHECK_EQ(edo_task_join(self, &out), 0);
    CHECK(out == (void *)(intptr_t)-EDEADLK);
    edo_task_free(self);
    CHECK_EQ(edo_spawn_blocking(join_self, &self, &self), 0);
    CHECK_EQ(edo_task_join(self, &out), 0);
    CHECK(out == (void *)(intptr_t)-EDEADLK);
    edo_task_free(self);
}

TEST(task_handle_bad_input)
{
    handle_calls();
    in_coroutine(handle_calls);
    in_multi(handle_calls);
}

/* ---- task.h: task-locals ------------------------------------------------------------------------ */

static const edo_task_local counted_key = {count_drop};
static const edo_task_local plain_key = {NULL};

/* Tries to set a task-local from edo_block_on's future: its output is the result. */
static edo_poll set_local_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)f;
    (void)cx;
    *out = (void *)(intptr_t)edo_task_local_set(&counted_key, (void *)1);
    return EDO_READY;
}
static const edo_future_vtable set_local_vtable = {set_local_poll, NULL};

static void task_local_calls(void)
{
    atomic_store(&drops, 0);
    int value;
    CHECK_EQ(edo_task_local_set(NULL, &value), -EINVAL);
    CHECK(edo_task_local_get(NULL) == NULL);
    CHECK_EQ(atomic_load(&drops), 0);
    if (!edo_in_coroutine()) {
        CHECK_EQ(edo_task_local_set(&counted_key, &value), -EPERM);
        CHECK_EQ(atomic_load(&drops), 0); /* still the caller's */
        CHECK(edo_task_local_get(&counted_key) == NULL);
        edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
        edo_future f = {&set_local_vtable};
        void *out = NULL;
        CHECK_EQ(edo_block_on(rt, &f, &out), 0);
        CHECK(out == (void *)(intptr_t)-EPERM);
        edo_runtime_free(rt);
        CHECK_EQ(atomic_load(&drops), 0);
        return;
    }
    CHECK(edo_task_local_get(&counted_key) == NULL); /* unset */
    CHECK_EQ(edo_task_local_set(&counted_key, &value), 0);
    CHECK_EQ(edo_task_local_set(&counted_key, &value), 0); /* the same value: nothing dropped */
    CHECK_EQ(atomic_load(&drops), 0);
    CHECK(edo_task_local_get(&counted_key) == &value);
    CHECK_EQ(edo_task_local_set(&counted_key, NULL), 0); /* replaced: dropped */
    CHECK_EQ(atomic_load(&drops), 1);
    CHECK(edo_task_local_get(&counted_key) == NULL);
    CHECK_EQ(edo_task_local_set(&plain_key, &value), 0); /* no destroy function */
    CHECK_EQ(edo_task_local_set(&plain_key, NULL), 0);
    CHECK_EQ(edo_task_local_set(&counted_key, &value), 0); /* dropped when the task ends */
}

TEST(task_local_bad_input)
{
    task_local_calls();
    in_coroutine(task_local_calls);
    CHECK_EQ(atomic_load(&drops), 2);
}

/* ---- task.h: join sets and scopes ------------------------------------------------------------- */

static void join_set_calls(void)
{
    atomic_store(&drops, 0);
    int in = edo_in_coroutine();
    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    edo_join_set *set;
    edo_join_result r = {99, 99, (void *)1};
    uint64_t id = 99;
    CHECK_EQ(edo_join_set_new(count_drop, NULL), -EINVAL);
    CHECK_EQ(edo_join_set_new(count_drop, &set), 0);
    edo_join_set_free(NULL);
    CHECK_EQ(edo_join_set_add(NULL, NULL), -EINVAL);
    CHECK_EQ(edo_join_set_add(set, NULL), -EINVAL);
    CHECK_EQ(edo_join_set_spawn(NULL, return_arg, NULL, &id), -EINVAL);
    CHECK_EQ(edo_join_set_spawn(set, NULL, NULL, &id), -EINVAL); /* before -EPERM */
    edo_future bare = {NULL}, ok = {&ready_vtable};
    CHECK_EQ(edo_join_set_spawn_future(NULL, &ok, sizeof ok, &id), -EINVAL);
    CHECK_EQ(edo_join_set_spawn_future(set, NULL, sizeof ok, &id), -EINVAL);
    CHECK_EQ(edo_join_set_spawn_future(set, &bare, sizeof bare, &id), -EINVAL);
    CHECK_EQ(edo_join_set_spawn_future(set, &ok, 0, &id), -EINVAL);
    CHECK_EQ(edo_join_set_spawn_future(set, &ok, EDO_MAX_FUTURE_SIZE + 1, &id), -EINVAL);
    CHECK_EQ(edo_join_set_spawn_future(set, &ok, SIZE_MAX, &id), -EINVAL);
    CHECK_EQ(id, 99);
    CHECK_EQ(edo_join_set_len(set), 0);
    CHECK_EQ(edo_join_set_len(NULL), 0);
    CHECK_EQ(edo_join_set_next(NULL, &r), -EINVAL);
    CHECK_EQ(edo_join_set_next(set, NULL), -EINVAL);
    CHECK_EQ(edo_join_set_next(set, &r), in ? -ECHILD : -EPERM);
    CHECK_EQ(edo_join_set_try_next(NULL, &r), -EINVAL);
    CHECK_EQ(edo_join_set_try_next(set, NULL), -EINVAL);
    CHECK_EQ(edo_join_set_try_next(set, &r), -ECHILD);
    CHECK_EQ(r.id, 99); /* untouched */
    CHECK_EQ(edo_join_set_abort_all(NULL), -EINVAL);
    CHECK_EQ(edo_join_set_abort_all(set), 0);
    CHECK_EQ(edo_join_set_shutdown(NULL), -EINVAL);
    CHECK_EQ(edo_join_set_shutdown(set), in ? 0 : -EPERM);

    /* The future form: NULL f does nothing; a NULL set is ready at once with -EINVAL. */
    edo_join_set_next_future_init(NULL, set);
    edo_join_set_next_future f;
    edo_join_set_next_future_init(&f, NULL);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, -EINVAL);
    edo_join_set_next_future_init(&f, set);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, -ECHILD);

    if (!edo_runtime_current()) {
        CHECK_EQ(edo_join_set_spawn(set, return_arg, NULL, &id), -EPERM);
        CHECK_EQ(edo_join_set_spawn_future(set, &ok, sizeof ok, &id), -EPERM);
        CHECK_EQ(edo_join_set_len(set), 0);
        edo_join_set_free(set);
        CHECK_EQ(atomic_load(&drops), 0);
        return;
    }
    /* A handle already joined can give no result: refused, and freed (no leak). */
    edo_task *t;
    CHECK_EQ(edo_spawn(return_arg, (void *)5, &t), 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    CHECK_EQ(edo_join_set_add(set, t), -EINVAL);
    CHECK_EQ(edo_join_set_len(set), 0);
    /* A set freed with results nobody took: they go to drop_output. Each task counts its last
     * poll, which completes it (an abort does not undo that). */
    _Atomic long ran = 0;
    count_future c = count_new(&ran, (void *)6);
    CHECK_EQ(edo_join_set_spawn_future(set, &c.base, sizeof c, &id), 0);
    CHECK(id != 99);
    c = count_new(&ran, (void *)7);
    CHECK_EQ(edo_join_set_spawn_future(set, &c.base, sizeof c, NULL), 0);
    CHECK_EQ(edo_join_set_len(set), 2);
    while (atomic_load(&ran) < 2)
        edo_yield();
    edo_join_set_free(set);
}

TEST(join_set_bad_input)
{
    join_set_calls();
    CHECK_EQ(atomic_load(&drops), 0);
    in_coroutine(join_set_calls);
    CHECK_EQ(atomic_load(&drops), 2);
    in_multi(join_set_calls); /* its runtime's shutdown waited for the drops */
    CHECK_EQ(atomic_load(&drops), 2);
}

/* What a task of a set saw when it used the set after its owner freed it. */
typedef struct freed_use {
    edo_join_set *set;
    _Atomic int started, done;
    int spawn, spawn_future, add, next, try_next, abort_all, shutdown;
    size_t len;
} freed_use;

static void *use_freed_set(void *arg)
{
    freed_use *u = arg;
    atomic_store(&u->started, 1);
    while (edo_yield() == 0) /* until the free aborts this task */
        ;
    edo_future ok = {&ready_vtable};
    edo_join_result r = {99, 99, NULL};
    edo_task *t;
    CHECK_EQ(edo_spawn(return_arg, NULL, &t), 0); /* not suspending: works while cancelled */
    u->spawn = edo_join_set_spawn(u->set, return_arg, NULL, NULL);
    u->spawn_future = edo_join_set_spawn_future(u->set, &ok, sizeof ok, NULL);
    u->add = edo_join_set_add(u->set, t);
    if (u->add < 0)
        edo_task_free(t); /* still ours */
    u->next = edo_join_set_next(u->set, &r);
    u->try_next = edo_join_set_try_next(u->set, &r);
    CHECK_EQ(r.id, 99);
    u->abort_all = edo_join_set_abort_all(u->set);
    u->shutdown = edo_join_set_shutdown(u->set);
    u->len = edo_join_set_len(u->set);
    edo_join_set_free(u->set); /* a second free: nothing */
    atomic_store(&u->done, 1);
    return NULL;
}

static void freed_set_calls(void)
{
    atomic_store(&drops, 0);
    freed_use u = {0};
    CHECK_EQ(edo_join_set_new(count_drop, &u.set), 0);
    CHECK_EQ(edo_join_set_spawn(u.set, use_freed_set, &u, NULL), 0);
    while (!atomic_load(&u.started))
        edo_yield();
    edo_join_set_free(u.set); /* aborts the task, which goes on to use the set */
    while (!atomic_load(&u.done))
        edo_yield();
    CHECK_EQ(u.spawn, -EINVAL);
    CHECK_EQ(u.spawn_future, -EINVAL);
    CHECK_EQ(u.add, -EINVAL);
    CHECK_EQ(u.next, -EINVAL);
    CHECK_EQ(u.try_next, -EINVAL);
    CHECK_EQ(u.abort_all, -EINVAL);
    CHECK_EQ(u.shutdown, -EINVAL);
    CHECK_EQ(u.len, 0);
}

TEST(join_set_freed_bad_input)
{
    in_coroutine(freed_set_calls);
    in_multi(freed_set_calls);
    CHECK_EQ(atomic_load(&drops), 0); /* the task returned NULL, cancelled: nothing to drop */
}

static int free_own_set(edo_join_set *set, void *arg)
{
    (void)arg;
    edo_join_set_free(set); /* not the body's to free: nothing */
    CHECK_EQ(edo_join_set_spawn(set, return_arg, (void *)3, NULL), 0);
    edo_join_result r;
    CHECK_EQ(edo_join_set_next(set, &r), 0);
    CHECK(r.output == (void *)3);
    CHECK_EQ(edo_join_set_spawn(set, return_arg, (void *)4, NULL), 0);
    return 0; /* the scope waits for it, and drops its output */
}

static void scope_calls(void)
{
    atomic_store(&drops, 0);
    CHECK_EQ(edo_scope(NULL, NULL, count_drop), -EINVAL);
    CHECK_EQ(edo_scope(free_own_set, NULL, count_drop), edo_in_coroutine() ? 0 : -EPERM);
    CHECK_EQ(atomic_load(&drops), edo_in_coroutine() ? 1 : 0);
}

TEST(scope_set_bad_input)
{
    scope_calls();
    in_coroutine(scope_calls);
    in_multi(scope_calls);
}

/* ---- runtime.h: creating runtimes ------------------------------------------------------------- */

static void runtime_new_calls(void)
{
    edo_runtime *rt = (edo_runtime *)&rt;
    CHECK_EQ(edo_runtime_new(NULL, NULL), -EINVAL);
    const edo_runtime_config bad[] = {
        {.flavor = (edo_runtime_flavor)2},
        {.flavor = (edo_runtime_flavor)-1},
        {.worker_threads = EDO_MAX_WORKER_THREADS + 1},
        {.worker_threads = UINT_MAX},
        {.flavor = EDO_RUNTIME_CURRENT_THREAD, .worker_threads = UINT_MAX},
        {.max_blocking_threads = EDO_MAX_BLOCKING_THREADS + 1},
        {.max_blocking_threads = UINT_MAX},
        {.global_queue_interval = (1u << 20) + 1},
        {.global_queue_interval = UINT_MAX},
        {.coro_stack_size = 1},
        {.coro_stack_size = EDO_MIN_STACK_SIZE - 1},
        {.coro_stack_size = EDO_MAX_STACK_SIZE + 1},
        {.coro_stack_size = SIZE_MAX},
        {.start_paused = true},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_EQ(edo_runtime_new(&bad[i], NULL), -EINVAL);
        rt = (edo_runtime *)&rt;
        CHECK_EQ(edo_runtime_new(&bad[i], &rt), -EINVAL);
        CHECK(rt == NULL);
    }
    /* The bounds themselves, and keep-alive at the end of time (idle threads wait for the
     * shutdown, which must still wake them). */
    edo_runtime_config edge = {.flavor = EDO_RUNTIME_CURRENT_THREAD,
                               .max_blocking_threads = EDO_MAX_BLOCKING_THREADS,
                               .blocking_keep_alive_ns = UINT64_MAX,
                               .global_queue_interval = 1u << 20,
                               .coro_stack_size = EDO_MIN_STACK_SIZE,
                               .thread_name = "a-name-longer-than-ten"};
    CHECK_EQ(edo_runtime_new(&edge, &rt), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn_blocking_on(rt, return_arg, (void *)8, &t), 0);
    void *out = NULL;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK(out == (void *)8);
    edo_task_free(t);
    CHECK_EQ(edo_runtime_worker_count(rt), 0);
    edo_runtime_free(rt);
    edge = (edo_runtime_config){.worker_threads = 1, .coro_stack_size = EDO_MAX_STACK_SIZE};
    CHECK_EQ(edo_runtime_new(&edge, &rt), 0);
    CHECK_EQ(edo_runtime_worker_count(rt), 1);
    edo_runtime_free(rt);
}

TEST(runtime_new_bad_input)
{
    runtime_new_calls();
    in_coroutine(runtime_new_calls); /* a runtime made inside another's task */
}

/* ---- runtime.h: shutting down, handles ---------------------------------------------------------- */

static void handle_after_shutdown_calls(void)
{
    edo_runtime_free(NULL);
    CHECK_EQ(edo_runtime_shutdown_timeout(NULL, 0), -EINVAL);
    CHECK_EQ(edo_runtime_shutdown_timeout(NULL, UINT64_MAX), -EINVAL);
    CHECK(edo_runtime_ref(NULL) == NULL);
    edo_runtime_unref(NULL);
    CHECK_EQ(edo_runtime_worker_count(NULL), -EINVAL);

    /* Every function taking a runtime, through a handle after the owner's shutdown. */
    const edo_runtime_flavor flavors[] = {EDO_RUNTIME_CURRENT_THREAD, EDO_RUNTIME_MULTI_THREAD};
    for (size_t i = 0; i < 2; i++) {
        atomic_store(&drops, 0);
        edo_runtime *rt = new_rt(flavors[i], 1);
        edo_runtime *h = edo_runtime_ref(rt);
        CHECK(h == rt);
        edo_runtime_free(rt);
        edo_task *t = (edo_task *)&t;
        edo_future ok = {&ready_vtable};
        CHECK_EQ(edo_spawn_future_on(h, &ok, sizeof ok, &t), -ESHUTDOWN);
        CHECK_EQ(edo_spawn_with(h, NULL, return_arg, NULL, &t), -ESHUTDOWN);
        CHECK_EQ(edo_spawn_blocking_on(h, return_arg, NULL, &t), -ESHUTDOWN);
        edo_blocking_options o = {count_drop, count_drop};
        CHECK_EQ(edo_spawn_blocking_with(h, &o, return_arg, NULL, &t), -ESHUTDOWN);
        CHECK_EQ(atomic_load(&drops), 0); /* arg still ours */
        CHECK_EQ(edo_block_on(h, &ok, NULL), edo_in_coroutine() ? -EDEADLK : -ESHUTDOWN);
        CHECK_EQ(edo_runtime_worker_count(h), i);
        edo_runtime_free(h);                                   /* a second shutdown: nothing */
        CHECK_EQ(edo_runtime_shutdown_timeout(h, 0), -EALREADY);
        CHECK_EQ(edo_runtime_shutdown_timeout(h, UINT64_MAX), -EALREADY);
        edo_runtime_unref(h); /* the last reference: frees it */
    }

    /* One unref too many before the shutdown: the owner's reference is not released. */
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    edo_runtime_unref(rt);
    edo_runtime_unref(rt);
    CHECK_EQ(edo_runtime_worker_count(rt), 0); /* still there */
    edo_runtime *h = edo_runtime_ref(rt);
    edo_runtime_unref(h);
    edo_runtime_unref(h); /* one too many again */
    CHECK_EQ(edo_runtime_shutdown_timeout(rt, 0), 0);

    /* Timeouts at the ends of the range on a runtime with nothing left to wait for. */
    const uint64_t timeouts[] = {0, 1, UINT64_MAX - 1, UINT64_MAX};
    for (size_t i = 0; i < 4; i++) {
        rt = new_rt(i % 2 ? EDO_RUNTIME_MULTI_THREAD : EDO_RUNTIME_CURRENT_THREAD, 1);
        CHECK_EQ(edo_runtime_shutdown_timeout(rt, timeouts[i]), 0);
    }
}

TEST(runtime_handle_bad_input)
{
    handle_after_shutdown_calls();
    in_coroutine(handle_after_shutdown_calls);
}

/* Tries to shut the calling thread's own runtime down: both calls must refuse. */
static int shut_own_runtime(void)
{
    edo_runtime *rt = edo_runtime_current();
    CHECK(rt != NULL);
    edo_runtime_free(rt); /* nothing */
    CHECK_EQ(edo_runtime_shutdown_timeout(rt, 0), -EDEADLK);
    CHECK_EQ(edo_runtime_shutdown_timeout(rt, UINT64_MAX), -EDEADLK);
    return 0;
}
static void *shut_own_coro(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)shut_own_runtime();
}
static int shut_own_main(void *arg)
{
    (void)arg;
    shut_own_runtime();
    edo_task *t;
    CHECK_EQ(edo_spawn_blocking(shut_own_coro, NULL, &t), 0); /* a blocking-pool thread */
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    return 5;
}
static edo_poll shut_own_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)f;
    (void)cx;
    *out = (void *)(intptr_t)shut_own_runtime();
    return EDO_READY;
}
static const edo_future_vtable shut_own_vtable = {shut_own_poll, NULL};
static _Atomic int hook_rc = 1;
static void shut_own_hook(void *arg)
{
    (void)arg;
    edo_runtime *rt = edo_runtime_current();
    edo_runtime_free(rt);
    int rc = edo_runtime_shutdown_timeout(rt, 0);
    if (rc != -EDEADLK)
        atomic_store(&hook_rc, rc);
}

static void shutdown_from_inside_calls(void)
{
    /* A coroutine cannot drive a current-thread runtime (nobody would run its tasks). */
    const edo_runtime_flavor flavors[] = {EDO_RUNTIME_MULTI_THREAD, EDO_RUNTIME_CURRENT_THREAD};
    for (size_t i = 0; i < (edo_in_coroutine() ? 1 : 2); i++) {
        edo_runtime_config cfg = {.flavor = flavors[i], .worker_threads = 1,
                                  .on_thread_start = shut_own_hook,
                                  .on_thread_stop = shut_own_hook};
        edo_runtime *rt;
        CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
        atomic_store(&hook_rc, -EDEADLK);
        edo_task *t;
        CHECK_EQ(edo_spawn_with(rt, NULL, shut_own_coro, NULL, &t), 0); /* a task */
        CHECK_EQ(edo_task_join(t, NULL), 0);
        edo_task_free(t);
        CHECK_EQ(edo_spawn_blocking_on(rt, shut_own_coro, NULL, &t), 0); /* the pool */
        CHECK_EQ(edo_task_join(t, NULL), 0);
        edo_task_free(t);
        if (!edo_in_coroutine()) { /* edo_block_on's future */
            edo_future f = {&shut_own_vtable};
            void *out = (void *)1;
            CHECK_EQ(edo_block_on(rt, &f, &out), 0);
            CHECK(out == NULL);
        }
        edo_runtime_free(rt); /* the real one: its hooks ran on every thread meanwhile */
        CHECK_EQ(atomic_load(&hook_rc), -EDEADLK);
    }
    if (!edo_in_coroutine())
        CHECK_EQ(edo_main(shut_own_main, NULL), 5);
}

TEST(runtime_shutdown_from_inside_bad_input)
{
    shutdown_from_inside_calls();
    in_coroutine(shutdown_from_inside_calls);
}

/* ---- runtime.h: edo_block_on, edo_main ------------------------------------------------------------ */

/* From a future edo_block_on polls: a nested edo_block_on and edo_main must refuse. */
static edo_poll nested_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)f;
    (void)cx;
    edo_future ok = {&ready_vtable};
    CHECK_EQ(edo_block_on(edo_runtime_current(), &ok, NULL), -EDEADLK);
    CHECK_EQ(edo_main(shut_own_main, NULL), -EDEADLK);
    *out = (void *)9;
    return EDO_READY;
}
static const edo_future_vtable nested_vtable = {nested_poll, NULL};

static void block_on_calls(void)
{
    int in = edo_in_coroutine();
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    edo_future bare = {NULL}, pollless = {&no_poll_vtable}, ok = {&ready_vtable};
    void *out = (void *)1;
    CHECK_EQ(edo_block_on(NULL, &ok, &out), -EINVAL); /* before -EDEADLK */
    CHECK_EQ(edo_block_on(rt, NULL, &out), -EINVAL);
    CHECK_EQ(edo_block_on(rt, &bare, &out), -EINVAL);
    CHECK_EQ(edo_block_on(rt, &pollless, &out), -EINVAL);
    CHECK(out == (void *)1);
    CHECK_EQ(edo_block_on(rt, &ok, NULL), in ? -EDEADLK : 0);
    CHECK_EQ(edo_block_on(rt, &ok, &out), in ? -EDEADLK : 0);
    CHECK(out == (in ? (void *)1 : (void *)42));
    edo_future nested = {&nested_vtable};
    CHECK_EQ(edo_block_on(rt, &nested, &out), in ? -EDEADLK : 0);
    CHECK(out == (in ? (void *)1 : (void *)9));
    edo_runtime_free(rt);

    CHECK_EQ(edo_main(NULL, NULL), -EINVAL); /* before -EDEADLK */
    if (in)
        CHECK_EQ(edo_main(shut_own_main, NULL), -EDEADLK);
}

TEST(block_on_and_main_bad_input)
{
    block_on_calls();
    in_coroutine(block_on_calls);
    in_multi(block_on_calls);
}

/* ---- runtime.h: the blocking pool -------------------------------------------------------------- */

static void blocking_pool_calls(void)
{
    atomic_store(&drops, 0);
    edo_runtime *rt = edo_runtime_current();
    edo_task *t = (edo_task *)&t;
    edo_task *const before = t;
    edo_blocking_options o = {count_drop, count_drop}, none = {NULL, NULL};
    CHECK_EQ(edo_spawn_blocking(NULL, NULL, &t), -EINVAL); /* before -EPERM */
    CHECK_EQ(edo_spawn_blocking_on(NULL, return_arg, NULL, &t), -EINVAL);
    CHECK_EQ(edo_spawn_blocking_on(rt, NULL, NULL, &t), -EINVAL);
    CHECK_EQ(edo_spawn_blocking_with(NULL, &o, NULL, NULL, &t), -EINVAL);
    CHECK_EQ(edo_spawn_blocking_with(rt, NULL, NULL, NULL, &t), -EINVAL);
    CHECK(t == before);
    CHECK_EQ(atomic_load(&drops), 0);
    if (!rt) {
        CHECK_EQ(edo_spawn_blocking(return_arg, NULL, &t), -EPERM);
        CHECK_EQ(edo_spawn_blocking_with(NULL, &o, return_arg, NULL, &t), -EPERM);
        CHECK(t == before);
        CHECK_EQ(atomic_load(&drops), 0); /* arg still ours */
        return;
    }
    /* Detached, with options that free both: both freed once the call is over. */
    CHECK_EQ(edo_spawn_blocking_with(NULL, &o, return_arg, NULL, NULL), 0);
    CHECK_EQ(edo_spawn_blocking_with(NULL, &none, return_arg, NULL, NULL), 0);
    CHECK_EQ(edo_spawn_blocking(return_arg, NULL, NULL), 0);
    CHECK_EQ(edo_spawn_blocking_with(NULL, NULL, return_arg, (void *)3, &t), 0);
    void *out = NULL;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK(out == (void *)3);
    CHECK_EQ(edo_task_join(t, &out), -EALREADY);
    edo_task_free(t);
    while (atomic_load(&drops) < 2)
        edo_yield();
}

TEST(blocking_pool_bad_input)
{
    blocking_pool_calls();
    in_coroutine(blocking_pool_calls);
    in_multi(blocking_pool_calls);
    CHECK_EQ(atomic_load(&drops), 2);
}
