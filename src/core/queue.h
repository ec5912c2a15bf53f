/* Run queues: each worker's bounded local ring, and the runtime's global queue (two inject
 * queues: tasks that ran before, tasks that never ran; see edo__global_queue).
 *
 * Local ring (one owner, many stealers). The owner pushes at `tail` and pops at `head`, both
 * FIFO, so queued tasks run in order. `head` packs two 32-bit positions: `real`, the next task
 * to pop, and `steal`, which trails `real` while a stealer copies [steal, real) out. A stealer
 * claims half of the queue by advancing `real` in one CAS, copies, then lets `steal` catch up;
 * one stealer at a time. The owner never writes a slot before `steal` has passed it, so the
 * copy is safe. When the ring is full the owner moves half of it to the global queue in one
 * batch, so a burst of spawns never blocks and other workers can take them.
 *
 * Inject queue: an intrusive multi-producer queue (after Dmitry Vyukov's design). A producer
 * links a task (or a batch) with one atomic exchange on the tail and one store, taking no lock,
 * so plain threads spawning and waking never wait for workers. Consumers take turns under a
 * spinlock. Counts of pushed and popped tasks give a lock-free length and "is it empty?".
 *
 * The ring's push, pop, overflow and steal, the run-next slot and the inject queue are modelled
 * in queue.pml (spin; docs/models.md): keep the two in step.
 */
#ifndef EDO_CORE_QUEUE_H
#define EDO_CORE_QUEUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/task.h"
#include "platform/spinlock.h"

#define EDO__LOCAL_CAP 256u
#define EDO__LOCAL_MASK (EDO__LOCAL_CAP - 1)

typedef struct edo__inject {
    _Alignas(64) edo__task *_Atomic tail; /* producers' side */
    _Atomic size_t pushed;
    _Alignas(64) edo__spinlock pop_lock; /* consumers' side */
    edo__task *head;
    _Atomic size_t popped;
    edo__task stub; /* keeps the list non-empty; only its `next` is used */
} edo__inject;

/* The global queue, in two parts: tasks that have run before (woken from outside the workers,
 * or spilled from a full ring) and tasks that never ran (spawned from outside the workers, or
 * spilled). A worker taking a batch serves the first part before the second: a task woken by a
 * timer must not wait behind a burst of fresh spawns, whose first polls can take long (a
 * coroutine faults its stack in). Neither part starves: the periodic single pop alternates
 * between them. */
typedef struct edo__global_queue {
    edo__inject started, fresh;
} edo__global_queue;

/* Whether a queued task has never been polled (a worker claims it at its first poll; see
 * edo__owned_insert). */
static inline bool edo__task_never_ran(const edo__task *t) { return t->owner == EDO__NO_OWNER; }

typedef struct edo__local_queue {
    _Atomic uint64_t head; /* steal << 32 | real */
    _Atomic uint32_t tail; /* written by the owner only */
    edo__task *_Atomic buf[EDO__LOCAL_CAP];
} edo__local_queue;

void edo__inject_init(edo__inject *q);
void edo__inject_push(edo__inject *q, edo__task *t);
/* Pushes n tasks linked first..last through ->next (edo__task_set_next). */
void edo__inject_push_batch(edo__inject *q, edo__task *first, edo__task *last, size_t n);
/* Pops up to `max` tasks into out[]; returns how many. */
size_t edo__inject_pop_batch(edo__inject *q, edo__task **out, size_t max);
static inline size_t edo__inject_len(edo__inject *q)
{
    size_t popped = atomic_load_explicit(&q->popped, memory_order_acquire);
    return atomic_load_explicit(&q->pushed, memory_order_acquire) - popped;
}
static inline bool edo__inject_is_empty(edo__inject *q) { return edo__inject_len(q) == 0; }

void edo__global_init(edo__global_queue *g);
/* Queues `t` in the part its history calls for. */
void edo__global_push(edo__global_queue *g, edo__task *t);
/* How many never-run tasks one batch takes at most. A never-run coroutine's first poll binds
 * and faults in a stack (tens of microseconds on a loaded machine, twenty times a future's), and
 * a task a timer wakes queues behind the batch in the ring: 128 first polls were milliseconds of
 * lateness for every sleeper woken meanwhile. A small batch keeps that wait short; the lock is
 * taken a little more often during a burst of remote spawns, against first polls that cost far
 * more than the lock. */
#define EDO__FRESH_BATCH 16u

/* Pops up to `max` tasks into out[], tasks that ran before first, then at most
 * EDO__FRESH_BATCH never-run ones; returns how many. With `fresh_first`, a single task comes
 * from the fresh part when it has one (the periodic pop alternates so that neither part
 * starves). */
size_t edo__global_pop_batch(edo__global_queue *g, edo__task **out, size_t max, bool fresh_first);
static inline size_t edo__global_len(edo__global_queue *g)
{
    return edo__inject_len(&g->started) + edo__inject_len(&g->fresh);
}
static inline bool edo__global_is_empty(edo__global_queue *g) { return edo__global_len(g) == 0; }

void edo__local_init(edo__local_queue *q);

/* The ring's positions and slots (the owner's operations are inline: they run on every poll). */
static inline uint64_t edo__lq_pack(uint32_t steal, uint32_t real)
{
    return (uint64_t)steal << 32 | real;
}
static inline uint32_t edo__lq_steal(uint64_t h) { return (uint32_t)(h >> 32); }
static inline uint32_t edo__lq_real(uint64_t h) { return (uint32_t)h; }
static inline void edo__lq_store(edo__local_queue *q, uint32_t pos, edo__task *t)
{
    atomic_store_explicit(&q->buf[pos & EDO__LOCAL_MASK], t, memory_order_relaxed);
}
static inline edo__task *edo__lq_load(edo__local_queue *q, uint32_t pos)
{
    return atomic_load_explicit(&q->buf[pos & EDO__LOCAL_MASK], memory_order_relaxed);
}

/* Approximate number of queued tasks; exact for the owner. */
static inline uint32_t edo__local_len(edo__local_queue *q)
{
    uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint32_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
    return t - edo__lq_steal(h);
}
/* Owner only: free slots. */
uint32_t edo__local_free(edo__local_queue *q);

/* Moves the oldest half of a full ring (whose head is `head`), plus `t`, to `overflow`. Returns
 * false when a stealer is active or the owner raced with one; the caller then retries. */
bool edo__local_push_overflow(edo__local_queue *q, edo__task *t, uint32_t head,
                              edo__global_queue *overflow);

/* Owner only. Full ring: half the ring and `t` go to `overflow`, and it returns true.
 * Modelled in queue.pml (push_back): keep in step. */
static inline bool edo__local_push_back(edo__local_queue *q, edo__task *t,
                                        edo__global_queue *overflow)
{
    for (;;) {
        uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
        uint32_t steal = edo__lq_steal(h), real = edo__lq_real(h);
        uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
        if (tail - steal < EDO__LOCAL_CAP) {
            edo__lq_store(q, tail, t);
            atomic_store_explicit(&q->tail, tail + 1, memory_order_release);
            return false;
        }
        if (steal != real) {
            /* A stealer is draining us right now: room is coming, but don't wait for it. */
            edo__global_push(overflow, t);
            return true;
        }
        if (edo__local_push_overflow(q, t, real, overflow))
            return true;
    }
}

/* Owner only. Modelled in queue.pml (local_pop): keep in step. */
static inline edo__task *edo__local_pop(edo__local_queue *q)
{
    uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    for (;;) {
        uint32_t steal = edo__lq_steal(h), real = edo__lq_real(h);
        uint32_t tail = atomic_load_explicit(&q->tail, memory_order_relaxed);
        if (real == tail)
            return NULL;
        uint32_t next_real = real + 1;
        /* With no stealer active, steal moves with real; otherwise the stealer owns it. */
        uint64_t next = steal == real ? edo__lq_pack(next_real, next_real)
                                      : edo__lq_pack(steal, next_real);
        if (atomic_compare_exchange_weak_explicit(&q->head, &h, next, memory_order_acq_rel,
                                                  memory_order_acquire))
            return edo__lq_load(q, real);
    }
}
/* Asks for a task's first two lines: its header, and its future's first line (a coroutine's
 * stack pointer is there). `t` is an integer: it may be NULL or stale (a prefetch of any
 * address is harmless, while NULL + 64 as a pointer would be undefined). */
static inline void edo__task_prefetch(uintptr_t t)
{
    __builtin_prefetch((const void *)t);
    __builtin_prefetch((const void *)(t + 64));
}

/* Owner only, right after an edo__local_pop: asks for the two lines of the task queued next
 * (its header, and its future's first line: a coroutine's stack pointer is there), so that
 * they are in the cache by the time it runs, after the run-next chain of the task just
 * popped. The slot may be stale (the queue emptied, or a stealer took the task meanwhile):
 * a prefetch of any address is harmless. */
static inline void edo__local_prefetch_next(edo__local_queue *q)
{
    uint32_t real = edo__lq_real(atomic_load_explicit(&q->head, memory_order_relaxed));
    edo__task_prefetch((uintptr_t)edo__lq_load(q, real));
}
/* Steals half of `victim` into `dst` (owned by the caller) and returns one of the stolen tasks
 * to run now, or NULL. */
edo__task *edo__local_steal_into(edo__local_queue *victim, edo__local_queue *dst);

/* A FIFO of tasks linked through ->next, private to one thread (a worker's deferred tasks). */
typedef struct edo__task_fifo {
    edo__task *head, *tail;
} edo__task_fifo;

static inline bool edo__fifo_is_empty(const edo__task_fifo *f) { return f->head == NULL; }

static inline void edo__fifo_push(edo__task_fifo *f, edo__task *t)
{
    edo__task_set_next(t, NULL);
    if (f->head)
        edo__task_set_next(f->tail, t);
    else
        f->head = t;
    f->tail = t;
}

static inline edo__task *edo__fifo_pop(edo__task_fifo *f)
{
    edo__task *t = f->head;
    if (t)
        f->head = edo__task_next(t);
    return t;
}

/* Asks for the lines of the task at the head of `f` (edo__task_prefetch), so that they are in
 * the cache by the time it runs after the task just popped: in a round of yields, every task
 * has waited while all the others ran, and its lines are cold. */
static inline void edo__fifo_prefetch_head(const edo__task_fifo *f)
{
    edo__task_prefetch((uintptr_t)f->head);
}

/* Moves every task of `src` to the back of `dst`. */
static inline void edo__fifo_append(edo__task_fifo *dst, edo__task_fifo *src)
{
    if (!src->head)
        return;
    if (dst->head)
        edo__task_set_next(dst->tail, src->head);
    else
        dst->head = src->head;
    dst->tail = src->tail;
    src->head = NULL;
}

#endif
