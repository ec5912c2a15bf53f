/* edo/future.h — futures, wakers and poll contexts.
 *
 * A future is a state machine that the runtime drives by calling its poll function. Poll either
 * finishes (EDO_READY, optionally handing back a `void *` output) or returns EDO_PENDING after
 * arranging for the context's waker to be woken when progress is possible. Every operation in edo
 * that can wait exists as a future, so the same timers, I/O and channels serve stackless future
 * tasks and (later) stackful coroutines alike.
 *
 * A future is a caller-owned struct whose first member is `edo_future`:
 *
 *     typedef struct { edo_future base; int left; } countdown;
 *
 *     static edo_poll countdown_poll(edo_future *f, edo_context *cx, void **out) {
 *         countdown *c = (countdown *)f;
 *         if (c->left-- > 0) {                       // not done: ask to be polled again
 *             edo_waker_wake_by_ref(edo_context_waker(cx));
 *             return EDO_PENDING;
 *         }
 *         *out = NULL;
 *         return EDO_READY;
 *     }
 *     static const edo_future_vtable countdown_vt = { countdown_poll, NULL };
 *
 *     countdown c = { { &countdown_vt }, 3 };
 *     edo_spawn_future(&c.base, sizeof c, &task);    // the runtime moves `c` into the task
 *
 * Rules (the C counterpart of Rust's Pin contract):
 *  - A future may be moved (memcpy'd) until it is first polled, never afterwards.
 *  - Once poll returned EDO_READY it is not polled again.
 *  - `drop`, when not NULL, is called exactly once by the owner to release what the future holds,
 *    whether it completed or not.
 */
#ifndef EDO_FUTURE_H
#define EDO_FUTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The outcome of one poll. */
typedef enum edo_poll { EDO_PENDING = 0, EDO_READY = 1 } edo_poll;

/* ---------------------------------------------------------------------------------------------
 * Wakers
 *
 * A waker is a (vtable, data) pair, two words, passed by value. It tells a runtime (or a blocked
 * thread) that a future should be polled again. Wakers are thread-safe: they may be cloned, woken
 * and dropped from any thread, in any order, at any time — also after the task they wake has
 * finished or its runtime has been freed.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_waker edo_waker;

typedef struct edo_waker_vtable {
    edo_waker (*clone)(const void *data); /* a new waker for the same target */
    void (*wake)(const void *data);        /* wake and release this waker */
    void (*wake_by_ref)(const void *data); /* wake, keep this waker */
    void (*drop)(const void *data);        /* release this waker */
} edo_waker_vtable;

struct edo_waker {
    const edo_waker_vtable *vtable; /* NULL: the empty waker (no target) */
    const void *data;
};

/* The empty waker: waking or dropping it does nothing. */
#define EDO_WAKER_EMPTY ((edo_waker){NULL, NULL})

/* Returns a new waker for the same target as `w` (the empty waker when `w` is NULL or empty).
 * Never suspends; thread-safe. */
edo_waker edo_waker_clone(const edo_waker *w);

/* Wakes `w`'s target and releases `w`, which becomes the empty waker. NULL or empty: no-op.
 * Never suspends; thread-safe. */
void edo_waker_wake(edo_waker *w);

/* Wakes `w`'s target; `w` stays valid. NULL or empty: no-op. Never suspends; thread-safe. */
void edo_waker_wake_by_ref(const edo_waker *w);

/* Releases `w`, which becomes the empty waker. NULL or empty: no-op. Never suspends. */
void edo_waker_drop(edo_waker *w);

/* True when `a` and `b` are known to wake the same target (so a stored waker need not be
 * replaced). May return false for equal targets; never true for different ones. */
bool edo_waker_will_wake(const edo_waker *a, const edo_waker *b);

/* A waker that does nothing when woken: for polling a future once by hand. */
edo_waker edo_waker_noop(void);

/* ---------------------------------------------------------------------------------------------
 * Poll context
 * ------------------------------------------------------------------------------------------- */

/* What a poll function receives besides its own state. Build one with edo_context_init() when
 * polling a child future with a waker of your own; otherwise pass the one you were given. */
typedef struct edo_context {
    const edo_waker *waker;  /* wake this to be polled again */
    uint32_t *budget;        /* cooperative budget of the running task, or NULL: unlimited */
} edo_context;

/* Initialises `cx` to poll a child future with `waker` (NULL: as the empty waker, nobody is
 * woken), sharing `parent`'s cooperative budget (`parent` may be NULL: no budget). NULL cx is a
 * no-op. Never suspends. */
void edo_context_init(edo_context *cx, const edo_waker *waker, const edo_context *parent);

/* The waker to wake when the polled future can make progress; NULL for a NULL cx (edo's waker
 * functions treat a NULL waker as the empty one). */
static inline const edo_waker *edo_context_waker(const edo_context *cx)
{
    return cx ? cx->waker : NULL;
}

/* Cooperative scheduling. Each task poll starts with a budget (128 units). A future that can
 * complete without waiting (a channel with queued messages, a socket with buffered data) calls
 * edo_coop_proceed() first: while budget remains it consumes one unit and returns true; once the
 * budget is spent it wakes the context's waker and returns false, and the future must return
 * EDO_PENDING. That way a task that always finds work ready still lets others run. Call it only
 * from the poll that received `cx` (the budget belongs to that poll's thread). A NULL cx has no
 * budget: true. Never suspends. */
bool edo_coop_proceed(edo_context *cx);

/* ---------------------------------------------------------------------------------------------
 * Futures
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_future edo_future;

typedef struct edo_future_vtable {
    /* Advance the future. On EDO_READY, store the output in *out (the caller initialises *out
     * to NULL, so a future without output may leave it). On EDO_PENDING, arrange for
     * cx->waker to be woken (or it may never be polled again). Must not block the thread, and
     * must return with the thread's floating-point control state (rounding mode, exception
     * masks, flush-to-zero) as it found it (edo/coro.h). */
    edo_poll (*poll)(edo_future *self, edo_context *cx, void **out);
    /* Release what the future owns. Called once, after completion or instead of it (on
     * cancellation). May be NULL. Must not block the thread. */
    void (*drop)(edo_future *self);
} edo_future_vtable;

struct edo_future {
    const edo_future_vtable *vtable;
};

/* Polls `f` once. `out` may be NULL when the output is not wanted. Returns the future's
 * answer; EDO_READY with *out untouched on bad input (NULL f, vtable or cx). Does not suspend
 * (a future's poll never blocks); thread-safety is the future's. */
edo_poll edo_future_poll(edo_future *f, edo_context *cx, void **out);

/* Calls `f`'s drop function, if any. NULL is a no-op. Never suspends. */
void edo_future_drop(edo_future *f);

/* ---------------------------------------------------------------------------------------------
 * Yielding
 * ------------------------------------------------------------------------------------------- */

/* A future that returns EDO_PENDING once (after waking itself) and EDO_READY the next time. A
 * task that wakes itself during its own poll (this future, or a spent coop budget) is polled
 * again only after everything already waiting: the other tasks in its worker's queues, the
 * global queue, expired timers and ready I/O events (as Tokio defers yield_now).
 *
 *     edo_yield_future y;
 *     edo_yield_future_init(&y);
 *     ... return edo_future_poll(&y.base, cx, NULL);
 */
typedef struct edo_yield_future {
    edo_future base;
    int yielded;
} edo_yield_future;

/* Prepares `y` to be polled (NULL: no-op). In a coroutine, edo_yield() (edo/coro.h) does the
 * same in one call. Never suspends. */
void edo_yield_future_init(edo_yield_future *y);

/* ---------------------------------------------------------------------------------------------
 * Composing futures: select (the first of several) and join (all of several)
 *
 *     edo_sleep_future timer;  edo_sleep_future_init(&timer, EDO_SEC(1));
 *     edo_chan_recv_future msg; edo_chan_recv_future_init(&msg, ch);
 *     edo_future *either[] = {&msg.base, &timer.base};
 *     void *out;
 *     int which = edo_select(either, 2, EDO_SELECT_BIASED, &out);   // 0: a message, 1: timeout
 *     edo_future_drop(&msg.base); edo_future_drop(&timer.base);     // the loser is cancelled
 *
 * The futures stay the caller's: select and join poll them in place and never drop them. A
 * future that completed must not be polled again: to select again over the rest, set its entry
 * to NULL (NULL entries are skipped).
 * ------------------------------------------------------------------------------------------- */

typedef enum edo_select_mode {
    EDO_SELECT_FAIR = 0, /* each call starts polling at a different entry: none is favoured */
    EDO_SELECT_BIASED,   /* always in order: earlier entries win ties */
} edo_select_mode;

/* Inside a coroutine: waits until one of the `n` futures is ready, stores its output in *out (may
 * be NULL) and returns its index. Returns -EINVAL (no non-NULL future, n 0 or above INT_MAX, a
 * NULL array, or a future without a poll function; checked first, nothing polled), -EPERM (not
 * in a coroutine), -ECANCELED, -ETIMEDOUT (the coroutine's deadline). Suspends. */
int edo_select(edo_future *const *futures, size_t n, edo_select_mode mode, void **out);
/* Inside a coroutine: waits until all `n` futures are ready, storing each output in outs[i]
 * (outs may be NULL). n 0: returns 0 at once. Returns 0, -EINVAL (a NULL array, a NULL future
 * or one without a poll function; checked first, nothing polled), -EPERM, -ENOMEM (more than
 * 64 futures need a small allocation), -ECANCELED or -ETIMEDOUT (then some futures may have
 * completed: their outputs are in outs, and polling them again is not allowed: drop them all).
 * A future listed twice is polled after it completed: not caught. Suspends. */
int edo_join(edo_future *const *futures, size_t n, void **outs);

/* Judges a completed future for edo_try_join: returns 0 (a success) or a negative errno (a
 * failure, which ends the join). `output` is the future's output; `future` lets it read a result
 * field (e.g. ((edo_socket_future *)future)->result). */
typedef int (*edo_join_check)(size_t index, edo_future *future, void *output, void *ctx);

/* Inside a coroutine: like edo_join, but as each future completes, check(index, future, output,
 * ctx) judges it, and the first failure ends the wait at once: edo_try_join returns the check's
 * negative value and stores the failed index in *failed (may be NULL). The futures that had not
 * completed stay the caller's, pending: dropping them cancels them (and those that completed
 * must not be polled again: drop them all). Returns 0 (all succeeded, outputs in outs), the
 * check's error, -EINVAL (futures or check NULL, a NULL future or one without a poll
 * function; n 0 is no error: 0 at once), -EPERM, -ENOMEM, -ECANCELED,
 * -ETIMEDOUT. Suspends. */
int edo_try_join(edo_future *const *futures, size_t n, void **outs, edo_join_check check,
                 void *ctx, size_t *failed);

/* The future form of edo_select: polls the futures with its own context; ready with the winner's
 * output, its index in `index`; or at once with `index` -EINVAL when there is nothing to select
 * from (a NULL array, n 0 or above INT_MAX, only NULL entries) or an entry cannot be polled.
 * NULL f: no-op. */
typedef struct edo_select_future {
    edo_future base;
    int index; /* when ready: the winner, or -EINVAL */
    edo_future *const *futures;
    size_t n;
    edo_select_mode mode;
    size_t start;
} edo_select_future;
void edo_select_future_init(edo_select_future *f, edo_future *const *futures, size_t n,
                            edo_select_mode mode);

#ifdef __cplusplus
}
#endif

#endif /* EDO_FUTURE_H */
