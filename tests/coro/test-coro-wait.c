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

/* A coroutine on a two-worker runtime, waiting on a shut gate (util.h's await_gate). */
typedef struct {
    edo_runtime *rt;
    gate g;
    edo_task *t;
} gate_waiter;

static void waiter_start(gate_waiter *w)
{
    w->rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    gate_init(&w->g);
    CHECK_EQ(edo_spawn_with(w->rt, NULL, await_gate, &w->g, &w->t), 0);
    WAIT_UNTIL(gate_has_waiter(&w->g));
}

/* Wakes the waiter with the gate still shut, and waits until its task has polled it again. */
static void waiter_poke(gate_waiter *w)
{
    int polls = atomic_load(&w->g.polls);
    gate_poke(&w->g);
    WAIT_UNTIL(atomic_load(&w->g.polls) > polls);
}

/* Joins the waiter, expecting `rc` and `out` (the coroutine's output), and frees it all. The
 * future was dropped once. */
static void waiter_finish(gate_waiter *w, int rc, intptr_t out)
{
    void *got = NULL;
    CHECK_EQ(edo_task_join(w->t, &got), rc);
    CHECK_EQ((intptr_t)got, out);
    CHECK_EQ(atomic_load(&w->g.dropped), 1);
    edo_task_free(w->t);
    edo_runtime_free(w->rt);
    gate_destroy(&w->g);
}

/* Wakes from another thread that find the gate shut (pokes), then one that finds it open: the
 * output arrives once. */
TEST(pokes_from_another_thread_then_open)
{
    gate_waiter w;
    waiter_start(&w);
    for (int i = 0; i < 3; i++)
        waiter_poke(&w);
    gate_open(&w.g);
    waiter_finish(&w, 0, 5);
}

/* Aborted while suspended in a wait that its poll has polled again since: the wait returns
 * -ECANCELED in the coroutine, which unwinds and returns that. */
TEST(abort_after_a_poll_of_the_wait)
{
    gate_waiter w;
    waiter_start(&w);
    waiter_poke(&w);
    CHECK_EQ(edo_task_abort(w.t), 0);
    waiter_finish(&w, -ECANCELED, -ECANCELED);
}
