/* Intervals: a sleep whose deadline is the next tick, moved on each time a tick is taken (by the
 * missed-tick policy) or the schedule is reset. The tick future borrows it: the timer lives in
 * the interval, so a tick future dropped before its tick takes nothing away. */
#include <errno.h>

#include "coro/coro.h"
#include "edo/coro.h"
#include "time/timers.h"

/* A tick taken this much after it was due, or more, is late for EDO_MISSED_TICK_DELAY: timers
 * fire up to about a millisecond late anyway, and that alone should not shift the schedule. */
#define DELAY_SLACK EDO_MSEC(5)

static int init(edo_interval *iv, edo_instant start, uint64_t period, edo_missed_tick missed,
                int unstarted)
{
    if (!iv || period == 0 ||
        (missed != EDO_MISSED_TICK_SKIP && missed != EDO_MISSED_TICK_BURST &&
         missed != EDO_MISSED_TICK_DELAY))
        return -EINVAL;
    edo_sleep_future_init_at(&iv->sleep, start);
    iv->period = period;
    iv->missed = missed;
    iv->unstarted_ = unstarted;
    return 0;
}

int edo_interval_init_at(edo_interval *iv, edo_instant start, uint64_t period,
                         edo_missed_tick missed)
{
    return init(iv, start, period, missed, 0);
}

int edo_interval_init(edo_interval *iv, uint64_t period, edo_missed_tick missed)
{
    return init(iv, 0, period, missed, 1);
}

static uint64_t add_saturating(uint64_t a, uint64_t b)
{
    return b >= UINT64_MAX - a ? UINT64_MAX : a + b;
}

/* When the tick after the one due at `due` is due, that one having been taken at `now`. */
static edo_instant next_tick(const edo_interval *iv, edo_instant due, edo_instant now)
{
    edo_instant next = add_saturating(due, iv->period);
    uint64_t late = now > due ? now - due : 0;
    switch (iv->missed) {
    case EDO_MISSED_TICK_DELAY:
        return now >= next || late >= DELAY_SLACK ? add_saturating(now, iv->period) : next;
    case EDO_MISSED_TICK_BURST:
        return next;
    case EDO_MISSED_TICK_SKIP:
    default:
        /* The first tick of the schedule strictly after now (never one due this instant: that
         * would be taken back to back with this one). */
        return now < next ? next : add_saturating(now, iv->period - late % iv->period);
    }
}

/* Moves the next tick to `when`; a wait in progress is woken to wait for it. */
static void reschedule(edo_interval *iv, edo_instant when)
{
    edo_waker waiter = edo__timer_disarm(&iv->sleep.entry);
    edo_sleep_future_reset_at(&iv->sleep, when);
    iv->unstarted_ = 0;
    edo_waker_wake(&waiter);
}

static edo_poll tick_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_interval_tick_future *f = (edo_interval_tick_future *)self;
    edo_interval *iv = f->interval;
    if (!iv) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    if (iv->unstarted_) /* the first tick of edo_interval_init is due at the first wait */
        edo_sleep_future_reset_at(&iv->sleep, edo_now());
    if (edo_future_poll(&iv->sleep.base, cx, NULL) == EDO_PENDING) {
        f->waiting_ = 1;
        return EDO_PENDING;
    }
    f->waiting_ = 0;
    if (iv->sleep.result < 0) { /* outside a runtime: nothing was armed, no tick is taken */
        f->result = iv->sleep.result;
        iv->sleep.result = 0;
        return EDO_READY;
    }
    edo_instant due = iv->sleep.entry.deadline;
    f->tick = due;
    f->result = 0;
    iv->unstarted_ = 0;
    edo_sleep_future_reset_at(&iv->sleep, next_tick(iv, due, edo_now()));
    return EDO_READY;
}

static void tick_drop(edo_future *self)
{
    edo_interval_tick_future *f = (edo_interval_tick_future *)self;
    if (f->waiting_ && f->interval)
        edo__timer_cancel(&f->interval->sleep.entry); /* the deadline, and so the tick, stays */
    f->waiting_ = 0;
}

static const edo_future_vtable tick_vtable = {tick_poll, tick_drop};

void edo_interval_tick_future_init(edo_interval_tick_future *f, edo_interval *iv)
{
    if (!f)
        return;
    f->base.vtable = &tick_vtable;
    f->result = 0;
    f->tick = 0;
    f->interval = iv;
    f->waiting_ = 0;
}

int edo_interval_tick(edo_interval *iv, edo_instant *tick)
{
    if (!iv)
        return -EINVAL;
    edo_interval_tick_future f;
    edo_interval_tick_future_init(&f, iv);
    int rc = edo__coro_run(&f.base, NULL, &f.result);
    if (rc == 0 && tick)
        *tick = f.tick;
    return rc;
}

int edo_interval_reset_at(edo_interval *iv, edo_instant when)
{
    if (!iv)
        return -EINVAL;
    reschedule(iv, when);
    return 0;
}

int edo_interval_reset_after(edo_interval *iv, uint64_t delay)
{
    return edo_interval_reset_at(iv, edo_after(delay));
}

int edo_interval_reset(edo_interval *iv)
{
    if (!iv)
        return -EINVAL;
    return edo_interval_reset_at(iv, edo_after(iv->period));
}

void edo_interval_drop(edo_interval *iv)
{
    if (iv)
        edo_future_drop(&iv->sleep.base);
}
