/* libFuzzer target: the scheduler's public API, driven by a byte string.
 *
 * The first byte picks the runtime: current-thread with a paused clock (deterministic; sleeps
 * cost nothing, a runtime with only sleepers jumps to the next deadline) or multi-thread with
 * two workers (real interleavings; sleeps are mostly 0). A driver coroutine then reads the
 * rest as operations: spawn future and coroutine children (with a handle, or into a join set),
 * abort, join (bounded by a deadline), select, sleep, notify_one/notify_all, channel receive,
 * yield, take from the join set, detach, advance the paused clock. Children ready at once,
 * yield, sleep, wait for the notify, or send on the channel.
 *
 * Invariants, checked as they happen, after every operation and at the end:
 *  - every child ends exactly once (its future dropped, or its coroutine returned), also when
 *    aborted or still running at shutdown (a coroutine cancelled before its first run never
 *    runs), and completes at most once; every handle still held after the shutdown joins at
 *    once with the child's result;
 *  - a join gives 0 with the child's own output only if it completed, -ECANCELED with no output
 *    only if it did not, -EALREADY after that; a child that cannot block (ready, yields, a
 *    short sleep) is joined within its deadline: a join that times out there is a hang;
 *  - every output of a join-set child is taken by next/try_next or passed to drop_output, once;
 *  - every channel message is received, handed to on_unreceived, or kept by a send that did
 *    not happen, once;
 *  - nothing leaks (LeakSanitizer, at the end of each input).
 * Inputs are cut at MAX_OPS operations and MAX_CHILDREN children so each runs in well under a
 * millisecond on the current-thread runtime. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edo/coro.h"
#include "edo/runtime.h"
#include "edo/sync.h"
#include "edo/task.h"
#include "edo/time.h"
#include "check.h"

#define MAX_OPS 64
#define MAX_CHILDREN 24
#define OUTPUT_MAGIC 0x6f757470u /* "outp" */
#define MESSAGE_MAGIC 0x6d736721u

typedef enum child_kind { READY, YIELDS, SLEEPS, WAITS_NOTIFY, SENDS, KINDS } child_kind;

typedef struct world world;

typedef struct child {
    world *w;
    int index;
    child_kind kind;
    bool coroutine, in_set;
    uint64_t sleep_ns;
    int yields;
    edo_task *handle; /* NULL: in the set, detached, or joined and freed */
    bool joined;      /* the handle returned the result (0 or -ECANCELED) */
    atomic_bool started;  /* a coroutine's function ran (one cancelled first never does) */
    atomic_int ended;     /* the future dropped, or the coroutine returned */
    atomic_int completed; /* the future returned READY, or the coroutine finished its wait */
    atomic_bool saw_cancel;
} child;

/* A set child's output, and a channel message: heap blocks that must be freed exactly once. */
typedef struct token {
    uint32_t magic;
    int child;
} token;

struct world {
    const uint8_t *data;
    size_t size, at;
    bool paused;
    edo_runtime *rt;
    edo_notify *notify;
    edo_chan *chan;
    edo_join_set *set;
    child children[MAX_CHILDREN];
    int n_children;
    atomic_int outputs_made, outputs_taken, outputs_dropped;
    atomic_int messages_made, messages_received, messages_unreceived, messages_unsent;
};

/* The one world of the input being run: drop_output and on_unreceived have no argument. */
static world *current;

static uint8_t next_byte(world *w)
{
    return w->at < w->size ? w->data[w->at++] : 0;
}

/* A duration from one byte: 0 to 7 ms on the paused clock, where waiting costs nothing; on the
 * real one mostly 0 (a deadline already passed: the wait only takes what is ready) and now
 * and then 1 us, which the timer rounds up to its tick, so inputs stay fast. */
static uint64_t sleep_for(world *w, uint8_t b)
{
    if (w->paused)
        return (uint64_t)(b % 8) * EDO_MSEC(1);
    return b % 8 == 7 ? EDO_USEC(1) : 0;
}

static token *token_new(uint32_t magic, int child_index)
{
    token *t = malloc(sizeof *t);
    CHECK(t);
    t->magic = magic;
    t->child = child_index;
    return t;
}

static void token_free(token *t, uint32_t magic)
{
    CHECK(t && t->magic == magic);
    t->magic = 0;
    free(t);
}

static void drop_output(void *output)
{
    if (!output)
        return; /* a cancelled coroutine returned nothing */
    token_free(output, OUTPUT_MAGIC);
    atomic_fetch_add(&current->outputs_dropped, 1);
}

static void on_unreceived(void *msg)
{
    token_free(msg, MESSAGE_MAGIC);
    atomic_fetch_add(&current->messages_unreceived, 1);
}

static void ended_once(child *c)
{
    CHECK(atomic_fetch_add(&c->ended, 1) == 0);
}

/* What a child returns when its work is done: a heap token in the set, its index otherwise. */
static void *output_of(child *c)
{
    if (!c->in_set)
        return (void *)(intptr_t)(c->index + 1);
    atomic_fetch_add(&c->w->outputs_made, 1);
    return token_new(OUTPUT_MAGIC, c->index);
}

static token *message_new(child *c)
{
    atomic_fetch_add(&c->w->messages_made, 1);
    return token_new(MESSAGE_MAGIC, c->index);
}

static void message_done(world *w, token *msg, int send_rc)
{
    if (send_rc == 0)
        return; /* the channel has it now */
    token_free(msg, MESSAGE_MAGIC);
    atomic_fetch_add(&w->messages_unsent, 1);
}

/* ---- a future child: one state machine for every kind --------------------------------------- */

typedef struct child_future {
    edo_future base;
    child *c;
    int yields_left;
    bool started;
    union {
        edo_sleep_future sleep;
        edo_notify_wait_future notified;
        edo_chan_send_future send;
    } op;
} child_future;

static edo_poll child_future_poll(edo_future *self, edo_context *cx, void **out)
{
    child_future *f = (child_future *)self;
    child *c = f->c;
    if (!f->started) {
        f->started = true;
        if (c->kind == SLEEPS)
            edo_sleep_future_init(&f->op.sleep, c->sleep_ns);
        else if (c->kind == WAITS_NOTIFY)
            edo_notify_wait_future_init(&f->op.notified, c->w->notify);
        else if (c->kind == SENDS)
            edo_chan_send_future_init(&f->op.send, c->w->chan, message_new(c));
    }
    switch (c->kind) {
    case YIELDS:
        if (f->yields_left-- > 0) {
            edo_waker_wake_by_ref(edo_context_waker(cx));
            return EDO_PENDING;
        }
        break;
    case SLEEPS:
    case WAITS_NOTIFY:
    case SENDS:
        if (edo_future_poll(&f->op.sleep.base, cx, NULL) == EDO_PENDING)
            return EDO_PENDING;
        break;
    default:
        break;
    }
    CHECK(atomic_fetch_add(&c->completed, 1) == 0);
    *out = output_of(c);
    return EDO_READY;
}

static void child_future_drop(edo_future *self)
{
    child_future *f = (child_future *)self;
    child *c = f->c;
    if (f->started && c->kind == SENDS) {
        /* Sent only if the send completed with 0; otherwise the message is still ours. */
        bool sent = atomic_load(&c->completed) && f->op.send.result == 0;
        void *msg = f->op.send.msg;
        edo_future_drop(&f->op.send.base);
        message_done(c->w, msg, sent ? 0 : -ECANCELED);
    } else if (f->started && c->kind != YIELDS && c->kind != READY) {
        edo_future_drop(&f->op.sleep.base);
    }
    ended_once(c);
}

static const edo_future_vtable child_future_vt = {child_future_poll, child_future_drop};

/* ---- a coroutine child ---------------------------------------------------------------------- */

static void *child_coroutine(void *arg)
{
    child *c = arg;
    atomic_store(&c->started, true);
    int rc = 0;
    switch (c->kind) {
    case YIELDS:
        for (int i = 0; i < c->yields && rc == 0; i++)
            rc = edo_yield();
        break;
    case SLEEPS:
        rc = edo_sleep(c->sleep_ns);
        break;
    case WAITS_NOTIFY:
        rc = edo_notify_wait(c->w->notify);
        break;
    case SENDS: {
        token *msg = message_new(c);
        rc = edo_chan_send(c->w->chan, msg);
        message_done(c->w, msg, rc);
        if (rc == -EPIPE)
            rc = 0; /* the driver closed its receiver at its end: done all the same */
        break;
    }
    default:
        break;
    }
    atomic_store(&c->saw_cancel, edo_coro_is_cancelled());
    void *out = NULL;
    if (rc == 0) {
        CHECK(atomic_fetch_add(&c->completed, 1) == 0);
        out = output_of(c);
    } else {
        CHECK(rc == -ECANCELED);
    }
    ended_once(c);
    return out;
}

/* ---- the driver's operations ---------------------------------------------------------------- */

/* True when a child can finish on its own, without the driver (notify, channel) or an abort. */
static bool cannot_block(const child *c)
{
    return c->kind == READY || c->kind == YIELDS || c->kind == SLEEPS;
}

static void spawn_child(world *w, bool coroutine)
{
    uint8_t how = next_byte(w), arg = next_byte(w);
    if (w->n_children == MAX_CHILDREN)
        return;
    child *c = &w->children[w->n_children];
    memset(c, 0, sizeof *c);
    c->w = w;
    c->index = w->n_children;
    c->kind = (child_kind)(how % KINDS);
    c->coroutine = coroutine;
    c->in_set = how & 0x80;
    c->sleep_ns = sleep_for(w, arg);
    c->yields = 1 + arg % 3;
    int rc;
    edo_task **handle = c->in_set ? NULL : &c->handle;
    if (coroutine) {
        rc = c->in_set ? edo_join_set_spawn(w->set, child_coroutine, c, NULL)
                       : edo_spawn(child_coroutine, c, handle);
    } else {
        child_future f = {.base = {&child_future_vt}, .c = c, .yields_left = c->yields};
        rc = c->in_set ? edo_join_set_spawn_future(w->set, &f.base, sizeof f, NULL)
                       : edo_spawn_future(&f.base, sizeof f, handle);
    }
    CHECK(rc == 0);
    w->n_children++;
}

static child *pick(world *w)
{
    uint8_t b = next_byte(w);
    return w->n_children ? &w->children[b % w->n_children] : NULL;
}

/* What a join of `c` answered: checked against what the child itself recorded. */
static void joined(child *c, int rc, void *out)
{
    if (rc == 0) {
        CHECK(atomic_load(&c->completed) == 1);
        CHECK(out == (void *)(intptr_t)(c->index + 1));
    } else {
        CHECK(rc == -ECANCELED);
        CHECK(out == NULL || (c->coroutine && atomic_load(&c->saw_cancel) &&
                              out == (void *)(intptr_t)(c->index + 1)));
        CHECK(c->coroutine || atomic_load(&c->completed) == 0);
    }
    CHECK(edo_task_is_finished(c->handle));
    c->joined = true;
}

typedef struct join_call {
    child *c;
    void *out;
} join_call;

static int join_fn(void *arg)
{
    join_call *j = arg;
    return edo_task_join(j->c->handle, &j->out);
}

static void join_child(world *w, child *c)
{
    if (!c || !c->handle)
        return;
    join_call j = {c, NULL};
    if (c->joined) {
        CHECK(edo_task_join(c->handle, &j.out) == -EALREADY);
        return;
    }
    /* A child that cannot block gets a deadline far beyond its work: timing out is a hang. */
    uint64_t bound = cannot_block(c) ? EDO_SEC(5) : sleep_for(w, 3);
    int rc = edo_timeout(bound, join_fn, &j);
    if (rc == -ETIMEDOUT) {
        CHECK(!cannot_block(c));
        return;
    }
    joined(c, rc, j.out);
}

/* edo_task_poll_join as a future, to select on. */
typedef struct join_future {
    edo_future base;
    child *c;
    int rc;
} join_future;

static edo_poll join_future_poll(edo_future *self, edo_context *cx, void **out)
{
    join_future *f = (join_future *)self;
    return edo_task_poll_join(f->c->handle, cx, &f->rc, out);
}

static const edo_future_vtable join_future_vt = {join_future_poll, NULL};

/* Selects over a channel receive, a child's join (when it has a handle to join) and a sleep,
 * which bounds the wait. */
static void select_some(world *w)
{
    child *c = pick(w);
    uint8_t b = next_byte(w);
    edo_chan_recv_future recv;
    join_future join = {{&join_future_vt}, c, 0};
    edo_sleep_future sleep;
    edo_chan_recv_future_init(&recv, w->chan);
    edo_sleep_future_init(&sleep, sleep_for(w, b));
    bool can_join = c && c->handle && !c->joined;
    edo_future *futures[] = {&recv.base, can_join ? &join.base : NULL, &sleep.base};
    void *out = NULL;
    int which = edo_select(futures, 3, b & 0x80 ? EDO_SELECT_BIASED : EDO_SELECT_FAIR, &out);
    if (which == 0) {
        CHECK(recv.result == 0 && out); /* a sender is always open: no -EPIPE */
        token_free(out, MESSAGE_MAGIC);
        atomic_fetch_add(&w->messages_received, 1);
    } else if (which == 1) {
        joined(c, join.rc, out);
    } else {
        CHECK(which == 2);
    }
    edo_future_drop(&recv.base);
    edo_future_drop(&sleep.base);
}

static void receive(world *w)
{
    void *msg;
    int rc = edo_chan_try_recv(w->chan, &msg);
    if (rc == -EAGAIN)
        return;
    CHECK(rc == 0);
    token_free(msg, MESSAGE_MAGIC);
    atomic_fetch_add(&w->messages_received, 1);
}

static void take_from_set(world *w)
{
    edo_join_result r;
    int rc = edo_join_set_try_next(w->set, &r);
    if (rc == -EAGAIN || rc == -ECHILD)
        return;
    CHECK(rc == 0);
    CHECK(r.result == 0 || r.result == -ECANCELED);
    if (r.output) {
        CHECK(((token *)r.output)->magic == OUTPUT_MAGIC);
        CHECK(r.result == 0 || w->children[((token *)r.output)->child].coroutine);
        token_free(r.output, OUTPUT_MAGIC);
        atomic_fetch_add(&w->outputs_taken, 1);
    } else {
        CHECK(r.result == -ECANCELED);
    }
}

/* Checked after every operation: nothing happened twice, nothing is counted out that was not
 * made. */
static void check_counts(const world *w)
{
    for (int i = 0; i < w->n_children; i++) {
        const child *c = &w->children[i];
        CHECK(atomic_load(&c->ended) <= 1 && atomic_load(&c->completed) <= 1);
    }
    CHECK(atomic_load(&w->outputs_taken) + atomic_load(&w->outputs_dropped) <=
          atomic_load(&w->outputs_made));
    CHECK(atomic_load(&w->messages_received) + atomic_load(&w->messages_unreceived) +
              atomic_load(&w->messages_unsent) <=
          atomic_load(&w->messages_made));
}

static void *driver(void *arg)
{
    world *w = arg;
    for (int op = 0; op < MAX_OPS && w->at < w->size; op++) {
        uint8_t code = next_byte(w);
        child *c;
        switch (code % 13) {
        case 0:
        case 1:
            spawn_child(w, code % 13 == 1);
            break;
        case 2:
            if ((c = pick(w)) && c->handle)
                CHECK(edo_task_abort(c->handle) == 0);
            break;
        case 3:
            join_child(w, pick(w));
            break;
        case 4:
            select_some(w);
            break;
        case 5:
            CHECK(edo_sleep(sleep_for(w, next_byte(w))) == 0);
            break;
        case 6:
            edo_notify_one(w->notify);
            break;
        case 7:
            edo_notify_all(w->notify);
            break;
        case 8:
            receive(w);
            break;
        case 9:
            CHECK(edo_yield() == 0);
            break;
        case 10:
            take_from_set(w);
            break;
        case 11:
            if ((c = pick(w)) && c->handle) {
                edo_task_free(c->handle); /* detached: it runs on, and still ends once */
                c->handle = NULL;
            }
            break;
        default:
            if (w->paused)
                CHECK(edo_time_advance(w->rt, sleep_for(w, next_byte(w))) == 0);
            break;
        }
        check_counts(w);
    }
    /* Leave the rest to the shutdown: the set freed (it aborts its tasks), the receiver closed
     * (sends from here on fail with -EPIPE). The handles are joined after the shutdown. */
    edo_join_set_free(w->set);
    edo_chan_receiver_close(w->chan);
    return NULL;
}

/* After the shutdown: every child ended once (a coroutine cancelled before it first ran never
 * runs its function), and every handle still held gives the result at once. */
static void check_shutdown(world *w)
{
    for (int i = 0; i < w->n_children; i++) {
        child *c = &w->children[i];
        CHECK(atomic_load(&c->ended) == (c->coroutine ? (int)atomic_load(&c->started) : 1));
        if (!c->handle)
            continue;
        void *out = NULL;
        int rc = edo_task_join(c->handle, &out);
        if (c->joined)
            CHECK(rc == -EALREADY);
        else
            joined(c, rc, out);
        edo_task_free(c->handle);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    world *w = calloc(1, sizeof *w);
    CHECK(w);
    current = w;
    w->data = data;
    w->size = size;
    w->at = 1;
    w->paused = !(data[0] & 1);
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_CURRENT_THREAD, .start_paused = true};
    if (!w->paused)
        cfg = (edo_runtime_config){.flavor = EDO_RUNTIME_MULTI_THREAD, .worker_threads = 2};
    CHECK(edo_runtime_new(&cfg, &w->rt) == 0);
    CHECK(edo_notify_new(&w->notify) == 0);
    CHECK(edo_chan_new(1 + data[0] / 2 % 3, on_unreceived, &w->chan) == 0);
    CHECK(edo_join_set_new(drop_output, &w->set) == 0);

    edo_task *main_task;
    CHECK(edo_spawn_with(w->rt, NULL, driver, w, &main_task) == 0);
    CHECK(edo_task_join(main_task, NULL) == 0);
    edo_task_free(main_task);
    edo_runtime_free(w->rt); /* cancels every child still waiting, and drops it */

    check_shutdown(w);
    CHECK(atomic_load(&w->outputs_taken) + atomic_load(&w->outputs_dropped) ==
          atomic_load(&w->outputs_made));
    /* Closing the last sender frees the channel: each message was received, handed to
     * on_unreceived, or never sent. */
    edo_chan_sender_close(w->chan);
    CHECK(atomic_load(&w->messages_received) + atomic_load(&w->messages_unreceived) +
              atomic_load(&w->messages_unsent) ==
          atomic_load(&w->messages_made));
    edo_notify_free(w->notify);
    current = NULL;
    free(w);
    return 0;
}
