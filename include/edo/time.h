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
 * Future tasks use the future forms (edo_sleep_future, edo_timeout_future,
 * edo_interval_tick_future), which the coroutine calls are built on. Every timer lives inside the
 * future (or the coroutine's stack frame, or the interval) that waits on it: no allocation per
 * sleep, and cancelling one is O(1) from any thread.
 *
 * Names: a relative form takes a duration; its absolute twin takes an edo_instant and ends in
 * `_at` (edo_sleep_at, edo_timeout_at, edo_interval_init_at, edo_interval_reset_at;
 * edo_sleep_future_reset_at has only that form). `_after` is a duration where the plain name
 * means something else (edo_interval_reset_after).
 *
 * Durations and instants (the rule for every function of edo that takes one):
 *  - A duration is a count of nanoseconds from now. 0 means now: no wait (a sleep of 0 is ready
 *    at its first poll, a timeout of 0 has passed at once, yet an inner future that is ready
 *    still wins).
 *  - A duration saturates: one that would run past the end of time means "never" (the
 *    instant EDO_INSTANT_NEVER: a sleep that never ends, a timeout that never passes, a
 *    deadline that never comes), exactly as edo_after() computes it. A duration is never an
 *    error for being large; the only durations refused are those where 0 means nothing (an
 *    interval's period: -EINVAL).
 *  - An instant already past means at once; EDO_INSTANT_NEVER means never. No instant is an
 *    error. The clock itself never reaches EDO_INSTANT_NEVER (edo_time_advance stops at the
 *    instant before), so a deadline of EDO_INSTANT_NEVER really never passes.
 *  - EDO_USEC, EDO_MSEC and EDO_SEC saturate too (a count too large gives EDO_INSTANT_NEVER).
 * The blocking forms of edo/sync.h follow the same rule for their timeouts.
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

/* Durations in nanoseconds, from a count `n` (not negative; evaluated twice) of microseconds,
 * milliseconds or seconds; saturating at UINT64_MAX ("never") instead of wrapping around. */
#define EDO__DURATION(n, unit)                                                                 \
    ((uint64_t)(n) > UINT64_MAX / (unit) ? UINT64_MAX : (uint64_t)(n) * (unit))
#define EDO_USEC(n) EDO__DURATION(n, 1000u)
#define EDO_MSEC(n) EDO__DURATION(n, 1000000u)
#define EDO_SEC(n) EDO__DURATION(n, 1000000000u)

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
    edo_waker waker_;
    void *wheel_;
    uint32_t record_; /* its record in the wheel, which holds the links the wheel walks */
    uint32_t state_;
} edo_timer_entry;

/* ---------------------------------------------------------------------------------------------
 * Sleeping
 * ------------------------------------------------------------------------------------------- */

/* Inside a coroutine: suspends until `duration` nanoseconds have passed (0: returns 0 at
 * once; a duration past the end of time: until the task is aborted or its deadline).
 * Returns 0, or
 *   -ECANCELED  the task was aborted;
 *   -ETIMEDOUT  the coroutine's deadline (edo_deadline_push) came first;
 *   -EPERM      not called from a coroutine;
 *   -ENOMEM     no memory to file the timer (nothing was armed).
 * Suspends. */
int edo_sleep(uint64_t duration);
/* Like edo_sleep(), until `deadline` (already past: returns 0 at once without suspending;
 * EDO_INSTANT_NEVER: until the task is aborted or its deadline). */
int edo_sleep_at(edo_instant deadline);

/* A future that is ready once its deadline has passed. Its output is NULL; `result` reads 0,
 * or -EPERM when it was polled outside a runtime, or -ENOMEM when there was no memory to file
 * its timer (in both cases it completes at once, nothing armed).
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
 * when the timer is armed: for a future polled at once, as in edo_await, that is now). NULL s:
 * no-op (as for the two functions below). Never suspends. */
void edo_sleep_future_init(edo_sleep_future *s, uint64_t duration);
/* Prepares `s` to complete at `deadline` (EDO_INSTANT_NEVER: never). Never suspends. */
void edo_sleep_future_init_at(edo_sleep_future *s, edo_instant deadline);
/* Moves `s`'s deadline to `deadline`, pending again even if it had completed; cancels the timer
 * it had (so the next poll arms a new one). `s` may be polled again afterwards. For idle
 * timeouts that are pushed back on every event. Never suspends; not thread-safe for one `s`. */
void edo_sleep_future_reset_at(edo_sleep_future *s, edo_instant deadline);

/* ---------------------------------------------------------------------------------------------
 * Timeouts
 * ------------------------------------------------------------------------------------------- */

/* A future that completes when `inner` does, or at `deadline`, whichever comes first. It polls
 * `inner` first, so an inner future that is ready is never cut off by a passed deadline.
 * On completion `result` is 0 (and the output is inner's), -ETIMEDOUT (output NULL), or -EPERM
 * (polled outside a runtime while inner was pending: no timer could be armed), or -ENOMEM (no
 * memory to file the timer while inner was pending).
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
 * -EINVAL (t or inner NULL, inner without a poll function, or inner being t itself; t is left
 * as it was). Never suspends. */
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
 *
 * With the io_uring backend, an operation that a coroutine starts under a deadline may take the
 * deadline into the kernel (a file call's step, a socket send by completion: docs/io-backends.md,
 * Deadlines), which then ends the operation at the deadline by itself, even while no thread of
 * the runtime is free to do it. It ends as the deadline's wait does: -ETIMEDOUT, or a send's
 * count of the bytes that went out. So a future first polled under a deadline and awaited again
 * after the deadline cut its wait short may complete with -ETIMEDOUT (or that count) rather than
 * go on. Not on a paused clock (its time is not the kernel's), nor inside a shielded wait.
 * ------------------------------------------------------------------------------------------- */

/* Sets the calling coroutine's deadline to the earlier of `deadline` and the one in force, and
 * stores the one in force in *saved (for edo_deadline_pop). Returns 0, -EINVAL (saved NULL;
 * checked first), or -EPERM (not in a coroutine). Never suspends. */
int edo_deadline_push(edo_instant deadline, edo_instant *saved);
/* Restores the deadline `saved` by the matching edo_deadline_push (any instant is accepted: a
 * pop without its push sets that deadline). Returns 0 or -EPERM (not in a coroutine). Never
 * suspends. */
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
 *
 * An interval ticks every `period`: its first tick is due at its start, each later one a period
 * after the one before. A tick is taken by waiting for it (edo_interval_tick in a coroutine,
 * edo_interval_tick_future elsewhere and in edo_select); what a wait reports is the instant the
 * tick was due. Ticks are not queued while nobody waits: what happens to the ticks that came due
 * meanwhile is the missed-tick policy's choice.
 *
 *     edo_interval iv;
 *     edo_interval_init(&iv, EDO_SEC(1), EDO_MISSED_TICK_SKIP);
 *     for (;;) {                            // in a coroutine: messages, and a flush a second
 *         edo_chan_recv_future msg;     edo_chan_recv_future_init(&msg, ch);
 *         edo_interval_tick_future tick; edo_interval_tick_future_init(&tick, &iv);
 *         edo_future *either[] = {&msg.base, &tick.base};
 *         void *out;
 *         int which = edo_select(either, 2, EDO_SELECT_BIASED, &out);
 *         edo_future_drop(&msg.base);
 *         edo_future_drop(&tick.base);      // a tick not taken stays due for the next wait
 *         if (which == 0 && msg.result == 0)
 *             handle(out);
 *         else if (which == 1)
 *             flush(tick.tick);
 *         else
 *             break;
 *     }
 *     edo_interval_drop(&iv);
 *
 * An interval belongs to one task at a time: its functions are not thread-safe for one `iv`,
 * and at most one wait (coroutine call or tick future) may be in progress on it.
 * ------------------------------------------------------------------------------------------- */

/* What an interval does after a tick is taken late: the task was busy (or the machine was), so
 * the tick completed some time after it was due, and later ticks may be due already.
 *   SKIP  (the default, 0): the next tick is the first one of the original schedule after the
 *         late tick was taken: the missed ones are dropped, the phase is kept, and ticks are
 *         never taken back to back. For periodic work where one run catches up (flushing,
 *         polling, heartbeats).
 *   BURST: the schedule stays as it is: every missed tick is due at once, and they are taken
 *         back to back until the interval has caught up. For counting periods (each tick is one
 *         period of something). Tokio's default.
 *   DELAY: the schedule restarts from the late tick: the next tick is due one period after it
 *         was taken. A tick taken less than 5 ms late (timer slack) keeps the schedule, so
 *         ticks are never closer together than a period minus 5 ms. For pacing (at most one
 *         request per period).
 * edo's default is SKIP because a stall (a long poll, a suspended VM) followed by a burst of
 * back-to-back runs of periodic work is rarely what that work wants. */
typedef enum edo_missed_tick {
    EDO_MISSED_TICK_SKIP = 0,
    EDO_MISSED_TICK_BURST,
    EDO_MISSED_TICK_DELAY,
} edo_missed_tick;

/* Ticks every `period` (a period past the end of time: one tick, then never). Initialise with
 * edo_interval_init*, release with edo_interval_drop; the fields are the interval's (read
 * `period` and `missed` freely; change them only through edo_interval_init*). Must not move while a wait on it is in progress. */
typedef struct edo_interval {
    edo_sleep_future sleep; /* waits for the next tick; its deadline is that tick's */
    uint64_t period;
    edo_missed_tick missed;
    int unstarted_; /* private: the first tick is due at the first wait */
} edo_interval;

/* Prepares `iv` to tick every `period` nanoseconds under the policy `missed`. The first tick is
 * due at once: at the first wait (the clock is read then, as for edo_sleep_future_init), later
 * ones every period after it. Returns 0, or -EINVAL (iv NULL, period 0, or an unknown
 * `missed`). Never suspends. */
int edo_interval_init(edo_interval *iv, uint64_t period, edo_missed_tick missed);
/* Like edo_interval_init(), the first tick due at `start` (at once when it has passed;
 * EDO_INSTANT_NEVER: never). */
int edo_interval_init_at(edo_interval *iv, edo_instant start, uint64_t period,
                         edo_missed_tick missed);

/* Inside a coroutine: waits for the next tick and stores the instant it was due in *tick
 * (`tick` may be NULL). Returns 0, or
 *   -ECANCELED  the task was aborted;
 *   -ETIMEDOUT  the coroutine's deadline came first;
 *   -EINVAL     iv NULL;
 *   -EPERM      not called from a coroutine;
 *   -ENOMEM     no memory to file the timer.
 * A wait that fails takes no tick: the tick stays due for the next one. Suspends. */
int edo_interval_tick(edo_interval *iv, edo_instant *tick);

/* The future form of edo_interval_tick, for future tasks and for edo_select / edo_join. Ready
 * when the interval's next tick is due; then `result` is 0 and `tick` the instant it was due
 * (the output is NULL). `result` may also read -EINVAL (a NULL interval), -EPERM (polled
 * outside a runtime) or -ENOMEM (no memory to file the timer); no tick was taken then.
 *
 * The timer is the interval's, and the future only borrows it: dropping the future before it is
 * ready takes no tick (the tick stays due for the next wait) and cancels the timer, so the
 * dropped future's waker is never woken. Keep the interval alive and in place while the future
 * exists; the future must not move once polled. */
typedef struct edo_interval_tick_future {
    edo_future base;
    int result;
    edo_instant tick;
    edo_interval *interval;
    int waiting_; /* private: the last poll was pending */
} edo_interval_tick_future;
/* Prepares `f` to wait for `iv`'s next tick. NULL f: no-op. Never suspends. */
void edo_interval_tick_future_init(edo_interval_tick_future *f, edo_interval *iv);

/* Restarts the schedule: the next tick is due one period from now, later ones every period
 * after it. A wait in progress on `iv` is woken to wait for the new tick (a future task need not
 * poll its tick future again itself). Returns 0 or -EINVAL (iv NULL). Never suspends. */
int edo_interval_reset(edo_interval *iv);
/* Like edo_interval_reset(), the next tick due at `when` (at once when it has passed;
 * EDO_INSTANT_NEVER: never). */
int edo_interval_reset_at(edo_interval *iv, edo_instant when);
/* Like edo_interval_reset(), the next tick due `delay` nanoseconds from now (0: at once; a delay
 * past the end of time: never, as edo_after saturates). */
int edo_interval_reset_after(edo_interval *iv, uint64_t delay);

/* Cancels the interval's timer. Call it before `iv`'s memory goes, with no wait in progress; it
 * may be initialised again afterwards. NULL is a no-op. Never suspends. */
void edo_interval_drop(edo_interval *iv);

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
 * paused), -EOVERFLOW (the paused clock was moved more than about 292 years ahead of the
 * system's, too far for a running clock: it stays paused). Never suspends; thread-safe. */
int edo_time_resume(edo_runtime *rt);
/* Moves `rt`'s paused clock forward by `duration` (saturating at EDO_INSTANT_NEVER - 1, the last
 * instant) and fires every timer that is due by then: their tasks are woken (a coroutine that
 * advanced the clock lets them run with edo_yield()). Returns 0, or -EINVAL (rt NULL or clock
 * not paused). Never suspends; thread-safe. */
int edo_time_advance(edo_runtime *rt, uint64_t duration);

#ifdef __cplusplus
}
#endif

#endif /* EDO_TIME_H */
