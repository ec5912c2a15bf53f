/* File-system calls on the blocking pool, and the future that waits for one (see call.h). */
#include "fs/call.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>

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

/* The pool's side: does the work (unless nobody waits any more, or the pool is going away),
 * publishes the result and wakes the waiter. */
static void run_job(edo__batch_job *job, bool cancelled)
{
    edo__fs_call *c = (edo__fs_call *)job;
    edo__spin_lock(&c->lock);
    bool abandoned = c->refs == 1; /* only the pool's reference is left */
    edo__spin_unlock(&c->lock);
    ssize_t result = cancelled || abandoned ? -ECANCELED : c->ops->work(c);
    edo__spin_lock(&c->lock);
    c->result = result;
    c->done = true;
    edo_waker waker = c->waker;
    c->waker = EDO_WAKER_EMPTY;
    edo__spin_unlock(&c->lock);
    edo_waker_wake(&waker);
    edo__fs_call_unref(c);
}

int edo__fs_call_submit(edo__fs_call *c)
{
    c->job.run = run_job;
    edo__spin_lock(&c->lock);
    c->refs++;
    edo__spin_unlock(&c->lock);
    int rc = edo__batch_submit(NULL, &c->job, c->alone);
    if (rc < 0) {
        edo__spin_lock(&c->lock);
        c->refs--;
        c->result = rc;
        c->done = true;
        edo__spin_unlock(&c->lock);
    }
    return rc;
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
        edo__fs_call_submit(c);
    }
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
    if (f->call)
        edo__fs_call_unref(f->call);
    f->call = NULL;
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
