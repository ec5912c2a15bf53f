/* File-system calls on the blocking pool or through the completion ring, and the future that
 * waits for one (see call.h). */
#include "fs/call.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

#include "core/runtime.h"
#include "coro/coro.h"

typedef struct fs_future {
    edo_future base;
    ssize_t result;
    edo__fs_call *call; /* NULL: completes with `error` at once */
    void *outs[EDO__FS_OUTS];
    int error;
    bool submitted;
} fs_future;

_Static_assert(sizeof(fs_future) <= sizeof(edo_fs_future), "edo_fs_future too small");
_Static_assert(offsetof(fs_future, result) == offsetof(edo_fs_future, result),
               "edo_fs_future.result misplaced");

static fs_future *future_of(edo_fs_future *f) { return (fs_future *)(void *)f; }

edo__fs_call *edo__fs_call_new(size_t size, const edo__fs_ops *ops)
{
    edo__fs_call *c = calloc(1, size);
    if (!c)
        return NULL;
    c->ops = ops;
    edo__spin_init(&c->lock);
    c->refs = 1;
    return c;
}

void edo__fs_call_unref(edo__fs_call *c)
{
    edo__spin_lock(&c->lock);
    bool last = --c->refs == 0;
    edo_waker waker = c->waker;
    if (last)
        c->waker = EDO_WAKER_EMPTY;
    edo__spin_unlock(&c->lock);
    if (!last)
        return;
    edo_waker_drop(&waker);
    if (c->ops->release)
        c->ops->release(c);
    free(c);
}

/* Publishes the result and wakes the waiter. */
static void finish(edo__fs_call *c, ssize_t result)
{
    edo__spin_lock(&c->lock);
    c->result = result;
    c->done = true;
    edo_waker waker = c->waker;
    c->waker = EDO_WAKER_EMPTY;
    edo__spin_unlock(&c->lock);
    edo_waker_wake(&waker);
}

bool edo__fs_call_abandoned(edo__fs_call *c)
{
    edo__spin_lock(&c->lock);
    bool abandoned = c->refs == 1; /* only the pool's or the kernel's reference is left */
    edo__spin_unlock(&c->lock);
    return abandoned;
}

/* The pool's side: does the work (unless nobody waits any more, or the pool is going away),
 * publishes the result and wakes the waiter. */
static void run_job(edo__batch_job *job, bool cancelled)
{
    edo__fs_call *c = (edo__fs_call *)job;
    bool abandoned = edo__fs_call_abandoned(c);
    finish(c, cancelled || abandoned ? -ECANCELED : c->ops->work(c));
    edo__fs_call_unref(c);
}

int edo__fs_call_submit(edo__fs_call *c)
{
    c->job.run = run_job;
    edo__spin_lock(&c->lock);
    c->refs++;
    edo__spin_unlock(&c->lock);
    int rc = edo__batch_submit(c->rt, &c->job, c->alone);
    if (rc < 0) {
        edo__spin_lock(&c->lock);
        c->refs--;
        edo__spin_unlock(&c->lock);
        finish(c, rc);
    }
    return rc;
}

/* ---- through the completion ring -------------------------------------------------------- */

int edo__fs_ring_sqe(edo__fs_call *c, edo__cring *r, unsigned index, bool cancellable,
                     struct io_uring_sqe **out)
{
    int rc = edo__cring_sqe(r, &c->op, index, out);
    if (rc == 0) {
        c->pending++;
        c->cancellable |= cancellable ? 1u << index : 0;
        c->last_sqe = *out;
    }
    return rc;
}

/* Runs the call's next step (the kernel's reference held): queues it, or ends the call, or
 * hands it to the pool. */
static void ring_advance(edo__fs_call *c, const int32_t *res)
{
    edo__cring *r = c->ring;
    edo__cring_lock(r);
    c->pending = c->cancellable = c->timed = 0;
    ssize_t rc = c->ops->ring(c, r, res);
    /* One cancellable SQE standing alone: the kernel may end it at the caller's deadline. */
    if (rc == EDO__FS_MORE && c->deadline != EDO_INSTANT_NEVER && c->pending == 1 &&
        c->cancellable && !(c->last_sqe->flags & (IOSQE_IO_LINK | IOSQE_IO_HARDLINK)) &&
        edo__cring_link_deadline(r, c->last_sqe, c->deadline))
        c->timed = c->cancellable;
    if (rc == EDO__FS_MORE && c->pending) {
        /* A worker enters once for the SQEs of every task of its turn (core/io.c); the CQEs
         * may be reaped, and the call freed, in here. */
        edo__runtime_cring_submit_unlock(c->rt, r);
        return;
    }
    edo__cring_unlock(r);
    if (rc == EDO__FS_MORE)
        rc = -EIO; /* a step that queued nothing would never end: cannot be, but never hang */
    if (rc == EDO__FS_POOL && !edo__fs_call_abandoned(c))
        edo__fs_call_submit(c);
    else
        finish(c, rc == EDO__FS_POOL ? -ECANCELED : rc);
    edo__fs_call_unref(c); /* the kernel's */
}

static void ring_complete(edo__cring_op *op, unsigned index, int32_t res, uint32_t flags)
{
    (void)flags;
    edo__fs_call *c = (edo__fs_call *)(void *)((char *)op - offsetof(edo__fs_call, op));
    edo__cring_lock(c->ring);
    if (c->timed & 1u << index && edo__cring_timed_out(res, c->deadline))
        res = -ETIMEDOUT; /* its linked timeout stopped it: as the timer wheel would say */
    c->res[index] = res;
    c->cancellable &= ~(1u << index);
    bool last = --c->pending == 0;
    edo__cring_unlock(c->ring);
    if (last)
        ring_advance(c, c->res);
}

/* The future's first poll: through the ring where the call has a way and the runtime a ring,
 * else to the pool. */
static void start(edo__fs_call *c)
{
    c->rt = edo_runtime_current();
    edo__cring *r = c->ops->ring ? edo__runtime_cring(c->rt) : NULL;
    if (!r) {
        edo__fs_call_submit(c);
        return;
    }
    c->ring = r;
    c->op.complete = ring_complete;
    c->deadline = edo__runtime_op_deadline(c->rt);
    edo__spin_lock(&c->lock);
    c->refs++; /* the kernel's, until the last step's CQEs */
    edo__spin_unlock(&c->lock);
    ring_advance(c, NULL);
}

static bool call_done(void *arg)
{
    edo__fs_call *c = arg;
    edo__spin_lock(&c->lock);
    bool done = c->done;
    edo__spin_unlock(&c->lock);
    return done;
}

/* The future lets go of a call still in the ring: the kernel is asked to stop the step's
 * cancellable SQEs early; the call lives on until their CQEs come. */
static void ring_cancel(edo__fs_call *c)
{
    edo__cring *r = c->ring;
    if (call_done(c))
        return;
    edo__cring_lock(r);
    for (unsigned i = 0; i < EDO__CRING_INDEXES; i++)
        if (c->cancellable & 1u << i)
            edo__cring_cancel(r, &c->op, i);
    c->cancellable = 0;
    edo__cring_submit_unlock(r);
}

edo_poll edo__fs_call_poll(edo__fs_call *c, edo_context *cx)
{
    edo__spin_lock(&c->lock);
    if (c->done) {
        edo__spin_unlock(&c->lock);
        return EDO_READY;
    }
    const edo_waker *want = edo_context_waker(cx);
    edo_waker old = EDO_WAKER_EMPTY;
    if (!edo_waker_will_wake(&c->waker, want)) {
        old = c->waker;
        c->waker = edo_waker_clone(want);
    }
    edo__spin_unlock(&c->lock);
    edo_waker_drop(&old);
    return EDO_PENDING;
}

static edo_poll future_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    fs_future *f = (fs_future *)self;
    edo__fs_call *c = f->call;
    if (!c) {
        f->result = f->error;
        return EDO_READY;
    }
    if (!f->submitted) {
        f->submitted = true;
        start(c);
    }
    /* Through the ring: reap first (the completion may be there) where this thread may
     * (edo__runtime_cring_may_reap: not another worker's ring), then the waker left with the
     * call is woken by whoever reaps it, the ring's owner or the driver at the latest. */
    if (c->ring && edo__fs_call_poll(c, cx) == EDO_PENDING &&
        edo__runtime_cring_may_reap(c->ring))
        edo__cring_reap(c->ring);
    if (edo__fs_call_poll(c, cx) == EDO_PENDING)
        return EDO_PENDING;
    f->result = c->result; /* done: the pool no longer writes it */
    if (f->result >= 0 && c->ops->deliver) {
        c->ops->deliver(c, f->outs);
        for (int i = 0; i < EDO__FS_OUTS; i++)
            f->outs[i] = NULL; /* delivered once */
    }
    return EDO_READY;
}

static void future_drop(edo_future *self)
{
    fs_future *f = (fs_future *)self;
    edo__fs_call *c = f->call;
    f->call = NULL;
    if (!c)
        return;
    if (f->submitted && c->ring)
        ring_cancel(c);
    /* Whoever finishes the call later must not wake a task that no longer waits. */
    edo__spin_lock(&c->lock);
    edo_waker waker = c->waker;
    c->waker = EDO_WAKER_EMPTY;
    edo__spin_unlock(&c->lock);
    edo_waker_drop(&waker);
    edo__fs_call_unref(c);
}

static const edo_future_vtable fs_future_vtable = {future_poll, future_drop};

void edo__fs_future_init(edo_fs_future *pub, edo__fs_call *c, int error, void *out0, void *out1,
                         void *out2)
{
    fs_future *f = future_of(pub);
    *f = (fs_future){.base = {&fs_future_vtable},
                     .call = c,
                     .outs = {out0, out1, out2},
                     .error = c ? 0 : error ? error : -ENOMEM};
}

ssize_t edo__fs_run(edo_fs_future *pub)
{
    fs_future *f = future_of(pub);
    if (!f->call)
        return f->error;
    int rc = edo__coro_run(&f->base, NULL, NULL);
    return rc < 0 ? rc : f->result;
}
