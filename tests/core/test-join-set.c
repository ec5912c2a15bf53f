/* Join sets (results in finishing order, abort, shutdown, free with results left), scopes
 * (structured concurrency: tasks end before the scope returns, also when the caller is aborted
 * or its deadline passes), and try_join. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

/* A coroutine that sleeps `ms` (its arg) and outputs it. */
static void *sleeper(void *arg)
{
    intptr_t ms = (intptr_t)arg;
    if (edo_sleep(EDO_MSEC((uint64_t)ms)) < 0)
        return NULL;
    return arg;
}

static void *finish_order(void *arg)
{
    (void)arg;
    edo_join_set *set;
    CHECK_EQ(edo_join_set_new(NULL, &set), 0);
    edo_join_result r;
    CHECK_EQ(edo_join_set_try_next(set, &r), -ECHILD);
    CHECK_EQ(edo_join_set_next(set, &r), -ECHILD);
    intptr_t ms[] = {50, 10, 40, 20, 30};
    uint64_t ids[5];
    for (int i = 0; i < 5; i++)
        CHECK_EQ(edo_join_set_spawn(set, sleeper, (void *)ms[i], &ids[i]), 0);
    CHECK_EQ(edo_join_set_len(set), 5u);
    CHECK_EQ(edo_join_set_try_next(set, &r), -EAGAIN);
    edo_instant start = edo_now();
    for (intptr_t want = 10; want <= 50; want += 10) {
        CHECK_EQ(edo_join_set_next(set, &r), 0);
        CHECK_EQ(r.result, 0);
        CHECK_EQ((intptr_t)r.output, want);
        CHECK_EQ(edo_now() - start, EDO_MSEC((uint64_t)want)); /* taken as soon as it ended */
        int i = 0;
        while (ms[i] != want)
            i++;
        CHECK_EQ(r.id, ids[i]);
    }
    CHECK_EQ(edo_join_set_len(set), 0u);
    CHECK_EQ(edo_join_set_next(set, &r), -ECHILD);
    edo_join_set_free(set);
    return NULL;
}

TEST(join_set_results_in_finish_order) { run_paused(finish_order, NULL); }

static void *instant(void *arg) { return arg; }

static void *abort_and_shutdown(void *arg)
{
    (void)arg;
    edo_join_set *set;
    CHECK_EQ(edo_join_set_new(NULL, &set), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(edo_join_set_spawn(set, sleeper, (void *)(intptr_t)3600000, NULL), 0);
    CHECK_EQ(edo_join_set_spawn(set, instant, (void *)7, NULL), 0);
    CHECK_EQ(edo_yield(), 0); /* the instant one ends */
    CHECK_EQ(edo_join_set_abort_all(set), 0);
    int cancelled = 0, completed = 0;
    edo_join_result r;
    while (edo_join_set_next(set, &r) == 0) {
        if (r.result == -ECANCELED)
            cancelled++;
        else if (r.result == 0 && (intptr_t)r.output == 7)
            completed++;
    }
    CHECK_EQ(cancelled, 4);
    CHECK_EQ(completed, 1);
    /* shutdown: aborts and waits, and the set can be used again. */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(edo_join_set_spawn(set, sleeper, (void *)(intptr_t)3600000, NULL), 0);
    edo_instant start = edo_now();
    CHECK_EQ(edo_join_set_shutdown(set), 0);
    CHECK_EQ(edo_now(), start);
    CHECK_EQ(edo_join_set_len(set), 0u);
    CHECK_EQ(edo_join_set_spawn(set, instant, (void *)9, NULL), 0);
    CHECK_EQ(edo_join_set_next(set, &r), 0);
    CHECK_EQ((intptr_t)r.output, 9);
    edo_join_set_free(set);
    return NULL;
}

TEST(join_set_abort_all_and_shutdown) { run_paused(abort_and_shutdown, NULL); }

static _Atomic long outputs_dropped;
static void count_drop(void *output)
{
    atomic_fetch_add(&outputs_dropped, 1);
    free(output);
}

static void *heap_output(void *arg)
{
    (void)arg;
    return malloc(16);
}

/* Outputs nobody takes are dropped: at free (finished tasks) and after it (tasks that end
 * later); handles added by hand join the set like spawned ones. */
static void *free_with_results(void *arg)
{
    (void)arg;
    atomic_store(&outputs_dropped, 0);
    edo_join_set *set;
    CHECK_EQ(edo_join_set_new(count_drop, &set), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(edo_join_set_spawn(set, heap_output, NULL, NULL), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn(heap_output, NULL, &t), 0);
    CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0); /* all four end; t's result is taken when added */
    CHECK_EQ(edo_join_set_add(set, t), 0);
    CHECK_EQ(edo_join_set_len(set), 4u);
    /* A future task that ends after the free: its output is dropped then. */
    gate g;
    gate_init(&g);
    gate_future gf = {{&gate_vtable}, &g, NULL};
    CHECK_EQ(edo_join_set_spawn_future(set, &gf.base, sizeof gf, NULL), 0);
    CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0);
    edo_join_set_free(set); /* aborts the gate task: it is dropped, never completes */
    CHECK_EQ(atomic_load(&outputs_dropped), 4);
    CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0);
    CHECK_EQ(atomic_load(&g.dropped), 1);
    gate_destroy(&g);

    /* Spent handles and bad input. */
    CHECK_EQ(edo_join_set_new(NULL, &set), 0);
    CHECK_EQ(edo_spawn(instant, NULL, &t), 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    CHECK_EQ(edo_join_set_add(set, t), -EINVAL); /* already joined: freed by the set */
    CHECK_EQ(edo_join_set_len(set), 0u);
    CHECK_EQ(edo_join_set_add(NULL, NULL), -EINVAL);
    CHECK_EQ(edo_join_set_add(set, NULL), -EINVAL);
    CHECK_EQ(edo_join_set_spawn(set, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_join_set_spawn(NULL, instant, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_join_set_next(NULL, NULL), -EINVAL);
    CHECK_EQ(edo_join_set_try_next(set, NULL), -EINVAL);
    CHECK_EQ(edo_join_set_abort_all(NULL), -EINVAL);
    CHECK_EQ(edo_join_set_shutdown(NULL), -EINVAL);
    CHECK_EQ(edo_join_set_len(NULL), 0u);
    CHECK_EQ(edo_join_set_new(NULL, NULL), -EINVAL);
    edo_join_set_free(NULL);
    edo_join_set_free(set);
    return NULL;
}

TEST(join_set_free_drops_untaken_outputs) { run_paused(free_with_results, NULL); }

/* Coroutines that return a malloc'd value although they were aborted: next hands it out with
 * -ECANCELED; shutdown and free give it to drop_output, also when it comes after the free. */
static void *heap_output_even_cancelled(void *arg)
{
    (void)arg;
    (void)edo_sleep(EDO_SEC(3600));
    return malloc(16);
}

static void *cancelled_outputs(void *arg)
{
    (void)arg;
    atomic_store(&outputs_dropped, 0);
    edo_join_set *set;
    CHECK_EQ(edo_join_set_new(count_drop, &set), 0);
    CHECK_EQ(edo_join_set_spawn(set, heap_output_even_cancelled, NULL, NULL), 0);
    CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0);
    CHECK_EQ(edo_join_set_abort_all(set), 0);
    edo_join_result r;
    CHECK_EQ(edo_join_set_next(set, &r), 0);
    CHECK_EQ(r.result, -ECANCELED);
    CHECK(r.output != NULL);
    free(r.output);
    /* shutdown */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(edo_join_set_spawn(set, heap_output_even_cancelled, NULL, NULL), 0);
    CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0);
    CHECK_EQ(edo_join_set_shutdown(set), 0);
    CHECK_EQ(atomic_load(&outputs_dropped), 3);
    /* free: three finished before it, two end after it */
    for (int i = 0; i < 3; i++)
        CHECK_EQ(edo_join_set_spawn(set, heap_output_even_cancelled, NULL, NULL), 0);
    CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0);
    CHECK_EQ(edo_join_set_abort_all(set), 0);
    CHECK_EQ(edo_join_set_spawn(set, heap_output_even_cancelled, NULL, NULL), 0);
    CHECK_EQ(edo_join_set_spawn(set, heap_output_even_cancelled, NULL, NULL), 0);
    CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0);
    edo_join_set_free(set); /* the three aborted first are finished: dropped here */
    CHECK_EQ(atomic_load(&outputs_dropped), 6);
    CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0); /* the last two unwind after the free */
    CHECK_EQ(atomic_load(&outputs_dropped), 8);
    return NULL;
}

TEST(join_set_cancelled_outputs_not_lost) { run_paused(cancelled_outputs, NULL); }

/* A next cut short by the deadline takes nothing: the result comes out of the next call. */
static int next_in_time(void *set)
{
    edo_join_result r;
    return edo_join_set_next(set, &r);
}

static void *next_deadline(void *arg)
{
    (void)arg;
    edo_join_set *set;
    CHECK_EQ(edo_join_set_new(NULL, &set), 0);
    CHECK_EQ(edo_join_set_spawn(set, sleeper, (void *)(intptr_t)100, NULL), 0);
    CHECK_EQ(edo_timeout(EDO_MSEC(50), next_in_time, set), -ETIMEDOUT);
    CHECK_EQ(edo_join_set_len(set), 1u);
    edo_join_result r;
    CHECK_EQ(edo_join_set_next(set, &r), 0);
    CHECK_EQ((intptr_t)r.output, 100);
    edo_join_set_free(set);
    return NULL;
}

TEST(join_set_next_deadline_takes_nothing) { run_paused(next_deadline, NULL); }

/* The future form, driven from a plain thread by edo_block_on; -EPERM for coroutine calls. */
TEST(join_set_future_form_outside_coroutine)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    edo_join_set *set;
    CHECK_EQ(edo_join_set_new(NULL, &set), 0);
    CHECK_EQ(edo_join_set_spawn(set, instant, NULL, NULL), -EPERM); /* not in a runtime */
    for (intptr_t i = 1; i <= 3; i++) {
        edo_task *t;
        CHECK_EQ(edo_spawn_with(rt, NULL, instant, (void *)i, &t), 0);
        CHECK_EQ(edo_join_set_add(set, t), 0);
    }
    intptr_t sum = 0;
    for (int i = 0; i < 3; i++) {
        edo_join_set_next_future f;
        edo_join_set_next_future_init(&f, set);
        CHECK_EQ(edo_block_on(rt, &f.base, NULL), 0);
        CHECK_EQ(f.result, 0);
        sum += (intptr_t)f.r.output;
    }
    CHECK_EQ(sum, 6);
    edo_join_set_next_future f;
    edo_join_set_next_future_init(&f, set);
    CHECK_EQ(edo_block_on(rt, &f.base, NULL), 0);
    CHECK_EQ(f.result, -ECHILD);
    edo_join_result r;
    CHECK_EQ(edo_join_set_next(set, &r), -EPERM);
    CHECK_EQ(edo_join_set_shutdown(set), -EPERM);
    edo_join_set_free(set);
    edo_runtime_free(rt);
}

/* Many tasks on two workers, finishing as they may, an abort of all midway: every task comes
 * out exactly once. */
static void *yielder(void *arg)
{
    intptr_t n = (intptr_t)arg;
    for (intptr_t i = 0; i < n % 7; i++)
        if (edo_yield() < 0)
            return NULL;
    return arg;
}

static void *many_tasks(void *arg)
{
    (void)arg;
    enum { N = 600 };
    edo_join_set *set;
    CHECK_EQ(edo_join_set_new(NULL, &set), 0);
    for (intptr_t i = 1; i <= N; i++)
        CHECK_EQ(edo_join_set_spawn(set, yielder, (void *)i, NULL), 0);
    static unsigned char seen[N + 1];
    memset(seen, 0, sizeof seen);
    int taken = 0, cancelled = 0;
    edo_join_result r;
    while (edo_join_set_next(set, &r) == 0) {
        if (++taken == N / 3)
            edo_join_set_abort_all(set);
        if (r.result == -ECANCELED) {
            cancelled++;
            continue;
        }
        intptr_t v = (intptr_t)r.output;
        CHECK(v >= 1 && v <= N);
        CHECK_EQ(seen[v], 0);
        seen[v] = 1;
    }
    CHECK_EQ(taken, N);
    CHECK(cancelled <= N - N / 3);
    edo_join_set_free(set);
    return NULL;
}

TEST(join_set_many_tasks_race) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, many_tasks, NULL); }

/* ---- shutdown from a coroutine being aborted ------------------------------------------------ */

/* A coroutine outside any scope is aborted; while it unwinds it shuts its join set down. The
 * child is a blocking-pool call (an abort cannot stop it) that writes into the parent's frame:
 * edo_join_set_shutdown must still wait for it, or the frame is gone when the call writes. */
typedef struct {
    _Atomic int in_shutdown;      /* the parent is about to call edo_join_set_shutdown */
    _Atomic int shutdown_returned;
    _Atomic int violations;       /* the child ended after the parent's shutdown returned */
    _Atomic int parent_waiting;
    _Atomic int writer_running;   /* the blocking call runs (an abort can no longer cancel it) */
    _Atomic int rc;               /* what the shutdown returned */
    _Atomic int seen;             /* what the parent found in its frame afterwards */
} unwinding_case;

static unwinding_case unwinding;

static void *slow_writer(void *arg)
{
    int *slot = arg;
    atomic_store(&unwinding.writer_running, 1);
    WAIT_UNTIL(atomic_load(&unwinding.in_shutdown));
    usleep(20000); /* a shutdown that does not wait returns meanwhile */
    if (atomic_load(&unwinding.shutdown_returned))
        atomic_fetch_add(&unwinding.violations, 1);
    *slot = 42;
    return malloc(8); /* taken by the shutdown: dropped with drop_output */
}

static void *unwinding_parent(void *arg)
{
    (void)arg;
    int slot = 0; /* the child writes here */
    edo_join_set *set;
    CHECK_EQ(edo_join_set_new(free, &set), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn_blocking(slow_writer, &slot, &t), 0);
    CHECK_EQ(edo_join_set_add(set, t), 0);
    atomic_store(&unwinding.parent_waiting, 1);
    CHECK_EQ(edo_sleep(EDO_SEC(3600)), -ECANCELED); /* aborted here */
    atomic_store(&unwinding.in_shutdown, 1);
    atomic_store(&unwinding.rc, edo_join_set_shutdown(set));
    atomic_store(&unwinding.shutdown_returned, 1);
    atomic_store(&unwinding.seen, slot);
    CHECK_EQ(edo_join_set_len(set), 0u);
    edo_join_set_free(set);
    CHECK_EQ(edo_yield(), -ECANCELED); /* still being cancelled */
    return NULL;
}

static void unwinding_reset(void)
{
    atomic_store(&unwinding.in_shutdown, 0);
    atomic_store(&unwinding.shutdown_returned, 0);
    atomic_store(&unwinding.violations, 0);
    atomic_store(&unwinding.parent_waiting, 0);
    atomic_store(&unwinding.writer_running, 0);
    atomic_store(&unwinding.rc, 1);
    atomic_store(&unwinding.seen, -1);
}

static void shutdown_while_aborted_case(edo_runtime_flavor flavor)
{
    unwinding_reset();
    edo_runtime *rt = new_rt(flavor, 2);
    edo_task *t = spawn_until(rt, flavor, unwinding_parent, &unwinding.parent_waiting);
    WAIT_UNTIL(atomic_load(&unwinding.writer_running));
    CHECK_EQ(edo_task_abort(t), 0);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    CHECK_EQ(atomic_load(&unwinding.rc), 0);
    CHECK_EQ(atomic_load(&unwinding.seen), 42);
    CHECK_EQ(atomic_load(&unwinding.violations), 0);
    edo_task_free(t);
    edo_runtime_free(rt);
}

TEST(join_set_shutdown_waits_while_aborted)
{
    shutdown_while_aborted_case(EDO_RUNTIME_MULTI_THREAD);
    shutdown_while_aborted_case(EDO_RUNTIME_CURRENT_THREAD);
}

/* The same at runtime shutdown: the parent is cancelled by edo_runtime_free while its children
 * (future tasks that are dropped when aborted) still exist; its shutdown waits for them. */
static _Atomic int gate_children_live;

static void gate_child_drop(edo_future *f)
{
    (void)f;
    atomic_fetch_sub(&gate_children_live, 1);
}

static edo_poll never_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)f, (void)cx, (void)out;
    return EDO_PENDING;
}

static const edo_future_vtable never_vtable = {never_poll, gate_child_drop};

static void *parent_of_futures(void *arg)
{
    (void)arg;
    edo_join_set *set;
    CHECK_EQ(edo_join_set_new(NULL, &set), 0);
    for (int i = 0; i < 8; i++) {
        edo_future f = {&never_vtable};
        atomic_fetch_add(&gate_children_live, 1);
        CHECK_EQ(edo_join_set_spawn_future(set, &f, sizeof f, NULL), 0);
    }
    atomic_store(&unwinding.parent_waiting, 1);
    CHECK_EQ(edo_sleep(EDO_SEC(3600)), -ECANCELED);
    atomic_store(&unwinding.rc, edo_join_set_shutdown(set));
    atomic_store(&unwinding.seen, atomic_load(&gate_children_live));
    edo_join_set_free(set);
    return NULL;
}

TEST(join_set_shutdown_waits_at_runtime_shutdown)
{
    for (int flavor = 0; flavor < 2; flavor++) {
        unwinding_reset();
        atomic_store(&gate_children_live, 0);
        edo_runtime *rt = new_rt((edo_runtime_flavor)flavor, 2);
        edo_task *t = spawn_until(rt, (edo_runtime_flavor)flavor, parent_of_futures,
                                  &unwinding.parent_waiting);
        edo_runtime_free(rt);
        CHECK_EQ(atomic_load(&unwinding.rc), 0);
        CHECK_EQ(atomic_load(&unwinding.seen), 0); /* every child was gone when it returned */
        CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
        edo_task_free(t);
    }
}

/* ---- scopes --------------------------------------------------------------------------------- */

typedef struct {
    int slots[4];     /* on the parent's stack: children write here */
    intptr_t delay;   /* each child sleeps this long (ms) before writing */
} frame;

typedef struct {
    frame *f;
    int i;
} child_arg;

static child_arg child_args[64];

static void *write_slot(void *arg)
{
    child_arg *c = arg;
    if (edo_sleep(EDO_MSEC((uint64_t)c->f->delay)) < 0) {
        c->f->slots[c->i] = -1; /* even unwinding, the parent's frame is still there */
        return NULL;
    }
    c->f->slots[c->i] = c->i + 1;
    return malloc(8);
}

static int spawn_writers(edo_join_set *set, void *arg)
{
    frame *f = arg;
    for (int i = 0; i < 4; i++) {
        child_args[i] = (child_arg){f, i};
        if (edo_join_set_spawn(set, write_slot, &child_args[i], NULL) < 0)
            return -1;
    }
    return 0;
}

static int spawn_writers_then_fail(edo_join_set *set, void *arg)
{
    int rc = spawn_writers(set, arg);
    return rc < 0 ? rc : -EIO;
}

static void *scope_cases(void *arg)
{
    (void)arg;
    /* The scope returns once every child is done; their outputs go to drop_output. */
    atomic_store(&outputs_dropped, 0);
    frame f = {{0}, 30};
    edo_instant start = edo_now();
    CHECK_EQ(edo_scope(spawn_writers, &f, count_drop), 0);
    CHECK_EQ(edo_now() - start, EDO_MSEC(30));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(f.slots[i], i + 1);
    CHECK_EQ(atomic_load(&outputs_dropped), 4);
    /* A failing body: the children are aborted (and ended) before the scope returns. */
    frame g = {{0}, 3600000};
    start = edo_now();
    CHECK_EQ(edo_scope(spawn_writers_then_fail, &g, count_drop), -EIO);
    CHECK_EQ(edo_now(), start);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(g.slots[i], -1);
    CHECK_EQ(edo_scope(NULL, NULL, NULL), -EINVAL);
    return NULL;
}

TEST(scope_waits_for_its_tasks) { run_paused(scope_cases, NULL); }

static int scope_with_long_children(void *arg)
{
    return edo_scope(spawn_writers, arg, count_drop);
}

static void *scope_deadline(void *arg)
{
    (void)arg;
    frame f = {{0}, 3600000};
    edo_instant start = edo_now();
    CHECK_EQ(edo_timeout(EDO_MSEC(100), scope_with_long_children, &f), -ETIMEDOUT);
    CHECK_EQ(edo_now() - start, EDO_MSEC(100));
    for (int i = 0; i < 4; i++)
        CHECK_EQ(f.slots[i], -1);
    return NULL;
}

TEST(scope_deadline_aborts_its_tasks) { run_paused(scope_deadline, NULL); }

/* The caller is aborted while its scope waits: its tasks end first (they write into its
 * frame while unwinding), then the abort takes effect. */
static _Atomic int scope_rc = 1, slots_after_scope = -100;
static _Atomic int parent_waiting;

static int spawn_writers_and_say(edo_join_set *set, void *arg)
{
    int rc = spawn_writers(set, arg);
    atomic_store(&parent_waiting, 1);
    return rc;
}

static void *aborted_parent(void *arg)
{
    (void)arg;
    frame f = {{0}, 3600000};
    int rc = edo_scope(spawn_writers_and_say, &f, count_drop);
    atomic_store(&scope_rc, rc);
    atomic_store(&slots_after_scope, f.slots[0] + f.slots[1] + f.slots[2] + f.slots[3]);
    CHECK_EQ(edo_yield(), -ECANCELED); /* the abort is in effect now */
    return NULL;
}

static void abort_parent_case(edo_runtime_flavor flavor)
{
    atomic_store(&parent_waiting, 0);
    atomic_store(&scope_rc, 1);
    atomic_store(&slots_after_scope, -100);
    edo_runtime *rt = new_rt(flavor, 2);
    edo_task *t = spawn_until(rt, flavor, aborted_parent, &parent_waiting);
    CHECK_EQ(edo_task_abort(t), 0);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    CHECK_EQ(atomic_load(&scope_rc), -ECANCELED);
    CHECK_EQ(atomic_load(&slots_after_scope), -4); /* every child unwound before */
    edo_task_free(t);
    edo_runtime_free(rt);
}

TEST(scope_defers_abort_until_tasks_end)
{
    abort_parent_case(EDO_RUNTIME_MULTI_THREAD);
    abort_parent_case(EDO_RUNTIME_CURRENT_THREAD);
}

/* The runtime is freed while a scope waits: everything ends, nothing leaks. */
TEST(scope_runtime_shutdown)
{
    atomic_store(&parent_waiting, 0);
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    CHECK_EQ(edo_spawn_with(rt, NULL, aborted_parent, NULL, NULL), 0);
    while (!atomic_load(&parent_waiting))
        sched_yield();
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&slots_after_scope), -4);
}

/* Aborts at random moments of parents whose scopes run yielding children: the children always
 * end before their parent's scope returns. */
typedef struct {
    _Atomic int live; /* children of this parent still running */
    _Atomic int violations;
} family;

static void *counted_child(void *arg)
{
    family *fam = arg;
    for (int i = 0; i < 50; i++)
        if (edo_yield() < 0)
            break;
    atomic_fetch_sub(&fam->live, 1);
    return NULL;
}

static int spawn_counted(edo_join_set *set, void *arg)
{
    family *fam = arg;
    for (int i = 0; i < 8; i++) {
        atomic_fetch_add(&fam->live, 1);
        if (edo_join_set_spawn(set, counted_child, fam, NULL) < 0) {
            atomic_fetch_sub(&fam->live, 1);
            return -1;
        }
    }
    for (int i = 0; i < 20; i++)
        if (edo_yield() < 0)
            return -ECANCELED;
    return 0;
}

static void *scoped_parent(void *arg)
{
    family *fam = arg;
    edo_scope(spawn_counted, fam, NULL);
    if (atomic_load(&fam->live) != 0)
        atomic_fetch_add(&fam->violations, 1);
    return NULL;
}

/* One round: PARENTS parents running `parent` over fams[], aborted one by one at staggered
 * moments, then joined; none may report a child that outlived its wait. */
enum { PARENTS = 40 };

static void storm_round(void *(*parent)(void *), family *fams, int round)
{
    edo_task *tasks[PARENTS];
    for (int i = 0; i < PARENTS; i++) {
        atomic_store(&fams[i].live, 0);
        atomic_store(&fams[i].violations, 0);
        CHECK_EQ(edo_spawn(parent, &fams[i], &tasks[i]), 0);
    }
    for (int i = 0; i < PARENTS; i++) {
        for (int k = 0; k < (i + round) % 5; k++)
            edo_yield();
        edo_task_abort(tasks[i]);
    }
    for (int i = 0; i < PARENTS; i++) {
        int rc = edo_task_join(tasks[i], NULL);
        CHECK(rc == 0 || rc == -ECANCELED);
        edo_task_free(tasks[i]);
        CHECK_EQ(atomic_load(&fams[i].violations), 0);
        CHECK_EQ(atomic_load(&fams[i].live), 0);
    }
}

static void *abort_storm(void *arg)
{
    (void)arg;
    static family fams[PARENTS];
    storm_round(scoped_parent, fams, 0);
    return NULL;
}

TEST(scope_abort_race) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, abort_storm, NULL); }

/* Parents outside any scope, aborted at random moments (before, during or after their own
 * shutdown call), with yielding children on two workers: when a parent's shutdown returns, none
 * of its children runs any more. */
static void *shutdown_parent(void *arg)
{
    family *fam = arg;
    edo_join_set *set;
    CHECK_EQ(edo_join_set_new(NULL, &set), 0);
    for (int i = 0; i < 8; i++) {
        atomic_fetch_add(&fam->live, 1);
        if (edo_join_set_spawn(set, counted_child, fam, NULL) < 0)
            atomic_fetch_sub(&fam->live, 1);
    }
    for (int i = 0; i < 10; i++)
        if (edo_yield() < 0)
            break;
    CHECK_EQ(edo_join_set_shutdown(set), 0);
    if (atomic_load(&fam->live) != 0)
        atomic_fetch_add(&fam->violations, 1);
    edo_join_set_free(set);
    return NULL;
}

static void *shutdown_abort_storm(void *arg)
{
    (void)arg;
    static family fams[PARENTS];
    double until = stress_deadline();
    for (int round = 0; round < SCALE(20, 5, 3) && now_s() < until; round++)
        storm_round(shutdown_parent, fams, round);
    return NULL;
}

TEST(join_set_shutdown_abort_race)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, shutdown_abort_storm, NULL);
}

/* ---- try_join ------------------------------------------------------------------------------- */

static int odd_fails(size_t index, edo_future *future, void *output, void *ctx)
{
    (void)future;
    (void)output;
    (*(int *)ctx)++;
    return index % 2 ? -EIO : 0;
}

static int all_fine(size_t index, edo_future *future, void *output, void *ctx)
{
    (void)index;
    (void)future;
    (void)output;
    (*(int *)ctx)++;
    return 0;
}

static void *try_join_cases(void *arg)
{
    (void)arg;
    edo_sleep_future a, b, c;
    edo_sleep_future_init(&a, EDO_MSEC(10));
    edo_sleep_future_init(&b, EDO_MSEC(20)); /* index 1 fails when it ends */
    edo_sleep_future_init(&c, EDO_MSEC(500));
    edo_future *all[] = {&a.base, &b.base, &c.base};
    int checked = 0;
    size_t failed = 99;
    edo_instant start = edo_now();
    CHECK_EQ(edo_try_join(all, 3, NULL, odd_fails, &checked, &failed), -EIO);
    CHECK_EQ(failed, 1u);
    CHECK_EQ(checked, 2);
    CHECK_EQ(edo_now() - start, EDO_MSEC(20)); /* did not wait for c */
    for (int i = 0; i < 3; i++)
        edo_future_drop(all[i]);
    edo_sleep_future_init(&a, EDO_MSEC(10));
    edo_sleep_future_init(&b, EDO_MSEC(30));
    edo_sleep_future_init(&c, EDO_MSEC(20));
    checked = 0;
    CHECK_EQ(edo_try_join(all, 3, NULL, all_fine, &checked, NULL), 0);
    CHECK_EQ(checked, 3);
    CHECK_EQ(edo_now() - start, EDO_MSEC(50));
    for (int i = 0; i < 3; i++)
        edo_future_drop(all[i]);
    CHECK_EQ(edo_try_join(all, 3, NULL, NULL, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_try_join(NULL, 3, NULL, all_fine, &checked, NULL), -EINVAL);
    return NULL;
}

TEST(try_join_stops_at_first_failure) { run_paused(try_join_cases, NULL); }
