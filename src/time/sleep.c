/* Sleeping: the sleep future and its coroutine form. */
#include <errno.h>

#include "coro/coro.h"
#include "edo/coro.h"
#include "time/timers.h"

static edo_poll sleep_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_sleep_future *s = (edo_sleep_future *)self;
    int rc = edo__timer_poll(&s->entry, cx);
    if (rc == 0)
        return EDO_PENDING;
    s->result = rc < 0 ? rc : 0;
    return EDO_READY;
}

static void sleep_drop(edo_future *self)
{
    edo__timer_cancel(&((edo_sleep_future *)self)->entry);
}

static const edo_future_vtable sleep_vtable = {sleep_poll, sleep_drop};

static void init(edo_sleep_future *s, edo_instant deadline, uint64_t after)
{
    s->base.vtable = &sleep_vtable;
    edo__timer_init(&s->entry, deadline, after);
    s->result = 0;
}

void edo_sleep_future_init_at(edo_sleep_future *s, edo_instant deadline)
{
    if (s)
        init(s, deadline, 0);
}

void edo_sleep_future_init(edo_sleep_future *s, uint64_t duration)
{
    if (s)
        init(s, 0, duration);
}

void edo_sleep_future_reset_at(edo_sleep_future *s, edo_instant deadline)
{
    if (!s)
        return;
    edo__timer_cancel(&s->entry);
    edo__timer_init(&s->entry, deadline, 0);
    s->result = 0;
}

static int sleep_on(edo_sleep_future *s)
{
    return edo__coro_run(&s->base, NULL, &s->result);
}

int edo_sleep_at(edo_instant deadline)
{
    edo_sleep_future s;
    edo_sleep_future_init_at(&s, deadline);
    return sleep_on(&s);
}

int edo_sleep(uint64_t duration)
{
    edo_sleep_future s;
    edo_sleep_future_init(&s, duration);
    return sleep_on(&s);
}
