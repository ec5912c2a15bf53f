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

/* ---- step waits (edo__coro_wait_step): a oneshot's receive ------------------------------- */

/* A receive that waits: its state is in the task, and its step, taken by the poll, writes the
 * value into the receiving call's `value` and resumes the coroutine in its caller with the
 * result. On a current-thread runtime the receiver, spawned first, always waits before the
 * sender runs. */
typedef struct {
    edo_oneshot *o;
    void *got;
    int rc;
} receiver;

static void *receive(void *arg)
{
    receiver *r = arg;
    r->rc = edo_oneshot_recv(r->o, &r->got);
    return (void *)(intptr_t)r->rc;
}

static void *send_42(void *arg)
{
    CHECK_EQ(edo_oneshot_send(arg, (void *)42), 0);
    return NULL;
}

static void *close_sender(void *arg)
{
    edo_oneshot_sender_close(arg);
    return NULL;
}

/* Spawns the receiver, then `sender` on the same channel, on a current-thread runtime, and
 * joins both; returns the receiver's join result. */
static int receive_then(receiver *r, void *(*sender)(void *))
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 1);
    CHECK_EQ(edo_oneshot_new(&r->o), 0);
    r->got = NULL;
    r->rc = 1;
    edo_task *rx, *tx;
    CHECK_EQ(edo_spawn_with(rt, NULL, receive, r, &rx), 0);
    CHECK_EQ(edo_spawn_with(rt, NULL, sender, r->o, &tx), 0);
    void *out = NULL;
    int rc = edo_task_join(rx, &out);
    CHECK_EQ((intptr_t)out, r->rc);
    CHECK_EQ(edo_task_join(tx, NULL), 0);
    edo_task_free(rx);
    edo_task_free(tx);
    edo_runtime_free(rt);
    return rc;
}

TEST(step_wait_delivers_the_value)
{
    receiver r;
    CHECK_EQ(receive_then(&r, send_42), 0);
    CHECK_EQ(r.rc, 0);
    CHECK_EQ((intptr_t)r.got, 42);
}

TEST(step_wait_sees_the_sender_close)
{
    receiver r;
    CHECK_EQ(receive_then(&r, close_sender), 0);
    CHECK_EQ(r.rc, -EPIPE);
    CHECK(r.got == NULL);
}

/* Aborted while waiting: the receive returns -ECANCELED in the coroutine (whose caller goes on,
 * closing the receiver side), the step having withdrawn the waker; the sender then finds the
 * receiver gone. The abort comes from a coroutine on the same current-thread runtime, so the
 * receiver is certainly waiting. */
typedef struct {
    edo_oneshot *o;
    edo_task *receiver;
    int send_rc;
} aborter;

static void *receive_then_close(void *arg)
{
    edo_oneshot *o = arg;
    int rc = edo_oneshot_recv(o, NULL);
    CHECK(edo_oneshot_receiver_close(o) == NULL);
    return (void *)(intptr_t)rc;
}

static void *abort_then_send(void *arg)
{
    aborter *a = arg;
    CHECK_EQ(edo_task_abort(a->receiver), 0);
    CHECK_EQ(edo_yield(), 0); /* the abort drops the receiver meanwhile */
    a->send_rc = edo_oneshot_send(a->o, (void *)7); /* frees the channel */
    return NULL;
}

TEST(step_wait_aborted_withdraws)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 1);
    aborter a = {NULL, NULL, 1};
    CHECK_EQ(edo_oneshot_new(&a.o), 0);
    CHECK_EQ(edo_spawn_with(rt, NULL, receive_then_close, a.o, &a.receiver), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, abort_then_send, &a, &t), 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    void *out = NULL;
    CHECK_EQ(edo_task_join(a.receiver, &out), -ECANCELED);
    CHECK_EQ((intptr_t)out, -ECANCELED); /* what the receive returned, delivered */
    CHECK_EQ(a.send_rc, -EPIPE);
    edo_task_free(t);
    edo_task_free(a.receiver);
    edo_runtime_free(rt);
}

/* Under a deadline the receive waits for a future instead (the timer needs the frame): it
 * times out, the receiver side stays open, and a later receive gets the value. */
static void *receive_under_deadline(void *arg)
{
    (void)arg;
    edo_oneshot *o;
    CHECK_EQ(edo_oneshot_new(&o), 0);
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(10)), &saved), 0);
    void *got = NULL;
    CHECK_EQ(edo_oneshot_recv(o, &got), -ETIMEDOUT);
    CHECK_EQ(edo_deadline_pop(saved), 0);
    CHECK_EQ(edo_oneshot_send(o, (void *)9), 0);
    CHECK_EQ(edo_oneshot_recv(o, &got), 0); /* frees the channel */
    return got;
}

TEST(step_wait_not_used_under_a_deadline)
{
    CHECK_EQ((intptr_t)run_paused(receive_under_deadline, NULL), 9);
}

/* Long-lived pairs on two workers, each round trip a new oneshot carrying the reply's oneshot
 * (bench/'s ping_pong_pairs): every value arrives, wherever the two sides run. */
#define PAIRS 64
#define ROUNDS SCALE(200, 50, 20)

static void *pong(void *arg)
{
    edo_oneshot *inbox = arg;
    for (;;) {
        void *reply;
        int rc = edo_oneshot_recv(inbox, &reply);
        if (rc == -EPIPE)
            return NULL;
        CHECK_EQ(rc, 0);
        CHECK_EQ(edo_oneshot_new(&inbox), 0);
        CHECK_EQ(edo_oneshot_send(reply, inbox), 0);
    }
}

static void *ping(void *arg)
{
    edo_oneshot *to_pong = arg;
    for (long i = 0; i < ROUNDS; i++) {
        edo_oneshot *back;
        void *next = NULL;
        CHECK_EQ(edo_oneshot_new(&back), 0);
        CHECK_EQ(edo_oneshot_send(to_pong, back), 0);
        CHECK_EQ(edo_oneshot_recv(back, &next), 0);
        CHECK(next != NULL);
        to_pong = next;
    }
    edo_oneshot_sender_close(to_pong);
    return (void *)(intptr_t)ROUNDS;
}

TEST(step_wait_pairs_across_workers)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    edo_task *pings[PAIRS], *pongs[PAIRS];
    for (int i = 0; i < PAIRS; i++) {
        edo_oneshot *first;
        CHECK_EQ(edo_oneshot_new(&first), 0);
        CHECK_EQ(edo_spawn_with(rt, NULL, pong, first, &pongs[i]), 0);
        CHECK_EQ(edo_spawn_with(rt, NULL, ping, first, &pings[i]), 0);
    }
    for (int i = 0; i < PAIRS; i++) {
        void *out = NULL;
        CHECK_EQ(edo_task_join(pings[i], &out), 0);
        CHECK_EQ((intptr_t)out, ROUNDS);
        CHECK_EQ(edo_task_join(pongs[i], NULL), 0);
        edo_task_free(pings[i]);
        edo_task_free(pongs[i]);
    }
    edo_runtime_free(rt);
}
