/* Owned lists: each worker keeps the tasks it has polled and that have not completed, so that
 * shutdown can cancel tasks sitting idle with no queue holding them.
 *
 * A task joins the list of the worker that first polls it, not at spawn: a task that has never
 * run is always in a queue (or in a spawner's hands, which shutdown waits out), and spawning
 * from a plain thread then takes no lock shared with the workers. Tasks mostly complete where
 * they run, so the lock is rarely contended; a stolen task leaves its first worker's list. */
#include "core/runtime.h"

static inline edo__task *task_of(edo__list_node *n)
{
    return edo__list_entry(n, edo__task, owned);
}

void edo__owned_insert(edo__worker *w, edo__task *t)
{
    edo__owned_list *l = &w->owned;
    edo__spin_lock(&l->lock);
    t->owner = w->index;
    edo__list_push_front(&l->tasks, &t->owned);
    l->count++;
    edo__spin_unlock(&l->lock);
}

void edo__owned_remove(edo__task *t)
{
    if (t->owner == EDO__NO_OWNER)
        return;
    edo__owned_list *l = &t->rt->workers[t->owner].owned;
    edo__spin_lock(&l->lock);
    edo__list_remove(&l->tasks, &t->owned);
    l->count--;
    edo__spin_unlock(&l->lock);
    t->owner = EDO__NO_OWNER;
}

size_t edo__owned_abort_all(edo_runtime *rt)
{
    size_t total = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        edo__owned_list *l = &rt->workers[i].owned;
        edo__spin_lock(&l->lock);
        /* The scheduler's reference keeps each listed task alive while we hold the lock; an
         * abort that queues a task takes only the global queue, never this lock. */
        edo__list_for_each(n, &l->tasks)
            edo__task_abort(task_of(n));
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
        edo__list_for_each(n, &l->tasks)
            edo__task_hold_runtime(task_of(n));
        edo__spin_unlock(&l->lock);
    }
}
