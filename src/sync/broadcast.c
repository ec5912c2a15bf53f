/* The broadcast channel: a ring of `capacity` fixed-size messages and the count of messages
 * ever sent (the tail), under a spinlock. Position p lives in slot p % capacity until position
 * p + capacity overwrites it, so the oldest message held is tail - capacity. Each receiver keeps
 * the next position it reads; one behind the oldest has lagged, and skips to it. Receivers wait
 * in a list for the tail to move past their position (sync/waitlist.h). Refcounted: every
 * sender and every receiver. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/sync.h"
#include "platform/spinlock.h"
#include "sync/waitlist.h"

struct edo_broadcast {
    edo__spinlock lock; /* everything below */
    uint64_t tail;      /* messages sent so far: the next position */
    edo__waitlist waiting;
    size_t capacity, msg_size;
    size_t senders, receivers;
    size_t refs; /* senders + receivers */
    bool closed; /* every sender has closed */
    _Alignas(16) unsigned char ring[];
};

struct edo_broadcast_receiver {
    edo_broadcast *b;
    edo__waitnode node; /* node.seen: the next position this receiver reads */
};

typedef struct recv_state {
    edo_broadcast_receiver *rx;
    void *msg;
} recv_state;

_Static_assert(sizeof(recv_state) <= sizeof(((edo_broadcast_recv_future *)0)->private_),
               "edo_broadcast_recv_future.private_ is too small");

int edo_broadcast_new(size_t capacity, size_t msg_size, edo_broadcast **out)
{
    if (!out || capacity == 0 || msg_size == 0 || capacity > EDO_BROADCAST_MAX_BYTES / msg_size)
        return -EINVAL;
    edo_broadcast *b = calloc(1, sizeof *b + capacity * msg_size);
    if (!b)
        return -ENOMEM;
    edo__spin_init(&b->lock);
    b->capacity = capacity;
    b->msg_size = msg_size;
    b->senders = 1;
    b->refs = 1;
    *out = b;
    return 0;
}

/* Drops one reference (under the lock, which this releases); frees after the last. */
static void unref_and_unlock(edo_broadcast *b)
{
    bool last = --b->refs == 0;
    edo__spin_unlock(&b->lock);
    if (last)
        free(b);
}

void edo_broadcast_sender_add(edo_broadcast *b)
{
    if (!b)
        return;
    edo__spin_lock(&b->lock);
    b->senders++;
    b->refs++;
    edo__spin_unlock(&b->lock);
}

void edo_broadcast_sender_close(edo_broadcast *b)
{
    if (!b)
        return;
    edo__spin_lock(&b->lock);
    bool last = --b->senders == 0;
    b->closed = last;
    edo__spin_unlock(&b->lock);
    if (last) /* our reference keeps the channel while the receivers are woken */
        edo__waitlist_wake(&b->waiting, &b->lock, &b->tail, true);
    edo__spin_lock(&b->lock);
    unref_and_unlock(b);
}

int edo_broadcast_send(edo_broadcast *b, const void *msg)
{
    if (!b || !msg)
        return -EINVAL;
    edo__spin_lock(&b->lock);
    if (b->receivers == 0) {
        edo__spin_unlock(&b->lock);
        return -EPIPE;
    }
    memcpy(b->ring + (size_t)(b->tail % b->capacity) * b->msg_size, msg, b->msg_size);
    b->tail++;
    bool waiters = !edo__list_is_empty(&b->waiting);
    edo__spin_unlock(&b->lock);
    if (waiters)
        edo__waitlist_wake(&b->waiting, &b->lock, &b->tail, false);
    return 0;
}

size_t edo_broadcast_receiver_count(const edo_broadcast *b)
{
    if (!b)
        return 0;
    edo_broadcast *m = (edo_broadcast *)b;
    edo__spin_lock(&m->lock);
    size_t n = m->receivers;
    edo__spin_unlock(&m->lock);
    return n;
}

int edo_broadcast_subscribe(edo_broadcast *b, edo_broadcast_receiver **out)
{
    if (!b || !out)
        return -EINVAL;
    edo_broadcast_receiver *rx = calloc(1, sizeof *rx);
    if (!rx)
        return -ENOMEM;
    rx->b = b;
    edo__spin_lock(&b->lock);
    rx->node.seen = b->tail;
    b->receivers++;
    b->refs++;
    edo__spin_unlock(&b->lock);
    *out = rx;
    return 0;
}

void edo_broadcast_receiver_close(edo_broadcast_receiver *rx)
{
    if (!rx)
        return;
    edo_broadcast *b = rx->b;
    edo__spin_lock(&b->lock);
    edo_waker stale = edo__waitlist_remove(&b->waiting, &rx->node); /* (a misuse: be safe) */
    b->receivers--;
    unref_and_unlock(b);
    edo_waker_drop(&stale);
    free(rx);
}

static uint64_t oldest_locked(const edo_broadcast *b)
{
    return b->tail > b->capacity ? b->tail - b->capacity : 0;
}

size_t edo_broadcast_len(const edo_broadcast_receiver *rx)
{
    if (!rx)
        return 0;
    edo_broadcast *b = rx->b;
    edo__spin_lock(&b->lock);
    uint64_t from = rx->node.seen, oldest = oldest_locked(b);
    size_t n = (size_t)(b->tail - (from > oldest ? from : oldest));
    edo__spin_unlock(&b->lock);
    return n;
}

/* The receive step, under the lock: 0 (copied), -EOVERFLOW, -EPIPE, or -EAGAIN (nothing new;
 * nothing done). When the receiver's position moves, a queued node leaves the list first (its
 * `seen` may not change while queued) and its waker is stored in *queued. */
static int take_locked(edo_broadcast_receiver *rx, void *msg, uint64_t *missed,
                       edo_waker *queued)
{
    edo_broadcast *b = rx->b;
    uint64_t pos = rx->node.seen;
    if (pos == b->tail)
        return b->closed ? -EPIPE : -EAGAIN;
    *queued = edo__waitlist_remove(&b->waiting, &rx->node);
    uint64_t oldest = oldest_locked(b);
    if (pos < oldest) {
        if (missed)
            *missed = oldest - pos;
        rx->node.seen = oldest;
        return -EOVERFLOW;
    }
    memcpy(msg, b->ring + (size_t)(pos % b->capacity) * b->msg_size, b->msg_size);
    rx->node.seen = pos + 1;
    return 0;
}

int edo_broadcast_try_recv(edo_broadcast_receiver *rx, void *msg, uint64_t *missed)
{
    if (!rx || !msg)
        return -EINVAL;
    edo_waker pending = EDO_WAKER_EMPTY;
    edo__spin_lock(&rx->b->lock);
    int rc = take_locked(rx, msg, missed, &pending);
    edo__spin_unlock(&rx->b->lock);
    edo_waker_wake(&pending); /* a receive future of this receiver: it registers again */
    return rc;
}

/* ---- the future form ------------------------------------------------------------------------ */

static recv_state *state_of(edo_broadcast_recv_future *f)
{
    return (recv_state *)(void *)f->private_;
}

static edo_poll recv_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_broadcast_recv_future *f = (edo_broadcast_recv_future *)self;
    recv_state *s = state_of(f);
    if (!s->rx || !s->msg) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    if (!edo_coop_proceed(cx)) /* out of budget: woken, polled again soon */
        return EDO_PENDING;
    edo_broadcast *b = s->rx->b;
    edo_waker mine = EDO_WAKER_EMPTY;
    edo__spin_lock(&b->lock);
    int rc = take_locked(s->rx, s->msg, &f->missed, &mine);
    if (rc == -EAGAIN) {
        edo__waitlist_add(&b->waiting, &s->rx->node, cx->waker, s->rx->node.seen);
        edo__spin_unlock(&b->lock);
        return EDO_PENDING;
    }
    edo__spin_unlock(&b->lock);
    edo_waker_drop(&mine);
    f->result = rc;
    return EDO_READY;
}

static void recv_drop(edo_future *self)
{
    recv_state *s = state_of((edo_broadcast_recv_future *)self);
    if (s->rx)
        edo__waitlist_leave(&s->rx->b->waiting, &s->rx->b->lock, &s->rx->node);
}

static const edo_future_vtable recv_vtable = {recv_poll, recv_drop};

void edo_broadcast_recv_future_init(edo_broadcast_recv_future *f, edo_broadcast_receiver *rx,
                                    void *msg)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &recv_vtable;
    state_of(f)->rx = rx;
    state_of(f)->msg = msg;
}

int edo_broadcast_recv(edo_broadcast_receiver *rx, void *msg, uint64_t *missed)
{
    if (!rx || !msg)
        return -EINVAL;
    edo_broadcast_recv_future f;
    edo_broadcast_recv_future_init(&f, rx, msg);
    int rc = edo__coro_run(&f.base, NULL, &f.result);
    if (rc == -EOVERFLOW && missed) /* (only the future's result is -EOVERFLOW) */
        *missed = f.missed;
    return rc;
}
