/* An intrusive FIFO of waiters for the primitives that keep their queue under their own lock
 * (semaphore, notify, barrier, once-cell): each node lives inside its waiting future, so waiting
 * allocates nothing. Every function here runs under the owner's lock. The list is
 * platform/list.h; this adds the waker each node carries. */
#ifndef EDO_SYNC_WAITQ_H
#define EDO_SYNC_WAITQ_H

#include <stddef.h>

#include "edo/future.h"
#include "platform/list.h"
#include "platform/spinlock.h"

typedef struct edo__waitq_node {
    edo__list_node link;
    edo_waker waker;
    int state; /* the owner's */
} edo__waitq_node;

typedef edo__list edo__waitq;

static inline edo__waitq_node *edo__waitq_node_of(edo__list_node *l)
{
    return l ? edo__list_entry(l, edo__waitq_node, link) : NULL;
}

/* The first waiter (NULL when empty), left queued. */
static inline edo__waitq_node *edo__waitq_head(const edo__waitq *q)
{
    return edo__waitq_node_of(q->head);
}

/* Appends `n`, which will be woken through `waker` (cloned). */
static inline void edo__waitq_push(edo__waitq *q, edo__waitq_node *n, const edo_waker *waker)
{
    n->waker = edo_waker_clone(waker);
    edo__list_push_back(q, &n->link);
}

/* Unlinks `n`, which is in `q`. */
static inline void edo__waitq_remove(edo__waitq *q, edo__waitq_node *n)
{
    edo__list_remove(q, &n->link);
}

/* Unlinks and returns the head (NULL when empty). */
static inline edo__waitq_node *edo__waitq_pop(edo__waitq *q)
{
    return edo__waitq_node_of(edo__list_pop_front(q));
}

/* A queued waiter polled again: keeps its stored waker current. */
static inline void edo__waitq_rewake(edo__waitq_node *n, const edo_waker *waker)
{
    if (!edo_waker_will_wake(&n->waker, waker)) {
        edo_waker_drop(&n->waker);
        n->waker = edo_waker_clone(waker);
    }
}

/* Takes the node's waker, leaving it empty (to wake once the lock is released). */
static inline edo_waker edo__waitq_take_waker(edo__waitq_node *n)
{
    edo_waker w = n->waker;
    n->waker = EDO_WAKER_EMPTY;
    return w;
}

/* Under `lock`: pops every waiter, sets its state to `state` and wakes it; returns with `lock`
 * released. A popped waiter's future may be dropped as soon as the lock is free, so each waker
 * is taken while it is held; a long queue is woken in batches, still locked. */
static inline void edo__waitq_wake_all_and_unlock(edo__waitq *q, edo__spinlock *lock, int state)
{
    enum { BATCH = 32 };
    edo_waker wake[BATCH];
    for (;;) {
        unsigned k = 0;
        edo__waitq_node *w;
        while (k < BATCH && (w = edo__waitq_pop(q))) {
            w->state = state;
            wake[k++] = edo__waitq_take_waker(w);
        }
        bool last = edo__list_is_empty(q);
        if (last)
            edo__spin_unlock(lock);
        for (unsigned i = 0; i < k; i++)
            edo_waker_wake(&wake[i]);
        if (last)
            return;
    }
}

#endif
