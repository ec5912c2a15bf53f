/* The runtime's internals, shared by the files of src/core. */
#ifndef EDO_CORE_RUNTIME_H
#define EDO_CORE_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "edo/runtime.h"
#include "core/batch.h"
#include "core/idle.h"
#include "core/park.h"
#include "core/queue.h"
#include "core/task.h"
#include "coro/coro.h"
#include "platform/parker.h"
#include "platform/spinlock.h"
#include "io/driver.h"
#include "time/timers.h"

#define EDO__CACHE_LINE 64
#define EDO__COOP_BUDGET 128u
#define EDO__MAX_LIFO_POLLS 16u /* run-next polls in a row (see ARCHITECTURE.md) */
#define EDO__SPIN_ROUNDS 256u /* polls of the queues before a worker sleeps */
#define EDO__ID_BLOCK 256u /* task ids a worker reserves at a time */
#define EDO__MAINTENANCE_TARGET_NS 200000u /* how often a busy worker looks at timers, I/O and
                                              the global queue (at most every
                                              global_queue_interval polls) */
#define EDO__MAINTENANCE_SHARE 10u /* ... but spending at most about a tenth of its time there */
#define EDO__YIELD_WAIT_NS 1000000u /* longest a yielded task waits on a worker that never runs
                                       dry (see unstarve_yielders) */

/* A worker's table of the tasks it polled first and that have not completed (owned.c): a
 * growable array of slots, each a task or (low bit set) the index of the next free slot. */
typedef struct edo__owned_list {
    _Alignas(EDO__CACHE_LINE) edo__spinlock lock;
    uintptr_t *slots;
    uint32_t cap, free; /* free: the first free slot, or cap when none */
    size_t count;
} edo__owned_list;

typedef struct edo__worker {
    _Alignas(EDO__CACHE_LINE) edo__local_queue queue;
    edo__task *lifo;      /* run next: the task this worker's last poll woke */
    bool lifo_enabled;    /* off after EDO__MAX_LIFO_POLLS in a row, so the queue moves */
    bool searching;
    uint32_t tick;        /* polls so far: the pinned queue and the ring take turns by it */
    /* Yielded tasks, in order: after the next maintenance they become `resumed`, so they run
     * after everything that was waiting, timers and I/O included. Resumed tasks go into the
     * ring (where others can steal them) as it has room: not beyond, so a round of yields
     * never spills into the global queue. */
    edo__task_fifo deferred, resumed;
    uint64_t yielders_since; /* when a maintenance first found yielded tasks waiting (0: none) */
    /* Maintenance (timers, I/O, the global queue) comes every `maintenance_interval` polls,
     * tuned so that it comes about every EDO__MAINTENANCE_TARGET_NS whatever a poll costs. */
    uint32_t maintenance_tick;     /* `tick` at the last maintenance */
    uint32_t global_turn;          /* the maintenance's single pop alternates between the
                                      global queue's parts */
    uint32_t maintenance_interval;
    uint64_t batch_start;          /* clock at the end of the last maintenance; 0 after idling */
    uint64_t poll_ns;              /* smoothed mean time of a poll */
    uint64_t maintenance_ns;       /* smoothed time a maintenance takes */
    uint64_t rng;         /* picks the first steal victim */
    uint64_t next_id, id_limit; /* block of task ids reserved by this worker */
    edo__parker *parker;
    struct edo_runtime *rt;
    unsigned index;
    pthread_t thread;
    bool started;
    edo__owned_list owned;
    edo__inject pinned; /* tasks only this worker may run; any thread pushes */
    edo__io_ready *io_events; /* [EDO__IO_EVENTS]: what edo__io_wait took, to dispatch */
    edo__stack *stack_cache; /* coroutine stacks at hand (default size) */
    unsigned nstack_cache;
    /* The completion ring this worker published SQEs to without entering it (NULL: none), so
     * that the SQEs of a turn's tasks go in together; entered by edo__worker_flush_io. */
    struct edo__cring *unentered;
    bool flushing; /* in edo__worker_flush_io: the steps its reaps run publish too */
} edo__worker;

/* Blocking pool: threads for blocking functions, started on demand up to a cap and retired
 * after an idle keep-alive. */
typedef struct edo__blocking_pool {
    pthread_mutex_t lock;
    pthread_cond_t work;     /* signalled on new work and on shutdown */
    pthread_cond_t all_gone; /* signalled when the last thread exits after shutdown */
    edo__task *head, *tail;
    unsigned nthreads, nidle, max_threads;
    unsigned nnotified;  /* idle threads signalled for a pushed call and not yet awake */
    unsigned nrunning;   /* threads running a call */
    unsigned nexiting;   /* retired or stopping threads still running their exit path */
    unsigned next_index; /* names threads b0, b1, ... */
    uint64_t keep_alive_ns;
    bool shutdown;
    bool closed; /* a bounded shutdown left calls running: exiting threads run what their
                    calls woke (edo__runtime_drain_late) */
} edo__blocking_pool;

struct edo_runtime {
    edo_runtime_config config;
    char thread_name[11];
    unsigned nworkers; /* 1 for current-thread: worker 0, driven by edo_block_on */
    edo__worker *workers;
    edo__global_queue global;
    edo__idle idle;
    bool tune_interval; /* global_queue_interval was left to the runtime: tune it per worker */
    edo__blocking_pool blocking;
    edo__batch_queue batch; /* small blocking jobs run several per pool call (batch.c) */
    edo__stack_pool stacks;
    edo__park park; /* who sleeps in the drivers (park.c) */
    edo__timers timers;
    edo__io_driver io;
    _Atomic uint64_t next_id;
    /* The owner's reference (until it shuts the runtime down), handles (edo_runtime_ref), live
     * blocking-pool threads, and tasks with RT_REF (task.h). The last one frees the memory. */
    _Atomic size_t refs;
    bool released; /* the resources are freed (release_resources): only the struct is left */
    _Atomic bool shutdown;
    _Atomic bool owner_done; /* the owner's shutdown has begun: a second one is refused, and
                                the owner's reference is no longer counted among the refs */
    _Atomic unsigned remote_in_flight; /* spawns and wakes from plain threads still touching
                                          the runtime; shutdown waits for them */

    /* current-thread flavour: one thread at a time drives worker 0 */
    pthread_mutex_t driver_lock;
    bool driver_taken;
    struct edo__signal *driver_waiters; /* block_on callers waiting to drive */
};

/* A refcounted wake target for threads blocked in edo_block_on / edo_task_join. */
typedef struct edo__signal {
    _Atomic uint32_t refs;
    _Atomic bool woken;
    edo__parker *parker;
    struct edo__signal *next_waiter; /* in rt->driver_waiters, under driver_lock */
} edo__signal;

/* ---- thread-locals (accessors are not inlined: see task.h) ---- */
edo__worker *edo__worker_current(void);
void edo__worker_set_current(edo__worker *w);
edo_runtime *edo__runtime_entered(void);
void edo__runtime_set_entered(edo_runtime *rt);

/* ---- scheduling (worker.c) ---- */
/* Queues a notified task. `is_yield`: it woke itself while running, so it goes to the back of
 * the queue rather than the run-next slot. */
void edo__schedule(edo__task *t, bool is_yield);
/* Runs a task away from the workers (blocking pool, shutdown), re-queueing it if it asks. */
static inline void edo__task_run_detached(edo__task *t)
{
    if (edo__task_run(t, NULL))
        edo__schedule(t, true);
}
/* Cancels a queued task on the spot (shutdown, a closed blocking pool): the caller holds its
 * notification; abort flags it, and the run drops its future without polling it. */
static inline void edo__task_cancel_queued(edo__task *t)
{
    edo__task_abort(t);
    edo__task_run_detached(t);
}
/* Queues a newly spawned task; `w` is the calling thread's worker of the task's runtime, or NULL
 * (not one). False (nothing queued) when the runtime is shutting down. */
bool edo__spawn_schedule(struct edo__worker *w, edo__task *t);
/* Spawns `future` on `rt`; `pinned`: a local task of the calling worker (see task.h). */
int edo__spawn(edo_runtime *rt, edo_future *future, size_t size, edo_task **out, bool pinned);
void *edo__worker_main(void *arg);
/* Current-thread flavour: runs up to `max` queued tasks on `w`; returns how many ran. */
unsigned edo__worker_run_some(edo__worker *w, unsigned max);
/* Parks `w` until notified, or until `sig` (may be NULL) is woken, or shutdown. */
void edo__worker_park(edo__worker *w, edo__signal *sig);
uint64_t edo__worker_next_id(edo__worker *w);

/* ---- owned tables (owned.c) ---- */
void edo__owned_insert(struct edo__worker *w, edo__task *t);
/* Takes `t` off its list, if it is on one. */
void edo__owned_remove(edo__task *t);
/* Aborts every task still in the lists; returns how many there were. */
size_t edo__owned_abort_all(edo_runtime *rt);
/* Makes every task still in the lists hold a runtime reference (a shutdown leaves them). */
void edo__owned_hold_runtime(edo_runtime *rt);

/* ---- blocking pool (blocking.c) ---- */
int edo__blocking_init(edo__blocking_pool *p, unsigned max_threads, uint64_t keep_alive_ns);
void edo__blocking_push(edo_runtime *rt, edo__task *t);
extern const edo_future_vtable edo__blocking_vtable;
static inline bool edo__blocking_is_task(const edo__task *t)
{
    return t->future.vtable == &edo__blocking_vtable;
}
/* Stops pool threads from starting queued calls (running ones go on). */
void edo__blocking_close(edo_runtime *rt);
/* Closes the pool, waits for running calls and for every pool thread to exit, until `deadline`
 * (edo__clock_ns; UINT64_MAX: no limit), then cancels the calls still queued. Returns false
 * when calls were still running at the deadline: they go on, and so does every thread still
 * there (those only exiting too), each holding a runtime reference until it exits. */
bool edo__blocking_shutdown(edo_runtime *rt, uint64_t deadline);
/* After a shutdown that left calls running: their threads, as they exit, run the tasks their
 * calls woke (edo__runtime_drain_late). */
void edo__blocking_set_closed(edo_runtime *rt);
void edo__blocking_destroy(edo__blocking_pool *p);
/* The drop_output of a blocking call's task (edo_blocking_options), or NULL: for an output no
 * handle takes. Valid after the task's future was dropped. */
void (*edo__blocking_output_drop(const edo__task *t))(void *output);
/* True while a blocking call is queued or running (the paused clock does not jump then). */
bool edo__blocking_busy(edo_runtime *rt);
/* True when a call spawned now would wait for a thread: none idle and no room for another. */
bool edo__blocking_full(edo_runtime *rt);

/* ---- runtime threads and shutdown (runtime.c) ---- */
/* After a shutdown that left something behind: cancels (runs in cancel mode) the tasks queued
 * since, on the calling thread, until none is left. Only the queues that any thread may pop
 * (the global and pinned queues: the only ones scheduling reaches without workers). */
void edo__runtime_drain_late(edo_runtime *rt);

/* Registers `fd`, a connected stream socket edo made (connected, accepted, or of a pair), with
 * `rt`'s driver (edo__io_register_stream: received by completion where the backend can): 0,
 * -EINVAL (NULL rt or out, negative fd), or edo_io_register's errors. core/io.c. */
int edo__runtime_register_stream(edo_runtime *rt, int fd, edo_io **out);
/* Registers `fd`, a stream socket edo is connecting, with `rt`'s driver
 * (edo__io_register_connecting: its receive by completion armed once connected,
 * edo__io_stream_connected): errors as edo__runtime_register_stream. core/io.c. */
int edo__runtime_register_connecting(edo_runtime *rt, int fd, edo_io **out);
/* Registers `fd`, a listening stream socket edo made, with `rt`'s driver
 * (edo__io_register_listener: accepted by completion where the backend can): errors as
 * edo__runtime_register_stream. core/io.c. */
int edo__runtime_register_listener(edo_runtime *rt, int fd, edo_io **out);

/* The completion ring (io/uring/completions.h) the calling thread submits to on `rt` (its
 * worker's own, or the one of the threads that are not workers), or NULL where it has none
 * (NULL rt, another backend, no io_uring): operations then take the blocking pool. core/io.c. */
struct edo__cring *edo__runtime_cring(edo_runtime *rt);
/* Whether the calling thread should reap `r` itself when a task it polls waits for a completion
 * there: a thread that is not a worker of r's runtime does, and a worker does on its own ring
 * only.
 * A worker reaping another's ring runs the next steps of that ring's calls and submits them
 * there, taking the ring's kernel mutex against its owner (io_uring runs the completions'
 * task work on the submitting thread, under that mutex too): with 2 workers that contention
 * doubled fs_read_small's CPU in some runs. The owner reaps it at its next turn. core/io.c. */
bool edo__runtime_cring_may_reap(const struct edo__cring *r);
/* The completion ring of the calling thread's worker when it is a worker of `rt`, else NULL
 * (another thread, another backend, no io_uring): for operations that only a worker's turn
 * should batch, and that take another way elsewhere (a stream socket's sends). core/io.c. */
struct edo__cring *edo__runtime_worker_cring(edo_runtime *rt);
/* The deadline that an operation started now on `rt` should carry into the kernel as a linked
 * timeout (edo__cring_link_deadline), on the system's CLOCK_MONOTONIC: the calling coroutine's
 * (edo_deadline_push, edo_timeout), or EDO_INSTANT_NEVER where there is none to link: not in a
 * coroutine, no deadline, a shield open (edo__await_shielded: its wait ignores the deadline), or
 * a paused clock (its time is not the kernel's; the timer wheel alone ends the wait there).
 * A few instructions where no deadline is set. core/io.c. */
uint64_t edo__runtime_op_deadline(edo_runtime *rt);
/* Submits what the caller queued on `r` (locked: edo__cring_lock) and unlocks. A thread that
 * is not a worker of `rt` on its own ring enters at once (edo__cring_submit_unlock). A worker
 * with other tasks to run (or in edo__worker_flush_io) only publishes the SQEs
 * (edo__cring_publish_unlock), and enters later for every task of its turn at once: when its
 * queues run dry, at its next maintenance, before it parks and when it stops. A worker with
 * nothing else to run enters now, through edo__worker_flush_io. The CQEs may be reaped, and
 * their records freed, in here. core/io.c. */
void edo__runtime_cring_submit_unlock(edo_runtime *rt, struct edo__cring *r);
/* Enters the ring `w` published to without entering, and reaps (the tasks it completes are
 * woken into w's queues). Returns whether it entered. core/io.c. */
bool edo__worker_flush_io(edo__worker *w);

void edo__thread_enter(edo_runtime *rt, const char *kind, unsigned index);
void edo__thread_leave(edo_runtime *rt);

/* ---- signals (signal.c) ---- */
edo__signal *edo__signal_new(edo__parker *parker); /* takes a parker reference */
/* A signal around a parker of its own (for a thread that waits without driving), or NULL. */
edo__signal *edo__signal_new_own(void);
void edo__signal_unref(edo__signal *s);
edo_waker edo__signal_waker(edo__signal *s); /* borrowed: clone to keep */

edo__parker *edo__parker_new(void);
void edo__parker_ref(edo__parker *p);
void edo__parker_unref(edo__parker *p);

#endif
