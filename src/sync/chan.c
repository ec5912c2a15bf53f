/* The mpsc channel. A bounded channel is a lock-free ring: a semaphore's permits are its free
 * slots (so waiting senders queue fairly and a cancelled send never loses room); a sender with a
 * permit claims a position with one fetch-add and publishes the message with the slot's
 * sequence number; the receiver reads slots in order. An unbounded channel is a growable ring
 * under a spinlock. The receiver's waker is behind a flag that a sender checks after publishing
 * and the receiver sets before looking again. Refcounted: every sender and the receiver. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/sync.h"
#include "platform/spinlock.h"
#include "sync/semaphore.h"

typedef struct slot {
    _Atomic uint64_t seq; /* pos + 1: holds the message of position pos; pos + size: free */
    void *msg;
} slot;

struct edo_chan {
    edo__spinlock lock; /* the unbounded ring; the receiver's waker */
    void **ring;
    size_t ring_size, head, len;
    /* bounded */
    slot *slots;
    uint64_t mask;
    _Alignas(64) _Atomic uint64_t tail; /* next position a sender claims */
    _Alignas(64) _Atomic uint64_t rx_head; /* next position the receiver reads */
    _Atomic int rx_waiting;
    edo_semaphore *room; /* bounded: free slots; NULL when unbounded */
    size_t capacity;     /* bounded: the most free slots there are */
    edo_waker rx_waker;
    _Atomic bool rx_closed; /* read without the lock by the bounded path */
    _Atomic unsigned senders;
    _Atomic unsigned refs; /* senders + the receiver */
    void (*on_unreceived)(void *msg);
};

int edo_chan_new(size_t capacity, void (*on_unreceived)(void *msg), edo_chan **out)
{
    if (!out || capacity > EDO_CHAN_MAX_CAPACITY)
        return -EINVAL;
    edo_chan *ch = aligned_alloc(64, (sizeof *ch + 63) / 64 * 64);
    if (ch)
        memset(ch, 0, sizeof *ch);
    size_t size = 16;
    while (capacity && size < capacity)
        size *= 2;
    bool ok = ch != NULL;
    if (ok && capacity) {
        ch->slots = malloc(size * sizeof *ch->slots);
        ok = ch->slots && edo_semaphore_new(capacity, &ch->room) == 0;
        for (size_t i = 0; ok && i < size; i++)
            atomic_init(&ch->slots[i].seq, i);
        ch->mask = size - 1;
    } else if (ok) {
        ch->ring = malloc(size * sizeof *ch->ring);
        ok = ch->ring != NULL;
    }
    if (!ok) {
        if (ch) {
            free(ch->slots);
            free(ch->ring);
        }
        free(ch);
        return -ENOMEM;
    }
    edo__spin_init(&ch->lock);
    ch->ring_size = size;
    ch->capacity = capacity;
    atomic_init(&ch->senders, 1);
    atomic_init(&ch->refs, 2);
    ch->on_unreceived = on_unreceived;
    *out = ch;
    return 0;
}

/* ---- the bounded ring ------------------------------------------------------------------------ */

/* Publishes `msg` at a claimed position (the sender holds a permit, so the slot is free). */
static void ring_push(edo_chan *ch, void *msg)
{
    uint64_t pos = atomic_fetch_add_explicit(&ch->tail, 1, memory_order_relaxed);
    slot *sl = &ch->slots[pos & ch->mask];
    while (atomic_load_explicit(&sl->seq, memory_order_acquire) != pos)
        edo__cpu_relax(); /* cannot happen with permits; kept as a guard */
    sl->msg = msg;
    atomic_store_explicit(&sl->seq, pos + 1, memory_order_seq_cst);
}

/* The receiver takes the next message, if it has been published. */
static bool ring_pop(edo_chan *ch, void **msg)
{
    uint64_t pos = atomic_load_explicit(&ch->rx_head, memory_order_relaxed);
    slot *sl = &ch->slots[pos & ch->mask];
    if (atomic_load_explicit(&sl->seq, memory_order_seq_cst) != pos + 1)
        return false;
    *msg = sl->msg;
    atomic_store_explicit(&sl->seq, pos + ch->mask + 1, memory_order_release);
    atomic_store_explicit(&ch->rx_head, pos + 1, memory_order_relaxed);
    return true;
}

/* Any message still queued (when the channel is freed). */
static bool take_one_any(edo_chan *ch, void **msg)
{
    if (ch->slots)
        return ring_pop(ch, msg);
    if (!ch->len)
        return false;
    *msg = ch->ring[ch->head];
    ch->head = (ch->head + 1) % ch->ring_size;
    ch->len--;
    return true;
}

static void chan_unref(edo_chan *ch)
{
    if (atomic_fetch_sub_explicit(&ch->refs, 1, memory_order_acq_rel) != 1)
        return;
    void *msg;
    while (take_one_any(ch, &msg))
        if (ch->on_unreceived)
            ch->on_unreceived(msg);
    edo_waker_drop(&ch->rx_waker);
    edo_semaphore_free(ch->room);
    free(ch->slots);
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
        atomic_store_explicit(&ch->rx_waiting, 0, memory_order_seq_cst);
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
    atomic_store_explicit(&ch->rx_closed, true, memory_order_release);
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
    if (c->slots) /* claimed positions, some perhaps still being written */
        return (size_t)(atomic_load_explicit(&c->tail, memory_order_acquire) -
                        atomic_load_explicit(&c->rx_head, memory_order_acquire));
    edo__spin_lock(&c->lock);
    size_t n = c->len;
    edo__spin_unlock(&c->lock);
    return n;
}

/* ---- sending ------------------------------------------------------------------------------- */

/* Queues `msg` into room already claimed (bounded) or grown (unbounded). */
/* After publishing: wake the receiver if it waits (it set the flag before looking again). */
static void wake_receiver(edo_chan *ch)
{
    if (!atomic_load_explicit(&ch->rx_waiting, memory_order_seq_cst) ||
        !atomic_exchange_explicit(&ch->rx_waiting, 0, memory_order_seq_cst))
        return;
    edo__spin_lock(&ch->lock);
    edo_waker w = take_rx_waker(ch);
    edo__spin_unlock(&ch->lock);
    edo_waker_wake(&w);
}

static int push(edo_chan *ch, void *msg)
{
    if (ch->slots) {
        if (atomic_load_explicit(&ch->rx_closed, memory_order_acquire))
            return -EPIPE; /* (a send racing with the close may still land: on_unreceived) */
        ring_push(ch, msg);
        wake_receiver(ch);
        return 0;
    }
    edo__spin_lock(&ch->lock);
    if (atomic_load_explicit(&ch->rx_closed, memory_order_relaxed)) { /* under the lock */
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

/* Gives a claim back. A claim given back that was never made would let more messages in than
 * the ring has slots: refused (while nobody waits for room) by capping the room at capacity. */
static void give_back_claim(edo_chan *ch)
{
    if (ch->room)
        (void)edo__semaphore_release_upto(ch->room, 1, ch->capacity);
}

int edo_chan_send_reserved(edo_chan *ch, void *msg)
{
    if (!ch)
        return -EINVAL;
    int rc = push(ch, msg);
    if (rc < 0)
        give_back_claim(ch);
    return rc;
}

void edo_chan_unreserve(edo_chan *ch)
{
    if (ch)
        give_back_claim(ch);
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
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &send_vtable;
    f->chan = ch;
    f->msg = msg;
}

/* ---- receiving ----------------------------------------------------------------------------- */

/* Takes up to `max` messages. Returns how many, or -EPIPE (none and none will come), or
 * -EAGAIN after registering `waker` (may be NULL). */
static ssize_t take_bounded(edo_chan *ch, void **msgs, size_t max, const edo_waker *waker)
{
    size_t n = 0;
    while (n < max && ring_pop(ch, &msgs[n]))
        n++;
    if (n == 0 && waker) {
        /* Register, raise the flag, look again: a sender publishes, then checks the flag. */
        edo__spin_lock(&ch->lock);
        if (!edo_waker_will_wake(&ch->rx_waker, waker)) {
            edo_waker_drop(&ch->rx_waker);
            ch->rx_waker = edo_waker_clone(waker);
        }
        edo__spin_unlock(&ch->lock);
        atomic_store_explicit(&ch->rx_waiting, 1, memory_order_seq_cst);
        while (n < max && ring_pop(ch, &msgs[n]))
            n++;
    }
    if (n) {
        edo_semaphore_release(ch->room, n); /* their slots are free again */
        return (ssize_t)n;
    }
    /* Empty. Senders all gone (the last one's close is ordered after its pushes)? */
    if (atomic_load_explicit(&ch->senders, memory_order_acquire) == 0) {
        while (n < max && ring_pop(ch, &msgs[n]))
            n++;
        if (n) {
            edo_semaphore_release(ch->room, n);
            return (ssize_t)n;
        }
        return -EPIPE;
    }
    return -EAGAIN;
}

static ssize_t take(edo_chan *ch, void **msgs, size_t max, const edo_waker *waker)
{
    if (ch->slots)
        return take_bounded(ch, msgs, max, waker);
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
    if (!f)
        return;
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
        int rc = edo__coro_run(&f.base, &first, &f.result);
        if (rc < 0)
            return rc;
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
