/* An intrusive FIFO of waiters for the primitives that keep their queue under their own lock
 * (semaphore, notify, barrier, once-cell): each node lives inside its waiting future, so waiting
 * allocates nothing. Every function here runs under the owner's lock. */
#ifndef EDO_SYNC_WAITQ_H
#define EDO_SYNC_WAITQ_H

#include <stddef.h>

#include "edo/future.h"
#include "platform/spinlock.h"

typedef struct edo__waitq_node {
    struct edo__waitq_node *next, *prev;
    edo_waker waker;
    int state; /* the owner's */
} edo__waitq_node;

typedef struct edo__waitq {
    edo__waitq_node *head, *tail;
} edo__waitq;

/* Appends `n`, which will be woken through `waker` (cloned). */
static inline void edo__waitq_push(edo__waitq *q, edo__waitq_node *n, const edo_waker *waker)
{
    n->waker = edo_waker_clone(waker);
    n->next = NULL;
    n->prev = q->tail;
    if (q->tail)
        q->tail->next = n;
    else
        q->head = n;
    q->tail = n;
}

/* Unlinks `n`, which is in `q`. */
static inline void edo__waitq_remove(edo__waitq *q, edo__waitq_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        q->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        q->tail = n->prev;
    n->next = n->prev = NULL;
}

/* Unlinks and returns the head (NULL when empty). */
static inline edo__waitq_node *edo__waitq_pop(edo__waitq *q)
{
    edo__waitq_node *n = q->head;
    if (n)
        edo__waitq_remove(q, n);
    return n;
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
        bool last = !q->head;
        if (last)
            edo__spin_unlock(lock);
        for (unsigned i = 0; i < k; i++)
            edo_waker_wake(&wake[i]);
        if (last)
            return;
    }
}

#endif
