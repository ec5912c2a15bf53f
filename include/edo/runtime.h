/* edo/runtime.h — building, entering and shutting down a runtime.
 *
 * A runtime owns a scheduler (worker threads that poll tasks), a blocking pool (threads for code
 * that must block), and the task list that shutdown uses to cancel everything still alive.
 *
 * Two flavours:
 *  - multi-thread (the default): `worker_threads` workers, each with its own run queue, stealing
 *    work from each other when idle;
 *  - current-thread: no worker threads; tasks run on the thread that calls edo_block_on() (or
 *    edo_task_join()), while it waits.
 *
 *     edo_runtime *rt;
 *     edo_runtime_config cfg = { .worker_threads = 4, .thread_name = "api" };
 *     if (edo_runtime_new(&cfg, &rt) < 0) abort();
 *     edo_spawn_future_on(rt, &job.base, sizeof job, NULL);
 *     edo_block_on(rt, &main_future.base, &out);
 *     edo_runtime_free(rt);     // cancels what is left and frees it
 *
 * Whoever creates a runtime owns it and shuts it down, once (edo_runtime_free, or
 * edo_runtime_shutdown_timeout to bound the wait for blocking calls). Other threads that need it
 * for longer than the owner guarantees hold a handle (edo_runtime_ref): the memory stays until
 * the last handle is released, and spawning through a handle after the shutdown fails with
 * -ESHUTDOWN.
 */
#ifndef EDO_RUNTIME_H
#define EDO_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edo/coro.h"
#include "edo/future.h"
#include "edo/task.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum edo_runtime_flavor {
    EDO_RUNTIME_MULTI_THREAD = 0,
    EDO_RUNTIME_CURRENT_THREAD = 1,
} edo_runtime_flavor;

/* Upper bounds accepted by edo_runtime_new(). */
#define EDO_MAX_WORKER_THREADS 1024
#define EDO_MAX_BLOCKING_THREADS 65536

/* Which event queue a runtime's I/O driver uses (edo_runtime_config.io_backend;
 * docs/io-backends.md). */
typedef enum edo_io_backend {
    EDO_IO_BACKEND_AUTO = 0,     /* the EDO_IO_BACKEND environment variable when set ("epoll",
                                    "uring" or "io_uring", "auto" or empty), else epoll */
    EDO_IO_BACKEND_EPOLL = 1,    /* epoll: readiness, edge-triggered */
    EDO_IO_BACKEND_IO_URING = 2, /* io_uring (Linux 5.13 or later, not disabled): readiness
                                    through multishot polls in a ring */
} edo_io_backend;

/* Runtime configuration. Zero-initialise and set what you need: every zero field means the
 * default given beside it. */
typedef struct edo_runtime_config {
    edo_runtime_flavor flavor;       /* default multi-thread */
    unsigned worker_threads;         /* multi-thread only; default: number of CPUs */
    unsigned max_blocking_threads;   /* default 512 */
    uint64_t blocking_keep_alive_ns; /* idle blocking threads exit after this; default 10 s;
                                        UINT64_MAX: never (until shutdown) */
    unsigned global_queue_interval;  /* how many polls a busy worker runs between looks at
                                        the global queue, expired timers and I/O events, so
                                        none of them starves. Default (0): tuned per worker
                                        from its mean poll time, so that it looks about every
                                        200 us: every poll when polls take a millisecond, at
                                        most every 61 polls when they are short. A value
                                        fixes the interval at that many polls. A worker also
                                        looks whenever it runs out of other work, and a task
                                        that yields (edo_yield, a spent coop budget) runs
                                        again only after such a look. */
    size_t coro_stack_size;          /* coroutine stack size; default 64 KiB (256 KiB in
                                        AddressSanitizer builds, whose frames are larger);
                                        within [EDO_MIN_STACK_SIZE, EDO_MAX_STACK_SIZE] */
    const char *thread_name;         /* prefix of worker/blocking thread names, at most 10 chars
                                        kept; default "edo" */
    void (*on_thread_start)(void *hook_arg); /* runs first on every runtime thread */
    void (*on_thread_stop)(void *hook_arg);  /* runs last on every runtime thread */
    void *hook_arg;
    bool start_paused;               /* current-thread only: the clock starts paused (tests; see
                                        edo/time.h); default false */
    edo_io_backend io_backend;       /* the I/O event queue; default (AUTO): the one the
                                        EDO_IO_BACKEND environment variable names, else epoll.
                                        One named here or there is set up when the runtime
                                        starts, and edo_runtime_new fails when the kernel
                                        cannot give it: never a silent fallback */
} edo_runtime_config;

/* Creates a runtime and starts its worker threads. `config` may be NULL (all defaults).
 * Returns 0 and stores the runtime in *out, or (with *out set to NULL, when out is not NULL)
 *   -EINVAL  out is NULL, flavor unknown, worker_threads > EDO_MAX_WORKER_THREADS,
 *            max_blocking_threads > EDO_MAX_BLOCKING_THREADS, global_queue_interval > 1<<20,
 *            coro_stack_size outside [EDO_MIN_STACK_SIZE, EDO_MAX_STACK_SIZE], or
 *            start_paused on a multi-thread runtime, io_backend unknown, or (with io_backend
 *            AUTO) an EDO_IO_BACKEND environment variable that names no backend;
 *   -ENOSYS  the backend named (io_backend, or EDO_IO_BACKEND) is io_uring and the kernel has
 *            none that fits (too old, or a seccomp filter hides it);
 *   -EPERM   the same, io_uring disabled (/proc/sys/kernel/io_uring_disabled);
 *   -ENOMEM  out of memory;
 *   -EMFILE, -ENFILE  no descriptor left for a named backend's event queue;
 *   -EAGAIN  a thread could not be created.
 * With the environment variable EDO_DEBUG set to anything but "" or "0", a runtime that
 * started prints one line on stderr saying what it runs: its flavour, workers and I/O backend
 * ("edo: runtime started: flavor=multi_thread workers=2 io_backend=io_uring").
 * Thread-safe. */
int edo_runtime_new(const edo_runtime_config *config, edo_runtime **out);

/* Shuts `rt` down and releases the owner's reference: stops the workers, cancels every task
 * still alive (dropping each future on the calling thread, so nothing leaks), waits for
 * blocking-pool functions already running (queued ones are cancelled), and joins every thread
 * the runtime started. The memory goes now, or with the last handle (edo_runtime_ref): until
 * then handles stay usable, and spawning through them fails with -ESHUTDOWN. Handles to its
 * tasks stay valid (joining them yields the result, or -ECANCELED), and wakers held elsewhere
 * may still be woken and dropped safely. Registrations (edo_io, and the sockets of edo/net.h,
 * which are registrations) belong to the runtime: close them before, or let the tasks that own
 * them close them as they are cancelled; one still open is freed with the runtime (its file
 * descriptor is left open) and its handle must not be used again. NULL is a no-op. Called by the
 * owner (whoever created `rt`), once, and not from a thread of `rt` itself, nor concurrently
 * with edo_block_on on `rt` or calls on handles of its tasks (wakes and spawns excepted: a spawn
 * racing with it either gets its task cancelled or -ESHUTDOWN). What of that can be detected
 * does nothing: a call from a thread of `rt` (a worker, a task or coroutine on it, a
 * blocking-pool thread or its hooks, a thread inside edo_block_on on `rt`, edo_main's function
 * for edo_main's runtime: it would wait for itself; edo_runtime_shutdown_timeout says -EDEADLK),
 * and a second call, or one after edo_runtime_shutdown_timeout, while handles keep the memory
 * (-EALREADY there). Blocks the calling thread. */
void edo_runtime_free(edo_runtime *rt);

/* Like edo_runtime_free(), but gives what cannot be stopped at once at most `timeout_ns`
 * nanoseconds (from the call) to end (UINT64_MAX, that is EDO_WAIT_FOREVER: no limit; 0: none),
 * like Tokio's Runtime::shutdown_timeout. Tasks are cancelled as by edo_runtime_free (their
 * drops run on the calling thread, and cancellation itself is not cut short). What is left at
 * the deadline is left behind, and the call returns:
 *   - blocking-pool calls still running go on, each on its thread, to their end; their threads
 *     then exit (running on_thread_stop: keep hook_arg valid until they have) and handles to
 *     them join as usual (a plain thread waits for the call);
 *   - tasks still waiting for such a call (a join set's shutdown or a scope around it) are run
 *     to the end of their cancellation by the call's thread when it ends.
 * Everything left behind holds a reference to the runtime, so its memory stays valid until the
 * last of them (and of the handles) is done; that one frees it. Worker threads are joined
 * without limit (a task blocking a worker delays this call).
 * Returns 0 when everything ended in time (as edo_runtime_free), -ETIMEDOUT when something was
 * left behind, or, with nothing done:
 *   -EINVAL   rt is NULL;
 *   -EDEADLK  called from a thread of `rt` (see edo_runtime_free);
 *   -EALREADY the runtime was shut down already (detectable while a handle keeps its memory;
 *             a second call does not wait longer for what the first left behind).
 * The same rules as edo_runtime_free apply to who may call it and when. Blocks the calling
 * thread up to about timeout_ns. */
int edo_runtime_shutdown_timeout(edo_runtime *rt, uint64_t timeout_ns);

/* Takes a reference to `rt` — a handle, like Tokio's runtime Handle — and returns `rt` (NULL for
 * NULL). A handle keeps the runtime's memory valid after its owner shut it down: every function
 * taking an edo_runtime may be called with it from any thread, and after the shutdown spawning
 * through it fails with -ESHUTDOWN (edo_block_on too) instead of touching freed memory.
 * Typical use: edo_runtime_ref(edo_runtime_current()) in a task, handed to a plain thread
 * that spawns onto the runtime later. Release it with edo_runtime_unref(); never pass a handle
 * to edo_runtime_free (only the owner shuts down). Never suspends; thread-safe. */
edo_runtime *edo_runtime_ref(edo_runtime *rt);

/* Releases a reference taken by edo_runtime_ref(); the last one (after the owner's shutdown)
 * frees the memory. NULL is a no-op, and so is an unref that would release the owner's own
 * reference before the owner shut the runtime down (one unref too many: only edo_runtime_free
 * or edo_runtime_shutdown_timeout end a runtime). Never suspends; thread-safe. */
void edo_runtime_unref(edo_runtime *rt);

/* Runs `future` to completion on the calling thread and stores its output in *out (`out` may be
 * NULL). On a current-thread runtime the calling thread runs the runtime's tasks meanwhile; on a
 * multi-thread runtime it sleeps between polls while workers run the tasks. While inside,
 * edo_spawn_future() on this thread spawns onto `rt`. The future is polled in place (not moved)
 * and is not dropped: the caller owns it.
 * Returns 0, or
 *   -EINVAL   rt or future (or its vtable, or its poll function) is NULL (checked first);
 *   -EDEADLK  called from a worker thread of any runtime (a task or coroutine included), or
 *             from inside another edo_block_on on this thread;
 *   -ESHUTDOWN rt is shutting down, or was shut down (a handle);
 *   -ENOMEM   a current-thread runtime: no memory for the waker the calling thread waits with
 *             (the future was not polled; the call may be made again).
 * *out is written only with 0. Blocks the calling thread. */
int edo_block_on(edo_runtime *rt, edo_future *future, void **out);

/* The runtime the calling thread runs in (as a worker, a blocking-pool thread, inside
 * edo_block_on or edo_main), or NULL. Borrowed: valid while the thread runs in it; take a handle
 * (edo_runtime_ref) to keep it longer or pass it to another thread. Never suspends. */
edo_runtime *edo_runtime_current(void);

/* Worker threads of `rt` (0 for a current-thread runtime), also through a handle after the
 * shutdown; -EINVAL for NULL. Never suspends; thread-safe. */
int edo_runtime_worker_count(const edo_runtime *rt);

/* A snapshot of what a runtime holds, for monitoring (a soak test watching for leaked tasks,
 * a server's status line). Each figure is read on its own, not all at one instant. */
typedef struct edo_runtime_metrics {
    unsigned workers;      /* worker threads, as edo_runtime_worker_count (0: current-thread) */
    size_t live_tasks;     /* tasks (futures and coroutines) that have been polled at least once
                              and have not completed: what a leak of tasks makes grow. Tasks
                              spawned but still waiting for their first poll, and calls on the
                              blocking pool, are not counted */
    unsigned blocking_threads; /* blocking-pool threads alive, busy or idle */
    const char *io_backend;    /* the I/O event queue, as edo_runtime_io_backend ("epoll",
                                  "io_uring"): a static string */
} edo_runtime_metrics;

/* Fills *out with a snapshot of `rt`'s metrics. Returns 0, or
 *   -EINVAL     rt or out is NULL;
 *   -ESHUTDOWN  rt is shutting down or was shut down (a handle): *out is left alone.
 * Takes each worker's task-table lock briefly, one after the other (cheap: call it every
 * second, not every poll). Never suspends; thread-safe, from any thread. */
int edo_runtime_metrics_get(edo_runtime *rt, edo_runtime_metrics *out);

/* The name of the I/O event queue `rt` runs on: "epoll" or "io_uring" (what io_backend and
 * EDO_IO_BACKEND chose; see docs/io-backends.md), also through a handle after the shutdown;
 * NULL for NULL. A static string. Never suspends; thread-safe. */
const char *edo_runtime_io_backend(const edo_runtime *rt);

/* Runs `fn(arg)` with a default multi-thread runtime that the calling thread is in for the
 * whole call (so edo_spawn_future() and edo_spawn_blocking() work, and edo_task_join() waits
 * for tasks), then shuts the runtime down and returns what fn returned. The runtime is
 * edo_main's: fn must not shut it down (edo_runtime_free on it does nothing there). Returns
 * edo_runtime_new's error when the runtime cannot be built (-ENOMEM, -EAGAIN; -EINVAL,
 * -ENOSYS, -EPERM for EDO_IO_BACKEND), -EINVAL for a NULL fn (checked first),
 * -EDEADLK when the calling thread is already in a runtime (a worker, a blocking-pool thread,
 * inside edo_block_on or edo_main). Blocks the calling thread. */
int edo_main(int (*fn)(void *arg), void *arg);

/* ---------------------------------------------------------------------------------------------
 * Blocking pool
 * ------------------------------------------------------------------------------------------- */

/* Runs `fn(arg)` on the runtime's blocking pool — threads meant for code that blocks (file I/O,
 * CPU-heavy work, foreign libraries) so workers stay free. Up to max_blocking_threads run at
 * once; more calls queue. Idle pool threads exit after blocking_keep_alive_ns. The handle joins
 * like any task: its output is fn's return value. A queued call that has not started when it
 * is aborted (or the runtime shuts down) is cancelled; a running one cannot be interrupted and
 * runs to its end.
 * `arg` stays the caller's, and must stay valid until fn has returned — which a join that gives
 * up (a deadline, a cancellation of the joining coroutine) does not wait for, and neither does
 * freeing the handle. A caller that may give up should hand its data over with
 * edo_spawn_blocking_with() instead.
 * Returns 0 (and, when out is not NULL, the handle in *out), or
 *   -EINVAL    fn is NULL (checked first);
 *   -EPERM     the calling thread is not in a runtime;
 *   -ESHUTDOWN the runtime is shutting down;
 *   -ENOMEM    out of memory.
 * Never suspends; thread-safe. */
int edo_spawn_blocking(void *(*fn)(void *arg), void *arg, edo_task **out);

/* Like edo_spawn_blocking(), on runtime `rt` from any thread; -EINVAL also for a NULL rt, and
 * -ESHUTDOWN through a handle (edo_runtime_ref) once the runtime was shut down. */
int edo_spawn_blocking_on(edo_runtime *rt, void *(*fn)(void *arg), void *arg, edo_task **out);

/* Who frees a blocking call's argument and output (edo_spawn_blocking_with). Zero fields: no one
 * (as with edo_spawn_blocking). */
typedef struct edo_blocking_options {
    /* The call owns `arg`: drop_arg(arg) runs exactly once, when the call is over: right after
     * fn returns (on its pool thread), or instead of fn when the call is cancelled before it
     * started (aborted while queued, or runtime shutdown). Never while fn runs. */
    void (*drop_arg)(void *arg);
    /* Frees fn's output (whatever it returned, NULL included) when no handle takes it: the call
     * was spawned without a handle, or the handle was freed without a join that returned 0
     * (say a join that gave up with -ETIMEDOUT). Runs on the thread that ends the call or
     * frees the handle, whichever comes second. A join that returns 0 gives the output to the
     * caller, and this is not called. */
    void (*drop_output)(void *output);
} edo_blocking_options;

/* Like edo_spawn_blocking(), on runtime `rt` (from any thread; NULL: the current runtime), with
 * the call owning its argument and output as `options` says (NULL: like edo_spawn_blocking).
 * Safe by construction for callers that may give up: hand over everything fn uses in `arg`
 * (freed by drop_arg) and return its result (freed by drop_output unless joined), and the
 * caller can stop waiting, free the handle and free all of its own memory at any time while fn
 * still runs; nothing is leaked or used after it is freed.
 *
 *     job *j = job_new(path);                      // everything the call uses
 *     edo_blocking_options o = {job_free, result_free};
 *     edo_task *t;
 *     if (edo_spawn_blocking_with(NULL, &o, read_file, j, &t) < 0) job_free(j);
 *     rc = edo_timeout(EDO_SEC(1), join, t);       // -ETIMEDOUT: give up...
 *     edo_task_free(t);                            // ...the call frees j and its result
 *
 * Returns 0, or -EINVAL (fn NULL; checked first), -EPERM (rt NULL and not in a runtime),
 * -ESHUTDOWN, -ENOMEM. On failure `arg` is still the caller's (drop_arg is not called). Never
 * suspends; thread-safe. */
int edo_spawn_blocking_with(edo_runtime *rt, const edo_blocking_options *options,
                            void *(*fn)(void *arg), void *arg, edo_task **out);

#ifdef __cplusplus
}
#endif

#endif /* EDO_RUNTIME_H */
