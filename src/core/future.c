/* The generic pieces of the future API: wakers, contexts, polling, yielding, the coop budget. */
#include "edo/future.h"

#include <stddef.h>

edo_waker edo_waker_clone(const edo_waker *w)
{
    if (!w || !w->vtable)
        return EDO_WAKER_EMPTY;
    return w->vtable->clone(w->data);
}

void edo_waker_wake(edo_waker *w)
{
    if (!w || !w->vtable)
        return;
    edo_waker taken = *w;
    *w = EDO_WAKER_EMPTY;
    taken.vtable->wake(taken.data);
}

void edo_waker_wake_by_ref(const edo_waker *w)
{
    if (w && w->vtable)
        w->vtable->wake_by_ref(w->data);
}

void edo_waker_drop(edo_waker *w)
{
    if (!w || !w->vtable)
        return;
    edo_waker taken = *w;
    *w = EDO_WAKER_EMPTY;
    taken.vtable->drop(taken.data);
}

bool edo_waker_will_wake(const edo_waker *a, const edo_waker *b)
{
    return a && b && a->vtable && a->vtable == b->vtable && a->data == b->data;
}

static edo_waker noop_clone(const void *data);
static void noop_op(const void *data) { (void)data; }
static const edo_waker_vtable noop_vtable = {noop_clone, noop_op, noop_op, noop_op};
static edo_waker noop_clone(const void *data) { return (edo_waker){&noop_vtable, data}; }

edo_waker edo_waker_noop(void) { return (edo_waker){&noop_vtable, NULL}; }

void edo_context_init(edo_context *cx, const edo_waker *waker, const edo_context *parent)
{
    if (!cx)
        return;
    cx->waker = waker;
    cx->budget = parent ? parent->budget : NULL;
}

bool edo_coop_proceed(edo_context *cx)
{
    if (!cx || !cx->budget)
        return true;
    if (*cx->budget > 0) {
        --*cx->budget;
        return true;
    }
    edo_waker_wake_by_ref(cx->waker);
    return false;
}

edo_poll edo_future_poll(edo_future *f, edo_context *cx, void **out)
{
    if (!f || !f->vtable || !f->vtable->poll || !cx)
        return EDO_READY;
    void *ignored = NULL;
    return f->vtable->poll(f, cx, out ? out : &ignored);
}

void edo_future_drop(edo_future *f)
{
    if (f && f->vtable && f->vtable->drop)
        f->vtable->drop(f);
}

static edo_poll yield_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_yield_future *y = (edo_yield_future *)self;
    if (y->yielded)
        return EDO_READY;
    y->yielded = 1;
    edo_waker_wake_by_ref(cx->waker);
    return EDO_PENDING;
}

static const edo_future_vtable yield_vtable = {yield_poll, NULL};

void edo_yield_future_init(edo_yield_future *y)
{
    if (!y)
        return;
    y->base.vtable = &yield_vtable;
    y->yielded = 0;
}
