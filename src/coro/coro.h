/* A coroutine's control block and stack (one mapping), and the stack pool. */
#ifndef EDO_CORO_CORO_H
#define EDO_CORO_CORO_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "coro/context.h"
#include "edo/future.h"
#include "edo/time.h"

struct edo_runtime;

/* How a stack's lowest page is kept from being written over (stack.c). */
enum edo__guard {
    EDO__GUARD_NONE,  /* no guard: past the mprotect budget */
    EDO__GUARD_PAGE,  /* an mprotect'd page: a mapping of its own, counted in the budget */
    EDO__GUARD_LIGHT, /* a lightweight guard region (madvise MADV_GUARD_INSTALL) */
};

/* A coroutine's stack slot and the coroutine's cold state, in one block near the top of the
 * slot: [guard page][stack ...][edo__stack][colour gap], the slot a page larger than the stack
 * asked for (see stack.c). Touched at the start and end of a coroutine, by deadlines and by the
 * sanitizers, not by an ordinary resume or suspension (that is edo__coro's part). */
typedef struct edo__stack {
    void *(*fn)(void *);
    void *arg;
    void *result;
    uint64_t deadline; /* suspending calls fail with -ETIMEDOUT from then on (edo/time.h) */
    /* the mapping */
    struct edo_runtime *rt;
    char *map;          /* lowest address (the guard page, when guarded) */
    size_t map_size;
    char *stack_lo;     /* lowest usable byte */
    size_t stack_size;  /* as requested (page multiple): at least this much is usable */
    uint8_t guard;      /* enum edo__guard */
    bool chunked;       /* part of a pool chunk (else a mapping of its own) */
    struct edo__stack *next_free; /* in a pool */
    /* sanitizers */
    void *asan_fake_stack;
    const void *caller_stack_lo;
    size_t caller_stack_size;
    void *tsan_fiber, *caller_tsan_fiber;
    unsigned valgrind_id;
} edo__stack;

/* A wait that the poller finishes (edo__coro_await_pending): the future a suspended coroutine
 * waits for, and where its output goes once it is ready. Lives in the waiting call's frame. */
typedef struct edo__coro_wait {
    edo_future *future;
    void *out;
} edo__coro_wait;

/* One step of a wait that keeps its state outside the waiting call's frame (a oneshot's
 * receive: the channel). Called on the poller's side with `arg` and `out` as the waiting call
 * gave them: returns -EAGAIN while the wait goes on (having registered cx's waker), else the
 * wait's result (its output written to `out`), which the waiting call then returns. With `cx`
 * NULL the coroutine is being cancelled: it withdraws the wait (the waker) and its result is
 * ignored. */
typedef int (*edo__coro_step_fn)(void *arg, edo_context *cx, void **out);

/* What a suspended coroutine waits for (edo__coro.waiting). */
enum edo__coro_waiting {
    EDO__CORO_NOT_WAITING,  /* a yield, a wait of its own (deadlines, shields), or running */
    EDO__CORO_WAIT_FUTURE,  /* edo__coro_await_pending: the future in `wait` */
    EDO__CORO_WAIT_STEP,    /* edo__coro_wait_step: the step in `step` */
};

/* A coroutine as every resume and suspension sees it. It lives in its task (coro.c's future),
 * in the cache line that the task's poll reads anyway for the future's vtable, so a resume and
 * a suspension touch the task and the coroutine's own stack frames and nothing else (before,
 * this state sat in its own line beside the stack: one more line to wait for on every switch,
 * and one more to move between cores when a coroutine is woken on another worker). */
typedef struct edo__coro {
    edo__context ctx; /* the coroutine, while suspended */
    union {
        /* once bound to a stack (from the first poll on) */
        struct {
            edo__context caller; /* the poller that resumed it (changes every resume) */
            union {
                struct {
                    edo_context *cx; /* the current poll's context: its waker wakes the task */
                    union {
                        void **out;           /* the current poll's output: the result */
                        edo__coro_wait *wait; /* while in EDO__CORO_WAIT_FUTURE */
                    };
                    struct edo__coro *outer; /* current on the poller's thread before */
                };
                /* While in EDO__CORO_WAIT_STEP: the wait's state is here, in the task, not in
                 * the waiting call's frame, which is gone (edo__coro_wait_step). Written once
                 * the suspension has read `outer`; read by the poll before the resume writes
                 * the fields above again (all of them are set anew by every resume). */
                struct {
                    edo__coro_step_fn fn;
                    void *arg;
                    void **out;
                } step;
            };
        };
        /* until the first poll: what spawning asked for */
        struct {
            size_t stack_size; /* 0: the runtime's default */
            struct edo_runtime *rt;
            void *(*fn)(void *);
            void *arg;
        } spawn;
    };
    edo__stack *stack; /* NULL until the first poll binds one */
    bool finished, cancelled;
    bool timed;            /* stack->deadline is not EDO_INSTANT_NEVER (a check without the line) */
    uint8_t waiting;       /* enum edo__coro_waiting: the poll ends the wait before resuming */
    uint16_t shield_depth; /* open shields (edo__coro_shield): aborts are deferred meanwhile */
} edo__coro;

/* A coroutine task's future: the vtable, then the coroutine. The stack is bound at the first
 * poll, not at spawn: a burst of spawns then costs only tasks, and a coroutine that runs to its
 * end without suspending hands its stack straight to the next one (no fresh pages to fault
 * in). Until then the coroutine's state holds what spawning asked for (co.spawn). */
typedef struct edo__coro_future {
    edo_future base;
    edo__coro co;
} edo__coro_future;

extern const edo_future_vtable edo__coro_vtable;

/* Asks for the lines of a suspended coroutine's stack that its resume reads first (the saved
 * registers at its stack pointer, which may straddle two lines), given its task's future;
 * nothing for another future. For a task that runs soon: its scheduler calls
 * this once the task is known to be next, so that these misses (a coroutine's stack is cold
 * after ~1,000 others ran, and each stack is a page of its own: a TLB miss too) overlap the
 * tasks before it instead of stalling the switch. Reads the future, whose line may still be
 * on its way: the prefetches wait for it, not the caller. The task must be one the caller owns
 * (queued in its private list): its future is neither freed nor written meanwhile. */
static inline void edo__coro_prefetch_resume(const edo_future *f)
{
    if (f->vtable != &edo__coro_vtable)
        return;
    /* As an integer: NULL until the first poll, and NULL + 64 as a pointer is undefined. */
    uintptr_t sp = (uintptr_t)((const edo__coro_future *)f)->co.ctx.sp;
    __builtin_prefetch((const void *)sp, 1);
    __builtin_prefetch((const void *)(sp + 64), 1);
}

typedef struct edo__chunk {
    char *map;
    struct edo__chunk *next;
} edo__chunk;

/* Per-runtime pool of stacks of the runtime's default size. */
typedef struct edo__stack_pool {
    size_t stack_size; /* usable bytes, page multiple */
    pthread_mutex_t lock;
    edo__stack *free;
    size_t nfree;
    edo__chunk *chunks; /* every mapping, unmapped with the pool */
    unsigned carved;    /* slots of the newest chunk handed out so far (the rest are untouched) */
} edo__stack_pool;

void edo__stack_pool_init(edo__stack_pool *p, size_t stack_size);
/* Unmaps every pooled stack. */
void edo__stack_pool_destroy(edo__stack_pool *p);

/* A stack of `stack_size` usable bytes (0: the pool's), or NULL. */
edo__stack *edo__stack_alloc(struct edo_runtime *rt, size_t stack_size);
/* Returns a stack to a pool (or to the system). */
void edo__stack_release(edo__stack *st);
/* `size` rounded up to whole pages. */
size_t edo__stack_round(size_t size);
/* Cooperative budget for a coroutine whose calls keep completing without waiting: takes one
 * unit of the current poll's budget, and once it is spent lets the other tasks run first
 * (suspends). Returns 0, or -ECANCELED when the task was aborted meanwhile. Outside a
 * coroutine: 0 at once. */
int edo__coro_coop(void);

/* Shields the calling coroutine (nestable): while shielded, an abort of its task does not drop
 * it; instead the coroutine is resumed and its suspending calls fail with -ECANCELED (so the code
 * inside unwinds), except edo__await_shielded, which keeps waiting. Unshielding the last level
 * of an aborted coroutine lets the abort take effect (the coroutine continues being dropped).
 * Must pair up within one coroutine. */
void edo__coro_shield(bool on);
/* Inside a coroutine: waits for `future` ignoring aborts and the deadline (for waits that are
 * short because what they wait for was told to stop), also while the coroutine is being
 * cancelled: its drop is then put off until the wait ends (the task polls it meanwhile).
 * Returns 0 or -EPERM. */
int edo__await_shielded(edo_future *future, void **out);
/* edo_await for a future the calling coroutine has just polled, with its current context
 * (co->cx), and found pending: the wait goes on from there (same results as edo_await). */
int edo__await_pending(edo_future *future, void **out);
/* The coroutine running on this thread, or NULL: the one in-coroutine check inside edo. */
edo__coro *edo__coro_running(void);
/* Suspends `co`, the calling coroutine, until its task is polled again. Returns 0, or
 * -ECANCELED when it is resumed to be cancelled. Without sanitizers it is resumed straight in
 * its caller (it ends in a tail call of the switch). */
int edo__coro_suspend(edo__coro *co);
/* Suspends `co`, the calling coroutine, in a wait that the poller finishes by calling
 * `fn(arg, cx, out)` (edo__coro_step_fn) whenever the task is woken; the caller has taken the
 * wait's first step itself and got -EAGAIN. Returns the step's result once it is not -EAGAIN,
 * or -ECANCELED when the coroutine is cancelled meanwhile (the step is told, to withdraw).
 * Not for a coroutine with a deadline (co->timed: the caller waits for a future, through
 * edo__coro_await_until).
 *
 * The wait's state lives in the task's hot state, not in the caller's frame, so the caller
 * may (and should) tail-call this: the coroutine is then resumed straight in the caller's
 * caller, without returning through a frame whose return the CPU mispredicts, and the poller's
 * step reads nothing on the coroutine's stack (it writes the output where `out` points). */
int edo__coro_wait_step(edo__coro *co, edo__coro_step_fn fn, void *arg, void **out);
/* The rest of a wait under a deadline (co->timed): `future` was polled and is pending. Same
 * results as edo_await. */
int edo__coro_await_until(edo__coro *co, edo_future *future, void **out);

/* The waits below are inlined into the calls that wait (a channel's receive, a sleep, ...), so
 * that a resumed coroutine goes on in that call's own frame: each frame it has to return
 * through after a switch is a mispredicted return (the CPU's return-address stack holds the
 * poller's calls, not the coroutine's). */

/* The rest of a wait whose future `co` (the calling coroutine) has just polled, with its
 * current context (co->cx), and found pending: suspend until it is ready. Same results as
 * edo_await.
 *
 * The task's poll polls the future itself, on the worker's stack, and resumes the coroutine
 * only once it is ready (coro.c, coro_poll), with the output already in `wait`: a wake-up that
 * finds the future still pending costs no switch, and the future's poll (taking the message,
 * freeing the channel, ...) runs on the worker's stack, which every poll keeps hot, not deeper
 * into the coroutine's, whose lines are cold whenever the coroutine has waited a while. The
 * coroutine resumed touches only the frames it suspended in. */
static inline __attribute__((always_inline)) int edo__coro_await_pending(edo__coro *co,
                                                                         edo_future *future,
                                                                         void **out)
{
    if (co->timed)
        return edo__coro_await_until(co, future, out);
    edo__coro_wait wait = {future, NULL};
    co->wait = &wait;
    co->waiting = EDO__CORO_WAIT_FUTURE;
    /* Resumed with 0 only once the poll found the future ready; cancelled otherwise. */
    if (edo__coro_suspend(co) < 0 || co->cancelled)
        return -ECANCELED;
    if (out)
        *out = wait.out;
    return 0;
}

/* edo_await's body (edo/coro.h). */
static inline __attribute__((always_inline)) int edo__coro_await(edo_future *future, void **out)
{
    if (!future || !future->vtable || !future->vtable->poll)
        return -EINVAL;
    edo__coro *co = edo__coro_running();
    if (!co)
        return -EPERM;
    if (co->cancelled)
        return -ECANCELED;
    void *o = NULL;
    if (future->vtable->poll(future, co->cx, &o) == EDO_READY) {
        if (out)
            *out = o;
        return 0;
    }
    return edo__coro_await_pending(co, future, out);
}

/* The coroutine form of a call whose future the caller has just built on its frame: awaits
 * `future` (edo_await: -EPERM outside a coroutine, -ECANCELED, -ETIMEDOUT), drops it (also when
 * it was never polled), and returns the wait's error, else `*result` (the future's own result
 * field; 0 when `result` is NULL). `out`: the future's output, as for edo_await. The caller
 * checks its arguments first (-EINVAL before -EPERM), and checks edo__coro_running() itself
 * only where something must not happen outside a coroutine before the wait (a fast path). */
static inline __attribute__((always_inline)) int edo__coro_run(edo_future *future, void **out,
                                                               const int *result)
{
    int rc = edo__coro_await(future, out);
    edo_future_drop(future); /* after any wait: an unfinished one is withdrawn by its drop */
    if (rc < 0)
        return rc;
    return result ? *result : 0;
}
/* Sets the deadline of the coroutine's suspending calls (EDO_INSTANT_NEVER: none). */
static inline void edo__coro_set_deadline(edo__coro *co, uint64_t deadline)
{
    co->stack->deadline = deadline;
    co->timed = deadline != EDO_INSTANT_NEVER;
}
/* Stack overflow reporting (overflow.c): a runtime thread gets an alternate signal stack, and
 * the process a fault handler that recognises a coroutine's guard page. */
void edo__overflow_thread_init(void);
void edo__overflow_thread_exit(void);

struct edo__worker;
/* Unmaps the stacks a worker keeps at hand (runtime shutdown). */
void edo__stack_cache_flush(struct edo__worker *w);

#endif
