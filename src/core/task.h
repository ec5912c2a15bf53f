/* The task: a header, one atomic state word, and the future stored inline after it.
 *
 * State word (64 bits): flags in the low 10 bits, reference count above.
 *
 *   RUNNING        a worker is polling the future (or cancelling it) right now, or the task
 *                  yielded and waits in a queue with its claim kept
 *   COMPLETE       the future is gone and the output (or cancellation) is published
 *   NOTIFIED       a notification exists: the task is in a run queue, about to be, or (while
 *                  RUNNING) will be re-queued when the poll returns
 *   CANCELLED      abort was requested; with COMPLETE: the task ended cancelled
 *   JOIN_INTEREST  a handle exists and may want the output
 *   JOIN_WAKER     join_waker belongs to the task side (the completer reads it); while clear,
 *                  the handle side may write it
 *   JOINED         the handle already took the result (so a second join reports -EALREADY)
 *   PINNED         a local task: runs only on its home worker (`owner`), never stolen
 *   SHIELDED       an abort is deferred: the future is polled on rather than dropped (a
 *                  coroutine in a scope waits for its tasks); CANCELLED takes effect once cleared.
 *                  A future's drop that returns with SHIELDED set did not drop it (a coroutine
 *                  being cancelled entered a shielded wait): the task is polled on until it
 *                  unshields, and is then dropped again
 *   RT_REF         the task holds a reference to its runtime, dropped when the task is freed:
 *                  blocking calls (so their handles can be joined after a shutdown that left
 *                  them running), and tasks a bounded shutdown left unfinished
 *
 * References: one per waker clone, one for the handle, one for the scheduler (held from spawn
 * until completion, so an idle task nobody wakes stays alive for shutdown to cancel) and one
 * for the notification (held by whichever queue or worker has the task).
 * The task is freed when the count reaches zero; until then any waker may touch it. A wake only
 * schedules when it sets NOTIFIED on an idle task, so a task is never queued twice.
 */
#ifndef EDO_CORE_TASK_H
#define EDO_CORE_TASK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edo/future.h"
#include "platform/list.h"
#include "platform/tls.h"

enum {
    EDO__RUNNING = 1u << 0,
    EDO__COMPLETE = 1u << 1,
    EDO__NOTIFIED = 1u << 2,
    EDO__CANCELLED = 1u << 3,
    EDO__JOIN_INTEREST = 1u << 4,
    EDO__JOIN_WAKER = 1u << 5,
    EDO__JOINED = 1u << 6,
    EDO__PINNED = 1u << 7, /* runs only on worker `owner` (set at spawn, never changes) */
    EDO__SHIELDED = 1u << 8, /* an abort does not drop the future: it is polled on (a scope
                                waits for its tasks; set and cleared by the task itself) */
    EDO__RT_REF = 1u << 9,   /* holds a runtime reference until freed (see above) */
};
#define EDO__REF_SHIFT 10
#define EDO__REF_ONE ((uint64_t)1 << EDO__REF_SHIFT)
#define EDO__NO_OWNER UINT16_MAX
#define EDO__REF_COUNT(s) ((s) >> EDO__REF_SHIFT)

typedef struct edo__task edo__task;

struct edo__task {
    _Atomic uint64_t state;
    struct edo_runtime *rt;
    edo__task *_Atomic next;           /* link in the global or blocking queue */
    uint64_t id;
    uint32_t owned_slot; /* its slot in the owner's owned table, under that table's lock */
    uint16_t owner;      /* index of the worker whose owned table has it, or EDO__NO_OWNER */
    uint16_t size_class; /* of the block the task lives in (alloc.h) */
    edo_waker join_waker; /* see JOIN_WAKER */
    union {
        struct edo__task_locals *locals; /* until completion: task-local values */
        void *output;                    /* from completion: written before COMPLETE */
    };
    edo_future future;    /* must stay last: the rest of the user's future follows */
};

/* Queue links, for queues that order access themselves (a lock, or their own atomics). */
static inline edo__task *edo__task_next(edo__task *t)
{
    return atomic_load_explicit(&t->next, memory_order_relaxed);
}
static inline void edo__task_set_next(edo__task *t, edo__task *next)
{
    atomic_store_explicit(&t->next, next, memory_order_relaxed);
}

/* Allocates a task holding a copy of `future` (`size` bytes), with references for the
 * scheduler, the first notification, and, when `with_handle`, the handle. */
edo__task *edo__task_new(struct edo_runtime *rt, const edo_future *future, size_t size,
                         uint64_t id, bool with_handle, bool pinned);
static inline bool edo__task_is_pinned(edo__task *t)
{
    return atomic_load_explicit(&t->state, memory_order_relaxed) & EDO__PINNED;
}

/* Destroys the task's task-local values (task_local.c); called once, at completion. */
void edo__task_locals_destroy(edo__task *t);

/* Shields (on) or unshields the task being polled on this thread: while shielded, an abort
 * wakes it instead of dropping its future (see EDO__SHIELDED). */
void edo__task_shield_current(bool on);
/* Called by a future's drop function, while its task is being cancelled: `output` becomes the
 * cancelled task's output, which the handle is given with -ECANCELED instead of losing it (a
 * coroutine that returned a value while it unwound). */
void edo__task_set_cancelled_output(void *output);
/* The waker of the task being polled or dropped on this thread (borrowed: the run holds a
 * reference; clone to keep), or a no-op waker outside a task. */
edo_waker edo__task_current_waker(void);
/* True when the task being polled on this thread has been aborted. */
bool edo__task_current_abort_requested(void);
/* Set when the task being polled on this thread wakes itself (a yield): the poller re-queues
 * it after the poll without a write to the shared state word. Saved and cleared by every poll
 * (edo__task_poll_begin), read by its end; outside task.c only edo__task_wake_current sets it. */
extern _Thread_local EDO__TLS_HOT bool edo__task_self_woken;
/* The task being polled on this thread wakes itself (a yield): what its own waker's
 * wake_by_ref does then, without the waker's two calls. Only during a task's poll: in the poll,
 * or in a coroutine it resumed before that suspends (the thread-local's address is this
 * thread's then). Inline, so that a yield makes no call for it (and saves no registers). */
static inline void edo__task_wake_current(void) { edo__task_self_woken = true; }

/* Frees a task that edo__task_new made but that was never scheduled (a refused spawn). */
void edo__task_free_unspawned(edo__task *t);
/* Makes the task hold a reference to its runtime until it is freed (RT_REF), unless it does
 * already. The task must be alive (the caller holds a reference or a lock that keeps it). */
void edo__task_hold_runtime(edo__task *t);

/* One poll of a task, on the poller's stack: the context handed to the future and what
 * edo__task_poll_begin saved of the thread's state. */
typedef struct edo__task_poll {
    edo_waker waker; /* borrowed: the run holds a reference */
    edo_context cx;
    void *out;
    edo__task *outer; /* the thread's current task before this poll */
    bool outer_self_woken;
} edo__task_poll;

/* The two halves of edo__task_run around the future's poll. begin claims the task and makes it
 * the thread's current task; false: nothing to poll (it had completed, or it was cancelled and
 * is now complete). end takes the poll's result; see edo__task_run for its own. */
/* What a poll left to do with the task (edo__task_run's result). */
typedef enum edo__run_result {
    EDO__RUN_DONE = 0,    /* nothing: it completed, or waits for a wake (which queues it) */
    EDO__RUN_REQUEUE = 1, /* woken by another during its poll: queue it again */
    EDO__RUN_YIELDED = 2, /* it woke itself (a yield, or its coop budget ran out): queue it
                             after what is already waiting, timers and I/O included */
} edo__run_result;

bool edo__task_poll_begin(edo__task *t, uint32_t *budget, edo__task_poll *p);
edo__run_result edo__task_poll_end(edo__task *t, edo_poll result, edo__task_poll *p);

/* Polls the task once, holding the notification reference popped from a queue. Returns
 * nonzero when the task must be queued again (see edo__run_result): the caller then still
 * holds the notification and queues it. `budget` is the cooperative budget for this poll.
 *
 * Inline, so the future's poll is called from the scheduler loop itself: a coroutine's poll
 * switches stacks and returns by a tail call of the switch (coro.c), straight to the
 * instruction after this call, so the loop goes on without returning through frames the
 * coroutine's calls have displaced from the CPU's return-address predictor. */
static inline edo__run_result edo__task_run(edo__task *t, uint32_t *budget)
{
    edo__task_poll p;
    if (!edo__task_poll_begin(t, budget, &p))
        return EDO__RUN_DONE;
    edo_poll result = t->future.vtable->poll(&t->future, &p.cx, &p.out);
    return edo__task_poll_end(t, result, &p);
}

/* Sets CANCELLED and, when the task is idle, queues it so a worker drops its future. */
void edo__task_abort(edo__task *t);

/* Drops the notification reference of a task that will not be run (shutdown drain). */
void edo__task_drop_notification(edo__task *t);

void edo__task_ref_dec(edo__task *t);

/* The task being polled on this thread, or NULL. Not inlined, so that code that later becomes
 * a migrating coroutine never caches the thread-local's address across a suspension. */
edo__task *edo__task_current(void);

#endif
