/* Intervals: a sleep re-armed one period after each tick, with a policy for missed ticks. */
#include <errno.h>

#include "edo/coro.h"
#include "time/timers.h"

int edo_interval_init(edo_interval *iv, edo_instant start, uint64_t period,
                      edo_missed_tick missed)
{
    if (!iv || period == 0 ||
        (missed != EDO_MISSED_TICK_BURST && missed != EDO_MISSED_TICK_DELAY &&
         missed != EDO_MISSED_TICK_SKIP))
        return -EINVAL;
    edo_sleep_future_init_until(&iv->sleep, start);
    iv->period = period;
    iv->missed = missed;
    return 0;
}

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
    return b >= UINT64_MAX - a ? UINT64_MAX : a + b;
}

/* The tick after the one due at `due`, seen at `now`. A tick counts as missed when it is taken
 * a whole period or more after it was due. */
static edo_instant next_tick(const edo_interval *iv, edo_instant due, edo_instant now)
{
    edo_instant next = add_saturating(due, iv->period);
    if (now < next)
        return next;
    switch (iv->missed) {
    case EDO_MISSED_TICK_DELAY:
        return add_saturating(now, iv->period);
    case EDO_MISSED_TICK_SKIP:
        /* The first tick of the original schedule after now. */
        return add_saturating(now, iv->period - (now - due) % iv->period);
    case EDO_MISSED_TICK_BURST:
    default:
        return next;
    }
}

edo_poll edo_interval_poll_tick(edo_interval *iv, edo_context *cx, edo_instant *tick)
{
    if (edo_future_poll(&iv->sleep.base, cx, NULL) == EDO_PENDING)
        return EDO_PENDING;
    edo_instant due = iv->sleep.entry.deadline;
    if (tick)
        *tick = due;
    edo_sleep_future_reset(&iv->sleep, next_tick(iv, due, edo_now()));
    return EDO_READY;
}

int edo_interval_tick(edo_interval *iv, edo_instant *tick)
{
    if (!iv)
        return -EINVAL;
    int rc = edo_await(&iv->sleep.base, NULL);
    if (rc < 0)
        return rc;
    edo_instant due = iv->sleep.entry.deadline;
    if (tick)
        *tick = due;
    edo_sleep_future_reset(&iv->sleep, next_tick(iv, due, edo_now()));
    return iv->sleep.result;
}

void edo_interval_reset(edo_interval *iv)
{
    edo_sleep_future_reset(&iv->sleep, edo_after(iv->period));
}

void edo_interval_destroy(edo_interval *iv)
{
    if (iv)
        edo_future_drop(&iv->sleep.base);
}
