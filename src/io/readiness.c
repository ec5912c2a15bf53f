/* Readiness and its waiters (see readiness.h): the state word of each registration, the
 * waiters queued on it, the edges the backend delivers, and the coroutine form of a wait. */
#include "io/readiness.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/coro.h"

#define READY_MASK 0xffffull
#define TICK_ONE (1ull << 16)
#define TICK_MASK (0xffffull << 16)
#define GEN_SHIFT 32
/* A deregistered slot: waits that start on it fail with -EBADF (until the slot is reused). */
#define DEAD 0x8000u
#define WAKE_BATCH 32
/* What a new registration assumes (edo__io_readiness_open). */
#define ASSUMED_BITS (EDO_READABLE | EDO_WRITABLE)

static inline uint32_t gen_of(uint64_t s) { return (uint32_t)(s >> GEN_SHIFT); }

/* The bits that answer a wait for `interest`: each direction with its own closed bit, and the
 * error bit for both. A write that would block says nothing about the read side, so a writer
 * must neither see nor clear READ_CLOSED (and a reader WRITE_CLOSED). */
static inline uint32_t bits_for(uint32_t interest)
{
    uint32_t bits = EDO_IO_ERROR;
    if (interest & EDO_READABLE)
        bits |= EDO_READABLE | EDO_READ_CLOSED;
    if (interest & EDO_WRITABLE)
        bits |= EDO_WRITABLE | EDO_WRITE_CLOSED;
    return bits;
}
static inline uint32_t ready_of(uint64_t s) { return (uint32_t)(s & READY_MASK); }

/* ---- waiters ------------------------------------------------------------------------------- */

/* Not platform/list.h: the links are edo_io_waiter's own typed fields in the public edo/io.h,
 * kept as they are (ABI), and the list keeps no tail. */
static void unlink_waiter(edo_io *io, edo_io_waiter *w)
{
    if (w->prev_)
        w->prev_->next_ = w->next_;
    else
        io->waiters = w->next_;
    if (w->next_)
        w->next_->prev_ = w->prev_;
    w->next_ = w->prev_ = NULL;
    __atomic_store_n(&w->linked_, 0, __ATOMIC_RELEASE);
}

/* Wakes the waiters `match` selects (all when `all`), outside the lock, in batches. */
static void wake_waiters(edo_io *io, uint32_t ready, bool all)
{
    edo_waker batch[WAKE_BATCH];
    for (;;) {
        unsigned n = 0;
        edo__spin_lock(&io->lock);
        edo_io_waiter *w = io->waiters;
        while (w && n < WAKE_BATCH) {
            edo_io_waiter *next = w->next_;
            if (all || (bits_for(w->interest_) & ready)) {
                batch[n++] = w->waker_;
                w->waker_ = EDO_WAKER_EMPTY;
                unlink_waiter(io, w);
            }
            w = next;
        }
        bool more = w != NULL;
        edo__spin_unlock(&io->lock);
        for (unsigned i = 0; i < n; i++)
            edo_waker_wake(&batch[i]);
        if (!more || n < WAKE_BATCH)
            return;
    }
}

void edo_io_waiter_init(edo_io_waiter *w)
{
    if (w)
        memset(w, 0, sizeof *w);
}

void edo_io_waiter_drop(edo_io *io, edo_io_waiter *w)
{
    if (!io || !w || !__atomic_load_n(&w->linked_, __ATOMIC_ACQUIRE))
        return;
    edo__spin_lock(&io->lock);
    bool linked = w->linked_;
    if (linked)
        unlink_waiter(io, w);
    edo__spin_unlock(&io->lock);
    edo_waker_drop(&w->waker_);
}

/* ---- readiness ----------------------------------------------------------------------------- */

/* Ready bits of `s` that answer `interest`. */
static inline uint32_t answer(uint64_t s, uint32_t interest)
{
    return ready_of(s) & bits_for(interest);
}

edo_poll edo__io_poll_ready(edo_io *io, uint32_t interest, edo_io_waiter *w, edo_context *cx,
                            edo_io_event *ev, int *rc)
{
    uint64_t s = atomic_load_explicit(&io->state, memory_order_acquire);
    if (!w->generation_)
        w->generation_ = gen_of(s); /* first poll: this wait belongs to this registration */
    if (s & DEAD)
        w->generation_ = 0; /* deregistered before the wait began: no generation matches */
    *rc = 0;
    uint32_t r = answer(s, interest);
    if (!r && gen_of(s) == w->generation_) {
        edo__spin_lock(&io->lock);
        s = atomic_load_explicit(&io->state, memory_order_acquire);
        r = answer(s, interest);
        if (!r && gen_of(s) == w->generation_) {
            w->interest_ = interest;
            if (!w->linked_) {
                w->waker_ = edo_waker_clone(cx->waker);
                w->prev_ = NULL;
                w->next_ = io->waiters;
                if (io->waiters)
                    io->waiters->prev_ = w;
                io->waiters = w;
                __atomic_store_n(&w->linked_, 1, __ATOMIC_RELAXED);
            } else if (!edo_waker_will_wake(&w->waker_, cx->waker)) {
                edo_waker_drop(&w->waker_);
                w->waker_ = edo_waker_clone(cx->waker);
            }
            edo__spin_unlock(&io->lock);
            return EDO_PENDING;
        }
        edo__spin_unlock(&io->lock);
    }
    if (edo__io_waiter_linked(w))
        edo_io_waiter_drop(io, w);
    if (gen_of(s) != w->generation_) {
        *rc = -EBADF; /* deregistered while we waited */
        r = 0;
    }
    ev->ready = r;
    ev->state_ = s;
    return EDO_READY;
}

edo_poll edo_io_poll_ready(edo_io *io, uint32_t interest, edo_io_waiter *w, edo_context *cx,
                           edo_io_event *ev, int *rc)
{
    /* Checked here, once per public call; the sockets' loop calls edo__io_poll_ready. */
    if (__builtin_expect(!io || !w || !cx || !ev || !rc ||
                             !(interest & (EDO_READABLE | EDO_WRITABLE)),
                         0)) {
        if (ev)
            *ev = (edo_io_event){0, 0};
        if (rc)
            *rc = -EINVAL;
        return EDO_READY;
    }
    return edo__io_poll_ready(io, interest, w, cx, ev, rc);
}

int edo_io_try_ready(edo_io *io, uint32_t interest, edo_io_event *ev)
{
    if (!io || !ev || !(interest & (EDO_READABLE | EDO_WRITABLE)))
        return -EINVAL;
    uint64_t s = atomic_load_explicit(&io->state, memory_order_acquire);
    if (s & DEAD)
        return -EBADF;
    ev->ready = answer(s, interest);
    ev->state_ = s;
    return (int)ev->ready;
}

void edo_io_clear_ready(edo_io *io, edo_io_event ev)
{
    if (io)
        edo__io_clear_ready(io, ev);
}

void edo__io_clear_ready(edo_io *io, edo_io_event ev)
{
    uint64_t clear = ev.ready;
    uint64_t cur = atomic_load_explicit(&io->state, memory_order_acquire);
    /* Only if no event came since `ev` was seen (same generation and tick). */
    while ((cur & ~READY_MASK) == (ev.state_ & ~READY_MASK) && (cur & clear)) {
        if (atomic_compare_exchange_weak_explicit(&io->state, &cur, cur & ~clear,
                                                  memory_order_acq_rel, memory_order_acquire))
            return;
    }
}

/* An event for generation `gen` of `io`: adds `bits`, bumps the tick, wakes who waits. */
static void set_ready(edo_io *io, uint32_t gen, uint32_t bits)
{
    uint64_t cur = atomic_load_explicit(&io->state, memory_order_acquire), next;
    do {
        if (gen_of(cur) != gen)
            return; /* a late event for a registration that is gone */
        /* The first event replaces the readiness assumed at registration: the backend reports
         * an fd's whole state when it is registered (and each event carries all of it), so a
         * direction it leaves out is not ready, and a readiness wait must not hear otherwise. */
        uint64_t kept = (cur & TICK_MASK) ? cur : cur & ~(uint64_t)ASSUMED_BITS;
        next = ((kept | bits) & ~TICK_MASK) | ((cur + TICK_ONE) & TICK_MASK);
    } while (!atomic_compare_exchange_weak_explicit(&io->state, &cur, next, memory_order_acq_rel,
                                                    memory_order_acquire));
    wake_waiters(io, bits, false);
}

bool edo__io_event_is_assumed(edo_io_event ev) { return (ev.state_ & TICK_MASK) == 0; }

/* ---- generations --------------------------------------------------------------------------- */

uint32_t edo__io_readiness_open(struct edo_io *io)
{
    /* A new generation; optimistic readiness: the first operation is simply tried. */
    uint32_t gen = gen_of(atomic_load_explicit(&io->state, memory_order_relaxed)) + 1;
    if (gen == 0)
        gen = 1;
    atomic_store_explicit(&io->state,
                          ((uint64_t)gen << GEN_SHIFT) | ASSUMED_BITS,
                          memory_order_release);
    edo__spin_lock(&io->lock); /* a late set_ready of the previous generation may walk it */
    io->waiters = NULL;
    edo__spin_unlock(&io->lock);
    return gen;
}

void edo__io_readiness_close(struct edo_io *io)
{
    /* A new generation: late events are dropped, and waiters see the change. */
    uint64_t cur = atomic_load_explicit(&io->state, memory_order_acquire);
    uint64_t next = ((uint64_t)(gen_of(cur) + 1) << GEN_SHIFT) | DEAD;
    while (!atomic_compare_exchange_weak_explicit(&io->state, &cur, next, memory_order_acq_rel,
                                                  memory_order_acquire))
        next = ((uint64_t)(gen_of(cur) + 1) << GEN_SHIFT) | DEAD;
    wake_waiters(io, 0, true);
}

void edo__io_readiness_deliver(edo__io_slab *slab, const edo__io_ready *events, int n)
{
    for (int i = 0; i < n; i++) {
        uint64_t token = events[i].token;
        if (token == EDO__IO_WAKE_TOKEN)
            continue; /* the backend has reset its wake handle already */
        edo_io *io = edo__io_slab_get(slab, edo__io_token_index(token));
        if (io)
            set_ready(io, edo__io_token_gen(token), events[i].bits);
    }
}

/* ---- coroutine form -------------------------------------------------------------------------- */

typedef struct ready_future {
    edo_future base;
    edo_io *io;
    uint32_t interest;
    edo_io_waiter waiter;
    edo_io_event *ev;
    int rc;
} ready_future;

static edo_poll ready_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    ready_future *f = (ready_future *)self;
    return edo__io_poll_ready(f->io, f->interest, &f->waiter, cx, f->ev, &f->rc);
}

static void ready_drop(edo_future *self)
{
    ready_future *f = (ready_future *)self;
    edo_io_waiter_drop(f->io, &f->waiter);
}

static const edo_future_vtable ready_vtable = {ready_poll, ready_drop};

int edo_io_ready(edo_io *io, uint32_t interest, edo_io_event *ev)
{
    if (!io || !ev || !(interest & (EDO_READABLE | EDO_WRITABLE)))
        return -EINVAL;
    ready_future f = {{&ready_vtable}, io, interest, {0}, ev, 0};
    return edo__coro_run(&f.base, NULL, &f.rc);
}
