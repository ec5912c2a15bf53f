/* The watch channel: one value of a fixed size and its version, copied in and out under a
 * spinlock, and a list of the receivers waiting for the version to move (each receiver is its
 * own wait node: it waits for one change at a time). Refcounted: the sender and each receiver. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/sync.h"
#include "platform/spinlock.h"
#include "sync/waitlist.h"

struct edo_watch {
    edo__spinlock lock; /* the value, the version, the flags, the wait list */
    uint64_t version;   /* sends so far */
    edo__waitlist waiting;
    size_t size;
    size_t receivers;
    size_t refs; /* receivers, plus one while the sender is open */
    bool closed;
    _Alignas(16) unsigned char value[];
};

struct edo_watch_receiver {
    edo_watch *w;
    edo__waitnode node; /* node.seen: the version this receiver saw last (under w->lock) */
};

typedef struct changed_state {
    edo_watch_receiver *rx;
    void *value;
} changed_state;

_Static_assert(sizeof(changed_state) <= sizeof(((edo_watch_changed_future *)0)->private_),
               "edo_watch_changed_future.private_ is too small");

int edo_watch_new(const void *initial, size_t size, edo_watch **out)
{
    if (!out || !initial || size == 0 || size > EDO_WATCH_MAX_SIZE)
        return -EINVAL;
    edo_watch *w = calloc(1, sizeof *w + size);
    if (!w)
        return -ENOMEM;
    edo__spin_init(&w->lock);
    w->size = size;
    w->refs = 1;
    memcpy(w->value, initial, size);
    *out = w;
    return 0;
}

/* Drops one reference (under the lock, which this releases); frees after the last. */
static void unref_and_unlock(edo_watch *w)
{
    bool last = --w->refs == 0;
    edo__spin_unlock(&w->lock);
    if (last)
        free(w);
}

/* Under the lock, which this releases: a new version is there; wakes who waits for it. */
static void publish_and_unlock(edo_watch *w)
{
    w->version++;
    edo__spin_unlock(&w->lock);
    edo__waitlist_wake(&w->waiting, &w->lock, &w->version, false);
}

int edo_watch_send(edo_watch *w, const void *value)
{
    if (!w || !value)
        return -EINVAL;
    edo__spin_lock(&w->lock);
    if (w->receivers == 0) {
        edo__spin_unlock(&w->lock);
        return -EPIPE;
    }
    memcpy(w->value, value, w->size);
    publish_and_unlock(w);
    return 0;
}

int edo_watch_send_modify(edo_watch *w, bool (*modify)(void *value, void *arg), void *arg)
{
    if (!w || !modify)
        return -EINVAL;
    edo__spin_lock(&w->lock);
    if (!modify(w->value, arg)) {
        edo__spin_unlock(&w->lock);
        return 0;
    }
    publish_and_unlock(w);
    return 1;
}

void edo_watch_sender_close(edo_watch *w)
{
    if (!w)
        return;
    edo__spin_lock(&w->lock);
    w->closed = true;
    edo__spin_unlock(&w->lock);
    /* Our reference keeps the channel while the receivers are woken. */
    edo__waitlist_wake(&w->waiting, &w->lock, &w->version, true);
    edo__spin_lock(&w->lock);
    unref_and_unlock(w);
}

size_t edo_watch_receiver_count(const edo_watch *w)
{
    if (!w)
        return 0;
    edo_watch *m = (edo_watch *)w;
    edo__spin_lock(&m->lock);
    size_t n = m->receivers;
    edo__spin_unlock(&m->lock);
    return n;
}

/* A receiver of `w` that has seen `seen`; w->lock is held. */
static edo_watch_receiver *receiver_new_locked(edo_watch *w, uint64_t seen)
{
    edo_watch_receiver *rx = calloc(1, sizeof *rx);
    if (rx) {
        rx->w = w;
        rx->node.seen = seen;
        w->receivers++;
        w->refs++;
    }
    return rx;
}

int edo_watch_subscribe(edo_watch *w, edo_watch_receiver **out)
{
    if (!w || !out)
        return -EINVAL;
    edo__spin_lock(&w->lock);
    edo_watch_receiver *rx = receiver_new_locked(w, w->version);
    edo__spin_unlock(&w->lock);
    if (!rx)
        return -ENOMEM;
    *out = rx;
    return 0;
}

int edo_watch_receiver_clone(edo_watch_receiver *rx, edo_watch_receiver **out)
{
    if (!rx || !out)
        return -EINVAL;
    edo_watch *w = rx->w;
    edo__spin_lock(&w->lock);
    edo_watch_receiver *copy = receiver_new_locked(w, rx->node.seen);
    edo__spin_unlock(&w->lock);
    if (!copy)
        return -ENOMEM;
    *out = copy;
    return 0;
}

void edo_watch_receiver_close(edo_watch_receiver *rx)
{
    if (!rx)
        return;
    edo_watch *w = rx->w;
    edo__spin_lock(&w->lock);
    edo_waker stale = edo__waitlist_remove(&w->waiting, &rx->node); /* (a misuse: be safe) */
    w->receivers--;
    unref_and_unlock(w);
    edo_waker_drop(&stale);
    free(rx);
}

int edo_watch_has_changed(const edo_watch_receiver *rx)
{
    if (!rx)
        return -EINVAL;
    edo_watch *w = rx->w;
    edo__spin_lock(&w->lock);
    int rc = rx->node.seen != w->version ? 1 : w->closed ? -EPIPE : 0;
    edo__spin_unlock(&w->lock);
    return rc;
}

/* Under the lock: copies the value out (if wanted) and marks it seen. A queued node leaves the
 * list first (its `seen` may not change while queued: see waitlist.h); its waker is returned. */
static edo_waker take_locked(edo_watch_receiver *rx, void *value)
{
    edo_watch *w = rx->w;
    edo_waker queued = edo__waitlist_remove(&w->waiting, &rx->node);
    if (value)
        memcpy(value, w->value, w->size);
    rx->node.seen = w->version;
    return queued;
}

int edo_watch_get(edo_watch_receiver *rx, void *value)
{
    if (!rx || !value)
        return -EINVAL;
    edo__spin_lock(&rx->w->lock);
    edo_waker pending = take_locked(rx, value);
    edo__spin_unlock(&rx->w->lock);
    edo_waker_wake(&pending); /* a changed future of this receiver: it registers again */
    return 0;
}

/* ---- changed ------------------------------------------------------------------------------- */

static changed_state *state_of(edo_watch_changed_future *f)
{
    return (changed_state *)(void *)f->private_;
}

static edo_poll changed_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_watch_changed_future *f = (edo_watch_changed_future *)self;
    changed_state *s = state_of(f);
    if (!s->rx) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    if (!edo_coop_proceed(cx)) /* out of budget: woken, polled again soon */
        return EDO_PENDING;
    edo_watch *w = s->rx->w;
    edo__spin_lock(&w->lock);
    if (s->rx->node.seen != w->version) {
        edo_waker mine = take_locked(s->rx, s->value); /* the newest, if it moved again */
        edo__spin_unlock(&w->lock);
        edo_waker_drop(&mine);
        f->result = 0;
        return EDO_READY;
    }
    if (w->closed) {
        edo__spin_unlock(&w->lock);
        f->result = -EPIPE;
        return EDO_READY;
    }
    edo__waitlist_add(&w->waiting, &s->rx->node, cx->waker, s->rx->node.seen);
    edo__spin_unlock(&w->lock);
    return EDO_PENDING;
}

static void changed_drop(edo_future *self)
{
    changed_state *s = state_of((edo_watch_changed_future *)self);
    if (s->rx)
        edo__waitlist_leave(&s->rx->w->waiting, &s->rx->w->lock, &s->rx->node);
}

static const edo_future_vtable changed_vtable = {changed_poll, changed_drop};

void edo_watch_changed_future_init(edo_watch_changed_future *f, edo_watch_receiver *rx,
                                   void *value)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &changed_vtable;
    state_of(f)->rx = rx;
    state_of(f)->value = value;
}

int edo_watch_changed(edo_watch_receiver *rx, void *value)
{
    if (!rx)
        return -EINVAL;
    edo_watch_changed_future f;
    edo_watch_changed_future_init(&f, rx, value);
    return edo__coro_run(&f.base, NULL, &f.result);
}
