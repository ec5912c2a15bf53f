/* A FIFO of waiting receivers, each waiting for a counter (a watch's version, a broadcast's
 * tail) to move past the value it saw. Used under the owner's spinlock; the nodes live in the
 * receivers. Because counters only grow and nodes are appended as they register, the values
 * along the list never decrease: a wake-up walks from the head and stops at the first node that
 * is not behind, so it never wakes (or loops over) a receiver that registered after it. */
#ifndef EDO_SYNC_WAITLIST_H
#define EDO_SYNC_WAITLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "edo/future.h"
#include "platform/spinlock.h"

#define EDO__WAKE_BATCH 32

typedef struct edo__waitnode {
    struct edo__waitnode *next, *prev;
    edo_waker waker;
    uint64_t seen; /* the counter value this waiter waits to see move */
    bool queued;
} edo__waitnode;

typedef struct edo__waitlist {
    edo__waitnode *head, *tail;
} edo__waitlist;

/* Under the lock: queues `n` (or refreshes its waker if it is queued already). */
static inline void edo__waitlist_add(edo__waitlist *l, edo__waitnode *n, const edo_waker *waker,
                                     uint64_t seen)
{
    if (n->queued) {
        if (!edo_waker_will_wake(&n->waker, waker)) {
            edo_waker_drop(&n->waker);
            n->waker = edo_waker_clone(waker);
        }
        return;
    }
    n->waker = edo_waker_clone(waker);
    n->seen = seen;
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
    n->queued = true;
}

/* Under the lock: takes `n` off the list (if queued). Returns its waker, for the caller to drop
 * or wake after unlocking. */
static inline edo_waker edo__waitlist_remove(edo__waitlist *l, edo__waitnode *n)
{
    if (n->queued) {
        if (n->prev)
            n->prev->next = n->next;
        else
            l->head = n->next;
        if (n->next)
            n->next->prev = n->prev;
        else
            l->tail = n->prev;
        n->next = n->prev = NULL;
        n->queued = false;
    }
    edo_waker w = n->waker;
    n->waker = EDO_WAKER_EMPTY;
    return w;
}

/* Takes `n` off the list under `lock` (a waiting future is dropped: it stops waiting). */
static inline void edo__waitlist_leave(edo__waitlist *l, edo__spinlock *lock, edo__waitnode *n)
{
    edo__spin_lock(lock);
    edo_waker w = edo__waitlist_remove(l, n);
    edo__spin_unlock(lock);
    edo_waker_drop(&w);
}

/* Takes `lock` and wakes, in batches (unlocking around each batch), every waiter whose `seen`
 * is below *counter (read under the lock each time), or every waiter when `all`. Returns with
 * the lock released. */
static inline void edo__waitlist_wake(edo__waitlist *l, edo__spinlock *lock,
                                      const uint64_t *counter, bool all)
{
    for (;;) {
        edo__spin_lock(lock);
        edo_waker batch[EDO__WAKE_BATCH];
        unsigned k = 0;
        while (k < EDO__WAKE_BATCH && l->head && (all || l->head->seen < *counter))
            batch[k++] = edo__waitlist_remove(l, l->head);
        bool more = k == EDO__WAKE_BATCH;
        edo__spin_unlock(lock);
        for (unsigned i = 0; i < k; i++)
            edo_waker_wake(&batch[i]);
        if (!more)
            return;
    }
}

#endif
