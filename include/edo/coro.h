/* edo/coro.h — coroutine tasks: straight-line code that suspends instead of blocking.
 *
 * A coroutine is a task that runs a plain C function on a stack of its own. When it waits
 * (edo_await on any future, edo_yield, edo_task_join, and every suspending call edo adds) it
 * suspends: the worker thread goes on with other tasks, and the coroutine resumes later, on
 * whichever worker polls it next. Coroutines and future tasks share one scheduler, one kind of
 * handle (edo_task) and the same wakers.
 *
 *     static void *worker(void *arg) {
 *         for (int i = 0; i < 3; i++)
 *             if (edo_yield() < 0)        // -ECANCELED once the task is aborted
 *                 break;
 *         return arg;
 *     }
 *     ...
 *     edo_task *t;
 *     edo_spawn(worker, "done", &t);     // from inside a runtime
 *     edo_task_join(t, &out);            // a coroutine suspends here; a plain thread waits
 *
 * Cancellation. After edo_task_abort() (or when the runtime shuts down), the call the coroutine
 * is suspended in returns -ECANCELED, and so does every later suspending call, at once: the
 * function unwinds through its own error paths and frees what it owns. One call still waits
 * while it unwinds: edo_join_set_shutdown(), which waits until the set's tasks have ended, so
 * what they use (the coroutine's stack) is never freed under them. Its function always runs,
 * even when the task is aborted before it started (then every suspending call fails at once),
 * so `arg` can always be freed by the coroutine itself. A coroutine that ignores -ECANCELED and
 * keeps looping never finishes its cancellation. A cancelled coroutine's task ends cancelled
 * whatever its function returns; a value it returns anyway is not lost: joining the task gives
 * -ECANCELED and hands that value over (edo_task_join), and a join set gives unclaimed ones to
 * its drop_output.
 *
 * Thread-locals. A coroutine may move to another worker thread at every suspension. Do not keep
 * the address of a thread-local variable (including `errno`) across a suspending call: compilers
 * may cache it, and after the move it points at another thread's variable. The same holds for
 * functions glibc declares `const`, which the compiler may call once and reuse: pthread_self()
 * and __errno_location() (behind `errno`). Read such state through a function of your own that
 * is not inlined and cannot be proven pure (an empty `__asm__ volatile("" ::: "memory")` in it
 * does that), or keep it in a pinned place you control. edo's own calls return negative errno
 * values and never read thread-locals across a suspension.
 *
 * Floating-point control state. The rounding mode, exception masks and flush-to-zero (x86-64:
 * MXCSR and the x87 control word; AArch64: FPCR) are a coroutine's own: what it sets (fesetround,
 * feenableexcept, ...) stays in effect for it across its suspensions and moves between threads,
 * and never reaches the thread that polled it or the tasks that run there meanwhile. A new
 * coroutine starts with the state of the thread that first runs it. A future's poll, by
 * contrast, runs on the worker's own state: a poll that changes it must restore it before it
 * returns (as the ABI asks of any function not meant to change it; edo_future_vtable), or the
 * tasks polled after it on that thread see the change. A thread that drives a current-thread
 * runtime (edo_block_on, edo_task_join) may change its own state between such calls: the
 * coroutines it resumes give it back the state it had when the call began.
 *
 * Stacks. Each coroutine has its own stack, reserved in virtual memory and committed page by
 * page as it is touched, so an idle coroutine costs a page or two. The default size is
 * edo_runtime_config.coro_stack_size (64 KiB); edo_spawn_with() sets it per coroutine. Stacks
 * get a guard page below them (a stack overflow faults instead of corrupting memory) while the
 * process has mappings to spare; past that (the kernel's vm.max_map_count, 65530 by default,
 * counts two mappings per guarded stack) new stacks come without guard, so a million coroutines
 * still fit. Deep recursion and large local arrays belong on a larger stack or on the heap.
 */
#ifndef EDO_CORO_H
#define EDO_CORO_H

#include <stdbool.h>
#include <stddef.h>

#include "edo/future.h"
#include "edo/task.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Per-coroutine options for edo_spawn_with(). Zero fields mean the default. */
typedef struct edo_spawn_options {
    size_t stack_size; /* bytes, rounded up to whole pages; default: the runtime's */
} edo_spawn_options;

#define EDO_MIN_STACK_SIZE ((size_t)16 * 1024)
#define EDO_MAX_STACK_SIZE ((size_t)1024 * 1024 * 1024)

/* Spawns a coroutine running fn(arg) on the runtime the calling thread is in (a worker, a
 * coroutine or future task, edo_block_on, edo_main). Its output (what fn returns) is joined
 * like any task's. On success, when `out` is not NULL, *out receives a handle to release with
 * edo_task_free(); with `out` NULL the coroutine is detached.
 * Returns 0, or
 *   -EINVAL    fn is NULL;
 *   -EPERM     the calling thread is not in a runtime;
 *   -ESHUTDOWN the runtime is shutting down;
 *   -ENOMEM    no memory for the task.
 * The coroutine's stack is taken when it first runs (so a burst of spawns costs only tasks);
 * if no stack can be mapped then, the task waits and tries again.
 * Never suspends; thread-safe. */
int edo_spawn(void *(*fn)(void *arg), void *arg, edo_task **out);

/* edo_spawn() without a handle. */
static inline int edo_spawn_detached(void *(*fn)(void *arg), void *arg)
{
    return edo_spawn(fn, arg, NULL);
}

/* Like edo_spawn(), on runtime `rt` (from any thread; NULL: the current runtime) and with
 * `options` (NULL: defaults). -EINVAL also for a stack size (not 0) outside
 * [EDO_MIN_STACK_SIZE, EDO_MAX_STACK_SIZE]; bad arguments are checked before -EPERM. */
int edo_spawn_with(edo_runtime *rt, const edo_spawn_options *options, void *(*fn)(void *arg),
                   void *arg, edo_task **out);

/* Spawns a pinned (local) coroutine: it runs only on the calling worker thread, never stolen
 * by another, so it may keep thread-locals across suspensions and use thread-bound libraries.
 * Must be called on a worker of a multi-thread runtime (a task, or a coroutine, running there).
 * `options` may be NULL. Wakes from anywhere reach it on its worker. A pinned coroutine shares
 * that one worker with everything else queued there: keep heavy work on unpinned tasks.
 * Returns 0, or -EINVAL (fn NULL, bad stack size), -EPERM (not on a worker of a multi-thread
 * runtime), -ESHUTDOWN, -ENOMEM. Never suspends. */
int edo_spawn_local(const edo_spawn_options *options, void *(*fn)(void *arg), void *arg,
                    edo_task **out);

/* Inside a coroutine: waits until `future` is ready and stores its output in *out (`out` may
 * be NULL). The future is polled in place, so it must not move meanwhile; the caller still
 * owns it (and drops it if it has a drop function). Its first poll runs in the coroutine; once
 * it has suspended, the task's poll polls the future from the worker (outside the coroutine:
 * edo_in_coroutine() is false there) and resumes the coroutine only when it is ready, so a
 * future's poll must not depend on running in a coroutine (none of edo's do).
 * Returns 0, or
 *   -EINVAL     future (or its vtable, or its poll function) is NULL (checked first);
 *   -EPERM      not called from a coroutine;
 *   -ECANCELED  the task was aborted (the future may not have completed);
 *   -ENOMEM     a deadline is set (edo_deadline_push) and there was no memory to file its
 *               timer (the future may not have completed).
 * Suspends. */
int edo_await(edo_future *future, void **out);

/* Inside a coroutine: lets everything already waiting run first, then continues. The task
 * runs again only after its worker has run the other tasks in its queues, taken tasks from the
 * global queue, fired expired timers and taken ready I/O events, so a CPU-bound loop that
 * yields starves none of them. Same as awaiting an edo_yield_future.
 * Returns 0, -EPERM outside a coroutine, -ECANCELED once the task is aborted. Suspends. */
int edo_yield(void);

/* True when the caller runs in a coroutine. Never suspends. */
bool edo_in_coroutine(void);

/* True when the calling coroutine's task has been aborted (its suspending calls now fail with
 * -ECANCELED); false when not, and outside a coroutine. Never suspends. */
bool edo_coro_is_cancelled(void);

/* ---------------------------------------------------------------------------------------------
 * Scopes: structured concurrency. The tasks a coroutine starts in a scope end before the scope
 * returns, so they may use what the coroutine owns (its stack included).
 *
 *     static int fetch_all(edo_join_set *set, void *urls) {
 *         for (int i = 0; i < 3; i++)
 *             edo_join_set_spawn(set, fetch, ((char **)urls)[i], NULL);
 *         return 0;                  // the scope then waits for the three
 *     }
 *     ...
 *     int rc = edo_scope(fetch_all, urls, free);
 * ------------------------------------------------------------------------------------------- */

/* Inside a coroutine: makes a join set, runs body(set, arg) in the calling coroutine, then waits
 * until every task in the set has ended; outputs nobody took go to `drop_output` (may be NULL).
 * body spawns tasks into the set (they may spawn more into it), and may take results with
 * edo_join_set_next; it must not free the set, which is gone when the scope returns
 * (edo_join_set_free on it does nothing).
 *   - body returns a negative value: the tasks still running are aborted (then waited for).
 *   - The caller's deadline passes or its task is aborted while the scope waits: the tasks are
 *     aborted and waited for. An abort of the calling task is deferred for the whole scope: the
 *     coroutine is not dropped, its suspending calls in body fail with -ECANCELED instead, and
 *     the abort takes effect when the scope returns. A coroutine's tasks never outlive it.
 * Returns body's result (0 or positive) once everything has ended, or body's negative result,
 * -ETIMEDOUT (the deadline passed while waiting), -ECANCELED (the caller was aborted; also at
 * once when it already was), -EINVAL (body NULL), -EPERM (not in a coroutine), -ENOMEM.
 * Suspends. */
int edo_scope(int (*body)(edo_join_set *set, void *arg), void *arg,
              void (*drop_output)(void *output));

#ifdef __cplusplus
}
#endif

#endif /* EDO_CORO_H */
