/* The once-cell: a state word (EMPTY, BUSY: someone holds the turn to initialise, SET), the
 * value, and the FIFO of waiters under a spinlock. Waiters queue only while the cell is BUSY.
 * The turn is passed, never dropped: a holder that gives up hands it to the head waiter (the
 * cell stays BUSY) or, with nobody waiting, makes the cell EMPTY again. Setting the value wakes
 * every waiter with it. SET is final, so reading a set cell takes one atomic load. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/sync.h"
#include "platform/spinlock.h"
#include "sync/waitq.h"

enum { EMPTY, BUSY, SET };

/* A waiter: IDLE (not polled yet), QUEUED, TURN (handed the turn while queued), VALUE (the cell
 * was set while it waited), OWNER (its poll returned EDO_ONCE_CELL_YOUR_TURN), FINISHED. */
enum { IDLE, QUEUED, TURN, VALUE, OWNER, FINISHED };

struct edo_once_cell {
    _Atomic int state;
    edo__spinlock lock;
    void *value; /* written once, before state becomes SET */
    edo__waitq waiting;
};

typedef struct wait_state {
    edo_once_cell *c;
    edo__waitq_node w;
} wait_state;

_Static_assert(sizeof(wait_state) <= sizeof(((edo_once_cell_future *)0)->private_),
               "edo_once_cell_future.private_ is too small");

int edo_once_cell_new(edo_once_cell **out)
{
    if (!out)
        return -EINVAL;
    edo_once_cell *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    atomic_init(&c->state, EMPTY);
    edo__spin_init(&c->lock);
    *out = c;
    return 0;
}

void edo_once_cell_free(edo_once_cell *c, void (*destroy)(void *value))
{
    if (!c)
        return;
    if (destroy && atomic_load_explicit(&c->state, memory_order_acquire) == SET)
        destroy(c->value);
    free(c);
}

int edo_once_cell_get(const edo_once_cell *c, void **value)
{
    if (!c)
        return -EINVAL;
    if (atomic_load_explicit(&((edo_once_cell *)c)->state, memory_order_acquire) != SET)
        return -EAGAIN;
    if (value)
        *value = c->value;
    return 0;
}

int edo_once_cell_set(edo_once_cell *c, void *value)
{
    if (!c)
        return -EINVAL;
    edo__spin_lock(&c->lock);
    int rc = -EEXIST;
    if (atomic_load_explicit(&c->state, memory_order_relaxed) == EMPTY) { /* nobody waits */
        c->value = value;
        atomic_store_explicit(&c->state, SET, memory_order_release);
        rc = 0;
    }
    edo__spin_unlock(&c->lock);
    return rc;
}

/* ---- the future ------------------------------------------------------------------------------ */

static wait_state *state_of(edo_once_cell_future *f) { return (wait_state *)(void *)f->private_; }

static edo_poll ready_with_value(edo_once_cell_future *f, wait_state *s, void **out)
{
    s->w.state = FINISHED;
    f->result = 0;
    f->value = s->c->value;
    *out = f->value;
    return EDO_READY;
}

static edo_poll once_poll(edo_future *self, edo_context *cx, void **out)
{
    edo_once_cell_future *f = (edo_once_cell_future *)self;
    wait_state *s = state_of(f);
    edo_once_cell *c = s->c;
    if (!c) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    if (s->w.state == IDLE && atomic_load_explicit(&c->state, memory_order_acquire) == SET)
        return ready_with_value(f, s, out);
    edo__spin_lock(&c->lock);
    edo_poll p = EDO_READY;
    switch (s->w.state) {
    case IDLE:
        if (atomic_load_explicit(&c->state, memory_order_relaxed) == SET) {
            ready_with_value(f, s, out);
        } else if (atomic_load_explicit(&c->state, memory_order_relaxed) == EMPTY) {
            atomic_store_explicit(&c->state, BUSY, memory_order_relaxed);
            s->w.state = OWNER;
            f->result = EDO_ONCE_CELL_YOUR_TURN;
        } else {
            edo__waitq_push(&c->waiting, &s->w, cx->waker);
            s->w.state = QUEUED;
            p = EDO_PENDING;
        }
        break;
    case QUEUED:
        edo__waitq_rewake(&s->w, cx->waker);
        p = EDO_PENDING;
        break;
    case TURN:
        s->w.state = OWNER;
        f->result = EDO_ONCE_CELL_YOUR_TURN;
        break;
    default: /* VALUE */
        ready_with_value(f, s, out);
        break;
    }
    edo__spin_unlock(&c->lock);
    return p;
}

static void once_drop(edo_future *self)
{
    wait_state *s = state_of((edo_once_cell_future *)self);
    edo_once_cell *c = s->c;
    if (!c || s->w.state == IDLE || s->w.state == FINISHED)
        return;
    edo__spin_lock(&c->lock);
    edo_waker pass = EDO_WAKER_EMPTY;
    if (s->w.state == QUEUED) {
        edo__waitq_remove(&c->waiting, &s->w);
    } else if (s->w.state == TURN || s->w.state == OWNER) { /* gives up the turn: pass it on */
        edo__waitq_node *next = edo__waitq_pop(&c->waiting);
        if (next) {
            next->state = TURN;
            pass = edo__waitq_take_waker(next);
        } else {
            atomic_store_explicit(&c->state, EMPTY, memory_order_relaxed);
        }
    }
    edo_waker mine = edo__waitq_take_waker(&s->w);
    s->w.state = FINISHED;
    edo__spin_unlock(&c->lock);
    edo_waker_drop(&mine);
    edo_waker_wake(&pass);
}

static const edo_future_vtable once_vtable = {once_poll, once_drop};

void edo_once_cell_future_init(edo_once_cell_future *f, edo_once_cell *c)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &once_vtable;
    state_of(f)->c = c;
}

int edo_once_cell_future_set(edo_once_cell_future *f, void *value)
{
    if (!f)
        return -EINVAL;
    wait_state *s = state_of(f);
    if (!s->c || s->w.state != OWNER) /* only the turn's holder changes it: no lock needed */
        return -EINVAL;
    edo_once_cell *c = s->c;
    edo__spin_lock(&c->lock);
    c->value = value;
    atomic_store_explicit(&c->state, SET, memory_order_release);
    s->w.state = FINISHED;
    f->value = value;
    edo__waitq_wake_all_and_unlock(&c->waiting, &c->lock, VALUE);
    return 0;
}

int edo_once_cell_get_or_init(edo_once_cell *c, int (*init)(void *arg, void **value), void *arg,
                              void **value)
{
    if (!c || !init)
        return -EINVAL;
    if (edo_once_cell_get(c, value) == 0)
        return 0;
    if (!edo__coro_running())
        return -EPERM;
    edo_once_cell_future f;
    edo_once_cell_future_init(&f, c);
    /* Not edo__coro_run: the turn is used (init, set) between the wait and the drop. */
    int rc = edo_await(&f.base, NULL);
    if (rc == 0 && f.result == EDO_ONCE_CELL_YOUR_TURN) {
        void *v = NULL;
        rc = init(arg, &v);
        if (rc >= 0)
            rc = edo_once_cell_future_set(&f, v);
    }
    if (rc == 0 && value)
        *value = f.value;
    edo_future_drop(&f.base); /* a turn not used (init failed, cancelled) goes to the next */
    return rc;
}
