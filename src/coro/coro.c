/* Coroutine tasks: a future whose poll resumes a coroutine until it suspends or returns.
 *
 * The coroutine is a task like any other: its future is {vtable, coroutine}. Polling switches
 * from the worker's stack to the coroutine's; a suspending call (edo_await, edo_yield) polls its
 * future with the poll's context and, when pending, switches back, so the task's poll returns
 * EDO_PENDING. Whichever worker polls next resumes it: that is how coroutines migrate.
 *
 * Dropping an unfinished coroutine (abort, shutdown) resumes it in cancel mode: every
 * suspending call returns -ECANCELED without suspending, so it runs to its end on the dropping
 * thread, freeing what it owns on the way.
 *
 * Sanitizers are told about every switch (ASan's fiber API, so it knows which stack is live;
 * TSan's fibers, so each coroutine has its own happens-before history).
 */
#include <stdlib.h>

#include "core/runtime.h"
#include "core/task.h"
#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/error.h"
#include "edo/time.h"
#include "platform/sanitizers.h"
#include "platform/tls.h"
#include "time/timers.h"


#ifdef EDO_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif
#ifdef EDO_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

static _Thread_local EDO__TLS_HOT edo__coro *current_coro;

/* Not inlined: a coroutine calling it after a suspension must read the thread-local of the
 * thread it runs on now, not an address cached before it moved. */
__attribute__((noinline)) static edo__coro *coro_current(void) { return current_coro; }
__attribute__((noinline)) static void coro_set_current(edo__coro *co) { current_coro = co; }

/* ---- switching --------------------------------------------------------------------------- */

/* The two directions of a switch carry a value (edo__context_resume, edo__context_suspend): into
 * the coroutine, what the suspending call returns (0, or -ECANCELED when the coroutine is being
 * cancelled); back to the poller, the poll's result (EDO_PENDING, or EDO_READY when the
 * coroutine has finished). Without sanitizers both directions end in a tail call of the switch,
 * so a poll resumes the coroutine right in the code that called edo_yield, and a suspension
 * returns right into the poll's caller, without running through frames whose returns the CPU
 * would mispredict. Everything a direction must do is therefore done before its switch: the
 * thread-local current coroutine is set by the poller and restored by the coroutine as it
 * leaves. */

/* From the poller into the coroutine; returns the poll's result when it suspends or finishes.
 * `out` receives the coroutine's result when it finishes; `fp` is the poller's floating-point
 * control state, which the coroutine's suspension puts back (context.h). Only the poller's side
 * runs this (coro_poll, coro_drop), and its own frame never suspends: it reads and writes the
 * thread-local directly. */
static inline __attribute__((always_inline)) int enter(edo__coro *co, edo_context *cx,
                                                       void **out, int value,
                                                       const edo__fp_state *fp)
{
    co->outer = current_coro;
    current_coro = co;
    co->cx = cx;
    co->out = out; /* the end of any wait: `wait` and `step` share these places */
    co->waiting = EDO__CORO_NOT_WAITING;
#if defined(EDO_ASAN) || defined(EDO_TSAN)
#ifdef EDO_ASAN
    void *fake = NULL;
    __sanitizer_start_switch_fiber(&fake, co->stack->stack_lo, co->stack->stack_size);
#endif
#ifdef EDO_TSAN
    co->stack->caller_tsan_fiber = __tsan_get_current_fiber();
    __tsan_switch_to_fiber(co->stack->tsan_fiber, 0);
#endif
    int result = edo__context_resume(&co->caller, &co->ctx, value, fp);
#ifdef EDO_ASAN
    __sanitizer_finish_switch_fiber(fake, NULL, NULL);
#endif
    return result;
#else
    return edo__context_resume(&co->caller, &co->ctx, value, fp);
#endif
}

/* enter() from a poll whose poller is not a plain thread with its baseline read (coroutines
 * polled from a coroutine: its floating-point state is its own, read now; a thread's first
 * poll: the baseline read first). Out of line, so that the usual poll keeps nothing on its
 * frame and tail-calls the switch. */
__attribute__((noinline)) static int enter_reading_fp(edo__coro *co, edo_context *cx,
                                                      void **out, int value)
{
    if (current_coro == NULL)
        return enter(co, cx, out, value, edo__fp_baseline()); /* read now: not known yet */
    edo__fp_state fp;
    edo__fp_read(&fp);
    return enter(co, cx, out, value, &fp);
}

/* enter() from a task's poll: the poller's state is the thread's baseline. */
static inline __attribute__((always_inline)) int poll_enter(edo__coro *co, edo_context *cx,
                                                            void **out, int value)
{
    if (__builtin_expect(current_coro != NULL || !edo__fp_thread_baseline.known, 0))
        return enter_reading_fp(co, cx, out, value);
    return enter(co, cx, out, value, &edo__fp_thread_baseline);
}

/* Called on the coroutine's stack right after a switch into it. */
static void arrived(edo__coro *co, void *fake_stack)
{
#ifdef EDO_ASAN
    __sanitizer_finish_switch_fiber(fake_stack, &co->stack->caller_stack_lo,
                                    &co->stack->caller_stack_size);
#else
    (void)co, (void)fake_stack;
#endif
}

/* From the coroutine back to its poller, with the poll's result: EDO_READY when the coroutine is
 * done and never resumes. Returns what the next resume passes in. The caller has restored the
 * thread-local current coroutine (leave does both). */
static inline __attribute__((always_inline)) int switch_out(edo__coro *co, edo_poll result)
{
#if defined(EDO_ASAN) || defined(EDO_TSAN)
#ifdef EDO_ASAN
    edo__stack *st = co->stack;
    __sanitizer_start_switch_fiber(result == EDO_READY ? NULL : &st->asan_fake_stack,
                                   st->caller_stack_lo, st->caller_stack_size);
#endif
#ifdef EDO_TSAN
    __tsan_switch_to_fiber(co->stack->caller_tsan_fiber, 0);
#endif
    int value = edo__context_suspend(&co->ctx, &co->caller, (int)result);
    arrived(co, co->stack->asan_fake_stack);
    return value;
#else
    return edo__context_suspend(&co->ctx, &co->caller, (int)result);
#endif
}

static inline __attribute__((always_inline)) int leave(edo__coro *co, edo_poll result)
{
    coro_set_current(co->outer);
    return switch_out(co, result);
}

static void coro_entry(void *arg)
{
    edo__coro *co = arg;
    arrived(co, NULL);
    void *result = co->stack->fn(co->stack->arg);
    co->stack->result = result;
    co->finished = true;
    *co->out = result;
    leave(co, EDO_READY);
    abort(); /* a finished coroutine is never resumed */
}

/* ---- the coroutine as a future --------------------------------------------------------- */

typedef edo__coro_future coro_future;
/* One cache line with the task's vtable pointer: the line a poll reads anyway (task.h: the
 * future follows a header of one line, and tasks are line-aligned blocks). */
_Static_assert(sizeof(coro_future) <= 64, "a coroutine's hot state fits its task's second line");

/* Binds a stack to a coroutine that has not run yet; false when none is to be had. */
static bool start(edo__coro *co)
{
    edo__stack *st = edo__stack_alloc(co->spawn.rt, co->spawn.stack_size);
    if (!st)
        return false;
    st->fn = co->spawn.fn;
    st->arg = co->spawn.arg;
    st->result = NULL;
    st->deadline = EDO_INSTANT_NEVER;
    st->asan_fake_stack = NULL;
#ifdef EDO_TSAN
    st->tsan_fiber = __tsan_create_fiber(0);
#endif
    co->cx = NULL;
    co->out = NULL;
    co->outer = NULL;
    co->finished = co->cancelled = co->timed = false;
    co->waiting = EDO__CORO_NOT_WAITING;
    co->shield_depth = 0;
    edo__context_make(&co->ctx, st, coro_entry, co); /* the stack ends below the block */
    co->stack = st;
    return true;
}

/* The first poll: binds a stack, then enters. */
__attribute__((noinline)) static edo_poll first_poll(edo__coro *co, edo_context *cx, void **out)
{
    if (!start(co)) {
        /* No stack to be had: try again later rather than fail a task that was accepted. */
        edo_waker_wake_by_ref(cx->waker);
        return EDO_PENDING;
    }
    return (edo_poll)poll_enter(co, cx, out, 0);
}

/* Tells the step of a coroutine suspended in edo__coro_wait_step that the wait is over for it
 * (the coroutine is being cancelled), so it withdraws its waker. */
static void withdraw_step(edo__coro *co)
{
    if (co->waiting == EDO__CORO_WAIT_STEP) {
        co->waiting = EDO__CORO_NOT_WAITING;
        (void)co->step.fn(co->step.arg, NULL, NULL);
    }
}

/* The wait the coroutine is suspended in (edo__coro_await_pending, edo__coro_wait_step), taken
 * a step further here on the poller's stack: false while it goes on (the coroutine stays
 * suspended); true once it is over, with `*value` the value to resume it with: a future's
 * wait is over once the future is ready (its output is in the wait; 0) or the coroutine has
 * been cancelled (0: it sees `cancelled`); a step's once the step returns its result (the
 * value), or the coroutine has been cancelled (-ECANCELED, the step withdrawn). */
static inline __attribute__((always_inline)) bool wait_done(edo__coro *co, edo_context *cx,
                                                            int *value)
{
    if (co->waiting == EDO__CORO_WAIT_STEP) {
        if (co->cancelled) {
            withdraw_step(co);
            *value = -ECANCELED;
            return true;
        }
        *value = co->step.fn(co->step.arg, cx, co->step.out);
        return *value != -EAGAIN;
    }
    *value = 0;
    if (co->cancelled)
        return true;
    edo__coro_wait *w = co->wait;
    return w->future->vtable->poll(w->future, cx, &w->out) == EDO_READY;
}

/* A poll of a shielded coroutine: an abort of its task (which did not drop it) is told to the
 * coroutine here, once. */
__attribute__((noinline)) static edo_poll shielded_poll(edo__coro *co, edo_context *cx,
                                                        void **out)
{
    int value = 0;
    if (!co->cancelled && edo__task_current_abort_requested()) {
        co->cancelled = true;
        value = -ECANCELED;
    }
    if (co->waiting) {
        /* Cancelled (now or before): over at once, a step withdrawn. */
        int done;
        if (!wait_done(co, cx, &done))
            return EDO_PENDING;
        if (value == 0)
            value = done;
    }
    return (edo_poll)poll_enter(co, cx, out, value);
}

/* Asks for the lines of a suspended coroutine's stack that its resume touches: the saved
 * registers at its stack pointer, the frames it resumes in just above (a future's wait,
 * which waiting_poll reads, sits there), and the line below, where its first calls after the resume
 * write. A coroutine that waited while ~1,000 others ran finds all of them evicted; asked for
 * together here, before the wait's poll takes its lock (a locked instruction, which later loads
 * wait for), their misses overlap instead of coming one after the other. Waits only: a yield
 * resumes no differently from before (coro_yield_many keeps its instruction count). */
static inline __attribute__((always_inline)) void prefetch_stack(const edo__coro *co)
{
    const char *sp = co->ctx.sp;
    __builtin_prefetch(sp - 64, 1);
    __builtin_prefetch(sp, 1);
    __builtin_prefetch(sp + 64, 1);
    __builtin_prefetch(sp + 128, 1);
    __builtin_prefetch(sp + 192, 1);
}

/* A poll of a coroutine suspended in a wait: resumes it only once the wait is done. Out of line,
 * so that the other polls (a yield's) save no registers for the call of the future's poll. */
__attribute__((noinline)) static edo_poll waiting_poll(edo__coro *co, edo_context *cx,
                                                       void **out)
{
    prefetch_stack(co);
    int value;
    if (!wait_done(co, cx, &value))
        return EDO_PENDING;
    return (edo_poll)poll_enter(co, cx, out, value);
}

static edo_poll coro_poll(edo_future *self, edo_context *cx, void **out)
{
    edo__coro *co = &((coro_future *)self)->co;
    if (__builtin_expect(!co->stack, 0))
        return first_poll(co, cx, out);
    if (__builtin_expect(co->shield_depth != 0, 0))
        return shielded_poll(co, cx, out);
    if (co->waiting)
        return waiting_poll(co, cx, out);
    return (edo_poll)poll_enter(co, cx, out, 0);
}

static void coro_drop(edo_future *self)
{
    edo__coro *co = &((coro_future *)self)->co;
    if (!co->stack && !start(co)) /* never ran: it still runs, to clean up */
        return; /* no stack even for cleanup: fn cannot run */
    if (!co->finished) {
        /* Cancel: every suspending call now returns at once, so this runs it to its end, except
         * a shielded wait (a join set waiting for its tasks): the coroutine then suspends while
         * shielded, and is left to the task, which polls it on (task.c, drop_deferred) and
         * drops it again once it unshields. The task's own waker wakes it for that. */
        co->cancelled = true;
        edo_waker waker = edo__task_current_waker();
        edo_context cx = {&waker, NULL};
        void *out;
        /* Read now: a drop runs on whatever thread drops the task (one that runs user code
         * between its calls into edo, whose baseline may be stale). */
        edo__fp_state fp;
        edo__fp_read(&fp);
        for (;;) {
            withdraw_step(co); /* resumed in its caller: nothing there withdraws it */
            if (enter(co, &cx, &out, -ECANCELED, &fp) == EDO_READY)
                break;
            if (co->shield_depth != 0)
                return; /* not dropped: the task is shielded now */
        }
        edo__task_set_cancelled_output(out); /* what it returned anyway is not lost */
    }
#ifdef EDO_TSAN
    __tsan_destroy_fiber(co->stack->tsan_fiber);
#endif
    edo__stack_release(co->stack);
}

const edo_future_vtable edo__coro_vtable = {coro_poll, coro_drop};

/* ---- public API ------------------------------------------------------------------------ */

static int spawn_coro(edo_runtime *rt, const edo_spawn_options *options, void *(*fn)(void *),
                      void *arg, edo_task **out, bool pinned)
{
    if (!fn)
        return -EINVAL;
    size_t stack_size = options ? options->stack_size : 0;
    if (stack_size && (stack_size < EDO_MIN_STACK_SIZE || stack_size > EDO_MAX_STACK_SIZE))
        return -EINVAL;
    if (!rt && !(rt = edo_runtime_current()))
        return -EPERM;
    coro_future f = {{&edo__coro_vtable}, {.spawn = {stack_size, rt, fn, arg}}};
    return edo__spawn(rt, &f.base, sizeof f, out, pinned);
}

int edo_spawn_with(edo_runtime *rt, const edo_spawn_options *options, void *(*fn)(void *),
                   void *arg, edo_task **out)
{
    return spawn_coro(rt, options, fn, arg, out, false);
}

int edo_spawn(void *(*fn)(void *), void *arg, edo_task **out)
{
    return spawn_coro(NULL, NULL, fn, arg, out, false);
}

int edo_spawn_local(const edo_spawn_options *options, void *(*fn)(void *), void *arg,
                    edo_task **out)
{
    return spawn_coro(NULL, options, fn, arg, out, true);
}

/* Not inlined: without sanitizers it ends in a tail call of the switch, so the coroutine is
 * resumed straight in its caller (the waits inlined from coro.h). */
int edo__coro_suspend(edo__coro *co)
{
    /* The thread-local written directly, without coro_set_current's call: nothing in this
     * frame has suspended yet, so its address is this thread's. */
    current_coro = co->outer;
    return switch_out(co, EDO_PENDING);
}

/* Not inlined, for the same reason. `outer` is read before the step's fields take its place. */
int edo__coro_wait_step(edo__coro *co, edo__coro_step_fn fn, void *arg, void **out)
{
    current_coro = co->outer;
    co->step.fn = fn;
    co->step.arg = arg;
    co->step.out = out;
    co->waiting = EDO__CORO_WAIT_STEP;
    return switch_out(co, EDO_PENDING);
}

static inline __attribute__((always_inline)) int suspend(edo__coro *co)
{
    return leave(co, EDO_PENDING);
}

/* A timer entry on this frame wakes the task at the deadline. */
int edo__coro_await_until(edo__coro *co, edo_future *future, void **out)
{
    edo_timer_entry deadline;
    edo__timer_init(&deadline, co->stack->deadline, 0);
    int rc;
    for (;;) {
        int due = edo__timer_poll(&deadline, co->cx);
        if (due != 0) {
            rc = due < 0 ? due : -ETIMEDOUT;
            break;
        }
        if (suspend(co) < 0) {
            rc = -ECANCELED;
            break;
        }
        void *o = NULL;
        if (future->vtable->poll(future, co->cx, &o) == EDO_READY) {
            if (out)
                *out = o;
            rc = 0;
            break;
        }
    }
    edo__timer_cancel(&deadline);
    return rc;
}

int edo_await(edo_future *future, void **out) { return edo__coro_await(future, out); }

int edo__await_pending(edo_future *future, void **out)
{
    return edo__coro_await_pending(coro_current(), future, out);
}

/* The rest of a yield, once its checks have passed: the task wakes itself and the coroutine
 * suspends. The thread-local is written directly: the frame has not suspended yet, so its
 * address is this thread's (as in edo__coro_suspend). */
static inline __attribute__((always_inline)) int yield_now(edo__coro *co)
{
    edo__task_wake_current(); /* co->cx's waker is its task's, and its task is being polled */
    current_coro = co->outer;
    return switch_out(co, EDO_PENDING); /* a tail call: resumed straight in our caller */
}

/* A yield of a coroutine with a deadline. Out of line (and tail-called), so that edo_yield's
 * usual path makes no call and saves no registers. */
__attribute__((noinline)) static int yield_timed(edo__coro *co)
{
    if (edo_now() >= co->stack->deadline)
        return -ETIMEDOUT;
    return yield_now(co);
}

int edo_yield(void)
{
    /* The thread-local read directly, without coro_current's call (see yield_now). */
    edo__coro *co = current_coro;
    if (!co)
        return -EPERM;
    if (co->cancelled)
        return -ECANCELED;
    if (co->timed)
        return yield_timed(co);
    return yield_now(co);
}

int edo__coro_coop(void)
{
    edo__coro *co = coro_current();
    if (!co || edo_coop_proceed(co->cx))
        return 0;
    return suspend(co); /* spent: edo_coop_proceed queued the task again */
}

void edo__coro_shield(bool on)
{
    edo__coro *co = coro_current();
    if (on) {
        if (co->shield_depth++ == 0)
            edo__task_shield_current(true);
        return;
    }
    if (--co->shield_depth == 0) {
        edo__task_shield_current(false);
        /* Aborted meanwhile: suspend, so the task's poll ends and the abort drops it; this
         * call then returns into the coroutine being dropped, which unwinds as usual. */
        if (co->cancelled)
            (void)suspend(co);
    }
}

int edo__await_shielded(edo_future *future, void **out)
{
    edo__coro *co = coro_current();
    if (!co)
        return -EPERM;
    /* Also while the coroutine is being dropped (cancelled, unshielded): the shield makes its
     * drop return unfinished, and the task polls it on (see coro_drop). */
    edo__coro_shield(true);
    for (;;) {
        void *o = NULL;
        if (future->vtable->poll(future, co->cx, &o) == EDO_READY) {
            if (out)
                *out = o;
            break;
        }
        (void)suspend(co); /* -ECANCELED here is the abort being told: we wait regardless */
    }
    edo__coro_shield(false);
    return 0;
}

bool edo_in_coroutine(void) { return coro_current() != NULL; }

bool edo_coro_is_cancelled(void)
{
    edo__coro *co = coro_current();
    return co && co->cancelled;
}

__attribute__((noinline)) edo__coro *edo__coro_running(void) { return current_coro; }
