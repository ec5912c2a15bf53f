/* Cancellation tokens: each token has a flag, a list of waiters (inside the waiting futures), and
 * a list of children under its spinlock. A child keeps its parent alive (a reference), so
 * cancelling walks down a tree whose nodes cannot vanish mid-walk: each child is referenced
 * while it is visited. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/sync.h"
#include "platform/list.h"
#include "platform/spinlock.h"

typedef struct waiter {
    edo__list_node link;
    edo_waker waker;
    bool queued;
} waiter;

/* Both lists take new members at the front (cancel wakes and visits the newest first). */
struct edo_cancel_token {
    edo__spinlock lock;
    _Atomic bool cancelled;
    _Atomic unsigned refs; /* the owner's, and one per child */
    struct edo_cancel_token *parent;
    edo__list children;   /* of sibling links */
    edo__list_node sibling; /* in the parent's children */
    edo__list waiters;    /* of waiter links */
};

static edo_cancel_token *token_of(edo__list_node *n)
{
    return edo__list_entry(n, edo_cancel_token, sibling);
}

static void token_ref(edo_cancel_token *t)
{
    atomic_fetch_add_explicit(&t->refs, 1, memory_order_relaxed);
}

static void token_unref(edo_cancel_token *t)
{
    while (t && atomic_fetch_sub_explicit(&t->refs, 1, memory_order_acq_rel) == 1) {
        edo_cancel_token *parent = t->parent;
        if (parent) { /* leave the parent's list; then the parent loses this child's reference */
            edo__spin_lock(&parent->lock);
            edo__list_remove(&parent->children, &t->sibling);
            edo__spin_unlock(&parent->lock);
        }
        free(t);
        t = parent;
    }
}

int edo_cancel_token_new(edo_cancel_token *parent, edo_cancel_token **out)
{
    if (!out)
        return -EINVAL;
    edo_cancel_token *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    edo__spin_init(&t->lock);
    atomic_init(&t->refs, 1);
    atomic_init(&t->cancelled, false);
    if (parent) {
        token_ref(parent);
        t->parent = parent;
        edo__spin_lock(&parent->lock);
        edo__list_push_front(&parent->children, &t->sibling);
        /* Under the parent's lock: a cancel of the parent either sees this child or set the
         * flag first. */
        if (atomic_load_explicit(&parent->cancelled, memory_order_acquire))
            atomic_store_explicit(&t->cancelled, true, memory_order_release);
        edo__spin_unlock(&parent->lock);
    }
    *out = t;
    return 0;
}

void edo_cancel_token_free(edo_cancel_token *t) { token_unref(t); }

bool edo_cancel_token_is_cancelled(const edo_cancel_token *t)
{
    if (!t)
        return false;
    return atomic_load_explicit(&((edo_cancel_token *)t)->cancelled, memory_order_acquire);
}

void edo_cancel_token_cancel(edo_cancel_token *t)
{
    if (!t || atomic_load_explicit(&t->cancelled, memory_order_acquire))
        return; /* done before: its children were cancelled then, or were born cancelled */
    edo__spin_lock(&t->lock);
    atomic_store_explicit(&t->cancelled, true, memory_order_release);
    /* Wake the waiters under the lock: a waiter's drop takes it too, so none can go away
     * meanwhile; and a wake only queues a task, it runs nothing here. */
    edo__list_for_each(n, &t->waiters) {
        waiter *w = edo__list_entry(n, waiter, link);
        w->queued = false;
        edo_waker_wake(&w->waker);
    }
    t->waiters = (edo__list){NULL, NULL}; /* the nodes' links are stale: `queued` says */
    edo__spin_unlock(&t->lock);
    /* Then the children, one at a time (referenced while visited; a child born from now on
     * starts cancelled), outside this token's lock. */
    for (;;) {
        edo__spin_lock(&t->lock);
        edo_cancel_token *c = NULL;
        edo__list_for_each(n, &t->children) {
            if (!atomic_load_explicit(&token_of(n)->cancelled, memory_order_acquire)) {
                c = token_of(n);
                token_ref(c);
                break;
            }
        }
        edo__spin_unlock(&t->lock);
        if (!c)
            return;
        edo_cancel_token_cancel(c);
        token_unref(c);
    }
}

/* ---- waiting --------------------------------------------------------------------------------- */

typedef struct wait_state {
    edo_cancel_token *t;
    waiter w;
} wait_state;

_Static_assert(sizeof(wait_state) <= sizeof(((edo_cancel_token_wait_future *)0)->private_),
               "edo_cancel_token_wait_future.private_ is too small");

static wait_state *state_of(edo_cancel_token_wait_future *f)
{
    return (wait_state *)(void *)f->private_;
}

static edo_poll cancel_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_cancel_token_wait_future *f = (edo_cancel_token_wait_future *)self;
    wait_state *s = state_of(f);
    edo_cancel_token *t = s->t;
    if (!t) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    if (atomic_load_explicit(&t->cancelled, memory_order_acquire)) {
        f->result = 0;
        return EDO_READY;
    }
    edo__spin_lock(&t->lock);
    if (atomic_load_explicit(&t->cancelled, memory_order_relaxed)) {
        edo__spin_unlock(&t->lock);
        f->result = 0;
        return EDO_READY;
    }
    if (!s->w.queued) {
        s->w.waker = edo_waker_clone(cx->waker);
        edo__list_push_front(&t->waiters, &s->w.link);
        s->w.queued = true;
    } else if (!edo_waker_will_wake(&s->w.waker, cx->waker)) {
        edo_waker_drop(&s->w.waker);
        s->w.waker = edo_waker_clone(cx->waker);
    }
    edo__spin_unlock(&t->lock);
    return EDO_PENDING;
}

static void cancel_drop(edo_future *self)
{
    wait_state *s = state_of((edo_cancel_token_wait_future *)self);
    edo_cancel_token *t = s->t;
    if (!t)
        return;
    edo__spin_lock(&t->lock);
    if (s->w.queued) {
        edo__list_remove(&t->waiters, &s->w.link);
        s->w.queued = false;
    }
    edo_waker w = s->w.waker;
    s->w.waker = EDO_WAKER_EMPTY;
    edo__spin_unlock(&t->lock);
    edo_waker_drop(&w);
}

static const edo_future_vtable cancel_vtable = {cancel_poll, cancel_drop};

void edo_cancel_token_wait_future_init(edo_cancel_token_wait_future *f, edo_cancel_token *t)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &cancel_vtable;
    state_of(f)->t = t;
}

int edo_cancel_token_wait(edo_cancel_token *t)
{
    if (!t)
        return -EINVAL;
    edo_cancel_token_wait_future f;
    edo_cancel_token_wait_future_init(&f, t);
    return edo__coro_run(&f.base, NULL, &f.result);
}
