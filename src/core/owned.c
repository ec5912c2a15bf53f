/* Owned lists: each worker keeps the tasks it has polled and that have not completed, so that
 * shutdown can cancel tasks sitting idle with no queue holding them.
 *
 * A task joins the list of the worker that first polls it, not at spawn: a task that has never
 * run is always in a queue (or in a spawner's hands, which shutdown waits out), and spawning
 * from a plain thread then takes no lock shared with the workers. Tasks mostly complete where
 * they run, so the lock is rarely contended; a stolen task leaves its first worker's list. */
#include "core/runtime.h"

void edo__owned_insert(edo__worker *w, edo__task *t)
{
    edo__owned_list *l = &w->owned;
    edo__spin_lock(&l->lock);
    t->owner = w->index;
    t->owned_prev = NULL;
    t->owned_next = l->head;
    if (l->head)
        l->head->owned_prev = t;
    l->head = t;
    l->count++;
    edo__spin_unlock(&l->lock);
}

void edo__owned_remove(edo__task *t)
{
    if (t->owner == EDO__NO_OWNER)
        return;
    edo__owned_list *l = &t->rt->workers[t->owner].owned;
    edo__spin_lock(&l->lock);
    if (t->owned_prev)
        t->owned_prev->owned_next = t->owned_next;
    else
        l->head = t->owned_next;
    if (t->owned_next)
        t->owned_next->owned_prev = t->owned_prev;
    l->count--;
    edo__spin_unlock(&l->lock);
    t->owner = EDO__NO_OWNER;
    t->owned_prev = t->owned_next = NULL;
}

size_t edo__owned_abort_all(edo_runtime *rt)
{
    size_t total = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        edo__owned_list *l = &rt->workers[i].owned;
        edo__spin_lock(&l->lock);
        /* The scheduler's reference keeps each listed task alive while we hold the lock; an
         * abort that queues a task takes only the global queue, never this lock. */
        for (edo__task *t = l->head; t; t = t->owned_next)
            edo__task_abort(t);
        total += l->count;
        edo__spin_unlock(&l->lock);
    }
    return total;
}

void edo__owned_hold_runtime(edo_runtime *rt)
{
    for (unsigned i = 0; i < rt->nworkers; i++) {
        edo__owned_list *l = &rt->workers[i].owned;
        edo__spin_lock(&l->lock);
        for (edo__task *t = l->head; t; t = t->owned_next)
            edo__task_hold_runtime(t);
        edo__spin_unlock(&l->lock);
    }
}
