/* Notify: a FIFO of waiters (inside the waiting futures) and one stored permit, under a
 * spinlock, and a count of notify_all calls (the generation). A waiter future reads the
 * generation when it is initialised: a notify_all since then, seen at its first poll, completes
 * it there, so a waiter counts from its creation, not from its first poll. Queued waiters keep
 * that generation, and notify_all's batches stop at the first newer one (a waiter queued after
 * the call, while the lock was let go between batches). */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/sync.h"
#include "platform/spinlock.h"
#include "sync/waitq.h"

#define WAKE_BATCH 32

/* IDLE: not polled yet; QUEUED; NOTIFIED: chosen by notify_one (the notification is its, to
 * pass on if cancelled); NOTIFIED_ALL; FINISHED: its poll returned EDO_READY. */
enum { IDLE, QUEUED, NOTIFIED, NOTIFIED_ALL, FINISHED };

typedef struct waiter {
    edo__waitq_node node; /* first: a node is its waiter; node.state is the waiter's state */
    uint64_t generation; /* notify_all calls before the future was initialised */
} waiter;

static inline waiter *waiter_of(edo__waitq_node *n) { return (waiter *)n; }

struct edo_notify {
    edo__spinlock lock;
    edo__waitq queue;
    bool permit;
    _Atomic uint64_t generation; /* notify_all calls so far; written under the lock */
};

typedef struct wait_state {
    edo_notify *n;
    waiter w;
} wait_state;

_Static_assert(sizeof(wait_state) <= sizeof(((edo_notify_wait_future *)0)->private_),
               "edo_notify_wait_future.private_ is too small");

int edo_notify_new(edo_notify **out)
{
    if (!out)
        return -EINVAL;
    edo_notify *n = calloc(1, sizeof *n);
    if (!n)
        return -ENOMEM;
    edo__spin_init(&n->lock);
    atomic_init(&n->generation, 0);
    *out = n;
    return 0;
}

void edo_notify_free(edo_notify *n) { free(n); }

/* Gives one notification to the head waiter, or stores it; under the lock. Returns the waker to
 * wake after unlocking. */
static edo_waker notify_one_locked(edo_notify *n)
{
    edo__waitq_node *w = edo__waitq_pop(&n->queue);
    if (!w) {
        n->permit = true;
        return EDO_WAKER_EMPTY;
    }
    w->state = NOTIFIED;
    return edo__waitq_take_waker(w);
}

void edo_notify_one(edo_notify *n)
{
    if (!n)
        return;
    edo__spin_lock(&n->lock);
    edo_waker w = notify_one_locked(n);
    edo__spin_unlock(&n->lock);
    edo_waker_wake(&w);
}

/* Whether the head waiter queued before notify_all call number `upto`. */
static bool queued_before(edo_notify *n, uint64_t upto)
{
    edo__waitq_node *head = edo__waitq_head(&n->queue);
    return head && waiter_of(head)->generation < upto;
}

void edo_notify_all(edo_notify *n)
{
    if (!n)
        return;
    edo__spin_lock(&n->lock);
    /* Waiters initialised from now on are not ours to wake. Relaxed: a future initialised
     * before this call (in happens-before order) reads an older value, one initialised after it
     * this one or a newer; the lock orders the rest. */
    uint64_t upto = atomic_fetch_add_explicit(&n->generation, 1, memory_order_relaxed) + 1;
    for (;;) {
        edo_waker batch[WAKE_BATCH];
        unsigned k = 0;
        while (k < WAKE_BATCH && queued_before(n, upto)) {
            edo__waitq_node *w = edo__waitq_pop(&n->queue);
            w->state = NOTIFIED_ALL;
            batch[k++] = edo__waitq_take_waker(w);
        }
        bool more = k == WAKE_BATCH && queued_before(n, upto);
        edo__spin_unlock(&n->lock);
        for (unsigned i = 0; i < k; i++)
            edo_waker_wake(&batch[i]);
        if (!more)
            return;
        edo__spin_lock(&n->lock);
    }
}

static wait_state *state_of(edo_notify_wait_future *f) { return (wait_state *)(void *)f->private_; }

static edo_poll wait_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_notify_wait_future *f = (edo_notify_wait_future *)self;
    wait_state *s = state_of(f);
    if (!s->n) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    edo_notify *n = s->n;
    edo__spin_lock(&n->lock);
    if (s->w.node.state == IDLE) {
        if (atomic_load_explicit(&n->generation, memory_order_relaxed) != s->w.generation) {
            s->w.node.state = FINISHED; /* a notify_all since it was initialised */
            edo__spin_unlock(&n->lock);
            return EDO_READY;
        }
        if (n->permit) {
            n->permit = false;
            s->w.node.state = FINISHED;
            edo__spin_unlock(&n->lock);
            return EDO_READY;
        }
        s->w.node.state = QUEUED;
        edo__waitq_push(&n->queue, &s->w.node, cx->waker);
        edo__spin_unlock(&n->lock);
        return EDO_PENDING;
    }
    if (s->w.node.state == QUEUED) {
        edo__waitq_rewake(&s->w.node, cx->waker);
        edo__spin_unlock(&n->lock);
        return EDO_PENDING;
    }
    s->w.node.state = FINISHED;
    edo__spin_unlock(&n->lock);
    return EDO_READY;
}

static void wait_drop(edo_future *self)
{
    wait_state *s = state_of((edo_notify_wait_future *)self);
    edo_notify *n = s->n;
    if (!n || s->w.node.state == IDLE || s->w.node.state == FINISHED)
        return;
    edo__spin_lock(&n->lock);
    edo_waker pass = EDO_WAKER_EMPTY;
    if (s->w.node.state == QUEUED)
        edo__waitq_remove(&n->queue, &s->w.node);
    else if (s->w.node.state == NOTIFIED)
        pass = notify_one_locked(n); /* chosen but cancelled: the notification goes on */
    edo_waker mine = edo__waitq_take_waker(&s->w.node);
    s->w.node.state = FINISHED;
    edo__spin_unlock(&n->lock);
    edo_waker_drop(&mine);
    edo_waker_wake(&pass);
}

static const edo_future_vtable wait_vtable = {wait_poll, wait_drop};

void edo_notify_wait_future_init(edo_notify_wait_future *f, edo_notify *n)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &wait_vtable;
    wait_state *s = state_of(f);
    s->n = n;
    if (n) /* notify_all calls after this one complete it */
        s->w.generation = atomic_load_explicit(&n->generation, memory_order_relaxed);
}

int edo_notify_wait(edo_notify *n)
{
    if (!n)
        return -EINVAL;
    edo_notify_wait_future f;
    edo_notify_wait_future_init(&f, n);
    return edo__coro_run(&f.base, NULL, &f.result);
}
