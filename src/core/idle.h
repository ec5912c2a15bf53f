/* Which workers are parked, and how many are searching for work.
 *
 * One atomic word counts the unparked workers and, of those, the searching ones (stealing or
 * checking the global queue). Whoever makes work available wakes a parked worker only when
 * nobody is searching, and at most half the workers search at once, so a burst of spawns does
 * not stampede every core into stealing from each other. A worker that parks as the last
 * searcher, or as the last worker awake, re-checks every queue after announcing it, so no task
 * is stranded (the other side of this handshake is the check after the push, both ordered by
 * sequentially consistent fences).
 */
#ifndef EDO_CORE_IDLE_H
#define EDO_CORE_IDLE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct edo__idle {
    _Atomic uint32_t state; /* searching << 16 | unparked */
    unsigned nworkers;
    pthread_mutex_t lock;
    unsigned *sleepers; /* stack of parked worker indexes, under lock */
    unsigned nsleepers;
    _Atomic bool *sleeping; /* per worker: in `sleepers` */
} edo__idle;

int edo__idle_init(edo__idle *idle, unsigned nworkers);
void edo__idle_destroy(edo__idle *idle);

/* Picks a parked worker to wake (counting it as unparked and searching) when nobody searches
 * and someone is parked. Returns its index, or -1. */
int edo__idle_worker_to_notify(edo__idle *idle);
/* Takes worker `index` off the parked list if it is there (counting it as unparked and
 * searching, like a notification) and returns true: the caller then unparks it. Used to hand a
 * worker work only it may run (a pinned task). */
bool edo__idle_wake_worker(edo__idle *idle, unsigned index);
/* A worker wants to search: allowed while fewer than half are searching. */
bool edo__idle_transition_to_searching(edo__idle *idle);
/* A searching worker found work or stops: returns true when it was the last searcher. */
bool edo__idle_transition_from_searching(edo__idle *idle);
/* Worker `index` is about to park. Returns true when it must re-check the queues before it
 * sleeps: it was the last searcher, or the last worker awake. */
bool edo__idle_transition_to_parked(edo__idle *idle, unsigned index, bool searching);
/* Worker `index` woke for another reason than a notification (the current-thread driver's
 * block_on, or shutdown): takes it off the parked list if it is still there (then it counts as
 * unparked, not searching) and returns true; false when a notifier already took it off. */
bool edo__idle_unpark_self(edo__idle *idle, unsigned index);
/* Every worker is awake and none is searching: no one would steal work offered now. A hint
 * (read without ordering); a worker that parks or starts searching changes it within moments. */
static inline bool edo__idle_all_busy(edo__idle *idle)
{
    uint32_t s = atomic_load_explicit(&idle->state, memory_order_relaxed);
    return s >> 16 == 0 && (s & 0xffffu) >= idle->nworkers; /* searching, unparked */
}
static inline bool edo__idle_is_sleeping(edo__idle *idle, unsigned index)
{
    return atomic_load_explicit(&idle->sleeping[index], memory_order_acquire);
}

#endif
