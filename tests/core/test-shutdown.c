/* Shutdown with work pending: every future dropped once, handles still joinable, spawning
 * refused. */
#include <dirent.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

/* ---- shutdown with work pending ---------------------------------------------------------- */

/* Pending forever. Counts its polls and its drops per index, and keeps a clone of its waker
 * in `wakers[idx]` (released by the test, after the runtime is gone). A chain node (depth > 0)
 * first spawns the next node and waits for it with edo_task_poll_join. */
typedef struct {
    _Atomic int *drops, *polls;
    edo_waker *wakers;
    _Atomic long first_polls;
} pending_set;

typedef struct {
    edo_future base;
    pending_set *set;
    int idx;
    int depth;
    edo_task *child;
} pending_future;

static const edo_future_vtable pending_vtable;

static edo_poll pending_poll(edo_future *f, edo_context *cx, void **out)
{
    pending_future *p = (pending_future *)f;
    if (atomic_fetch_add(&p->set->polls[p->idx], 1) == 0) {
        atomic_fetch_add(&p->set->first_polls, 1);
        p->set->wakers[p->idx] = edo_waker_clone(edo_context_waker(cx));
        if (p->depth > 0) {
            pending_future c = {{&pending_vtable}, p->set, p->idx + 1, p->depth - 1, NULL};
            CHECK_EQ(edo_spawn_future(&c.base, sizeof c, &p->child), 0);
        }
    }
    if (p->child) {
        int rc;
        if (edo_task_poll_join(p->child, cx, &rc, out) == EDO_READY)
            CHECK(0); /* the child never finishes before shutdown */
    }
    return EDO_PENDING;
}

static void pending_drop(edo_future *f)
{
    pending_future *p = (pending_future *)f;
    atomic_fetch_add(&p->set->drops[p->idx], 1);
    edo_task_free(p->child); /* a handle released from a drop, during shutdown */
}
static const edo_future_vtable pending_vtable = {pending_poll, pending_drop};

static pending_set *pending_set_new(int n)
{
    pending_set *s = calloc(1, sizeof *s);
    CHECK(s != NULL);
    s->drops = calloc((size_t)n, sizeof *s->drops);
    s->polls = calloc((size_t)n, sizeof *s->polls);
    s->wakers = calloc((size_t)n, sizeof *s->wakers);
    CHECK(s->drops && s->polls && s->wakers);
    return s;
}

/* After the runtime is gone: every future dropped exactly once; the kept wakers can still be
 * woken and dropped. */
static void pending_set_check_free(pending_set *s, int n)
{
    for (int i = 0; i < n; i++) {
        if (atomic_load(&s->drops[i]) != 1)
            fprintf(stderr, "future %d dropped %d times\n", i, atomic_load(&s->drops[i]));
        CHECK_EQ(atomic_load(&s->drops[i]), 1);
        if (i % 2)
            edo_waker_wake(&s->wakers[i]);
        else
            edo_waker_drop(&s->wakers[i]);
    }
    free(s->drops);
    free((void *)s->polls);
    free(s->wakers);
    free(s);
}

enum { IDLE_TASKS = 1000, CHAINS = 50, CHAIN_LEN = 5 };
#define PENDING_TOTAL (IDLE_TASKS + CHAINS * CHAIN_LEN)

/* Spawns IDLE_TASKS single tasks (every other one with a handle, in `handles`) and CHAINS
 * chains of CHAIN_LEN tasks, each chain root with a handle. Indexes: singles first, then the
 * chains. Returns how many handles it stored. */
static int spawn_pending(edo_runtime *rt, pending_set *s, edo_task **handles)
{
    int nh = 0;
    for (int i = 0; i < IDLE_TASKS; i++) {
        pending_future p = {{&pending_vtable}, s, i, 0, NULL};
        CHECK_EQ(edo_spawn_future_on(rt, &p.base, sizeof p, i % 2 ? &handles[nh] : NULL),
                 0);
        nh += i % 2;
    }
    for (int c = 0; c < CHAINS; c++) {
        pending_future p = {{&pending_vtable}, s, IDLE_TASKS + c * CHAIN_LEN, CHAIN_LEN - 1, NULL};
        CHECK_EQ(edo_spawn_future_on(rt, &p.base, sizeof p, &handles[nh++]), 0);
    }
    return nh;
}

static void check_handles_cancelled(edo_task **handles, int nh)
{
    for (int i = 0; i < nh; i++) {
        CHECK_EQ(edo_task_is_finished(handles[i]), 1);
        void *out = (void *)1;
        CHECK_EQ(edo_task_join(handles[i], &out), -ECANCELED);
        CHECK_EQ(edo_task_join(handles[i], &out), -EALREADY);
        edo_task_free(handles[i]);
    }
}

TEST(shutdown_drops_pending_multi_thread)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    pending_set *s = pending_set_new(PENDING_TOTAL);
    static edo_task *handles[PENDING_TOTAL];
    int nh = spawn_pending(rt, s, handles);
    /* Every task, chain nodes included, polled once and now idle or queued. */
    WAIT_UNTIL(atomic_load(&s->first_polls) == PENDING_TOTAL);
    edo_runtime_free(rt);
    check_handles_cancelled(handles, nh);
    pending_set_check_free(s, PENDING_TOTAL);
}

/* Polls until `*counter` reaches `target`, waking itself meanwhile. */
typedef struct {
    edo_future base;
    _Atomic long *counter;
    long target;
} await_count_future;

static edo_poll await_count_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    await_count_future *a = (await_count_future *)f;
    if (atomic_load(a->counter) >= a->target)
        return EDO_READY;
    edo_waker_wake_by_ref(edo_context_waker(cx));
    return EDO_PENDING;
}
static const edo_future_vtable await_count_vtable = {await_count_poll, NULL};

TEST(shutdown_drops_pending_current_thread)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    enum { NEVER_POLLED = 500 };
    const int total = PENDING_TOTAL + NEVER_POLLED;
    pending_set *s = pending_set_new(total);
    static edo_task *handles[PENDING_TOTAL + NEVER_POLLED];
    int nh = spawn_pending(rt, s, handles);
    /* Drive until every task (chains included) was polled once. */
    await_count_future a = {{&await_count_vtable}, &s->first_polls, PENDING_TOTAL};
    CHECK_EQ(edo_block_on(rt, &a.base, NULL), 0);
    CHECK_EQ(atomic_load(&s->first_polls), PENDING_TOTAL);
    /* These are queued and never polled: nobody drives any more. */
    for (int i = PENDING_TOTAL; i < total; i++) {
        pending_future p = {{&pending_vtable}, s, i, 0, NULL};
        CHECK_EQ(edo_spawn_future_on(rt, &p.base, sizeof p, i % 3 ? NULL : &handles[nh]),
                 0);
        nh += i % 3 ? 0 : 1;
    }
    edo_runtime_free(rt);
    for (int i = PENDING_TOTAL; i < total; i++)
        CHECK_EQ(atomic_load(&s->polls[i]), 0);
    check_handles_cancelled(handles, nh);
    pending_set_check_free(s, total);
}

/* A future whose drop, run by edo_runtime_free, acts on the runtime being freed: spawns (must
 * be refused with -ESHUTDOWN, the future not moved), block_on (refused), wakes and aborts other
 * tasks of the runtime. */
typedef struct {
    edo_runtime *rt;
    gate *other;       /* a task waits on it: the drop opens it (a wake during shutdown) */
    edo_task *abort_me; /* a handle the drop aborts */
    _Atomic long never_ran;
    _Atomic int drops;
    int rc_spawn, rc_blocking, rc_block_on;
} drop_probe;

typedef struct {
    edo_future base;
    drop_probe *p;
} drop_probe_future;

static void *inc_fn(void *arg)
{
    atomic_fetch_add((_Atomic long *)arg, 1);
    return NULL;
}

static edo_poll idle_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)f;
    (void)cx;
    (void)out;
    return EDO_PENDING; /* and nobody will wake it */
}

static void drop_probe_drop(edo_future *f)
{
    drop_probe *p = ((drop_probe_future *)f)->p;
    count_future c = count_new(&p->never_ran, NULL);
    p->rc_spawn = edo_spawn_future_on(p->rt, &c.base, sizeof c, NULL);
    p->rc_blocking = edo_spawn_blocking_on(p->rt, inc_fn, &p->never_ran, NULL);
    count_future c2 = count_new(&p->never_ran, NULL);
    p->rc_block_on = edo_block_on(p->rt, &c2.base, NULL);
    gate_open(p->other);
    CHECK_EQ(edo_task_abort(p->abort_me), 0);
    atomic_fetch_add(&p->drops, 1);
}
static const edo_future_vtable drop_probe_vtable = {idle_poll, drop_probe_drop};

static void drop_acts_during_shutdown(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    gate g;
    gate_init(&g);
    gate_future gf = gate_future_new(&g, NULL);
    edo_task *gt, *victim, *probe_task;
    CHECK_EQ(edo_spawn_future_on(rt, &gf.base, sizeof gf, &gt), 0);
    gate g2;
    gate_init(&g2);
    gate_future gf2 = gate_future_new(&g2, NULL);
    CHECK_EQ(edo_spawn_future_on(rt, &gf2.base, sizeof gf2, &victim), 0);
    drop_probe p;
    memset(&p, 0, sizeof p);
    p.rt = rt;
    p.other = &g;
    p.abort_me = victim;
    p.rc_spawn = p.rc_blocking = p.rc_block_on = 1;
    drop_probe_future df = {{&drop_probe_vtable}, &p};
    CHECK_EQ(edo_spawn_future_on(rt, &df.base, sizeof df, &probe_task), 0);
    if (flavor == EDO_RUNTIME_MULTI_THREAD)
        WAIT_UNTIL(gate_has_waiter(&g) && gate_has_waiter(&g2));
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&p.drops), 1);
    CHECK_EQ(p.rc_spawn, -ESHUTDOWN);
    CHECK_EQ(p.rc_blocking, -ESHUTDOWN);
    CHECK_EQ(p.rc_block_on, -ESHUTDOWN);
    CHECK_EQ(atomic_load(&p.never_ran), 0);
    CHECK_EQ(atomic_load(&g.dropped), 1);
    CHECK_EQ(atomic_load(&g2.dropped), 1);
    /* The gate task was cancelled by shutdown, or, when the drop's wake got to it first,
     * still cancelled: nothing polls during shutdown. */
    CHECK_EQ(edo_task_join(gt, NULL), -ECANCELED);
    CHECK_EQ(edo_task_join(victim, NULL), -ECANCELED);
    CHECK_EQ(edo_task_join(probe_task, NULL), -ECANCELED);
    edo_task_free(gt);
    edo_task_free(victim);
    edo_task_free(probe_task);
    gate_destroy(&g);
    gate_destroy(&g2);
}

TEST(shutdown_drop_acts_on_runtime_multi_thread)
{
    drop_acts_during_shutdown(EDO_RUNTIME_MULTI_THREAD);
}
TEST(shutdown_drop_acts_on_runtime_current_thread)
{
    drop_acts_during_shutdown(EDO_RUNTIME_CURRENT_THREAD);
}

/* edo_spawn_future (the form without a runtime argument) from a drop that edo_runtime_free
 * runs: the runtime is shutting down, so -ESHUTDOWN, and the future is not taken. */
typedef struct {
    _Atomic long never_ran;
    int rc;
    int rc_blocking;
} spawn_in_drop_state;

typedef struct {
    edo_future base;
    spawn_in_drop_state *st;
} spawn_in_drop_future;

static void spawn_in_drop_drop(edo_future *f)
{
    spawn_in_drop_state *st = ((spawn_in_drop_future *)f)->st;
    count_future c = count_new(&st->never_ran, NULL);
    st->rc = edo_spawn_future(&c.base, sizeof c, NULL);
    st->rc_blocking = edo_spawn_blocking(inc_fn, &st->never_ran, NULL);
}
static const edo_future_vtable spawn_in_drop_vtable = {idle_poll, spawn_in_drop_drop};

static void spawn_future_in_drop(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    spawn_in_drop_state st = {0, 1, 1};
    spawn_in_drop_future f = {{&spawn_in_drop_vtable}, &st};
    CHECK_EQ(edo_spawn_future_on(rt, &f.base, sizeof f, NULL), 0);
    edo_runtime_free(rt);
    fprintf(stderr, "  edo_spawn_future in a drop run by edo_runtime_free: %d (%s)\n", st.rc,
            edo_strerror(st.rc));
    CHECK_EQ(st.rc, -ESHUTDOWN);
    CHECK_EQ(st.rc_blocking, -ESHUTDOWN);
    CHECK_EQ(atomic_load(&st.never_ran), 0);
}

TEST(shutdown_spawn_future_in_drop_multi_thread)
{
    spawn_future_in_drop(EDO_RUNTIME_MULTI_THREAD);
}
TEST(shutdown_spawn_future_in_drop_current_thread)
{
    spawn_future_in_drop(EDO_RUNTIME_CURRENT_THREAD);
}

/* ---- bounded shutdown: calls left behind ---------------------------------------------------- */

/* A blocking call that runs until released, writing into what it owns (handed over with
 * edo_spawn_blocking_with) and returning a malloc'd output: ASan checks that nothing is used
 * after it is freed, and that nothing leaks, whatever order things end in. */
typedef struct {
    _Atomic int running, release;
    _Atomic int args_dropped, outputs_dropped, thread_stops;
} behind_state;

static behind_state behind;

typedef struct {
    int written;
} behind_job;

static void *behind_fn(void *arg)
{
    behind_job *j = arg;
    atomic_store(&behind.running, 1);
    WAIT_UNTIL(atomic_load(&behind.release));
    j->written = 1;
    return malloc(16);
}

static void behind_drop_arg(void *arg)
{
    CHECK_EQ(((behind_job *)arg)->written, 1);
    free(arg);
    atomic_fetch_add(&behind.args_dropped, 1);
}

static void behind_drop_output(void *output)
{
    free(output);
    atomic_fetch_add(&behind.outputs_dropped, 1);
}

static const edo_blocking_options behind_options = {behind_drop_arg, behind_drop_output};

static void behind_stop_hook(void *arg)
{
    (void)arg;
    atomic_fetch_add(&behind.thread_stops, 1);
}

/* A one-worker runtime whose threads count their stops, with a call running behind_fn. */
static edo_runtime *behind_rt(edo_task **call)
{
    memset(&behind, 0, sizeof behind);
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 1, .on_thread_stop = behind_stop_hook};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    behind_job *j = calloc(1, sizeof *j);
    CHECK_EQ(edo_spawn_blocking_with(rt, &behind_options, behind_fn, j, call), 0);
    WAIT_UNTIL(atomic_load(&behind.running));
    return rt;
}

/* Shuts rt down with a 50 ms limit that the running call outlasts: -ETIMEDOUT, in bounds. */
static void shutdown_leaving_call(edo_runtime *rt)
{
    double start = now_s();
    CHECK_EQ(edo_runtime_shutdown_timeout(rt, EDO_MSEC(50)), -ETIMEDOUT);
    double took = now_s() - start;
    CHECK(took >= 0.05);
    CHECK(took < 30.0); /* bounded: the call runs until the test releases it */
    CHECK_EQ(atomic_load(&behind.thread_stops), 1); /* the worker; the pool thread goes on */
}

TEST(shutdown_timeout_leaves_blocking_call_behind)
{
    edo_task *call;
    edo_runtime *rt = behind_rt(&call);
    edo_runtime *handle = edo_runtime_ref(rt);
    shutdown_leaving_call(rt);
    /* The handle still works: it refuses, it does not crash. */
    count_future c = count_new(NULL, NULL);
    CHECK_EQ(edo_spawn_future_on(handle, &c.base, sizeof c, NULL), -ESHUTDOWN);
    CHECK_EQ(edo_spawn_blocking_on(handle, behind_fn, NULL, NULL), -ESHUTDOWN);
    CHECK_EQ(edo_block_on(handle, &c.base, NULL), -ESHUTDOWN);
    CHECK_EQ(edo_runtime_worker_count(handle), 1);
    edo_runtime_unref(handle);
    CHECK_EQ(edo_task_is_finished(call), 0);
    /* The call ends later; its handle joins it (a plain thread waits). */
    atomic_store(&behind.release, 1);
    void *out = NULL;
    CHECK_EQ(edo_task_join(call, &out), 0);
    CHECK(out != NULL);
    free(out);
    CHECK_EQ(atomic_load(&behind.args_dropped), 1);
    edo_task_free(call);
    WAIT_UNTIL(atomic_load(&behind.thread_stops) == 2); /* the pool thread is gone too */
    CHECK_EQ(atomic_load(&behind.outputs_dropped), 0);
}

/* No handle at all: the left-behind thread holds the last reference and frees the runtime. */
TEST(shutdown_timeout_left_thread_frees_runtime)
{
    edo_task *call;
    edo_runtime *rt = behind_rt(&call);
    edo_task_free(call); /* detached from here on */
    shutdown_leaving_call(rt);
    atomic_store(&behind.release, 1);
    WAIT_UNTIL(atomic_load(&behind.thread_stops) == 2);
    CHECK_EQ(atomic_load(&behind.args_dropped), 1);
    CHECK_EQ(atomic_load(&behind.outputs_dropped), 1);
}

/* A coroutine waits in a join set's shutdown for a call the runtime's shutdown leaves behind:
 * it is left behind too, and ends (its shutdown returning once the call did) on the call's
 * thread when the call ends. */
static _Atomic int waiter_ready, waiter_rc = 1, waiter_saw = -1;

static void *slot_writer(void *arg)
{
    atomic_store(&behind.running, 1);
    WAIT_UNTIL(atomic_load(&behind.release));
    *(int *)arg = 7;
    return NULL;
}

static void *waits_for_call(void *arg)
{
    (void)arg;
    int slot = 0;
    edo_join_set *set;
    CHECK_EQ(edo_join_set_new(NULL, &set), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn_blocking(slot_writer, &slot, &t), 0);
    CHECK_EQ(edo_join_set_add(set, t), 0);
    atomic_store(&waiter_ready, 1);
    CHECK_EQ(edo_sleep(EDO_SEC(3600)), -ECANCELED); /* the runtime's shutdown */
    atomic_store(&waiter_rc, edo_join_set_shutdown(set));
    atomic_store(&waiter_saw, slot);
    edo_join_set_free(set);
    return NULL;
}

TEST(shutdown_timeout_leaves_waiting_task_behind)
{
    memset(&behind, 0, sizeof behind);
    atomic_store(&waiter_ready, 0);
    atomic_store(&waiter_rc, 1);
    atomic_store(&waiter_saw, -1);
    for (int flavor = 0; flavor < 2; flavor++) {
        atomic_store(&behind.release, 0);
        atomic_store(&behind.running, 0);
        edo_runtime *rt = new_rt((edo_runtime_flavor)flavor, 1);
        edo_task *t = spawn_until(rt, (edo_runtime_flavor)flavor, waits_for_call, &waiter_ready);
        WAIT_UNTIL(atomic_load(&behind.running)); /* past cancelling: it will be left behind */
        double start = now_s();
        CHECK_EQ(edo_runtime_shutdown_timeout(rt, EDO_MSEC(20)), -ETIMEDOUT);
        CHECK(now_s() - start < 30.0);
        CHECK_EQ(atomic_load(&waiter_rc), 1); /* still waiting */
        CHECK_EQ(edo_task_is_finished(t), 0);
        atomic_store(&behind.release, 1);
        CHECK_EQ(edo_task_join(t, NULL), -ECANCELED); /* waits: it ends on the call's thread */
        CHECK_EQ(atomic_load(&waiter_rc), 0);
        CHECK_EQ(atomic_load(&waiter_saw), 7);
        edo_task_free(t);
        atomic_store(&waiter_ready, 0);
        atomic_store(&waiter_rc, 1);
    }
}

/* Nothing to leave behind: 0; bad input. */
TEST(shutdown_timeout_in_time)
{
    CHECK_EQ(edo_runtime_shutdown_timeout(NULL, 0), -EINVAL);
    /* No limit at all: tasks are cancelled synchronously, nothing is waited for. */
    for (int flavor = 0; flavor < 2; flavor++) {
        edo_runtime *rt = new_rt((edo_runtime_flavor)flavor, 2);
        gate g;
        gate_init(&g);
        gate_future gf = gate_future_new(&g, NULL);
        CHECK_EQ(edo_spawn_future_on(rt, &gf.base, sizeof gf, NULL), 0);
        CHECK_EQ(edo_runtime_shutdown_timeout(rt, 0), 0);
        CHECK_EQ(atomic_load(&g.dropped), 1);
        gate_destroy(&g);
    }
    for (int flavor = 0; flavor < 2; flavor++) {
        edo_runtime *rt = new_rt((edo_runtime_flavor)flavor, 2);
        gate g;
        gate_init(&g);
        gate_future gf = gate_future_new(&g, NULL);
        edo_task *t;
        CHECK_EQ(edo_spawn_future_on(rt, &gf.base, sizeof gf, &t), 0);
        /* A pool thread whose call is done exits in time. */
        _Atomic long n = 0;
        edo_task *call;
        CHECK_EQ(edo_spawn_blocking_on(rt, inc_fn, &n, &call), 0);
        CHECK_EQ(edo_task_join(call, NULL), 0);
        edo_task_free(call);
        CHECK_EQ(edo_runtime_shutdown_timeout(rt, flavor ? EDO_SEC(30) : EDO_WAIT_FOREVER), 0);
        CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
        CHECK_EQ(atomic_load(&g.dropped), 1);
        CHECK_EQ(atomic_load(&n), 1);
        edo_task_free(t);
        gate_destroy(&g);
    }
}
