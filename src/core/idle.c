#include "core/idle.h"

#include <errno.h>
#include <stdlib.h>

#include "platform/sanitizers.h"

#define UNPARKED_ONE 1u
#define SEARCHING_ONE (1u << 16)
static inline unsigned unparked_of(uint32_t s) { return s & 0xffffu; }
static inline unsigned searching_of(uint32_t s) { return s >> 16; }

int edo__idle_init(edo__idle *idle, unsigned nworkers)
{
    /* Leaves a state edo__idle_destroy accepts even when allocation fails. */
    pthread_mutex_init(&idle->lock, NULL);
    idle->nworkers = nworkers;
    idle->nsleepers = 0;
    atomic_init(&idle->state, nworkers * UNPARKED_ONE);
    idle->sleepers = calloc(nworkers ? nworkers : 1, sizeof *idle->sleepers);
    idle->sleeping = calloc(nworkers ? nworkers : 1, sizeof *idle->sleeping);
    return idle->sleepers && idle->sleeping ? 0 : -ENOMEM;
}

void edo__idle_destroy(edo__idle *idle)
{
    pthread_mutex_destroy(&idle->lock);
    free(idle->sleepers);
    free((void *)idle->sleeping);
}


/* Reads the idle word after a full barrier, so the caller's push is ordered before it (the
 * notifying side of the handshake). TSan does not model fences; there an RMW on the word
 * itself orders the two sides, since the parking side also writes it with an RMW. */
static uint32_t load_after_push(edo__idle *idle)
{
#ifdef EDO_TSAN
    return atomic_fetch_add_explicit(&idle->state, 0, memory_order_seq_cst);
#else
    atomic_thread_fence(memory_order_seq_cst);
    return atomic_load_explicit(&idle->state, memory_order_seq_cst);
#endif
}

static bool should_notify(edo__idle *idle)
{
    uint32_t s = load_after_push(idle);
    return searching_of(s) == 0 && unparked_of(s) < idle->nworkers;
}

int edo__idle_worker_to_notify(edo__idle *idle)
{
    if (!should_notify(idle))
        return -1;
    pthread_mutex_lock(&idle->lock);
    int index = -1;
    if (should_notify(idle) && idle->nsleepers > 0) {
        atomic_fetch_add_explicit(&idle->state, UNPARKED_ONE | SEARCHING_ONE,
                                  memory_order_seq_cst);
        index = (int)idle->sleepers[--idle->nsleepers];
        atomic_store_explicit(&idle->sleeping[index], false, memory_order_release);
    }
    pthread_mutex_unlock(&idle->lock);
    return index;
}

static void remove_sleeper(edo__idle *idle, unsigned index)
{
    for (unsigned i = 0; i < idle->nsleepers; i++) {
        if (idle->sleepers[i] == index) {
            idle->sleepers[i] = idle->sleepers[--idle->nsleepers];
            break;
        }
    }
    atomic_store_explicit(&idle->sleeping[index], false, memory_order_release);
}

bool edo__idle_wake_worker(edo__idle *idle, unsigned index)
{
    pthread_mutex_lock(&idle->lock);
    bool was_parked = atomic_load_explicit(&idle->sleeping[index], memory_order_relaxed);
    if (was_parked) {
        remove_sleeper(idle, index);
        atomic_fetch_add_explicit(&idle->state, UNPARKED_ONE | SEARCHING_ONE,
                                  memory_order_seq_cst);
    }
    pthread_mutex_unlock(&idle->lock);
    return was_parked;
}

bool edo__idle_transition_to_searching(edo__idle *idle)
{
    uint32_t s = atomic_load_explicit(&idle->state, memory_order_seq_cst);
    if (2 * searching_of(s) >= idle->nworkers)
        return false;
    atomic_fetch_add_explicit(&idle->state, SEARCHING_ONE, memory_order_seq_cst);
    return true;
}

bool edo__idle_transition_from_searching(edo__idle *idle)
{
    uint32_t prev = atomic_fetch_sub_explicit(&idle->state, SEARCHING_ONE, memory_order_seq_cst);
    return searching_of(prev) == 1;
}

bool edo__idle_transition_to_parked(edo__idle *idle, unsigned index, bool searching)
{
    pthread_mutex_lock(&idle->lock);
    uint32_t dec = UNPARKED_ONE | (searching ? SEARCHING_ONE : 0);
    uint32_t prev = atomic_fetch_sub_explicit(&idle->state, dec, memory_order_seq_cst);
    idle->sleepers[idle->nsleepers++] = index;
    atomic_store_explicit(&idle->sleeping[index], true, memory_order_release);
    pthread_mutex_unlock(&idle->lock);
#ifndef EDO_TSAN
    atomic_thread_fence(memory_order_seq_cst); /* order the announcement before the re-check */
#endif
    /* The last searcher re-checks (nobody else is looking), and so does the last worker awake
     * (a producer that pushed just before saw it awake and woke no one). */
    return (searching && searching_of(prev) == 1) || unparked_of(prev) == 1;
}

bool edo__idle_unpark_self(edo__idle *idle, unsigned index)
{
    pthread_mutex_lock(&idle->lock);
    bool was_parked = atomic_load_explicit(&idle->sleeping[index], memory_order_relaxed);
    if (was_parked) {
        remove_sleeper(idle, index);
        atomic_fetch_add_explicit(&idle->state, UNPARKED_ONE, memory_order_seq_cst);
    }
    pthread_mutex_unlock(&idle->lock);
    return was_parked;
}
