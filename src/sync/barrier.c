/* The barrier: a count of arrivals in the current round and the FIFO of those waiting in it,
 * under a spinlock. The arrival that makes the count reach n is the leader: it empties the
 * waiting list, marking each waiter released, starts the next round and wakes them. A waiter
 * dropped while still in the list withdraws its arrival (count - 1); one already released is
 * past the barrier and changes nothing. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/sync.h"
#include "platform/spinlock.h"
#include "sync/waitq.h"

/* IDLE: not polled yet; QUEUED: arrived, waiting; RELEASED: its round completed; FINISHED: its
 * poll returned EDO_READY. */
enum { IDLE, QUEUED, RELEASED, FINISHED };

struct edo_barrier {
    edo__spinlock lock;
    size_t n;
    size_t arrived; /* in the current round */
    edo__waitq waiting;
};

typedef struct wait_state {
    edo_barrier *b;
    edo__waitq_node w;
} wait_state;

_Static_assert(sizeof(wait_state) <= sizeof(((edo_barrier_wait_future *)0)->private_),
               "edo_barrier_wait_future.private_ is too small");

int edo_barrier_new(size_t n, edo_barrier **out)
{
    if (!out || n == 0)
        return -EINVAL;
    edo_barrier *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    edo__spin_init(&b->lock);
    b->n = n;
    *out = b;
    return 0;
}

void edo_barrier_free(edo_barrier *b) { free(b); }

static wait_state *state_of(edo_barrier_wait_future *f)
{
    return (wait_state *)(void *)f->private_;
}

static edo_poll wait_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_barrier_wait_future *f = (edo_barrier_wait_future *)self;
    wait_state *s = state_of(f);
    edo_barrier *b = s->b;
    if (!b) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    edo__spin_lock(&b->lock);
    switch (s->w.state) {
    case IDLE:
        if (++b->arrived == b->n) {
            s->w.state = FINISHED;
            f->result = EDO_BARRIER_LEADER;
            b->arrived = 0; /* the next round starts */
            edo__waitq_wake_all_and_unlock(&b->waiting, &b->lock, RELEASED);
            return EDO_READY;
        }
        edo__waitq_push(&b->waiting, &s->w, cx->waker);
        s->w.state = QUEUED;
        edo__spin_unlock(&b->lock);
        return EDO_PENDING;
    case QUEUED:
        edo__waitq_rewake(&s->w, cx->waker);
        edo__spin_unlock(&b->lock);
        return EDO_PENDING;
    default: /* RELEASED */
        s->w.state = FINISHED;
        edo__spin_unlock(&b->lock);
        f->result = 0;
        return EDO_READY;
    }
}

static void wait_drop(edo_future *self)
{
    wait_state *s = state_of((edo_barrier_wait_future *)self);
    edo_barrier *b = s->b;
    if (!b || s->w.state == IDLE || s->w.state == FINISHED)
        return;
    edo__spin_lock(&b->lock);
    if (s->w.state == QUEUED) { /* its round is still open: withdraw the arrival */
        edo__waitq_remove(&b->waiting, &s->w);
        b->arrived--;
    }
    edo_waker mine = edo__waitq_take_waker(&s->w);
    s->w.state = FINISHED;
    edo__spin_unlock(&b->lock);
    edo_waker_drop(&mine);
}

static const edo_future_vtable wait_vtable = {wait_poll, wait_drop};

void edo_barrier_wait_future_init(edo_barrier_wait_future *f, edo_barrier *b)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &wait_vtable;
    state_of(f)->b = b;
}

int edo_barrier_wait(edo_barrier *b)
{
    if (!b)
        return -EINVAL;
    if (!edo__coro_running())
        return -EPERM;
    edo_barrier_wait_future f;
    edo_barrier_wait_future_init(&f, b);
    /* Not edo__coro_run: a cut-short wait reads the round's state before the drop resets it. */
    int rc = edo_await(&f.base, NULL);
    if (rc == 0) {
        rc = f.result;
    } else {
        /* Cut short: withdrawn, unless the round completed first (then it passed). */
        edo__spin_lock(&b->lock);
        if (state_of(&f)->w.state == RELEASED)
            rc = 0;
        edo__spin_unlock(&b->lock);
    }
    edo_future_drop(&f.base);
    return rc;
}
