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
 * Parking: the first worker to park becomes the watcher and sleeps until the earliest deadline
 * of all wheels; the others sleep until woken. Arming a timer earlier than the watcher's wake
 * time wakes the watcher, which looks again. Both sides publish first and read second (the
 * watcher its wake time, the arming thread the wheel's next deadline), so one of them always
 * sees the other.
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
    _Atomic int watcher;           /* worker sleeping until the next deadline, or -1 */
    _Atomic int brief;             /* busy workers trying the watcher role for a poll that does
                                      not wait: a worker about to park waits for them */
    uint64_t advance_to;           /* the watcher's next timer, for EDO__PARK_ADVANCE */
    _Atomic uint64_t watch_until;  /* the tick it wakes at (EDO__WHEEL_NONE: when woken) */
    /* the clock */
    pthread_mutex_t clock_lock;    /* serialises pause, resume and advance */
    _Atomic bool shifted;          /* paused at some point: read the clock through `offset` */
    _Atomic bool paused;
    _Atomic uint64_t frozen;       /* the time while paused */
    _Atomic uint64_t offset;       /* added to the system clock while running */
} edo__timers;

int edo__timers_init(struct edo_runtime *rt, unsigned nworkers, bool start_paused);
void edo__timers_destroy(edo__timers *t);

/* The runtime's clock, in nanoseconds. */
uint64_t edo__timers_now(edo__timers *t);

/* Fires the expired timers of every wheel; returns how many fired. `w` is the calling worker
 * (NULL for another thread). */
unsigned edo__timers_fire(struct edo_runtime *rt, struct edo__worker *w);
/* What edo__timers_before_park tells a worker about to sleep, besides a system clock time to
 * wake up at (the watcher, with a deadline): */
#define EDO__PARK_FOREVER UINT64_MAX     /* not the watcher: sleep until woken */
#define EDO__PARK_WATCH (UINT64_MAX - 1) /* the watcher, no deadline: sleep until woken */
#define EDO__PARK_NOT 0                  /* don't sleep: a timer is due */
#define EDO__PARK_ADVANCE 1              /* paused clock, sockets registered: poll them without
                                            waiting, and only if nothing came advance the clock
                                            to the next timer (edo__timers_advance_paused) */
/* Worker `w` is about to sleep: one of the above, or the time to wake up at. The watcher looks
 * again whenever it wakes (a timer armed meanwhile may be earlier). */
uint64_t edo__timers_before_park(struct edo_runtime *rt, struct edo__worker *w);
/* Moves the paused clock to the next timer (t->advance_to), as EDO__PARK_ADVANCE asked. */
void edo__timers_advance_paused(struct edo_runtime *rt);
/* Worker `w` woke (for any reason) after edo__timers_before_park. */
void edo__timers_after_park(struct edo_runtime *rt, struct edo__worker *w);
/* Wakes the watcher, if a worker is one, to look again at what to wait for: the I/O driver's
 * on_active (io/driver.h), since a watcher asleep on its futex must move to the driver once
 * there are fds to watch. */
void edo__timers_wake_watcher(struct edo_runtime *rt);
/* The system clock reading at which the runtime's clock reads `when`. */
uint64_t edo__timers_system_time(edo__timers *t, uint64_t when);

/* Timer entries. An entry is IDLE (not in a wheel), ARMED (in wheel_, with a waker) or FIRED
 * (its deadline passed; the firing thread took its waker). Only the entry's owner arms and
 * cancels it; the firing thread moves it from ARMED to FIRED under the wheel's lock. */
enum { EDO__TIMER_IDLE = 0, EDO__TIMER_ARMED = 1, EDO__TIMER_FIRED = 2 };
/* `after` nonzero: the deadline is `after` nanoseconds from when the timer is armed. */
void edo__timer_init(edo_timer_entry *e, uint64_t deadline, uint64_t after);
/* 1: the deadline has passed; 0: pending (cx's waker is woken when it passes); -EPERM: not in
 * a runtime, nothing armed. */
int edo__timer_poll(edo_timer_entry *e, edo_context *cx);
/* Disarms `e` (from any thread); it may be polled again afterwards and re-arms. */
void edo__timer_cancel(edo_timer_entry *e);
/* edo__timer_cancel that hands back the waker of a timer that was armed, for the caller to wake
 * or drop (EDO_WAKER_EMPTY when it was not armed; a timer that fired has woken it already). */
edo_waker edo__timer_disarm(edo_timer_entry *e);

#endif
