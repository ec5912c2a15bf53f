/* A FIFO of waiting receivers, each waiting for a counter (a watch's version, a broadcast's
 * tail) to move past the value it saw. Used under the owner's spinlock; the nodes live in the
 * receivers. Because counters only grow and nodes are appended as they register, the values
 * along the list never decrease: a wake-up walks from the head and stops at the first node that
 * is not behind, so it never wakes (or loops over) a receiver that registered after it. The
 * list itself is the wait queue of sync/waitq.h. */
#ifndef EDO_SYNC_WAITLIST_H
#define EDO_SYNC_WAITLIST_H

#include <stdbool.h>
#include <stdint.h>

#include "edo/future.h"
#include "platform/spinlock.h"
#include "sync/waitq.h"

#define EDO__WAKE_BATCH 32

/* A waiter: a wait-queue node (first, so a queue node is its waiter) and the value it saw. */
typedef struct edo__waitnode {
    edo__waitq_node link;
    uint64_t seen; /* the counter value this waiter waits to see move */
    bool queued;
} edo__waitnode;

typedef edo__waitq edo__waitlist;

/* Under the lock: queues `n` (or refreshes its waker if it is queued already). */
static inline void edo__waitlist_add(edo__waitlist *l, edo__waitnode *n, const edo_waker *waker,
                                     uint64_t seen)
{
    if (n->queued) {
        edo__waitq_rewake(&n->link, waker);
        return;
    }
    n->seen = seen;
    edo__waitq_push(l, &n->link, waker);
    n->queued = true;
}

/* Under the lock: takes `n` off the list (if queued). Returns its waker, for the caller to drop
 * or wake after unlocking. */
static inline edo_waker edo__waitlist_remove(edo__waitlist *l, edo__waitnode *n)
{
    if (n->queued) {
        edo__waitq_remove(l, &n->link);
        n->queued = false;
    }
    return edo__waitq_take_waker(&n->link);
}

/* Takes `n` off the list under `lock` (a waiting future is dropped: it stops waiting). */
static inline void edo__waitlist_leave(edo__waitlist *l, edo__spinlock *lock, edo__waitnode *n)
{
    edo__spin_lock(lock);
    edo_waker w = edo__waitlist_remove(l, n);
    edo__spin_unlock(lock);
    edo_waker_drop(&w);
}

static inline edo__waitnode *edo__waitlist_head(const edo__waitlist *l)
{
    return (edo__waitnode *)(void *)edo__waitq_head(l); /* the node is the waiter's first field */
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
        while (k < EDO__WAKE_BATCH && !edo__list_is_empty(l) && (all || edo__waitlist_head(l)->seen < *counter))
            batch[k++] = edo__waitlist_remove(l, edo__waitlist_head(l));
        bool more = k == EDO__WAKE_BATCH;
        edo__spin_unlock(lock);
        for (unsigned i = 0; i < k; i++)
            edo_waker_wake(&batch[i]);
        if (!more)
            return;
    }
}

#endif
