/* edo/time.h — time: the clock, sleeps, intervals, timeouts and deadlines.
 *
 * Time is a count of nanoseconds on a monotonic clock (edo_now()). Timers have a resolution of
 * one millisecond: a timer fires at the first millisecond tick at or after its deadline, never
 * before it, and usually within a millisecond after it (later when every worker is busy).
 *
 * In a coroutine, waiting is a call:
 *
 *     for (;;) {
 *         if (edo_sleep(EDO_MSEC(100)) < 0)    // -ECANCELED once the task is aborted
 *             break;
 *         tick();
 *     }
 *
 * and a deadline bounds every suspending call made until it is popped:
 *
 *     edo_instant saved;
 *     edo_deadline_push(edo_after(EDO_SEC(5)), &saved);
 *     ssize_t n = read_request(conn);          // any suspending call: -ETIMEDOUT after 5 s
 *     edo_deadline_pop(saved);
 *
 * Future tasks use the future forms (edo_sleep_future, edo_timeout_future, edo_interval), which
 * the coroutine calls are built on. Every timer lives inside the future (or the coroutine's stack
 * frame) that waits on it: no allocation per sleep, and cancelling one is O(1) from any thread.
 *
 * Tests run on a paused clock (edo_runtime_config.start_paused, edo_time_pause): time stands
 * still until edo_time_advance() moves it, or until every task is waiting, when it jumps to the
 * next timer's deadline at once. A test of a one-hour timeout then runs in microseconds, and
 * never flakes.
 */
#ifndef EDO_TIME_H
#define EDO_TIME_H

#include <stdint.h>

#include "edo/future.h"
#include "edo/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A point in time: nanoseconds on edo_now()'s clock. */
typedef uint64_t edo_instant;
/* A deadline that never comes. */
#define EDO_INSTANT_NEVER UINT64_MAX

/* Durations in nanoseconds. */
#define EDO_USEC(n) ((uint64_t)(n) * 1000u)
#define EDO_MSEC(n) ((uint64_t)(n) * 1000000u)
#define EDO_SEC(n) ((uint64_t)(n) * 1000000000u)

/* The current time. Inside a runtime whose clock is paused (or was: see edo_time_pause) this is
 * that runtime's clock; everywhere else the system's monotonic clock. Cheap (no system call on
 * Linux). Never suspends; thread-safe. */
edo_instant edo_now(void);

/* edo_now() + `duration`, saturating at EDO_INSTANT_NEVER. Never suspends; thread-safe. */
edo_instant edo_after(uint64_t duration);

/* ---------------------------------------------------------------------------------------------
 * Timer entries (private)
 *
 * The place of one timer in a runtime's timer wheel, embedded in the futures below. Its fields
 * are the runtime's: initialise and use it only through those futures.
 * ------------------------------------------------------------------------------------------- */
typedef struct edo_timer_entry {
    edo_instant deadline;
    uint64_t duration_; /* a relative deadline, fixed (deadline = now + duration_) when armed */
    uint64_t tick_;
    struct edo_timer_entry *next_, *prev_;
    edo_waker waker_;
    void *wheel_;
    uint32_t slot_;
    uint32_t state_;
} edo_timer_entry;

/* ---------------------------------------------------------------------------------------------
 * Sleeping
 * ------------------------------------------------------------------------------------------- */

/* Inside a coroutine: suspends until `duration` nanoseconds have passed.
 * Returns 0, or
 *   -ECANCELED  the task was aborted;
 *   -ETIMEDOUT  the coroutine's deadline (edo_deadline_push) came first;
 *   -EPERM      not called from a coroutine.
 * Suspends. */
int edo_sleep(uint64_t duration);
/* Like edo_sleep(), until `deadline` (already past: returns 0 at once without suspending). */
int edo_sleep_until(edo_instant deadline);

/* A future that is ready once its deadline has passed. Its output is NULL; `result` reads 0,
 * or -EPERM when it was polled outside a runtime (it then completes at once).
 *
 *     edo_sleep_future s;
 *     edo_sleep_future_init(&s, EDO_MSEC(10));
 *     ... return edo_future_poll(&s.base, cx, NULL);     // in your poll function
 *     ... edo_future_drop(&s.base);                        // when done, or to cancel
 *
 * Dropping it (edo_future_drop) cancels the timer; it may be dropped on any thread. */
typedef struct edo_sleep_future {
    edo_future base;
    edo_timer_entry entry;
    int result;
} edo_sleep_future;
/* Prepares `s` to complete `duration` nanoseconds after its first poll (the clock is read once,
 * when the timer is armed: for a future polled at once, as in edo_await, that is now). Never
 * suspends. */
void edo_sleep_future_init(edo_sleep_future *s, uint64_t duration);
/* Prepares `s` to complete at `deadline` (EDO_INSTANT_NEVER: never). Never suspends. */
void edo_sleep_future_init_until(edo_sleep_future *s, edo_instant deadline);
/* Moves `s`'s deadline to `deadline`, pending again even if it had completed; cancels the timer
 * it had (so the next poll arms a new one). `s` may be polled again afterwards. For idle
 * timeouts that are pushed back on every event. Never suspends; not thread-safe for one `s`. */
void edo_sleep_future_reset(edo_sleep_future *s, edo_instant deadline);

/* ---------------------------------------------------------------------------------------------
 * Timeouts
 * ------------------------------------------------------------------------------------------- */

/* A future that completes when `inner` does, or at `deadline`, whichever comes first. It polls
 * `inner` first, so an inner future that is ready is never cut off by a passed deadline.
 * On completion `result` is 0 (and the output is inner's), -ETIMEDOUT (output NULL), or -EPERM
 * (polled outside a runtime while inner was pending: no timer could be armed).
 *
 * The timeout owns `inner`: dropping the timeout drops `inner` too (and cancels its timer).
 * It refers to `inner` by position relative to itself, so a struct holding both may be moved
 * as a whole (for example into edo_spawn_future) before the first poll. */
typedef struct edo_timeout_future {
    edo_future base;
    intptr_t inner_offset; /* inner's address minus this future's */
    edo_timer_entry entry;
    int result;
} edo_timeout_future;
/* Prepares `t` to bound `inner` by `duration`, counted from the first poll that finds `inner`
 * pending (an inner future that is ready at once never costs a clock reading). Returns 0, or
 * -EINVAL (t or inner NULL, or inner without a poll function). Never suspends. */
int edo_timeout_future_init(edo_timeout_future *t, edo_future *inner, uint64_t duration);
/* Like edo_timeout_future_init(), bounding `inner` by the instant `deadline`. */
int edo_timeout_future_init_at(edo_timeout_future *t, edo_future *inner, edo_instant deadline);

/* ---------------------------------------------------------------------------------------------
 * Deadlines (coroutines)
 *
 * A coroutine has a deadline (EDO_INSTANT_NEVER by default). Once it passes, every suspending
 * call the coroutine makes (edo_await and every call built on it: sleeps, joins, I/O, locks,
 * channels; and edo_yield) returns -ETIMEDOUT instead of waiting — a call that can complete
 * without waiting still completes. Deadlines nest: pushing one never extends the deadline
 * already in force, and popping restores it. A future polled by edo_await is left as it is when
 * the deadline cuts the wait short; the caller drops or reuses it as for any failed wait.
 * ------------------------------------------------------------------------------------------- */

/* Sets the calling coroutine's deadline to the earlier of `deadline` and the one in force, and
 * stores the one in force in *saved (for edo_deadline_pop). Returns 0, -EINVAL (saved NULL),
 * or -EPERM (not in a coroutine). Never suspends. */
int edo_deadline_push(edo_instant deadline, edo_instant *saved);
/* Restores the deadline `saved` by the matching edo_deadline_push. Returns 0 or -EPERM (not in
 * a coroutine). Never suspends. */
int edo_deadline_pop(edo_instant saved);
/* The calling coroutine's deadline; EDO_INSTANT_NEVER when it has none or outside a
 * coroutine. Never suspends. */
edo_instant edo_deadline(void);
/* Runs fn(arg) in the calling coroutine under a deadline `duration` from now (nested within
 * the one in force) and returns what fn returns — typically -ETIMEDOUT, passed up from the
 * suspending call that hit the deadline. Returns -EINVAL for a NULL fn and -EPERM outside a
 * coroutine. Suspends when fn does. */
int edo_timeout(uint64_t duration, int (*fn)(void *arg), void *arg);
/* edo_timeout() with an absolute deadline. */
int edo_timeout_at(edo_instant deadline, int (*fn)(void *arg), void *arg);

/* ---------------------------------------------------------------------------------------------
 * Intervals
 * ------------------------------------------------------------------------------------------- */

/* What an interval does when a tick was missed: when it is next awaited a whole period or
 * more after the tick was due (the task was busy, or the machine was). */
typedef enum edo_missed_tick {
    EDO_MISSED_TICK_BURST = 0, /* fire the missed ticks at once, back to back, then keep the
                                  original schedule */
    EDO_MISSED_TICK_DELAY,     /* fire once now, then one period after each tick fires */
    EDO_MISSED_TICK_SKIP,      /* fire once now, then on the original schedule's next tick */
} edo_missed_tick;

/* Ticks every `period`, starting at `start`. The first tick completes at `start` (at once when
 * that is now or past). */
typedef struct edo_interval {
    edo_sleep_future sleep; /* waits for the next tick */
    uint64_t period;
    edo_missed_tick missed;
} edo_interval;
/* Prepares `iv`. Returns 0, or -EINVAL (NULL iv, period 0, or an unknown `missed`). Never
 * suspends. */
int edo_interval_init(edo_interval *iv, edo_instant start, uint64_t period,
                      edo_missed_tick missed);
/* Inside a coroutine: waits for the next tick and stores the instant it was due in *tick
 * (`tick` may be NULL). Returns 0, -ECANCELED, -ETIMEDOUT (the coroutine's deadline), -EINVAL
 * (NULL iv) or -EPERM (not in a coroutine). Suspends. */
int edo_interval_tick(edo_interval *iv, edo_instant *tick);
/* The future form of edo_interval_tick: EDO_READY with *tick set (`tick` may be NULL) when a
 * tick is due, else EDO_PENDING with the context's waker registered. Never suspends. */
edo_poll edo_interval_poll_tick(edo_interval *iv, edo_context *cx, edo_instant *tick);
/* Restarts the schedule: the next tick is one period from now. Never suspends. */
void edo_interval_reset(edo_interval *iv);
/* Cancels the interval's timer. Call it before `iv`'s memory goes; it may be initialised again
 * afterwards. Never suspends. */
void edo_interval_destroy(edo_interval *iv);

/* ---------------------------------------------------------------------------------------------
 * The paused clock (tests)
 *
 * Only a current-thread runtime's clock can be paused. While it is paused, edo_now() on threads
 * in that runtime stands still; edo_time_advance() moves it, and whenever the runtime has no
 * task to run and no blocking-pool call in progress it jumps straight to the next timer's
 * deadline. Once paused, the runtime's clock stays offset from the system's by the time it
 * skipped, also after edo_time_resume().
 * ------------------------------------------------------------------------------------------- */

/* Pauses `rt`'s clock. Returns 0, or -EINVAL (rt NULL), -ENOTSUP (a multi-thread runtime).
 * Pausing a paused clock is a no-op. Never suspends; thread-safe. */
int edo_time_pause(edo_runtime *rt);
/* Lets `rt`'s clock run again from where it stands. Returns 0, -EINVAL (rt NULL or clock not
 * paused). Never suspends; thread-safe. */
int edo_time_resume(edo_runtime *rt);
/* Moves `rt`'s paused clock forward by `duration` and fires every timer that is due by then:
 * their tasks are woken (a coroutine that advanced the clock lets them run with edo_yield()).
 * Returns 0, or -EINVAL (rt NULL or clock not paused). Never suspends; thread-safe. */
int edo_time_advance(edo_runtime *rt, uint64_t duration);

#ifdef __cplusplus
}
#endif

#endif /* EDO_TIME_H */
