/* Children nobody will wait for (freed before they were reaped): each gets a small future task
 * that waits for its exit and reaps it, so no zombie is left behind. A child that cannot get a
 * task (freed outside a runtime, or while its runtime shuts down) goes on a list that every
 * spawn looks at: a program that keeps spawning keeps reaping, as with Tokio's orphan queue. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "process/process.h"

static pthread_mutex_t pending_lock = PTHREAD_MUTEX_INITIALIZER;
static edo_child *pending;
static atomic_bool have_pending; /* read without the lock at every spawn */

/* Puts `c` on the pending list. Its registration goes first: the runtime it belongs to may be
 * gone by the time a spawn reaps it (a pidfd still reaps without one). */
static void park(edo_child *c)
{
    edo_io_deregister(c->io);
    c->io = NULL;
    pthread_mutex_lock(&pending_lock);
    c->next_orphan = pending;
    pending = c;
    atomic_store_explicit(&have_pending, true, memory_order_release);
    pthread_mutex_unlock(&pending_lock);
}

void edo__orphan_reap_pending(void)
{
    if (!atomic_load_explicit(&have_pending, memory_order_acquire))
        return;
    pthread_mutex_lock(&pending_lock);
    for (edo_child **p = &pending; *p;) {
        edo_child *c = *p;
        if (edo__child_try_reap(c) == -EAGAIN) {
            p = &c->next_orphan;
            continue;
        }
        *p = c->next_orphan;
        edo__child_release(c);
    }
    atomic_store_explicit(&have_pending, pending != NULL, memory_order_release);
    pthread_mutex_unlock(&pending_lock);
}

typedef struct orphan_future {
    edo_future base;
    edo_child *child;
    edo_io_waiter waiter;
} orphan_future;

static edo_poll orphan_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    orphan_future *f = (orphan_future *)self;
    int rc;
    if (edo__child_poll_reap(f->child, &f->waiter, cx, &rc) == EDO_PENDING)
        return EDO_PENDING;
    edo__child_release(f->child); /* reaped, or nothing left to reap (-ECHILD) */
    f->child = NULL;
    return EDO_READY;
}

/* Dropped before the child ended: the runtime is shutting down. */
static void orphan_drop(edo_future *self)
{
    orphan_future *f = (orphan_future *)self;
    if (!f->child)
        return;
    edo__child_forget_waiter(f->child, &f->waiter);
    if (edo__child_try_reap(f->child) == -EAGAIN)
        park(f->child);
    else
        edo__child_release(f->child);
}

static const edo_future_vtable orphan_vtable = {orphan_poll, orphan_drop};

void edo__orphan_adopt(edo_child *c)
{
    orphan_future f = {.base = {&orphan_vtable}, .child = c};
    edo_io_waiter_init(&f.waiter);
    if (edo_spawn_future(&f.base, sizeof f, NULL) < 0)
        park(c);
}
