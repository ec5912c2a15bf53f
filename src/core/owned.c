/* The owned lists: every task from spawn to completion, so shutdown can cancel each one. */
#include <errno.h>
#include <stdlib.h>

#include "core/runtime.h"

static inline edo__owned_shard *shard_of(edo_runtime *rt, const edo__task *t)
{
    return &rt->owned[t->id % EDO__OWNED_SHARDS];
}

int edo__owned_insert(edo_runtime *rt, edo__task *t)
{
    edo__owned_shard *sh = shard_of(rt, t);
    pthread_mutex_lock(&sh->lock);
    if (sh->closed) {
        pthread_mutex_unlock(&sh->lock);
        return -ESHUTDOWN;
    }
    t->owned_prev = NULL;
    t->owned_next = sh->head;
    if (sh->head)
        sh->head->owned_prev = t;
    sh->head = t;
    sh->count++;
    pthread_mutex_unlock(&sh->lock);
    return 0;
}

void edo__owned_remove(edo__task *t)
{
    edo__owned_shard *sh = shard_of(t->rt, t);
    pthread_mutex_lock(&sh->lock);
    if (t->owned_prev)
        t->owned_prev->owned_next = t->owned_next;
    else
        sh->head = t->owned_next;
    if (t->owned_next)
        t->owned_next->owned_prev = t->owned_prev;
    t->owned_prev = t->owned_next = NULL;
    sh->count--;
    pthread_mutex_unlock(&sh->lock);
}

void edo__owned_close(edo_runtime *rt)
{
    for (unsigned i = 0; i < EDO__OWNED_SHARDS; i++) {
        pthread_mutex_lock(&rt->owned[i].lock);
        rt->owned[i].closed = true;
        pthread_mutex_unlock(&rt->owned[i].lock);
    }
}

size_t edo__owned_abort_all(edo_runtime *rt)
{
    size_t total = 0;
    for (unsigned i = 0; i < EDO__OWNED_SHARDS; i++) {
        edo__owned_shard *sh = &rt->owned[i];
        pthread_mutex_lock(&sh->lock);
        /* The list's reference keeps each task alive while we hold the lock; an abort that
         * queues the task only takes the global queue's lock, never this one. */
        for (edo__task *t = sh->head; t; t = t->owned_next)
            edo__task_abort(t);
        total += sh->count;
        pthread_mutex_unlock(&sh->lock);
    }
    return total;
}
