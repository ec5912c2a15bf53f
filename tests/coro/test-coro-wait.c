/* A coroutine's wait finished by its task's poll (coro.c, waiting_poll): the future it waits for
 * is polled on the poller's side while it is pending, and the coroutine resumes only once it is
 * ready, with its output, or to be cancelled. */
#include "harness.h"
#include "util.h"

/* Pending (waking its own task at once, a spurious wake) until polled `pending` times; then
 * ready with `value`. Counts its polls, and those made from inside the coroutine. */
typedef struct {
    edo_future base;
    int pending;
    int polls, polls_in_coroutine;
    void *value;
} restless_future;

static edo_poll restless_poll(edo_future *f, edo_context *cx, void **out)
{
    restless_future *r = (restless_future *)f;
    r->polls++;
    if (edo_in_coroutine())
        r->polls_in_coroutine++;
    if (r->polls <= r->pending) {
        edo_waker_wake_by_ref(edo_context_waker(cx));
        return EDO_PENDING;
    }
    *out = r->value;
    return EDO_READY;
}
static const edo_future_vtable restless_vtable = {restless_poll, NULL};

static void *await_restless(void *arg)
{
    restless_future *r = arg;
    void *out = NULL;
    CHECK_EQ(edo_await(&r->base, &out), 0);
    return out;
}

/* Every wake-up but the last finds the future pending: the poll polls it and the coroutine stays
 * suspended; only its first poll (before it suspends) runs inside it. */
TEST(spurious_wakes_poll_without_resuming)
{
    restless_future r = {{&restless_vtable}, 5, 0, 0, (void *)41};
    CHECK_EQ((intptr_t)run_coro(EDO_RUNTIME_CURRENT_THREAD, 1, await_restless, &r), 41);
    CHECK_EQ(r.polls, 6);
    CHECK_EQ(r.polls_in_coroutine, 1);
}

static void *await_gate_value(void *arg)
{
    gate_future gf = gate_future_new(arg, (void *)9);
    void *out = NULL;
    int rc = edo_await(&gf.base, &out);
    edo_future_drop(&gf.base);
    return rc == 0 ? out : (void *)(intptr_t)rc;
}

/* Wakes from another thread that find the gate shut (pokes), then one that finds it open: the
 * output arrives once, the future is dropped once. */
TEST(pokes_from_another_thread_then_open)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    gate g;
    gate_init(&g);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, await_gate_value, &g, &t), 0);
    WAIT_UNTIL(gate_has_waiter(&g));
    for (int i = 0; i < 3; i++) {
        int polls = atomic_load(&g.polls);
        gate_poke(&g);
        WAIT_UNTIL(atomic_load(&g.polls) > polls); /* polled again, still pending */
    }
    gate_open(&g);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 9);
    CHECK_EQ(atomic_load(&g.dropped), 1);
    edo_task_free(t);
    edo_runtime_free(rt);
    gate_destroy(&g);
}

/* Aborted while suspended in a wait that its poll has polled again since: the wait returns
 * -ECANCELED in the coroutine, which unwinds (dropping the future once). */
TEST(abort_after_a_poll_of_the_wait)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    gate g;
    gate_init(&g);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, await_gate_value, &g, &t), 0);
    WAIT_UNTIL(gate_has_waiter(&g));
    int polls = atomic_load(&g.polls);
    gate_poke(&g);
    WAIT_UNTIL(atomic_load(&g.polls) > polls);
    CHECK_EQ(edo_task_abort(t), 0);
    void *out = NULL;
    CHECK_EQ(edo_task_join(t, &out), -ECANCELED);
    CHECK_EQ((intptr_t)out, -ECANCELED); /* what the coroutine returned as it unwound */
    CHECK_EQ(atomic_load(&g.dropped), 1);
    edo_task_free(t);
    edo_runtime_free(rt);
    gate_destroy(&g);
}
