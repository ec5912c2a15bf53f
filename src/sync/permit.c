/* Owned permits: an (semaphore, count) value holding one reference to its semaphore, so that
 * the permits can move to another task and outlive the creator's edo_semaphore_free. A permit
 * is empty exactly when it holds no reference (sem NULL, n 0); every function below keeps that
 * rule, so a permit can only give its permits and its reference back once. */
#include <errno.h>
#include <string.h>

#include "edo/coro.h"
#include "edo/sync.h"
#include "sync/semaphore.h"

static bool bad_request(const edo_semaphore *s, size_t n, const edo_permit *out)
{
    return !s || !out || n == 0 || n > EDO_SEMAPHORE_MAX_PERMITS;
}

int edo_semaphore_try_acquire_owned(edo_semaphore *s, size_t n, edo_permit *out)
{
    if (bad_request(s, n, out))
        return -EINVAL;
    *out = EDO_PERMIT_EMPTY;
    int rc = edo_semaphore_try_acquire(s, n);
    if (rc == 0) {
        edo__semaphore_ref(s);
        *out = (edo_permit){s, n};
    }
    return rc;
}

int edo_semaphore_acquire_owned(edo_semaphore *s, size_t n, edo_permit *out)
{
    if (bad_request(s, n, out))
        return -EINVAL;
    *out = EDO_PERMIT_EMPTY;
    edo__semaphore_ref(s); /* the wait keeps it alive; on success the reference is the permit's */
    int rc = edo_semaphore_acquire(s, n);
    if (rc < 0) {
        edo_semaphore_free(s);
        return rc;
    }
    *out = (edo_permit){s, n};
    return 0;
}

void edo_permit_release(edo_permit *p)
{
    if (!p || !p->sem)
        return;
    edo_semaphore *s = p->sem;
    size_t n = p->n;
    *p = EDO_PERMIT_EMPTY;
    /* Cannot fail: the permits came from s, which holds at most the maximum with them back. */
    edo_semaphore_release(s, n);
    edo_semaphore_free(s);
}

void edo_permit_forget(edo_permit *p)
{
    if (!p || !p->sem)
        return;
    edo_semaphore *s = p->sem;
    *p = EDO_PERMIT_EMPTY;
    edo_semaphore_free(s);
}

int edo_permit_split(edo_permit *p, size_t k, edo_permit *out)
{
    if (!p || !out || p == out || k == 0 || k > p->n)
        return -EINVAL;
    if (k == p->n) { /* everything moves, the reference with it */
        *out = *p;
        *p = EDO_PERMIT_EMPTY;
        return 0;
    }
    edo__semaphore_ref(p->sem);
    *out = (edo_permit){p->sem, k};
    p->n -= k;
    return 0;
}

int edo_permit_merge(edo_permit *into, edo_permit *from)
{
    if (!into || !from || into == from)
        return -EINVAL;
    if (!from->sem)
        return 0;
    if (!into->sem) {
        *into = *from;
        *from = EDO_PERMIT_EMPTY;
        return 0;
    }
    if (into->sem != from->sem || from->n > EDO_SEMAPHORE_MAX_PERMITS - into->n)
        return -EINVAL;
    into->n += from->n;
    edo_permit_forget(from); /* its permits live on in `into`; only its reference goes */
    return 0;
}

/* ---- the future form ------------------------------------------------------------------------ */

typedef struct owned_state {
    edo_semaphore *ref; /* the reference this future holds, until it passes to the permit */
    size_t permits;
    edo_semaphore_acquire_future inner;
} owned_state;

_Static_assert(sizeof(owned_state) <= sizeof(((edo_semaphore_acquire_owned_future *)0)->private_),
               "edo_semaphore_acquire_owned_future.private_ is too small");

static owned_state *owned_of(edo_semaphore_acquire_owned_future *f)
{
    return (owned_state *)(void *)f->private_;
}

static edo_poll owned_poll(edo_future *self, edo_context *cx, void **out)
{
    edo_semaphore_acquire_owned_future *f = (edo_semaphore_acquire_owned_future *)self;
    owned_state *o = owned_of(f);
    if (edo_future_poll(&o->inner.base, cx, out) == EDO_PENDING)
        return EDO_PENDING;
    f->result = o->inner.result;
    if (f->result == 0) {
        f->permit = (edo_permit){o->ref, o->permits};
        o->ref = NULL;
    }
    return EDO_READY;
}

static void owned_drop(edo_future *self)
{
    owned_state *o = owned_of((edo_semaphore_acquire_owned_future *)self);
    edo_future_drop(&o->inner.base); /* gives back a partial grant; a completed one is ours */
    edo_semaphore_free(o->ref);
    o->ref = NULL;
}

static const edo_future_vtable owned_vtable = {owned_poll, owned_drop};

void edo_semaphore_acquire_owned_future_init(edo_semaphore_acquire_owned_future *f,
                                             edo_semaphore *s, size_t n)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &owned_vtable;
    owned_state *o = owned_of(f);
    bool ok = s && n > 0 && n <= EDO_SEMAPHORE_MAX_PERMITS;
    edo_semaphore_acquire_future_init(&o->inner, ok ? s : NULL, n);
    if (ok) {
        edo__semaphore_ref(s);
        o->ref = s;
        o->permits = n;
    }
}
