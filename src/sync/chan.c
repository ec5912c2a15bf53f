/* The mpsc channel: a ring of message pointers under a spinlock, the receiver's waker, and for a
 * bounded channel a semaphore whose permits are the free slots (so waiting senders queue fairly
 * and a cancelled send never loses room). Refcounted: every sender and the receiver. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/sync.h"
#include "platform/spinlock.h"

struct edo_chan {
    edo__spinlock lock;
    void **ring;
    size_t ring_size, head, len;
    edo_semaphore *room; /* bounded: free slots; NULL when unbounded */
    edo_waker rx_waker;
    bool rx_closed;
    _Atomic unsigned senders;
    _Atomic unsigned refs; /* senders + the receiver */
    void (*on_unreceived)(void *msg);
};

int edo_chan_new(edo_chan **out, size_t capacity, void (*on_unreceived)(void *msg))
{
    if (!out || capacity > EDO_SEMAPHORE_MAX_PERMITS)
        return -EINVAL;
    edo_chan *ch = calloc(1, sizeof *ch);
    size_t size = capacity ? capacity : 16;
    if (ch)
        ch->ring = malloc(size * sizeof *ch->ring);
    if (!ch || !ch->ring || (capacity && edo_semaphore_new(&ch->room, capacity) < 0)) {
        if (ch)
            free(ch->ring);
        free(ch);
        return -ENOMEM;
    }
    edo__spin_init(&ch->lock);
    ch->ring_size = size;
    atomic_init(&ch->senders, 1);
    atomic_init(&ch->refs, 2);
    ch->on_unreceived = on_unreceived;
    *out = ch;
    return 0;
}

static void chan_unref(edo_chan *ch)
{
    if (atomic_fetch_sub_explicit(&ch->refs, 1, memory_order_acq_rel) != 1)
        return;
    for (size_t i = 0; i < ch->len; i++)
        if (ch->on_unreceived)
            ch->on_unreceived(ch->ring[(ch->head + i) % ch->ring_size]);
    edo_waker_drop(&ch->rx_waker);
    edo_semaphore_free(ch->room);
    free(ch->ring);
    free(ch);
}

void edo_chan_sender_add(edo_chan *ch)
{
    if (!ch)
        return;
    atomic_fetch_add_explicit(&ch->refs, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&ch->senders, 1, memory_order_relaxed);
}

/* Takes the receiver's waker to wake (under the lock). */
static edo_waker take_rx_waker(edo_chan *ch)
{
    edo_waker w = ch->rx_waker;
    ch->rx_waker = EDO_WAKER_EMPTY;
    return w;
}

void edo_chan_sender_close(edo_chan *ch)
{
    if (!ch)
        return;
    if (atomic_fetch_sub_explicit(&ch->senders, 1, memory_order_acq_rel) == 1) {
        edo__spin_lock(&ch->lock); /* the last one: the receiver learns there is no more */
        edo_waker w = take_rx_waker(ch);
        edo__spin_unlock(&ch->lock);
        edo_waker_wake(&w);
    }
    chan_unref(ch);
}

void edo_chan_receiver_close(edo_chan *ch)
{
    if (!ch)
        return;
    edo__spin_lock(&ch->lock);
    ch->rx_closed = true;
    edo_waker w = take_rx_waker(ch);
    edo__spin_unlock(&ch->lock);
    edo_waker_drop(&w);
    if (ch->room)
        edo_semaphore_close(ch->room); /* waiting senders fail */
    chan_unref(ch);
}

size_t edo_chan_len(const edo_chan *ch)
{
    if (!ch)
        return 0;
    edo_chan *c = (edo_chan *)ch;
    edo__spin_lock(&c->lock);
    size_t n = c->len;
    edo__spin_unlock(&c->lock);
    return n;
}

/* ---- sending ------------------------------------------------------------------------------- */

/* Queues `msg` into room already claimed (bounded) or grown (unbounded). */
static int push(edo_chan *ch, void *msg)
{
    edo__spin_lock(&ch->lock);
    if (ch->rx_closed) {
        edo__spin_unlock(&ch->lock);
        return -EPIPE;
    }
    if (ch->len == ch->ring_size) { /* unbounded: grow (bounded never gets here) */
        size_t size = ch->ring_size * 2;
        void **ring = malloc(size * sizeof *ring);
        if (!ring) {
            edo__spin_unlock(&ch->lock);
            return -ENOMEM;
        }
        for (size_t i = 0; i < ch->len; i++)
            ring[i] = ch->ring[(ch->head + i) % ch->ring_size];
        free(ch->ring);
        ch->ring = ring;
        ch->ring_size = size;
        ch->head = 0;
    }
    ch->ring[(ch->head + ch->len) % ch->ring_size] = msg;
    ch->len++;
    edo_waker w = take_rx_waker(ch);
    edo__spin_unlock(&ch->lock);
    edo_waker_wake(&w);
    return 0;
}

int edo_chan_send_reserved(edo_chan *ch, void *msg)
{
    if (!ch)
        return -EINVAL;
    int rc = push(ch, msg);
    if (rc < 0 && ch->room)
        edo_semaphore_release(ch->room, 1);
    return rc;
}

void edo_chan_unreserve(edo_chan *ch)
{
    if (ch && ch->room)
        edo_semaphore_release(ch->room, 1);
}

int edo_chan_try_send(edo_chan *ch, void *msg)
{
    if (!ch)
        return -EINVAL;
    if (ch->room) {
        int rc = edo_semaphore_try_acquire(ch->room, 1);
        if (rc < 0)
            return rc == -ESHUTDOWN ? -EPIPE : rc;
    }
    return edo_chan_send_reserved(ch, msg);
}

int edo_chan_reserve(edo_chan *ch)
{
    if (!ch)
        return -EINVAL;
    if (!edo__coro_running())
        return -EPERM;
    if (!ch->room)
        return 0;
    int rc = edo_semaphore_acquire(ch->room, 1);
    return rc == -ESHUTDOWN ? -EPIPE : rc;
}

int edo_chan_send(edo_chan *ch, void *msg)
{
    int rc = edo_chan_reserve(ch);
    return rc < 0 ? rc : edo_chan_send_reserved(ch, msg);
}

static edo_poll send_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_chan_send_future *f = (edo_chan_send_future *)self;
    if (!f->chan) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    if (f->chan->room) {
        if (!f->started) {
            edo_semaphore_acquire_future_init(&f->room, f->chan->room, 1);
            f->started = 1;
        }
        if (edo_future_poll(&f->room.base, cx, NULL) == EDO_PENDING)
            return EDO_PENDING;
        if (f->room.result < 0) {
            f->result = f->room.result == -ESHUTDOWN ? -EPIPE : f->room.result;
            return EDO_READY;
        }
    }
    f->result = edo_chan_send_reserved(f->chan, f->msg);
    return EDO_READY;
}

static void send_drop(edo_future *self)
{
    edo_chan_send_future *f = (edo_chan_send_future *)self;
    if (f->started)
        edo_future_drop(&f->room.base); /* not yet granted: gives back what it had */
}

static const edo_future_vtable send_vtable = {send_poll, send_drop};

void edo_chan_send_future_init(edo_chan_send_future *f, edo_chan *ch, void *msg)
{
    memset(f, 0, sizeof *f);
    f->base.vtable = &send_vtable;
    f->chan = ch;
    f->msg = msg;
}

/* ---- receiving ----------------------------------------------------------------------------- */

/* Takes up to `max` messages. Returns how many, or -EPIPE (none and none will come), or
 * -EAGAIN after registering `waker` (may be NULL). */
static ssize_t take(edo_chan *ch, void **msgs, size_t max, const edo_waker *waker)
{
    edo__spin_lock(&ch->lock);
    size_t n = ch->len < max ? ch->len : max;
    for (size_t i = 0; i < n; i++) {
        msgs[i] = ch->ring[ch->head];
        ch->head = (ch->head + 1) % ch->ring_size;
    }
    ch->len -= n;
    if (n == 0) {
        if (atomic_load_explicit(&ch->senders, memory_order_acquire) == 0) {
            edo__spin_unlock(&ch->lock);
            return -EPIPE;
        }
        if (waker && !edo_waker_will_wake(&ch->rx_waker, waker)) {
            edo_waker old = ch->rx_waker;
            ch->rx_waker = edo_waker_clone(waker);
            edo__spin_unlock(&ch->lock);
            edo_waker_drop(&old);
            return -EAGAIN;
        }
    }
    edo__spin_unlock(&ch->lock);
    if (n && ch->room)
        edo_semaphore_release(ch->room, n); /* their slots are free again */
    return n ? (ssize_t)n : -EAGAIN;
}

int edo_chan_try_recv(edo_chan *ch, void **msg)
{
    if (!ch || !msg)
        return -EINVAL;
    ssize_t n = take(ch, msg, 1, NULL);
    return n < 0 ? (int)n : 0;
}

static edo_poll recv_poll(edo_future *self, edo_context *cx, void **out)
{
    edo_chan_recv_future *f = (edo_chan_recv_future *)self;
    if (!f->chan) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    void *msg;
    ssize_t n = take(f->chan, &msg, 1, cx->waker);
    if (n == -EAGAIN)
        return EDO_PENDING;
    f->result = n < 0 ? (int)n : 0;
    if (n > 0)
        *out = msg;
    return EDO_READY;
}

static const edo_future_vtable recv_vtable = {recv_poll, NULL};

void edo_chan_recv_future_init(edo_chan_recv_future *f, edo_chan *ch)
{
    f->base.vtable = &recv_vtable;
    f->result = 0;
    f->chan = ch;
}

ssize_t edo_chan_recv_many(edo_chan *ch, void **msgs, size_t max)
{
    if (!ch || !msgs || max == 0)
        return -EINVAL;
    if (!edo__coro_running())
        return -EPERM;
    for (;;) {
        ssize_t n = take(ch, msgs, max, NULL);
        if (n != -EAGAIN)
            return n;
        /* Nothing yet: wait for one (it is taken by the wait) and add what else is there. */
        edo_chan_recv_future f;
        edo_chan_recv_future_init(&f, ch);
        void *first = NULL;
        int rc = edo_await(&f.base, &first);
        if (rc < 0)
            return rc;
        if (f.result < 0)
            return f.result;
        msgs[0] = first;
        if (max == 1)
            return 1;
        ssize_t more = take(ch, msgs + 1, max - 1, NULL);
        return 1 + (more > 0 ? more : 0);
    }
}

int edo_chan_recv(edo_chan *ch, void **msg)
{
    if (!msg)
        return -EINVAL;
    ssize_t n = edo_chan_recv_many(ch, msg, 1);
    return n < 0 ? (int)n : 0;
}
