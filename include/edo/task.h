/* edo/task.h — spawning tasks and the handles that join, abort and inspect them.
 *
 * A task is a future the runtime owns and polls to completion on its workers. Spawning returns
 * an `edo_task` handle (or nothing, for a detached task). The handle can wait for the task's
 * output, abort it, or ask whether it finished; releasing the handle with edo_task_free() does
 * not stop the task (it runs on, detached), just as dropping a Tokio JoinHandle does not.
 *
 *     static edo_poll add_poll(edo_future *f, edo_context *cx, void **out) {
 *         (void)cx;
 *         adder *a = (adder *)f;
 *         *out = (void *)(intptr_t)(a->x + a->y);
 *         return EDO_READY;
 *     }
 *     ...
 *     adder a = { { &adder_vt }, 2, 3 };
 *     edo_task *t;
 *     if (edo_spawn_future_on(rt, &a.base, sizeof a, &t) == 0) {
 *         void *sum;
 *         if (edo_task_join(t, &sum) == 0)            // waits; sum == (void *)5
 *             printf("%d\n", (int)(intptr_t)sum);
 *         edo_task_free(t);
 *     }
 *
 * A handle is for one thread at a time; distinct handles may be used from any thread.
 */
#ifndef EDO_TASK_H
#define EDO_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edo/future.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct edo_runtime edo_runtime;

/* A handle to a spawned task. */
typedef struct edo_task edo_task;

/* The largest future (its `size`) the spawn functions accept: 1 MiB. A future is copied into
 * its task, so a larger one is almost surely a wrong size (an element count, a negative value
 * converted to size_t); keep big buffers behind a pointer instead. */
#define EDO_MAX_FUTURE_SIZE ((size_t)1024 * 1024)

/* Spawns the future at `future` (a struct of `size` bytes whose first member is edo_future) on
 * the runtime the calling thread is running in: a worker of that runtime, a thread inside
 * edo_block_on(), or the thread running edo_main(). The struct is copied into the task; the
 * caller's copy is not used again (and must not be dropped by the caller). On success, when
 * `out` is not NULL, *out receives a handle to release with edo_task_free(); when `out` is NULL
 * the task is detached.
 * Returns 0, or
 *   -EINVAL    future, its vtable or its poll function is NULL, or size < sizeof(edo_future),
 *              or size > EDO_MAX_FUTURE_SIZE (bad arguments are checked before -EPERM);
 *   -EPERM     the calling thread is not in a runtime (use edo_spawn_future_on);
 *   -ESHUTDOWN the runtime is shutting down;
 *   -ENOMEM    out of memory.
 * On failure the future has not been moved: the caller still owns it, and *out holds no
 * handle (it is left as it was, or set to NULL). Never suspends; thread-safe. */
int edo_spawn_future(edo_future *future, size_t size, edo_task **out);

/* Like edo_spawn_future(), on runtime `rt`, from any thread (this is how a plain thread hands
 * work to a runtime). Returns the same errors, with -EINVAL also for a NULL rt, and -ESHUTDOWN
 * through a handle (edo_runtime_ref) once the runtime was shut down. */
int edo_spawn_future_on(edo_runtime *rt, edo_future *future, size_t size, edo_task **out);

/* Like edo_spawn_future(), but the task is pinned to the calling worker thread: it is never
 * stolen, and every poll runs on this thread (see edo_spawn_local in edo/coro.h). Must be
 * called on a worker of a multi-thread runtime; -EPERM otherwise (after the checks for
 * -EINVAL, which are edo_spawn_future's). */
int edo_spawn_future_local(edo_future *future, size_t size, edo_task **out);

/* Waits until the task finishes and stores its output in *out (`out` may be NULL). In a
 * coroutine it suspends (and returns -ECANCELED if the coroutine is aborted meanwhile); on a
 * plain thread it blocks, and on a current-thread runtime drives the runtime meanwhile.
 * Returns 0 when the task completed, or
 *   -EINVAL     task is NULL;
 *   -ECANCELED  the task was aborted (or its runtime shut down) before it completed. *out is
 *               set then too: NULL, or the value a cancelled coroutine returned anyway (it
 *               noticed -ECANCELED while unwinding and returned a value: that value is yours
 *               now, to free as its type requires);
 *   -EALREADY   this handle already returned the task's result once;
 *   -EDEADLK    called from a future task or edo_block_on's future (a worker would wait
 *               for itself): use edo_task_poll_join() there; or `task` is the calling task
 *               itself (a coroutine, or a blocking call, joining its own handle);
 *   -ENOMEM     on a plain thread, a task of a current-thread runtime: no memory for the
 *               waker to wait with (as edo_block_on); nothing was taken, join again.
 * With an error other than -ECANCELED, *out is not written. Thread-safe with respect to the
 * task; a handle is used by one thread at a time. */
int edo_task_join(edo_task *task, void **out);

/* The poll form of edo_task_join(), for futures: returns EDO_PENDING (after registering
 * cx's waker) while the task runs, or EDO_READY with *rc set to what edo_task_join() would
 * return (0, -ECANCELED, -EALREADY, -EINVAL for a NULL task or cx, -EDEADLK when a task polls
 * its own handle with its own waker: it would wait for itself) and *out to the output with 0
 * and -ECANCELED (as for edo_task_join). `rc` and `out` may be NULL (what they would receive is
 * lost; the result counts as taken all the same). Never suspends. */
edo_poll edo_task_poll_join(edo_task *task, edo_context *cx, int *rc, void **out);

/* Requests cancellation. A task waiting to be polled, idle, or queued is cancelled promptly:
 * its future is dropped on a worker without being polled again and joining it yields
 * -ECANCELED. A task being polled right now is cancelled once that poll returns pending; if
 * that poll completes it, it keeps its output. Aborting a finished task does nothing.
 * Returns 0, or -EINVAL for NULL. Never suspends; thread-safe. */
int edo_task_abort(edo_task *task);

/* True when the task has finished (completed or cancelled); false when not, and for NULL.
 * Never suspends; thread-safe. */
bool edo_task_is_finished(const edo_task *task);

/* The task's id: unique within its runtime, never 0. Returns 0 for NULL. */
uint64_t edo_task_id(const edo_task *task);

/* Releases the handle. The task is not cancelled: it runs on, detached (call edo_task_abort()
 * first to stop it). Safe at any time, also while the task runs or after a join gave up. An
 * output the handle did not take goes nowhere: edo does not free it, except for a blocking call
 * spawned with a drop_output (edo_spawn_blocking_with). A task whose output owns memory should
 * be joined, or put in a join set, whose drop_output frees what nobody takes. NULL is a no-op.
 * Never suspends; thread-safe with respect to the task. */
void edo_task_free(edo_task *task);

/* The id of the task whose future is being polled on the calling thread, or 0 outside a task. */
uint64_t edo_task_current_id(void);

/* ---------------------------------------------------------------------------------------------
 * Task-local storage: a value per task, under a key, that follows the task across workers
 * (unlike a thread-local, which a migrating coroutine must not use) and is destroyed when the
 * task ends.
 *
 *     static const edo_task_local request_id = {free};   // the key: its address
 *     edo_task_local_set(&request_id, strdup("r-42"));  // in a task
 *     const char *id = edo_task_local_get(&request_id);  // anywhere in the same task
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_task_local {
    void (*destroy)(void *value); /* called for a non-NULL value when the task ends, or when
                                     the value is replaced; may be NULL */
} edo_task_local;

/* Sets the calling task's value for `key` (replacing, and destroying, an earlier one; setting
 * the value it has already destroys nothing). A key needs no creation: any edo_task_local's
 * address is one, valid for as long as a task may hold a value under it (static storage).
 * Returns 0, -EINVAL for a NULL key, -EPERM outside a task (edo_block_on's future and
 * edo_main's function are not tasks), -ENOMEM. On failure `value` is neither stored nor
 * destroyed: it is still the caller's. Never suspends. */
int edo_task_local_set(const edo_task_local *key, void *value);

/* The calling task's value for `key`, or NULL (unset, NULL key, or not in a task). */
void *edo_task_local_get(const edo_task_local *key);

/* ---------------------------------------------------------------------------------------------
 * Join sets: many tasks, their results taken as they finish.
 *
 *     edo_join_set *set;
 *     edo_join_set_new(free, &set);                   // unclaimed outputs go to free()
 *     for (int i = 0; i < n; i++)
 *         edo_join_set_spawn(set, fetch, urls[i], NULL);
 *     edo_join_result r;
 *     while (edo_join_set_next(set, &r) == 0)         // in the order they finish
 *         if (r.result == 0) use(r.output);           // (r.result -ECANCELED: it was aborted;
 *         else free(r.output);                        //  NULL, or what it returned anyway)
 *     edo_join_set_free(set);                         // aborts whatever is still running
 *
 * Spawning into a set, adding to it, aborting its tasks and reading its length are thread-safe
 * (a task in the set may spawn more into it); taking results (next, try_next, shutdown) is for
 * one task or thread at a time. The tasks run anywhere. Freeing the
 * set aborts the tasks still in it, and every output nobody took (also of tasks that complete
 * after the free, and the values cancelled coroutines return anyway) goes to the set's
 * `drop_output`, so no result is leaked.
 *
 * A freed set must not be used. The one place its memory outlives the free is in its own tasks
 * (each keeps the set until it ends), and there a use is refused: spawning into it and adding
 * to it give -EINVAL (the future or the handle is still the caller's), next, try_next,
 * abort_all and shutdown -EINVAL, len 0, and a second free does nothing.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_join_set edo_join_set;

/* One finished task. */
typedef struct edo_join_result {
    uint64_t id;  /* the task's id (edo_task_id) */
    int result;   /* 0: it completed with `output`; -ECANCELED: it was aborted */
    void *output; /* yours from here on; with -ECANCELED NULL, or what a cancelled coroutine
                     returned anyway (see edo_task_join) */
} edo_join_result;

/* Creates an empty set. `drop_output` (may be NULL) is called with the output of each task that
 * completed but whose result was never taken, and with each non-NULL value that a cancelled
 * coroutine returned and nobody took. Returns 0, -EINVAL (out NULL), -ENOMEM. */
int edo_join_set_new(void (*drop_output)(void *output), edo_join_set **out);

/* Aborts every task still in the set and frees it (what completes afterwards is dropped with
 * drop_output). Does not wait. NULL is a no-op, and so is a set already freed (see above) and
 * an edo_scope's set (the scope frees it). Never suspends. */
void edo_join_set_free(edo_join_set *set);

/* Puts the task of `task` in the set, which takes the handle over (do not use or free it any
 * more, nor add it again): works for any task, however spawned. Returns 0, or
 *   -EINVAL  set or task NULL, or the set freed (the handle is still yours then); or a handle
 *            whose result was already taken (it can never give one: it is freed);
 *   -ENOMEM  out of memory (the handle is still yours).
 * Never suspends. */
int edo_join_set_add(edo_join_set *set, edo_task *task);

/* Spawns the coroutine fn(arg) (like edo_spawn) into the set; *id (may be NULL) gets its id.
 * Returns 0, or edo_spawn's errors: -EINVAL (also set NULL or freed), -EPERM (not in a
 * runtime), -ESHUTDOWN, -ENOMEM. Never suspends. */
int edo_join_set_spawn(edo_join_set *set, void *(*fn)(void *arg), void *arg, uint64_t *id);

/* Spawns a future task (like edo_spawn_future) into the set. Same errors (-EINVAL also for the
 * future's and size's nonsense, see edo_spawn_future); on failure the future is still the
 * caller's. Never suspends. */
int edo_join_set_spawn_future(edo_join_set *set, edo_future *future, size_t size, uint64_t *id);

/* Inside a coroutine: waits for the next task of the set to finish, removes it from the set and
 * fills *r. Returns 0, -ECHILD (the set is empty: nothing to wait for), -EINVAL (set or r NULL,
 * checked first; the set freed), -EPERM (not in a coroutine), -ECANCELED / -ETIMEDOUT (the
 * caller was aborted or its deadline passed: nothing was taken). *r is written only with 0.
 * Suspends. */
int edo_join_set_next(edo_join_set *set, edo_join_result *r);

/* Takes a finished task if there is one: 0, -EAGAIN (tasks run, none has finished), -ECHILD
 * (empty), -EINVAL (set or r NULL, the set freed). *r is written only with 0. Never suspends. */
int edo_join_set_try_next(edo_join_set *set, edo_join_result *r);

/* Aborts every task in the set; their results (-ECANCELED, or the output of a task that
 * completed first) still come out of next. Returns 0, -EINVAL (NULL, or freed). Never
 * suspends; thread-safe. */
int edo_join_set_abort_all(edo_join_set *set);

/* Inside a coroutine: aborts every task, waits for all of them to finish and drops their
 * outputs (drop_output); the set is then empty and may be used again. Returns 0, -EINVAL (NULL,
 * or freed; checked first), -EPERM (not in a coroutine). Waiting here ignores the caller's deadline and cancellation (the tasks
 * are already aborted, so it is short): it returns only once every task has ended, also when
 * the caller is a coroutine being cancelled (aborted, or its runtime shutting down) and calls
 * this while it unwinds, so tasks that use the caller's memory (its stack) are done with it
 * when this returns. A task that cannot be stopped (a running blocking-pool call) is waited
 * for to its end. Suspends. */
int edo_join_set_shutdown(edo_join_set *set);

/* Tasks in the set: running, or finished and not yet taken. 0 for NULL or a freed set. */
size_t edo_join_set_len(const edo_join_set *set);

/* The future form of edo_join_set_next: ready with `result` 0 (`r` filled), -ECHILD, or -EINVAL
 * (set NULL, or freed). Dropping it before it is ready takes nothing. Must not move once
 * polled. init with a NULL f does nothing. */
typedef struct edo_join_set_next_future {
    edo_future base;
    int result;
    edo_join_result r;
    edo_join_set *set;
} edo_join_set_next_future;
void edo_join_set_next_future_init(edo_join_set_next_future *f, edo_join_set *set);

#ifdef __cplusplus
}
#endif

#endif /* EDO_TASK_H */
