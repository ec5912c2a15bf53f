/* The oneshot channel: a value slot, the receiver's waker and two "side ended" flags under a
 * spinlock; the channel frees itself when both sides have ended. Channels come from the task
 * allocator (core/alloc.h): one is typically made on one worker and freed on another, which
 * the general-purpose allocator pays for with a lock and cache misses per channel. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/alloc.h"
#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/sync.h"
#include "platform/spinlock.h"

struct edo_oneshot {
    edo__spinlock lock;
    /* Not next to the lock byte: the compiler may read the flags as one wider word, and that
     * word must not overlap the lock that other threads write atomically. */
    void *value;
    edo_waker rx_waker;
    /* SENT, TX_DONE, RX_DONE: changed under the lock only, atomic so that a receiver may glance
     * at them without it (edo_oneshot_recv: nothing sent yet, so wait without a first try). */
    _Atomic uint32_t flags;
    uint32_t size_class; /* of the block it lives in */
};

enum { SENT = 1u, TX_DONE = 2u, RX_DONE = 4u };

static uint32_t flags_of(const edo_oneshot *o)
{
    return atomic_load_explicit(&o->flags, memory_order_relaxed);
}

int edo_oneshot_new(edo_oneshot **out)
{
    if (!out)
        return -EINVAL;
    uint32_t size_class;
    edo_oneshot *o = edo__block_alloc(sizeof *o, &size_class);
    if (!o)
        return -ENOMEM;
    *o = (edo_oneshot){.rx_waker = EDO_WAKER_EMPTY, .size_class = size_class};
    edo__spin_init(&o->lock);
    *out = o;
    return 0;
}

/* Ends a side: stores `flags` (the side's done bit among them) and releases the lock; frees
 * the channel once both sides have ended. */
static void end_side_and_unlock(edo_oneshot *o, uint32_t flags)
{
    atomic_store_explicit(&o->flags, flags, memory_order_relaxed);
    bool last = (flags & (TX_DONE | RX_DONE)) == (TX_DONE | RX_DONE);
    edo_waker w = EDO_WAKER_EMPTY;
    if (last) {
        w = o->rx_waker;
        o->rx_waker = EDO_WAKER_EMPTY;
    }
    edo__spin_unlock(&o->lock);
    if (last) {
        if (w.vtable) /* usually empty: the send took it */
            edo_waker_drop(&w);
        edo__block_free(o, o->size_class);
    }
}

/* Ends the sender side, waking the receiver. */
static int finish_send(edo_oneshot *o, bool with_value, void *value)
{
    edo__spin_lock(&o->lock);
    uint32_t f = flags_of(o);
    if (f & TX_DONE) {
        edo__spin_unlock(&o->lock);
        return -EINVAL;
    }
    int rc = 0;
    if (with_value) {
        if (f & RX_DONE) {
            rc = -EPIPE; /* nobody will receive it: it stays the caller's */
        } else {
            o->value = value;
            f |= SENT;
        }
    }
    edo_waker w = o->rx_waker;
    o->rx_waker = EDO_WAKER_EMPTY;
    end_side_and_unlock(o, f | TX_DONE);
    edo_waker_wake(&w);
    return rc;
}

int edo_oneshot_send(edo_oneshot *o, void *value)
{
    if (!o)
        return -EINVAL;
    return finish_send(o, true, value);
}

void edo_oneshot_sender_close(edo_oneshot *o)
{
    if (o)
        finish_send(o, false, NULL);
}

/* The receive step: 0 or -EPIPE end the receiver side; -EAGAIN registers `waker` (if given);
 * -EINVAL: the receiver side had ended already (while the sender's is open, so `o` lives). */
static int try_take(edo_oneshot *o, void **value, const edo_waker *waker)
{
    edo__spin_lock(&o->lock);
    uint32_t f = flags_of(o);
    if (f & RX_DONE) {
        edo__spin_unlock(&o->lock);
        return -EINVAL;
    }
    if (f & (SENT | TX_DONE)) {
        int rc = (f & SENT) ? 0 : -EPIPE;
        if (value && (f & SENT))
            *value = o->value;
        o->value = NULL;
        end_side_and_unlock(o, (f & ~SENT) | RX_DONE);
        return rc;
    }
    if (waker && !o->rx_waker.vtable) {
        /* The first wait (the usual case): nothing to compare with or to release. */
        o->rx_waker = edo_waker_clone(waker);
        edo__spin_unlock(&o->lock);
        return -EAGAIN;
    }
    if (waker && !edo_waker_will_wake(&o->rx_waker, waker)) {
        edo_waker old = o->rx_waker;
        o->rx_waker = edo_waker_clone(waker);
        edo__spin_unlock(&o->lock);
        edo_waker_drop(&old);
        return -EAGAIN;
    }
    edo__spin_unlock(&o->lock);
    return -EAGAIN;
}

int edo_oneshot_try_recv(edo_oneshot *o, void **value)
{
    if (!o)
        return -EINVAL;
    return try_take(o, value, NULL);
}

void *edo_oneshot_receiver_close(edo_oneshot *o)
{
    if (!o)
        return NULL;
    edo__spin_lock(&o->lock);
    uint32_t f = flags_of(o);
    void *unreceived = (f & SENT) ? o->value : NULL;
    o->value = NULL;
    edo_waker w = o->rx_waker;
    o->rx_waker = EDO_WAKER_EMPTY;
    end_side_and_unlock(o, (f & ~SENT) | RX_DONE);
    edo_waker_drop(&w);
    return unreceived;
}

static edo_poll recv_poll(edo_future *self, edo_context *cx, void **out)
{
    edo_oneshot_recv_future *f = (edo_oneshot_recv_future *)self;
    if (!f->channel) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    int rc = try_take(f->channel, out, cx->waker);
    if (rc == -EAGAIN)
        return EDO_PENDING;
    f->channel = NULL; /* the receiver side has ended: the channel may be gone */
    f->result = rc;
    return EDO_READY;
}

/* Stops waiting (drops the receiver's waker); the receiver side stays open. */
static void withdraw(edo_oneshot *o)
{
    edo__spin_lock(&o->lock);
    edo_waker w = o->rx_waker;
    o->rx_waker = EDO_WAKER_EMPTY;
    edo__spin_unlock(&o->lock);
    edo_waker_drop(&w);
}

static void recv_drop(edo_future *self)
{
    edo_oneshot_recv_future *f = (edo_oneshot_recv_future *)self;
    if (f->channel)
        withdraw(f->channel);
}

static const edo_future_vtable recv_vtable = {recv_poll, recv_drop};

void edo_oneshot_recv_future_init(edo_oneshot_recv_future *f, edo_oneshot *o)
{
    if (!f)
        return;
    f->base.vtable = &recv_vtable;
    f->result = 0;
    f->channel = o;
}

/* A coroutine's wait for the value, one step (edo__coro_wait_step): taken on the poller's
 * side, which writes the value straight into the receiving call's `value`. */
static int recv_step(void *arg, edo_context *cx, void **out)
{
    edo_oneshot *o = arg;
    if (!cx) {
        withdraw(o); /* cancelled: the receiver side stays open */
        return -ECANCELED;
    }
    return try_take(o, out, cx->waker);
}

/* The wait of a coroutine with a deadline: for a future, under a timer (edo__coro_await_until).
 * Out of line, so that edo_oneshot_recv's frame holds no future (its wait is a tail call). */
__attribute__((noinline)) static int recv_until(edo__coro *co, edo_oneshot *o, void **value)
{
    edo_oneshot_recv_future f;
    edo_oneshot_recv_future_init(&f, o);
    void *got = NULL;
    int rc = edo__coro_await_until(co, &f.base, &got);
    if (rc < 0) {
        edo_future_drop(&f.base); /* withdraws the waker; the receiver side stays open */
        return rc;
    }
    /* Ready: the receiver side has ended and the future holds nothing to drop. */
    if (f.result == 0 && value)
        *value = got;
    return f.result;
}

int edo_oneshot_recv(edo_oneshot *o, void **value)
{
    if (!o)
        return -EINVAL;
    edo__coro *co = edo__coro_running();
    if (!co)
        return -EPERM;
    /* Already sent (or closed): taken without a future. The glance needs no lock: the channel
     * lives while this side is open, and the wait below looks again under the lock. */
    if (flags_of(o) & (SENT | TX_DONE)) {
        int rc = try_take(o, value, NULL);
        if (rc != -EAGAIN)
            return rc;
    }
    if (co->cancelled)
        return -ECANCELED;
    /* The wait's first step, done here: registers the coroutine's waker. */
    int rc = try_take(o, value, co->cx->waker);
    if (rc != -EAGAIN)
        return rc;
    if (co->timed)
        return recv_until(co, o, value);
    /* A tail call: the value comes back through `value` and the coroutine is resumed straight
     * in our caller. */
    return edo__coro_wait_step(co, recv_step, o, value);
}
