/* Owned tables: each worker keeps the tasks it has polled and that have not completed, so that
 * shutdown can cancel tasks sitting idle with no queue holding them.
 *
 * A task joins the table of the worker that first polls it, not at spawn: a task that has never
 * run is always in a queue (or in a spawner's hands, which shutdown waits out), and spawning
 * from a plain thread then takes no lock shared with the workers. Tasks mostly complete where
 * they run, so the lock is rarely contended; a stolen task leaves its first worker's table.
 *
 * A table rather than a list threaded through the tasks: a task keeps only its slot number (4
 * bytes where two links took 16, which makes the task header a cache line), and leaving
 * touches the table, not the neighbours' headers on other cores. A free slot holds the index
 * of the next free one, shifted, with the low bit set (task pointers are aligned). */
#include <sched.h>
#include <stdlib.h>

#include "core/runtime.h"

#define FIRST_CAP 64u

static inline bool slot_is_free(uintptr_t v) { return v & 1; }
static inline uintptr_t free_slot(uint32_t next) { return (uintptr_t)next << 1 | 1; }
static inline uint32_t next_free(uintptr_t v) { return (uint32_t)(v >> 1); }

/* Doubles a full table; the new slots become the free list. False when out of memory. */
static bool grow(edo__owned_list *l)
{
    uint32_t cap = l->cap ? l->cap * 2 : FIRST_CAP;
    if (cap <= l->cap)
        return false;
    uintptr_t *slots = realloc(l->slots, cap * sizeof *slots);
    if (!slots)
        return false;
    for (uint32_t i = l->cap; i < cap; i++)
        slots[i] = free_slot(i + 1); /* the last points at `cap`: none */
    l->free = l->cap;
    l->slots = slots;
    l->cap = cap;
    return true;
}

void edo__owned_insert(edo__worker *w, edo__task *t)
{
    edo__owned_list *l = &w->owned;
    edo__spin_lock(&l->lock);
    while (l->free == l->cap && !grow(l)) {
        /* No memory for a bigger table: wait for tasks to leave it, or for memory, rather than
         * lose track of a task that shutdown must find. */
        edo__spin_unlock(&l->lock);
        sched_yield();
        edo__spin_lock(&l->lock);
    }
    uint32_t slot = l->free;
    l->free = next_free(l->slots[slot]);
    l->slots[slot] = (uintptr_t)t;
    l->count++;
    t->owner = (uint16_t)w->index;
    t->owned_slot = slot;
    edo__spin_unlock(&l->lock);
}

void edo__owned_remove(edo__task *t)
{
    if (t->owner == EDO__NO_OWNER)
        return;
    edo__owned_list *l = &t->rt->workers[t->owner].owned;
    edo__spin_lock(&l->lock);
    l->slots[t->owned_slot] = free_slot(l->free);
    l->free = t->owned_slot;
    l->count--;
    edo__spin_unlock(&l->lock);
    t->owner = EDO__NO_OWNER;
}

/* Calls fn on every task in every table, each under its table's lock: the scheduler's reference
 * keeps each listed task alive meanwhile. Returns how many there were. */
static size_t for_each_owned(edo_runtime *rt, void (*fn)(edo__task *t))
{
    size_t total = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        edo__owned_list *l = &rt->workers[i].owned;
        edo__spin_lock(&l->lock);
        for (uint32_t s = 0; s < l->cap; s++)
            if (!slot_is_free(l->slots[s]))
                fn((edo__task *)l->slots[s]);
        total += l->count;
        edo__spin_unlock(&l->lock);
    }
    return total;
}

/* An abort that queues a task takes only the global queue, never a table's lock. */
size_t edo__owned_abort_all(edo_runtime *rt) { return for_each_owned(rt, edo__task_abort); }

void edo__owned_hold_runtime(edo_runtime *rt) { for_each_owned(rt, edo__task_hold_runtime); }
