/* A fair (FIFO) async semaphore, and the mutex built on it.
 *
 * One atomic word holds the available permits and two flags: CLOSED, and WAITERS (the queue is
 * not empty). While nobody waits, acquire and release are a single CAS each. Once someone
 * waits, permits are handed to the queue head first: an acquire may not take them ahead of it
 * (no barging), and a release gives them to the waiters in order, part by part: a waiter for
 * many permits collects them as they come, so small acquires cannot starve it. The queue is
 * intrusive (the waiter lives in the waiting future) under a spinlock.
 *
 * The semaphore is reference-counted: edo_semaphore_free drops its creator's reference, and each
 * owned permit (permit.c) holds one, so a permit moved to another task keeps it alive.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/sync.h"
#include "platform/spinlock.h"
#include "sync/semaphore.h"
#include "sync/waitq.h"

#define CLOSED 1u
#define WAITERS 2u
#define PERMIT_SHIFT 2
#define WAKE_BATCH 16

static inline size_t permits_of(uint64_t s) { return (size_t)(s >> PERMIT_SHIFT); }
static inline uint64_t permits_word(size_t n) { return (uint64_t)n << PERMIT_SHIFT; }

/* A waiter: IDLE (not polled yet), QUEUED, DONE (all its permits given), CLOSED_OUT (the
 * semaphore closed while it waited), FINISHED (its poll returned EDO_READY). */
enum { IDLE, QUEUED, DONE, CLOSED_OUT, FINISHED };

typedef struct waiter {
    edo__waitq_node node; /* first: a node is its waiter; node.state is the waiter's state */
    size_t needed;        /* permits still to come */
    size_t given;         /* permits already handed over (returned if the wait is cancelled) */
} waiter;

static inline waiter *waiter_of(edo__waitq_node *n) { return (waiter *)n; }

struct edo_semaphore {
    _Atomic uint64_t state;
    _Atomic size_t refs;
    edo__spinlock lock;
    edo__waitq queue;
};

int edo_semaphore_new(size_t permits, edo_semaphore **out)
{
    if (!out || permits > EDO_SEMAPHORE_MAX_PERMITS)
        return -EINVAL;
    edo_semaphore *s = calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    atomic_init(&s->state, permits_word(permits));
    atomic_init(&s->refs, 1);
    edo__spin_init(&s->lock);
    *out = s;
    return 0;
}

void edo__semaphore_ref(edo_semaphore *s)
{
    atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void edo_semaphore_free(edo_semaphore *s)
{
    if (s && atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
        free(s);
}

size_t edo_semaphore_available(const edo_semaphore *s)
{
    if (!s)
        return 0;
    uint64_t st = atomic_load_explicit(&((edo_semaphore *)s)->state, memory_order_acquire);
    return st & CLOSED ? 0 : permits_of(st);
}

int edo_semaphore_try_acquire(edo_semaphore *s, size_t n)
{
    if (!s || n == 0 || n > EDO_SEMAPHORE_MAX_PERMITS)
        return -EINVAL;
    uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire);
    for (;;) {
        if (st & CLOSED)
            return -ESHUTDOWN;
        if ((st & WAITERS) || permits_of(st) < n)
            return -EAGAIN;
        if (atomic_compare_exchange_weak_explicit(&s->state, &st, st - permits_word(n),
                                                  memory_order_acquire, memory_order_acquire))
            return 0;
    }
}

/* ---- the queue (under s->lock) ------------------------------------------------------------ */

/* Adds `n` permits to the word, clearing WAITERS when the queue is empty. */
static void add_permits_locked(edo_semaphore *s, size_t n)
{
    uint64_t st = atomic_load_explicit(&s->state, memory_order_relaxed), next;
    do {
        next = st + permits_word(n);
        if (edo__list_is_empty(&s->queue))
            next &= ~(uint64_t)WAITERS;
    } while (!atomic_compare_exchange_weak_explicit(&s->state, &st, next, memory_order_release,
                                                    memory_order_relaxed));
}

/* Hands `n` permits to the waiters in order, the rest to the pool; wakes who is served. */
static void release_locked_and_unlock(edo_semaphore *s, size_t n)
{
    edo_waker wake[WAKE_BATCH];
    unsigned nwake = 0;
    for (;;) {
        while (n > 0 && !edo__list_is_empty(&s->queue) && nwake < WAKE_BATCH) {
            waiter *w = waiter_of(edo__waitq_head(&s->queue));
            size_t k = n < w->needed ? n : w->needed;
            w->needed -= k;
            w->given += k;
            n -= k;
            if (w->needed == 0) {
                edo__waitq_remove(&s->queue, &w->node);
                w->node.state = DONE;
                wake[nwake++] = edo__waitq_take_waker(&w->node);
            }
        }
        bool more = n > 0 && !edo__list_is_empty(&s->queue);
        if (!more) {
            add_permits_locked(s, n);
            n = 0;
        }
        edo__spin_unlock(&s->lock);
        for (unsigned i = 0; i < nwake; i++)
            edo_waker_wake(&wake[i]);
        if (!more)
            return;
        nwake = 0;
        edo__spin_lock(&s->lock);
    }
}

int edo__semaphore_release_upto(edo_semaphore *s, size_t n, size_t most)
{
    if (!s || n > most)
        return -EINVAL;
    if (n == 0)
        return 0;
    uint64_t st = atomic_load_explicit(&s->state, memory_order_relaxed);
    while (!(st & WAITERS)) {
        if (permits_of(st) > most - n)
            return -EINVAL;
        if (atomic_compare_exchange_weak_explicit(&s->state, &st, st + permits_word(n),
                                                  memory_order_release, memory_order_relaxed))
            return 0;
    }
    edo__spin_lock(&s->lock);
    release_locked_and_unlock(s, n);
    return 0;
}

int edo_semaphore_release(edo_semaphore *s, size_t n)
{
    return edo__semaphore_release_upto(s, n, EDO_SEMAPHORE_MAX_PERMITS);
}

void edo_semaphore_close(edo_semaphore *s)
{
    if (!s)
        return;
    edo__spin_lock(&s->lock);
    atomic_fetch_or_explicit(&s->state, CLOSED, memory_order_acq_rel);
    size_t returned = 0;
    edo_waker wake[WAKE_BATCH];
    unsigned nwake = 0;
    for (edo__waitq_node *n; (n = edo__waitq_pop(&s->queue));) {
        waiter *w = waiter_of(n);
        w->node.state = CLOSED_OUT;
        returned += w->given;
        w->given = 0;
        if (nwake == WAKE_BATCH) {
            /* Wake in batches without dropping the lock: who is popped cannot be re-queued. */
            for (unsigned i = 0; i < nwake; i++)
                edo_waker_wake(&wake[i]);
            nwake = 0;
        }
        wake[nwake++] = edo__waitq_take_waker(n);
    }
    add_permits_locked(s, returned);
    edo__spin_unlock(&s->lock);
    for (unsigned i = 0; i < nwake; i++)
        edo_waker_wake(&wake[i]);
}

/* ---- the acquire future -------------------------------------------------------------------- */

typedef struct acquire_state {
    edo_semaphore *s;
    size_t n;
    bool taken; /* READY was returned with result 0: the permits are the caller's */
    waiter w;
} acquire_state;

_Static_assert(sizeof(acquire_state) <= sizeof(((edo_semaphore_acquire_future *)0)->private_),
               "edo_semaphore_acquire_future.private_ is too small");

static acquire_state *state_of(edo_semaphore_acquire_future *f)
{
    return (acquire_state *)(void *)f->private_;
}

/* First poll: the fast path, else take what is there and queue for the rest. */
static edo_poll first_poll(edo_semaphore_acquire_future *f, acquire_state *a, edo_context *cx)
{
    edo_semaphore *s = a->s;
    int rc = edo_semaphore_try_acquire(s, a->n);
    if (rc != -EAGAIN) {
        f->result = rc;
        a->taken = rc == 0;
        return EDO_READY;
    }
    edo__spin_lock(&s->lock);
    uint64_t st = atomic_load_explicit(&s->state, memory_order_acquire), next;
    size_t k;
    for (;;) {
        if (st & CLOSED) {
            edo__spin_unlock(&s->lock);
            f->result = -ESHUTDOWN;
            return EDO_READY;
        }
        size_t have = permits_of(st);
        /* released meanwhile, and nobody is before us */
        if (edo__list_is_empty(&s->queue) && have >= a->n) {
            if (atomic_compare_exchange_weak_explicit(&s->state, &st, st - permits_word(a->n),
                                                      memory_order_acquire,
                                                      memory_order_acquire)) {
                edo__spin_unlock(&s->lock);
                f->result = 0;
                a->taken = true;
                return EDO_READY;
            }
            continue;
        }
        /* Queue: take what is free now only if nobody is before us. */
        k = edo__list_is_empty(&s->queue) ? have : 0;
        next = (st - permits_word(k)) | WAITERS;
        if (atomic_compare_exchange_weak_explicit(&s->state, &st, next, memory_order_acquire,
                                                  memory_order_acquire))
            break;
    }
    a->w.given = k;
    a->w.needed = a->n - k;
    a->w.node.state = QUEUED;
    edo__waitq_push(&s->queue, &a->w.node, cx->waker);
    edo__spin_unlock(&s->lock);
    return EDO_PENDING;
}

static edo_poll acquire_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_semaphore_acquire_future *f = (edo_semaphore_acquire_future *)self;
    acquire_state *a = state_of(f);
    if (!a->s) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    if (a->w.node.state == IDLE)
        return first_poll(f, a, cx);
    edo_semaphore *s = a->s;
    edo__spin_lock(&s->lock);
    int state = a->w.node.state;
    if (state == QUEUED)
        edo__waitq_rewake(&a->w.node, cx->waker);
    edo__spin_unlock(&s->lock);
    if (state == QUEUED)
        return EDO_PENDING;
    f->result = state == DONE ? 0 : -ESHUTDOWN;
    a->taken = state == DONE;
    a->w.node.state = FINISHED;
    return EDO_READY;
}

static void acquire_drop(edo_future *self)
{
    acquire_state *a = state_of((edo_semaphore_acquire_future *)self);
    edo_semaphore *s = a->s;
    if (!s || a->w.node.state == IDLE || a->w.node.state == FINISHED || a->taken)
        return;
    edo__spin_lock(&s->lock);
    size_t give_back = 0;
    if (a->w.node.state == QUEUED) {
        edo__waitq_remove(&s->queue, &a->w.node);
        give_back = a->w.given;
    } else if (a->w.node.state == DONE) {
        give_back = a->n; /* served, but the caller never took them */
    }
    edo_waker_drop(&a->w.node.waker);
    a->w.node.state = IDLE;
    /* Whatever we held goes to the next in line (or the pool). */
    release_locked_and_unlock(s, give_back);
}

static const edo_future_vtable acquire_vtable = {acquire_poll, acquire_drop};

void edo_semaphore_acquire_future_init(edo_semaphore_acquire_future *f, edo_semaphore *s,
                                       size_t n)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &acquire_vtable;
    acquire_state *a = state_of(f);
    a->s = n == 0 || n > EDO_SEMAPHORE_MAX_PERMITS ? NULL : s;
    a->n = n;
    a->w.node.state = IDLE;
}

int edo_semaphore_acquire(edo_semaphore *s, size_t n)
{
    if (!s || n == 0 || n > EDO_SEMAPHORE_MAX_PERMITS)
        return -EINVAL;
    if (!edo__coro_running())
        return -EPERM;
    /* The uncontended case takes one CAS and no future. */
    int rc = edo_semaphore_try_acquire(s, n);
    if (rc != -EAGAIN)
        return rc;
    edo_semaphore_acquire_future f;
    edo_semaphore_acquire_future_init(&f, s, n);
    /* cancelled or timed out: the drop gives back what it was given */
    return edo__coro_run(&f.base, NULL, &f.result);
}

/* ---- the mutex --------------------------------------------------------------------------------- */

static edo_semaphore *sem_of(edo_mutex *m) { return (edo_semaphore *)m; }

int edo_mutex_new(edo_mutex **out) { return edo_semaphore_new(1, (edo_semaphore **)out); }

void edo_mutex_free(edo_mutex *m) { edo_semaphore_free(sem_of(m)); }

int edo_mutex_lock(edo_mutex *m) { return edo_semaphore_acquire(sem_of(m), 1); }

int edo_mutex_try_lock(edo_mutex *m) { return edo_semaphore_try_acquire(sem_of(m), 1); }

/* Releasing the one permit of a free mutex would make it admit two holders: refused. */
int edo_mutex_unlock(edo_mutex *m) { return edo__semaphore_release_upto(sem_of(m), 1, 1); }

void edo_mutex_lock_future_init(edo_semaphore_acquire_future *f, edo_mutex *m)
{
    edo_semaphore_acquire_future_init(f, sem_of(m), 1);
}
