/* The runtime's timers: one wheel per worker (plus one for threads outside the workers), the
 * clock (paused or not), and the hand-off that keeps one parked worker awake for the next
 * deadline.
 *
 * A timer goes into the wheel of the worker that arms it, under that wheel's lock: arming and
 * cancelling on the same worker never contend, and cancelling from another worker (a task that
 * moved, an abort) takes only that one wheel's lock. Any thread may fire any wheel's expired
 * timers: each worker checks them between polls (at each maintenance, see core/worker.c) and before
 * it parks, so a worker stuck in a long poll does not hold back timers that others can fire.
 *
 * Sleeping: one parked worker at a time (the watcher, core/park.c) sleeps until the earliest
 * deadline of all wheels, which it publishes as `watch_until` (edo__timers_watch). Arming a
 * timer earlier than that calls `on_earlier`, which wakes the watcher to look again. Both sides
 * publish first and read second (the watcher its wake tick, the arming thread the wheel's next
 * deadline), so one of them always sees the other. The timers know nothing of workers beyond
 * the index that picks a wheel.
 */
#ifndef EDO_TIME_TIMERS_H
#define EDO_TIME_TIMERS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "platform/spinlock.h"
#include "time/wheel.h"

#define EDO__TICK_NS 1000000u /* the wheels' resolution: 1 ms */

struct edo_runtime;
struct edo__worker;

typedef struct edo__timer_wheel {
    _Alignas(64) edo__spinlock lock;
    _Atomic uint64_t next_due; /* the wheel's next due tick (EDO__WHEEL_NONE: empty) */
    edo__wheel wheel;
} edo__timer_wheel;

typedef struct edo__timers {
    edo__timer_wheel *wheels; /* one per worker, then the one for other threads */
    unsigned nwheels;
    uint64_t origin; /* the clock's reading at tick 0 */
    _Atomic uint64_t watch_until;  /* the tick the sleeping waiter wakes at (EDO__WHEEL_NONE:
                                      when woken, or nobody sleeps on the clock) */
    void (*on_earlier)(struct edo_runtime *rt); /* a timer was armed before watch_until */
    /* the clock */
    pthread_mutex_t clock_lock;    /* serialises pause, resume and advance */
    _Atomic bool shifted;          /* paused at some point: read the clock through `offset` */
    _Atomic bool paused;
    _Atomic uint64_t frozen;       /* the time while paused */
    _Atomic uint64_t offset;       /* added to the system clock while running */
} edo__timers;

/* `on_earlier` is called (from the arming thread) when a timer is armed earlier than the tick
 * published by edo__timers_watch. */
int edo__timers_init(struct edo_runtime *rt, unsigned nworkers, bool start_paused,
                     void (*on_earlier)(struct edo_runtime *rt));
void edo__timers_destroy(edo__timers *t);

/* The runtime's clock, in nanoseconds. */
uint64_t edo__timers_now(edo__timers *t);

/* Fires the expired timers of every wheel; returns how many fired. `w` is the calling worker
 * (NULL for another thread). */
unsigned edo__timers_fire(struct edo_runtime *rt, struct edo__worker *w);
/* Publishes the earliest due tick of all wheels as the tick a sleeping waiter will wake at, and
 * returns it (EDO__WHEEL_NONE: no timer). Until edo__timers_unwatch, arming an earlier timer
 * calls on_earlier. */
uint64_t edo__timers_watch(edo__timers *t);
void edo__timers_unwatch(edo__timers *t);
/* The runtime clock's reading at tick `tick`. */
uint64_t edo__timers_tick_time(edo__timers *t, uint64_t tick);
static inline bool edo__timers_paused(edo__timers *t)
{
    return atomic_load_explicit(&t->paused, memory_order_acquire);
}
/* Jumps the paused clock forward to `when` (never back). */
void edo__timers_advance_paused_to(edo__timers *t, uint64_t when);
/* The system clock reading at which the runtime's clock reads `when`. */
uint64_t edo__timers_system_time(edo__timers *t, uint64_t when);

/* Timer entries. An entry is IDLE (not in a wheel), ARMED (in wheel_, with a waker) or FIRED
 * (its deadline passed; the firing thread took its waker). Only the entry's owner arms and
 * cancels it; the firing thread moves it from ARMED to FIRED under the wheel's lock. */
enum { EDO__TIMER_IDLE = 0, EDO__TIMER_ARMED = 1, EDO__TIMER_FIRED = 2 };
/* `after` nonzero: the deadline is `after` nanoseconds from when the timer is armed. */
void edo__timer_init(edo_timer_entry *e, uint64_t deadline, uint64_t after);
/* 1: the deadline has passed; 0: pending (cx's waker is woken when it passes); -EPERM: not in
 * a runtime, nothing armed; -ENOMEM: no memory to file the timer, nothing armed. */
int edo__timer_poll(edo_timer_entry *e, edo_context *cx);
/* Disarms `e` (from any thread); it may be polled again afterwards and re-arms. */
void edo__timer_cancel(edo_timer_entry *e);
/* edo__timer_cancel that hands back the waker of a timer that was armed, for the caller to wake
 * or drop (EDO_WAKER_EMPTY when it was not armed; a timer that fired has woken it already). */
edo_waker edo__timer_disarm(edo_timer_entry *e);

#endif
