/* Timeouts: a future bounded by a deadline, and the coroutine form over a block of code. */
#include <errno.h>

#include "edo/coro.h"
#include "time/timers.h"

static edo_future *inner_of(edo_timeout_future *t)
{
    return (edo_future *)((uintptr_t)t + (uintptr_t)t->inner_offset);
}

static edo_poll timeout_poll(edo_future *self, edo_context *cx, void **out)
{
    edo_timeout_future *t = (edo_timeout_future *)self;
    edo_future *inner = inner_of(t);
    if (inner->vtable->poll(inner, cx, out) == EDO_READY) {
        t->result = 0;
        return EDO_READY;
    }
    int rc = edo__timer_poll(&t->entry, cx);
    if (rc == 0)
        return EDO_PENDING;
    t->result = rc < 0 ? rc : -ETIMEDOUT;
    return EDO_READY;
}

static void timeout_drop(edo_future *self)
{
    edo_timeout_future *t = (edo_timeout_future *)self;
    edo__timer_cancel(&t->entry);
    edo_future_drop(inner_of(t));
}

static const edo_future_vtable timeout_vtable = {timeout_poll, timeout_drop};

static int init(edo_timeout_future *t, edo_future *inner, edo_instant deadline, uint64_t after)
{
    /* (Bounding itself, it would poll itself without end.) */
    if (!t || !inner || inner == &t->base || !inner->vtable || !inner->vtable->poll)
        return -EINVAL;
    t->base.vtable = &timeout_vtable;
    t->inner_offset = (intptr_t)((uintptr_t)inner - (uintptr_t)t);
    edo__timer_init(&t->entry, deadline, after);
    t->result = 0;
    return 0;
}

int edo_timeout_future_init_at(edo_timeout_future *t, edo_future *inner, edo_instant deadline)
{
    return init(t, inner, deadline, 0);
}

int edo_timeout_future_init(edo_timeout_future *t, edo_future *inner, uint64_t duration)
{
    return init(t, inner, 0, duration);
}
