/* edo/sync.h — synchronisation between tasks: semaphore (and owned permits), mutex, rwlock,
 * barrier, once-cell, notify, cancellation tokens, and the channels: oneshot, mpsc, watch and
 * broadcast. docs/sync.md has a page per primitive.
 *
 * Waiting suspends the task, never the thread; waiters are served first come, first served.
 * Each wait has a coroutine form (a call that suspends, honouring the coroutine's deadline and
 * cancellation) and a future form (for future tasks). Cancelling a wait (the task is aborted,
 * the deadline passes, the future is dropped) never loses permits: permits a cancelled waiter
 * had already been given go to the next waiter.
 *
 *     edo_mutex *m;
 *     edo_mutex_new(&m);
 *     ...
 *     if (edo_mutex_lock(m) == 0) {       // suspends while another task holds it
 *         shared_counter++;               // (may suspend here too: the lock is the task's)
 *         edo_mutex_unlock(m);
 *     }
 *
 * These are for tasks; from plain threads the coroutine forms are not available (-EPERM), but
 * edo_block_on works with the future forms, and the channels and the semaphore have blocking
 * forms (the *_blocking functions at the end) for threads outside the runtime.
 */
#ifndef EDO_SYNC_H
#define EDO_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "edo/future.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Semaphore
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_semaphore edo_semaphore;

/* Most permits a semaphore holds. */
#define EDO_SEMAPHORE_MAX_PERMITS ((size_t)1 << 60)

/* Creates a semaphore with `permits` permits (0 is allowed: permits come with releases).
 * Returns 0, -EINVAL (out NULL, permits above EDO_SEMAPHORE_MAX_PERMITS), -ENOMEM.
 * Thread-safe. */
int edo_semaphore_new(size_t permits, edo_semaphore **out);
/* Drops the creator's reference to `s`: its memory goes now, or when the last owned permit
 * (edo_permit) and owned acquire future holding it are done. No task may be waiting on it with
 * a plain acquire. NULL is a no-op. Thread-safe. */
void edo_semaphore_free(edo_semaphore *s);
/* Inside a coroutine: takes `n` permits, waiting (in FIFO order) until they are available.
 * Returns 0, or -EINVAL (s NULL, n 0 or above the maximum), -ESHUTDOWN (closed), -ECANCELED,
 * -ETIMEDOUT (the coroutine's deadline), -EPERM (not in a coroutine). Suspends. */
int edo_semaphore_acquire(edo_semaphore *s, size_t n);
/* Takes `n` permits if they are available now and nobody waits before us. Returns 0, -EAGAIN
 * (not now), -EINVAL (s NULL, n 0 or above the maximum), -ESHUTDOWN. Never suspends;
 * thread-safe. */
int edo_semaphore_try_acquire(edo_semaphore *s, size_t n);
/* Returns `n` permits (to the waiters first, in order). Returns 0 (n 0: nothing is released), or
 * -EINVAL (s NULL, or the total would exceed EDO_SEMAPHORE_MAX_PERMITS; nothing is released).
 * Never suspends; thread-safe. */
int edo_semaphore_release(edo_semaphore *s, size_t n);
/* Closes `s`: waiting and later acquires fail with -ESHUTDOWN; release still works. NULL is a
 * no-op. Never suspends; thread-safe. */
void edo_semaphore_close(edo_semaphore *s);
/* Permits available now (0 when closed, and for NULL). Never suspends; thread-safe. */
size_t edo_semaphore_available(const edo_semaphore *s);

/* The future form of edo_semaphore_acquire. Initialise, poll until EDO_READY, read `result`
 * (0: the permits are yours; or -ESHUTDOWN; -EINVAL at the first poll for s NULL, n 0 or above
 * EDO_SEMAPHORE_MAX_PERMITS), drop. Dropping it before it is ready gives back what it had been
 * given. Must not move once polled. The init functions of every future in this header do
 * nothing when `f` is NULL, and never suspend. */
typedef struct edo_semaphore_acquire_future {
    edo_future base;
    int result;
    uint64_t private_[10];
} edo_semaphore_acquire_future;
void edo_semaphore_acquire_future_init(edo_semaphore_acquire_future *f, edo_semaphore *s,
                                       size_t n);

/* ---------------------------------------------------------------------------------------------
 * Mutex: a semaphore of one permit. Fair: the lock goes to waiters in the order they came. The
 * lock belongs to no thread, so the task holding it may suspend and move between workers.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_mutex edo_mutex;

/* Creates an unlocked mutex. Returns 0, -EINVAL (out NULL), -ENOMEM. Thread-safe. */
int edo_mutex_new(edo_mutex **out);
/* Frees `m`; it must be unlocked with nobody waiting. NULL is a no-op. */
void edo_mutex_free(edo_mutex *m);
/* Inside a coroutine: locks `m`, waiting for it. Returns 0, -EINVAL (m NULL), -ECANCELED,
 * -ETIMEDOUT, -EPERM (not in a coroutine). Suspends. Thread-safe. */
int edo_mutex_lock(edo_mutex *m);
/* Locks `m` if it is free now. Returns 0, -EAGAIN (held, or others wait), -EINVAL (m NULL).
 * Never suspends; thread-safe. */
int edo_mutex_try_lock(edo_mutex *m);
/* Unlocks `m`, handing it to the first waiter. The lock must be held by the caller's task (not
 * checked); unlocking a mutex that is not locked while nobody waits for it is caught. Returns 0
 * or -EINVAL (m NULL, or m not locked: nothing changes). Never suspends; thread-safe. */
int edo_mutex_unlock(edo_mutex *m);
/* The future form of edo_mutex_lock (an acquire of the mutex's one permit; result -EINVAL for
 * a NULL m). */
void edo_mutex_lock_future_init(edo_semaphore_acquire_future *f, edo_mutex *m);

/* ---------------------------------------------------------------------------------------------
 * RwLock: many readers or one writer, fair, writer-preferring.
 *
 * Lockers are served in the order they came: a writer waiting for the readers inside to leave
 * holds back the readers that come after it, so a steady stream of readers cannot starve it,
 * and the readers queued behind a writer get in together once it unlocks. The lock belongs to
 * no thread: a holder may suspend and move between workers. Cancelling a wait (abort, deadline,
 * dropped future) never leaves the lock held and lets whoever queued behind the cancelled
 * locker proceed.
 *
 *     if (edo_rwlock_read_lock(table_lock) == 0) {    // many readers at once
 *         entry = lookup(table, key);
 *         edo_rwlock_read_unlock(table_lock);
 *     }
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_rwlock edo_rwlock;

/* Readers admitted at once when edo_rwlock_new is given 0. */
#define EDO_RWLOCK_DEFAULT_MAX_READERS ((size_t)1 << 30)

/* Creates a lock admitting at most `max_readers` readers at once (0: the default; further
 * readers wait). Returns 0, -EINVAL (out NULL, max_readers above EDO_SEMAPHORE_MAX_PERMITS),
 * -ENOMEM. Thread-safe. */
int edo_rwlock_new(size_t max_readers, edo_rwlock **out);
/* Frees `rw`; it must be unlocked with nobody waiting. NULL is a no-op. */
void edo_rwlock_free(edo_rwlock *rw);
/* Inside a coroutine: takes a read lock, waiting while a writer holds the lock or waits before
 * us. Returns 0, -EINVAL (rw NULL), -ECANCELED, -ETIMEDOUT, -EPERM (not in a coroutine).
 * Suspends. */
int edo_rwlock_read_lock(edo_rwlock *rw);
/* Takes a read lock if that needs no wait (no writer holds it or waits). Returns 0, -EAGAIN,
 * -EINVAL. Never suspends; thread-safe. */
int edo_rwlock_try_read_lock(edo_rwlock *rw);
/* Releases a read lock held by the caller (not checked). Returns 0 or -EINVAL (rw NULL, or
 * no lock was held: caught while nobody waits; nothing changes). Never suspends; thread-safe. */
int edo_rwlock_read_unlock(edo_rwlock *rw);
/* Inside a coroutine: takes the write lock, waiting until the readers and writer inside have
 * left and those queued before us have had their turn. Returns 0, -EINVAL, -ECANCELED,
 * -ETIMEDOUT, -EPERM. Suspends. */
int edo_rwlock_write_lock(edo_rwlock *rw);
/* Takes the write lock if it is free now and nobody waits. Returns 0, -EAGAIN, -EINVAL. Never
 * suspends; thread-safe. */
int edo_rwlock_try_write_lock(edo_rwlock *rw);
/* Releases the write lock held by the caller (not checked). Returns 0 or -EINVAL (rw NULL, or
 * the write lock was not held: caught while nobody waits; nothing changes). Never suspends;
 * thread-safe. */
int edo_rwlock_write_unlock(edo_rwlock *rw);
/* Turns the caller's write lock into a read lock, atomically (no writer can get in between),
 * and lets the readers queued at the front in with it; a writer queued at the front waits for
 * the caller's read_unlock. Returns 0 or -EINVAL (rw NULL, or the write lock was not held:
 * caught while nobody waits, and not for a lock of one reader; nothing changes). Never
 * suspends; thread-safe. */
int edo_rwlock_write_downgrade(edo_rwlock *rw);
/* The future forms of the read and write locks: acquire futures of the lock's semaphore
 * (result 0: the lock is yours; -EINVAL for a NULL rw). Dropping one before it is ready takes
 * nothing and passes on what it had been given. */
void edo_rwlock_read_lock_future_init(edo_semaphore_acquire_future *f, edo_rwlock *rw);
void edo_rwlock_write_lock_future_init(edo_semaphore_acquire_future *f, edo_rwlock *rw);

/* ---------------------------------------------------------------------------------------------
 * Owned permits: permits of a semaphore held as a value that can move between tasks.
 *
 * An edo_permit records its semaphore and how many permits it holds, and keeps that semaphore
 * alive: the semaphore is reference-counted, edo_semaphore_free drops only its creator's
 * reference, and its memory goes when the last permit holding it is released or forgotten.
 * A permit is released exactly once: edo_permit_release empties it, so releasing it again is a
 * no-op. It is a plain value: to hand it to another task, copy it there and empty the original
 * (`*p = EDO_PERMIT_EMPTY`); never release two copies of one permit.
 *
 *     edo_permit p;
 *     if (edo_semaphore_acquire_owned(limit, 1, &p) == 0) {
 *         job->permit = p;                     // the job releases it when it finishes
 *         edo_spawn_detached(run_job, job);
 *     }
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_permit {
    edo_semaphore *sem; /* NULL when empty */
    size_t n;           /* permits held; 0 when empty */
} edo_permit;

/* A permit holding nothing (releasing or forgetting it is a no-op). */
#define EDO_PERMIT_EMPTY ((edo_permit){NULL, 0})

/* Inside a coroutine: takes `n` permits like edo_semaphore_acquire and stores them in *out.
 * While it waits it keeps `s` alive. On failure *out is EDO_PERMIT_EMPTY. Returns 0, or
 * -EINVAL (s or out NULL, n 0 or above the maximum), -ESHUTDOWN (closed), -ECANCELED,
 * -ETIMEDOUT (the coroutine's deadline), -EPERM (not in a coroutine). Suspends. */
int edo_semaphore_acquire_owned(edo_semaphore *s, size_t n, edo_permit *out);
/* Takes `n` permits into *out if they are available now and nobody waits before us. On failure
 * *out is EDO_PERMIT_EMPTY. Returns 0, -EAGAIN (not now), -EINVAL, -ESHUTDOWN. Never suspends;
 * thread-safe. */
int edo_semaphore_try_acquire_owned(edo_semaphore *s, size_t n, edo_permit *out);
/* Gives the permits back to their semaphore (to its waiters first), drops the permit's
 * reference to it and empties *p. NULL or empty: no-op. Never suspends; thread-safe for
 * distinct permits. */
void edo_permit_release(edo_permit *p);
/* Moves `k` of p's permits into a new permit *out (same semaphore; taking all of them leaves
 * *p empty). Returns 0, or -EINVAL (p or out NULL, p == out, k 0 or above p->n; nothing
 * changes). Never suspends. */
int edo_permit_split(edo_permit *p, size_t k, edo_permit *out);
/* Moves every permit of *from into *into and empties *from. An empty side always merges.
 * Returns 0, or -EINVAL (NULL, into == from, different semaphores, or the sum above
 * EDO_SEMAPHORE_MAX_PERMITS; nothing changes). Never suspends. */
int edo_permit_merge(edo_permit *into, edo_permit *from);
/* Empties *p without giving its permits back: the semaphore has that many fewer for good (a
 * way to shrink it). Drops the reference. NULL or empty: no-op. Never suspends. */
void edo_permit_forget(edo_permit *p);

/* The future form of edo_semaphore_acquire_owned. Initialise, poll until EDO_READY, read
 * `result` (0: `permit` holds the permits, yours to move and release; or -ESHUTDOWN, -EINVAL),
 * drop. From init to drop it keeps the semaphore alive. Dropping it before it is ready gives
 * back what it had been given; dropping it after leaves `permit` alone. Must not move once
 * polled. */
typedef struct edo_semaphore_acquire_owned_future {
    edo_future base;
    int result;
    edo_permit permit;
    uint64_t private_[14];
} edo_semaphore_acquire_owned_future;
void edo_semaphore_acquire_owned_future_init(edo_semaphore_acquire_owned_future *f,
                                             edo_semaphore *s, size_t n);

/* ---------------------------------------------------------------------------------------------
 * Barrier: `n` tasks wait for each other.
 *
 * The n-th arrival releases the n-1 waiting before it and is told it is the leader (exactly one
 * per round); the barrier is then ready for the next round (a new generation). Cancellation: a
 * waiter cancelled (abort, deadline, dropped future) before its round completes withdraws its
 * arrival, so the round still needs n live arrivals; a waiter whose round completed before the
 * cancel has passed: its arrival counts, and edo_barrier_wait returns 0 for it.
 *
 *     int rc = edo_barrier_wait(step_done);         // every worker of the round
 *     if (rc == EDO_BARRIER_LEADER)
 *         publish_step();                          // one of them
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_barrier edo_barrier;

/* What the leader's wait returns: the arrival that completed its round. */
#define EDO_BARRIER_LEADER 1

/* Creates a barrier for rounds of `n` tasks (n 1: every wait leads at once). Returns 0,
 * -EINVAL (out NULL, n 0), -ENOMEM. Thread-safe. */
int edo_barrier_new(size_t n, edo_barrier **out);
/* Frees `b`; nobody may be waiting. NULL is a no-op. */
void edo_barrier_free(edo_barrier *b);
/* Inside a coroutine: arrives and waits until `n` tasks have arrived in this round. Returns
 * EDO_BARRIER_LEADER (the n-th arrival: it never waits), 0 (released), or -ECANCELED /
 * -ETIMEDOUT (the arrival was withdrawn), -EINVAL (b NULL), -EPERM (not in a coroutine; no
 * arrival). Suspends. Thread-safe. */
int edo_barrier_wait(edo_barrier *b);

/* The future form of edo_barrier_wait: it arrives on its first poll and is ready, with
 * `result` EDO_BARRIER_LEADER or 0 (-EINVAL for a NULL barrier), once its round completes.
 * Dropping it before it is ready withdraws the arrival unless its round had completed. Must
 * not move once polled. */
typedef struct edo_barrier_wait_future {
    edo_future base;
    int result;
    uint64_t private_[8];
} edo_barrier_wait_future;
void edo_barrier_wait_future_init(edo_barrier_wait_future *f, edo_barrier *b);

/* ---------------------------------------------------------------------------------------------
 * Once-cell: a value (a pointer) set at most once, initialised lazily by whoever needs it first.
 *
 * edo_once_cell_get_or_init returns the value, running `init` to make it if it is not set: one
 * caller at a time runs init (which may suspend) while the others wait in line. If init fails,
 * or its caller is cancelled, the turn goes to the next waiter, which runs its own init; once
 * one succeeds every waiter gets that value. So init succeeds at most once and nobody waits
 * forever. The cell never frees the value itself: edo_once_cell_free hands it to a destructor.
 *
 *     static int connect_db(void *arg, void **value) {   // may suspend
 *         return db_connect(arg, (db **)value);
 *     }
 *     ...
 *     db *conn;
 *     if (edo_once_cell_get_or_init(db_cell, connect_db, url, (void **)&conn) == 0)
 *         query(conn, ...);
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_once_cell edo_once_cell;

/* Returns 0, -EINVAL (out NULL), -ENOMEM. Thread-safe. */
int edo_once_cell_new(edo_once_cell **out);
/* Frees `c`, passing its value to `destroy` when it was set and `destroy` is not NULL. Nobody
 * may be waiting on it or initialising it. NULL is a no-op. */
void edo_once_cell_free(edo_once_cell *c, void (*destroy)(void *value));
/* Stores the value in *value (may be NULL) if the cell is set. Returns 0, -EAGAIN (not set
 * yet), -EINVAL (c NULL). Never suspends; thread-safe. */
int edo_once_cell_get(const edo_once_cell *c, void **value);
/* Sets the value if the cell is empty and nobody holds the turn to initialise it. Returns 0,
 * -EEXIST (already set, or an initialiser holds the turn: running init, or woken to run it;
 * the value is not stored), -EINVAL (c NULL). Never suspends; thread-safe. */
int edo_once_cell_set(edo_once_cell *c, void *value);
/* Stores the cell's value in *value (may be NULL), first making it when it is not set: inside a
 * coroutine, waits for the turn to initialise (or for another caller to set it), then runs
 * init(arg, &v), which returns 0 or more (v becomes the value, for every waiter) or a negative
 * errno (nothing is stored; the next waiter gets the turn). Returns 0, init's error, -EINVAL (c
 * or init NULL), -ECANCELED, -ETIMEDOUT (while waiting for the turn; nothing is stored),
 * -EPERM (the cell is not set and the caller is not a coroutine). Suspends (while waiting, and
 * in init) unless the cell is set. Thread-safe. */
int edo_once_cell_get_or_init(edo_once_cell *c, int (*init)(void *arg, void **value), void *arg,
                              void **value);

/* What an edo_once_cell_future's result is when it holds the turn to initialise. */
#define EDO_ONCE_CELL_YOUR_TURN 1

/* The future form of the wait in edo_once_cell_get_or_init: ready with `result` 0 once the
 * cell is set (the value in `value` and the poll's output), or EDO_ONCE_CELL_YOUR_TURN when
 * the future holds the turn to initialise: the caller makes the value and stores it with
 * edo_once_cell_future_set, or gives up by dropping the future, which passes the turn to the
 * next waiter. -EINVAL for a NULL cell. Dropping it while it waits just leaves the line. Must
 * not move once polled. */
typedef struct edo_once_cell_future {
    edo_future base;
    int result;
    void *value;
    uint64_t private_[8];
} edo_once_cell_future;
void edo_once_cell_future_init(edo_once_cell_future *f, edo_once_cell *c);
/* Sets the cell's value from the future holding the turn and wakes every waiter. Returns 0 or
 * -EINVAL (f NULL, or f does not hold the turn). Never suspends; thread-safe. */
int edo_once_cell_future_set(edo_once_cell_future *f, void *value);

/* ---------------------------------------------------------------------------------------------
 * Notify: wake one waiting task, or all of them.
 *
 * A waiter is a wait: an edo_notify_wait call, or an edo_notify_wait_future from its initialisation
 * until it completes or is dropped. What counts:
 *  - notify_all completes every waiter that exists when it is called: the queued ones, and also
 *    those initialised but not polled yet (they complete at their first poll). A waiter
 *    initialised after the call is not woken by it. notify_all stores nothing.
 *  - notify_one gives one notification to the longest-queued waiter (a waiter queues at its
 *    first poll), or, when none is queued, stores it as a permit (at most one is stored) that
 *    the next waiter to be polled takes at once, initialised before or after notify_one.
 *  - A waiter that notify_one chose but that is dropped or cancelled before it runs passes the
 *    notification on (to the next queued waiter, or as the stored permit): a notification is
 *    never lost.
 * So no wake-up is lost when a task becomes a waiter before it checks what it waits for:
 *
 *     for (;;) {                                      // in a coroutine
 *         edo_notify_wait_future w;
 *         edo_notify_wait_future_init(&w, changed);        // a waiter from here on
 *         bool done = condition_holds();
 *         int rc = done ? 0 : edo_await(&w.base, NULL); // a notify_all since init: at once
 *         edo_future_drop(&w.base);
 *         if (done || rc < 0) break;
 *     }
 *
 * Checking first and then calling edo_notify_wait is enough for notify_one (a notify_one in
 * between is stored), not for notify_all (one in between is missed).
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_notify edo_notify;

/* Creates a notify in *out. Returns 0, -EINVAL (out NULL), -ENOMEM. Thread-safe. */
int edo_notify_new(edo_notify **out);
/* Frees `n`; no waiter may exist (drop every future first). NULL is a no-op. */
void edo_notify_free(edo_notify *n);
/* Wakes the longest-queued waiter, or stores a permit (see above). NULL is a no-op. Never
 * suspends; thread-safe. */
void edo_notify_one(edo_notify *n);
/* Completes every waiter that exists now, polled or not (see above). NULL is a no-op. Never
 * suspends; thread-safe. */
void edo_notify_all(edo_notify *n);
/* Inside a coroutine: waits for a notification (a waiter from this call on). Returns 0,
 * -EINVAL (n NULL), -ECANCELED, -ETIMEDOUT (the coroutine's deadline), -EPERM (not in a
 * coroutine). Suspends. */
int edo_notify_wait(edo_notify *n);

/* The future form of edo_notify_wait: ready with `result` 0 once notified, or -EINVAL (a NULL
 * notify). It is a waiter from edo_notify_wait_future_init on: a notify_all between init and the
 * first poll completes it. Must not move once polled; drop it when done or to stop waiting. */
typedef struct edo_notify_wait_future {
    edo_future base;
    int result;
    uint64_t private_[7];
} edo_notify_wait_future;
/* Prepares `f` to wait on `n`. NULL f: no-op. Never suspends; thread-safe (for distinct `f`). */
void edo_notify_wait_future_init(edo_notify_wait_future *f, edo_notify *n);

/* ---------------------------------------------------------------------------------------------
 * Oneshot channel: one value from one sender to one receiver.
 *
 * The channel has two sides, each ended exactly once: the sender by edo_oneshot_send or
 * edo_oneshot_sender_close, the receiver by a receive that returns 0 or -EPIPE, or by
 * edo_oneshot_receiver_close. It frees itself when both have ended. The value is a pointer; the
 * channel never frees it: a value sent to a receiver that closed without receiving it is handed
 * back to whoever ends last (see the functions), so a message is never lost.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_oneshot edo_oneshot;

/* Creates a oneshot channel, both sides open. Returns 0, -EINVAL (out NULL), -ENOMEM.
 * Thread-safe. */
int edo_oneshot_new(edo_oneshot **out);
/* Sends `value` and ends the sender side. Returns 0, or -EPIPE (the receiver has closed: the
 * value was not delivered and stays the caller's), -EINVAL (o NULL, or the sender side had
 * ended already while the receiver's is open: nothing sent). Never suspends; thread-safe.
 * (Either side used after both have ended is a use after free: not caught.) */
int edo_oneshot_send(edo_oneshot *o, void *value);
/* Ends the sender side without sending: the receiver gets -EPIPE. NULL, or a sender side that
 * had ended (the receiver's still open), is a no-op. Never suspends; thread-safe. */
void edo_oneshot_sender_close(edo_oneshot *o);
/* Inside a coroutine: waits for the value and stores it in *value (`value` may be NULL).
 * Returns 0 (and ends the receiver side), -EPIPE (the sender closed without sending; ends the
 * receiver side), or -ECANCELED / -ETIMEDOUT (the receiver side is still open: receive again,
 * or close it), -EINVAL (o NULL, or the receiver side had ended already while the sender's is
 * open), -EPERM (not in a coroutine). Suspends. */
int edo_oneshot_recv(edo_oneshot *o, void **value);
/* Takes the value if it has been sent: 0 (ends the receiver side), -EAGAIN (not yet), -EPIPE
 * (never will be; ends the receiver side), -EINVAL (as for edo_oneshot_recv). Never suspends;
 * thread-safe. */
int edo_oneshot_try_recv(edo_oneshot *o, void **value);
/* Ends the receiver side without receiving. Returns the value if one had been sent and not
 * received (yours to free), else NULL. NULL o is a no-op. */
void *edo_oneshot_receiver_close(edo_oneshot *o);

/* The future form of edo_oneshot_recv: ready with `result` 0 (the value is the future's output,
 * *out of the poll), -EPIPE, or -EINVAL (as for edo_oneshot_recv); dropping it before it is
 * ready leaves the receiver side open. */
typedef struct edo_oneshot_recv_future {
    edo_future base;
    int result;
    edo_oneshot *channel;
} edo_oneshot_recv_future;
void edo_oneshot_recv_future_init(edo_oneshot_recv_future *f, edo_oneshot *o);

/* ---------------------------------------------------------------------------------------------
 * Cancellation tokens: a tree of "stop" signals.
 *
 * Cancelling a token cancels every token below it; a token made under a cancelled parent starts
 * cancelled. Tasks check edo_cancel_token_is_cancelled between steps, or wait for it (alone, or
 * next to their real work with edo_select and edo_cancel_token_wait_future). Unlike
 * edo_task_abort, which stops a task at its next suspension, a token asks: the task decides
 * where to stop.
 *
 *     edo_cancel_token *job;
 *     edo_cancel_token_new(server_token, &job);       // cancelled with the whole server
 *     ...
 *     edo_cancel_token_wait_future stop;  edo_cancel_token_wait_future_init(&stop, job);
 *     edo_future *either[] = {&read.base, &stop.base};
 *     if (edo_select(either, 2, EDO_SELECT_BIASED, &out) == 1) ... // told to stop
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_cancel_token edo_cancel_token;

/* Creates a token under `parent` (NULL: a root). Returns 0, -EINVAL (out NULL), -ENOMEM.
 * Thread-safe. */
int edo_cancel_token_new(edo_cancel_token *parent, edo_cancel_token **out);
/* Releases the caller's token. Its children stay valid (and still follow the token's own
 * parent, which lives as long as any of them). Nobody may wait on it. NULL is a no-op. */
void edo_cancel_token_free(edo_cancel_token *t);
/* Cancels `t` and every token below it, waking their waiters. Repeating it, or NULL, is a
 * no-op. Never suspends; thread-safe. */
void edo_cancel_token_cancel(edo_cancel_token *t);
/* True when `t` has been cancelled (directly or through an ancestor); false when not, and for
 * NULL. Never suspends. */
bool edo_cancel_token_is_cancelled(const edo_cancel_token *t);
/* Inside a coroutine: waits until `t` is cancelled. Returns 0, -EINVAL (t NULL), -EPERM,
 * -ECANCELED (the task was aborted), -ETIMEDOUT. Suspends. */
int edo_cancel_token_wait(edo_cancel_token *t);

/* A future ready once its token is cancelled (for edo_select), with `result` 0; or at its first
 * poll with `result` -EINVAL for a NULL token. Must not move once polled; drop it when done. */
typedef struct edo_cancel_token_wait_future {
    edo_future base;
    int result;
    uint64_t private_[8];
} edo_cancel_token_wait_future;
void edo_cancel_token_wait_future_init(edo_cancel_token_wait_future *f, edo_cancel_token *t);

/* ---------------------------------------------------------------------------------------------
 * mpsc channel: many senders, one receiver, FIFO, bounded or unbounded.
 *
 * Messages are pointers; the channel never frees them. A bounded channel holds at most
 * `capacity` messages: senders wait for room, first come first served, and a sender may claim
 * room first (edo_chan_reserve) and send later without waiting or failing. The channel starts
 * with one sender; edo_chan_sender_add adds more, each ended by edo_chan_sender_close. When
 * every sender has closed, the receiver drains what is queued and then gets -EPIPE. When the
 * receiver closes, sends fail with -EPIPE (the message stays the sender's). The channel frees
 * itself when the receiver and every sender have closed; messages still queued then are handed
 * to `on_unreceived` (if set), so none is lost.
 *
 * Cancellation: a send cancelled while it waits for room has not sent (the message stays the
 * caller's); a receive cancelled while it waits has taken nothing. No message is ever lost.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_chan edo_chan;

/* Most messages a bounded channel holds (its ring of 16 bytes a message is allocated up front). */
#define EDO_CHAN_MAX_CAPACITY ((size_t)1 << 24)

/* Creates a channel holding at most `capacity` messages (0: unbounded), with one sender.
 * `on_unreceived` (may be NULL) gets each message still queued when the channel is freed.
 * Returns 0, -EINVAL (out NULL, capacity above EDO_CHAN_MAX_CAPACITY), -ENOMEM. Thread-safe.
 *
 * Each side is ended once (every sender by edo_chan_sender_close, the receiver by
 * edo_chan_receiver_close); a side used after it ended is not caught. The functions below
 * return -EINVAL for a NULL channel or out-pointer; those returning void do nothing for NULL. */
int edo_chan_new(size_t capacity, void (*on_unreceived)(void *msg), edo_chan **out);
/* Adds a sender (the caller passes the channel to another producer, which closes it when done).
 * Never suspends; thread-safe. */
void edo_chan_sender_add(edo_chan *ch);
/* Ends one sender. Never suspends; thread-safe. */
void edo_chan_sender_close(edo_chan *ch);
/* Ends the receiver: later and waiting sends fail with -EPIPE; the receiver may not use the
 * channel afterwards (what is still queued goes to on_unreceived when the channel is freed).
 * Never suspends; thread-safe. */
void edo_chan_receiver_close(edo_chan *ch);

/* Inside a coroutine: sends `msg`, waiting for room. Returns 0, -EPIPE (the receiver closed; msg
 * stays yours), -ECANCELED, -ETIMEDOUT (not sent), -EINVAL, -EPERM, -ENOMEM (an unbounded
 * channel whose ring could not grow: not sent, msg stays yours). Suspends. */
int edo_chan_send(edo_chan *ch, void *msg);
/* Sends if there is room now: 0, -EAGAIN (full), -EPIPE, -EINVAL, -ENOMEM (as edo_chan_send).
 * Never suspends. */
int edo_chan_try_send(edo_chan *ch, void *msg);
/* Inside a coroutine: claims room for one message (waiting for it); the claim is then used by
 * edo_chan_send_reserved (which never waits or fails for lack of room) or given back by
 * edo_chan_unreserve. Returns 0, -EPIPE, -ECANCELED, -ETIMEDOUT, -EINVAL, -EPERM. Suspends. */
int edo_chan_reserve(edo_chan *ch);
/* Sends with a claim from edo_chan_reserve: 0, or -EPIPE (the receiver closed; the claim is
 * given back, msg stays yours), -EINVAL (ch NULL), -ENOMEM (unbounded, as edo_chan_send). Without a claim (a misuse, not caught) the
 * send may have to wait for the receiver to make room. Never suspends; thread-safe. */
int edo_chan_send_reserved(edo_chan *ch, void *msg);
/* Gives back a claim from edo_chan_reserve, unused. With no claim outstanding it does nothing
 * (caught while no sender waits for room: the channel never holds more than its capacity).
 * NULL, or an unbounded channel: no-op. Never suspends; thread-safe. */
void edo_chan_unreserve(edo_chan *ch);

/* Inside a coroutine: receives the oldest message. Returns 0, -EPIPE (every sender closed and
 * nothing is queued), -ECANCELED, -ETIMEDOUT (nothing taken), -EINVAL, -EPERM. Suspends. */
int edo_chan_recv(edo_chan *ch, void **msg);
/* Receives if a message is queued: 0, -EAGAIN (none yet), -EPIPE (none will come), -EINVAL (ch
 * or msg NULL). Never suspends. */
int edo_chan_try_recv(edo_chan *ch, void **msg);
/* Inside a coroutine: waits for at least one message, then takes up to `max` into msgs.
 * Returns how many (>= 1), or the errors of edo_chan_recv (-EINVAL also for msgs NULL or max
 * 0). Suspends. */
ssize_t edo_chan_recv_many(edo_chan *ch, void **msgs, size_t max);
/* Messages queued now (0 for NULL). Never suspends; thread-safe. */
size_t edo_chan_len(const edo_chan *ch);

/* The future form of edo_chan_recv: ready with `result` 0 (the message is the poll's output),
 * -EPIPE, or -EINVAL (a NULL channel). Dropping it before it is ready takes nothing. */
typedef struct edo_chan_recv_future {
    edo_future base;
    int result;
    edo_chan *chan;
} edo_chan_recv_future;
void edo_chan_recv_future_init(edo_chan_recv_future *f, edo_chan *ch);

/* The future form of edo_chan_send: ready with `result` 0 (sent), -EPIPE, or -EINVAL (a NULL
 * channel). Dropping it before it is ready sends nothing. Must not move once polled. */
typedef struct edo_chan_send_future {
    edo_future base;
    int result;
    edo_chan *chan;
    void *msg;
    edo_semaphore_acquire_future room;
    int started;
} edo_chan_send_future;
void edo_chan_send_future_init(edo_chan_send_future *f, edo_chan *ch, void *msg);

/* ---------------------------------------------------------------------------------------------
 * Watch channel: the latest value, and a wake-up for each receiver when it changes.
 *
 * The channel holds one value of a fixed size (set at creation, with its initial value). A send
 * copies the new value in and moves the version on; each receiver remembers the version it saw
 * last, and edo_watch_changed waits until there is a newer one, then copies it out. A receiver
 * that is slower than the sender skips intermediate values, but never gets one older than the
 * latest at the time it looks. Values are copied in and out under a short lock, so the channel
 * owns no pointers: nothing can leak or be used after free (a value that holds a pointer is the
 * sender's business: the channel never frees it, and may drop it from view at the next send).
 *
 * One sender side, usable from any thread, ended once by edo_watch_sender_close; receivers are
 * made by edo_watch_subscribe (from the sender side) or edo_watch_receiver_clone, and each is
 * ended by edo_watch_receiver_close. The channel frees itself when every side has ended. A
 * receiver is used by one task at a time (clone it for another).
 *
 *     edo_watch *cfg;
 *     edo_watch_new(&initial_config, sizeof(config), &cfg);
 *     edo_watch_receiver *rx;
 *     edo_watch_subscribe(cfg, &rx);           // hand rx to a task
 *     ...                                      // in that task:
 *     config c;
 *     while (edo_watch_changed(rx, &c) == 0)   // -EPIPE once the sender closed
 *         apply(&c);
 *     edo_watch_receiver_close(rx);
 *
 * Cancellation: a changed that is cancelled (aborted, deadline, future dropped before ready) has
 * copied nothing and marked nothing seen: the change it waited for is reported by the next
 * changed.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_watch edo_watch;
typedef struct edo_watch_receiver edo_watch_receiver;

/* Largest value a watch channel holds, in bytes. */
#define EDO_WATCH_MAX_SIZE ((size_t)1 << 20)

/* Creates a channel holding a copy of the `size` bytes at `initial`, with no receiver yet.
 * Returns 0, -EINVAL (out or initial NULL, size 0 or above EDO_WATCH_MAX_SIZE), -ENOMEM.
 * Thread-safe. */
int edo_watch_new(const void *initial, size_t size, edo_watch **out);
/* Stores a copy of `value` (the channel's size in bytes) as the new value and wakes the
 * receivers waiting for a change. Returns 0, -EPIPE (no receiver left: nothing stored, like a
 * send on a channel nobody listens to), -EINVAL (w or value NULL). Never suspends;
 * thread-safe. */
int edo_watch_send(edo_watch *w, const void *value);
/* Calls modify(value, arg) on the stored value in place, under the channel's lock (so it must
 * be short and must not call into the channel or suspend). When it returns true the value
 * counts as changed (a new version, receivers woken); when false nobody is told. Works with or
 * without receivers. Returns 1 (changed), 0 (not), -EINVAL (w or modify NULL). Never suspends;
 * thread-safe. */
int edo_watch_send_modify(edo_watch *w, bool (*modify)(void *value, void *arg), void *arg);
/* Ends the sender side: receivers get what was sent last, then -EPIPE. `w` may not be used
 * afterwards. NULL is a no-op. Never suspends; thread-safe. */
void edo_watch_sender_close(edo_watch *w);
/* Receivers subscribed now. 0 for NULL. Never suspends; thread-safe. */
size_t edo_watch_receiver_count(const edo_watch *w);

/* Makes a receiver (through the sender side, which must not have closed). The current value
 * counts as seen: edo_watch_changed waits for the next send. Returns 0, -EINVAL (w or out NULL),
 * -ENOMEM. Never suspends; thread-safe. */
int edo_watch_subscribe(edo_watch *w, edo_watch_receiver **out);
/* Makes a receiver that has seen what `rx` has seen (works after the sender closed). Returns 0,
 * -EINVAL (rx or out NULL), -ENOMEM. Never suspends. */
int edo_watch_receiver_clone(edo_watch_receiver *rx, edo_watch_receiver **out);
/* Ends the receiver; nobody may be waiting on it. NULL is a no-op. Never suspends. */
void edo_watch_receiver_close(edo_watch_receiver *rx);

/* Inside a coroutine: waits until the channel holds a version `rx` has not seen, copies it into
 * `value` (may be NULL: only mark it seen) and marks it seen. Returns 0, or -EPIPE (the sender
 * closed and `rx` has seen its last value), -ECANCELED, -ETIMEDOUT (the coroutine's deadline;
 * nothing copied or marked), -EINVAL (rx NULL), -EPERM (not in a coroutine). Suspends. */
int edo_watch_changed(edo_watch_receiver *rx, void *value);
/* 1 when the channel holds a version `rx` has not seen, 0 when not, -EPIPE when not and the
 * sender has closed, -EINVAL for NULL. Never suspends. */
int edo_watch_has_changed(const edo_watch_receiver *rx);
/* Copies the current value into `value` and marks it seen, changed or not (also after the
 * sender closed). Returns 0 or -EINVAL (rx or value NULL). Never suspends. */
int edo_watch_get(edo_watch_receiver *rx, void *value);

/* The future form of edo_watch_changed: ready with `result` 0 (the new value is in the buffer
 * given to init, which must stay valid until the future is dropped; NULL: none), -EPIPE, or
 * -EINVAL (a NULL receiver).
 * Dropping it before it is ready copies and marks nothing. Must not move once polled. */
typedef struct edo_watch_changed_future {
    edo_future base;
    int result;
    uint64_t private_[2];
} edo_watch_changed_future;
void edo_watch_changed_future_init(edo_watch_changed_future *f, edo_watch_receiver *rx,
                                   void *value);

/* ---------------------------------------------------------------------------------------------
 * Broadcast channel: every receiver gets every message, from a bounded ring.
 *
 * Messages have a fixed size (set at creation) and are copied into a ring of `capacity` slots
 * and out to each receiver, so the ring owns no pointers: an overwritten or never received
 * message is just bytes, gone without a leak. A receiver sees, in order, every message sent
 * after it subscribed. Sends never wait: when the ring is full the oldest message is overwritten.
 * A receiver that fell so far behind that messages it had not read were overwritten learns it
 * from its next receive, which fails with -EOVERFLOW and the number it missed; the one after
 * continues with the oldest message still held.
 *
 * The channel starts with one sender; edo_broadcast_sender_add adds more, each ended by
 * edo_broadcast_sender_close. When every sender has closed, receivers drain what they have not
 * read, then get -EPIPE. Receivers are made by edo_broadcast_subscribe (through a sender) and
 * ended by edo_broadcast_receiver_close; a send with no receiver fails with -EPIPE. The channel
 * frees itself when every side has ended. A receiver is used by one task at a time.
 *
 *     edo_broadcast *events;
 *     edo_broadcast_new(64, sizeof(event), &events);
 *     edo_broadcast_receiver *rx;
 *     edo_broadcast_subscribe(events, &rx);
 *     ... sender: edo_broadcast_send(events, &ev) ... edo_broadcast_sender_close(events);
 *     ... receiver:
 *     event ev; uint64_t missed;
 *     for (int rc; (rc = edo_broadcast_recv(rx, &ev, &missed)) != -EPIPE; )
 *         if (rc == 0) handle(&ev); else if (rc == -EOVERFLOW) note_gap(missed); else break;
 *     edo_broadcast_receiver_close(rx);
 *
 * Cancellation: a receive cancelled before it was ready has taken nothing: the message it
 * waited for is the next receive's.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_broadcast edo_broadcast;
typedef struct edo_broadcast_receiver edo_broadcast_receiver;

/* Most bytes a broadcast ring holds (capacity times message size). */
#define EDO_BROADCAST_MAX_BYTES ((size_t)1 << 30)

/* Creates a channel of `capacity` messages of `msg_size` bytes each, with one sender and no
 * receiver. Returns 0, -EINVAL (out NULL, capacity or msg_size 0, or the ring above
 * EDO_BROADCAST_MAX_BYTES), -ENOMEM. Thread-safe. */
int edo_broadcast_new(size_t capacity, size_t msg_size, edo_broadcast **out);
/* Adds a sender (to hand to another producer, which closes it when done). NULL is a no-op.
 * Never suspends; thread-safe. */
void edo_broadcast_sender_add(edo_broadcast *b);
/* Ends one sender; after the last, receivers drain and then get -EPIPE. NULL is a no-op. */
void edo_broadcast_sender_close(edo_broadcast *b);
/* Copies `msg` (msg_size bytes) into the ring for every current receiver, overwriting the
 * oldest message when full, and wakes the receivers waiting. Returns 0, -EPIPE (no receiver:
 * nothing stored), -EINVAL (b or msg NULL). Never suspends; thread-safe. */
int edo_broadcast_send(edo_broadcast *b, const void *msg);
/* Receivers subscribed now. 0 for NULL. Never suspends; thread-safe. */
size_t edo_broadcast_receiver_count(const edo_broadcast *b);

/* Makes a receiver (through a sender the caller holds) that will get every message sent from
 * now on. Returns 0, -EINVAL (b or out NULL), -ENOMEM. Never suspends; thread-safe. */
int edo_broadcast_subscribe(edo_broadcast *b, edo_broadcast_receiver **out);
/* Ends the receiver; nobody may be waiting on it. NULL is a no-op. Never suspends. */
void edo_broadcast_receiver_close(edo_broadcast_receiver *rx);

/* Inside a coroutine: copies the next message into `msg` (msg_size bytes), waiting for one.
 * Returns 0, or
 *   -EOVERFLOW  messages this receiver had not read were overwritten: *missed (when `missed` is
 *               not NULL) is how many; nothing copied, and the next receive gets the oldest
 *               message still held;
 *   -EPIPE      every sender closed and this receiver has read everything;
 *   -ECANCELED, -ETIMEDOUT  (nothing taken), -EINVAL (rx or msg NULL), -EPERM (not in a
 *               coroutine).
 * Suspends. */
int edo_broadcast_recv(edo_broadcast_receiver *rx, void *msg, uint64_t *missed);
/* edo_broadcast_recv without waiting: -EAGAIN when there is nothing new; the other results as
 * edo_broadcast_recv's (-EINVAL for rx or msg NULL). Never suspends. */
int edo_broadcast_try_recv(edo_broadcast_receiver *rx, void *msg, uint64_t *missed);
/* Messages `rx` has not read yet and that are still held. 0 for NULL. Never suspends. */
size_t edo_broadcast_len(const edo_broadcast_receiver *rx);

/* The future form of edo_broadcast_recv: ready with `result` 0 (the message is in the buffer
 * given to init, which must stay valid until the future is dropped), -EOVERFLOW (`missed` says
 * how many), -EPIPE or -EINVAL (rx or msg NULL). Dropping it before it is ready takes nothing. Must not move once
 * polled. */
typedef struct edo_broadcast_recv_future {
    edo_future base;
    int result;
    uint64_t missed;
    uint64_t private_[2];
} edo_broadcast_recv_future;
void edo_broadcast_recv_future_init(edo_broadcast_recv_future *f, edo_broadcast_receiver *rx,
                                    void *msg);

/* ---------------------------------------------------------------------------------------------
 * Blocking forms: channel operations for plain threads.
 *
 * Code outside the runtime (a thread of a legacy library, main before or after the runtime)
 * uses these to feed or drain channels that tasks use. Each parks the calling OS thread (no busy
 * wait) until the operation completes or `timeout_ns` nanoseconds have passed (EDO_WAIT_FOREVER:
 * no limit; 0: do not wait, only try; a timeout that runs past the end of time saturates: no
 * limit either, as for every duration in edo/time.h). The runtime's tasks wake the thread exactly as they wake
 * each other, on any runtime flavour; no runtime needs to be entered.
 *
 * Called where parking the thread would stall the runtime (on a worker thread, in a task or
 * coroutine, while edo_block_on drives a current-thread runtime) they return -EDEADLK without
 * doing anything: tasks use the coroutine or future forms. Blocking-pool threads may use them.
 *
 * A timed-out call has done nothing: it is the cancellation of the future form (a send sent
 * nothing, a receive took nothing, an acquire holds no permit), and the operation may be
 * retried.
 * ------------------------------------------------------------------------------------------- */

/* No timeout, for the calls below. */
#define EDO_WAIT_FOREVER UINT64_MAX

/* Each returns what its coroutine form returns (without -ECANCELED and -EPERM; -EINVAL for bad
 * arguments comes first, before -EDEADLK), or -ETIMEDOUT
 * (timeout_ns passed; nothing done), -EDEADLK (called from the runtime; nothing done) or -ENOMEM
 * (no memory for the thread's waker; nothing done). They block the calling thread; thread-safe
 * as their coroutine forms. */
int edo_chan_send_blocking(edo_chan *ch, void *msg, uint64_t timeout_ns);
int edo_chan_recv_blocking(edo_chan *ch, void **msg, uint64_t timeout_ns);
int edo_oneshot_recv_blocking(edo_oneshot *o, void **value, uint64_t timeout_ns);
int edo_semaphore_acquire_blocking(edo_semaphore *s, size_t n, uint64_t timeout_ns);
int edo_watch_changed_blocking(edo_watch_receiver *rx, void *value, uint64_t timeout_ns);
int edo_broadcast_recv_blocking(edo_broadcast_receiver *rx, void *msg, uint64_t *missed,
                                uint64_t timeout_ns);

#ifdef __cplusplus
}
#endif

#endif /* EDO_SYNC_H */
