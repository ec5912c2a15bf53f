/* Composing futures: select (the first ready of several) and join (all of several). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/runtime.h"
#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/future.h"

/* Rotates the starting entry of fair selects, per thread: cheap, and spreads wins. */
static _Thread_local size_t fair_start;

/* A future that can be polled. */
static bool pollable(const edo_future *f) { return f->vtable && f->vtable->poll; }

static edo_poll select_poll(edo_future *self, edo_context *cx, void **out)
{
    edo_select_future *f = (edo_select_future *)self;
    bool any = false;
    for (size_t k = 0; k < f->n; k++) {
        size_t i = (f->start + k) % f->n;
        edo_future *fut = f->futures[i];
        if (!fut)
            continue;
        if (!pollable(fut)) { /* nonsense: ready with -EINVAL, like a select over nothing */
            f->index = -EINVAL;
            return EDO_READY;
        }
        any = true;
        void *o = NULL;
        if (fut->vtable->poll(fut, cx, &o) == EDO_READY) {
            *out = o;
            f->index = (int)i;
            return EDO_READY;
        }
    }
    if (!any) {
        f->index = -EINVAL;
        return EDO_READY;
    }
    return EDO_PENDING;
}

static const edo_future_vtable select_vtable = {select_poll, NULL};

void edo_select_future_init(edo_select_future *f, edo_future *const *futures, size_t n,
                            edo_select_mode mode)
{
    if (!f)
        return;
    if (!futures || n > INT_MAX) /* (the winner's index is an int) */
        n = 0;
    f->base.vtable = &select_vtable;
    f->index = -EINVAL;
    f->futures = futures;
    f->n = n;
    f->mode = mode;
    f->start = mode == EDO_SELECT_BIASED || n == 0 ? 0 : fair_start++ % n;
}

int edo_select(edo_future *const *futures, size_t n, edo_select_mode mode, void **out)
{
    if (!futures || n == 0 || n > INT_MAX)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (futures[i] && !pollable(futures[i]))
            return -EINVAL;
    edo_select_future f;
    edo_select_future_init(&f, futures, n, mode);
    void *o = NULL;
    int rc = edo__coro_run(&f.base, &o, &f.index);
    if (rc >= 0 && out)
        *out = o;
    return rc;
}

/* ---- join ------------------------------------------------------------------------------------ */

typedef struct join_all {
    edo_future base;
    edo_future *const *futures;
    size_t n, left;
    void **outs;
    unsigned char *done;
    edo_join_check check; /* try_join: judges each output; NULL for join */
    void *ctx;
    int failure;          /* the first negative verdict */
    size_t failed;        /* and whose it was */
} join_all;

static edo_poll join_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    join_all *j = (join_all *)self;
    for (size_t i = 0; i < j->n && j->left; i++) {
        if (j->done[i])
            continue;
        void *o = NULL;
        if (j->futures[i]->vtable->poll(j->futures[i], cx, &o) == EDO_READY) {
            j->done[i] = 1;
            j->left--;
            if (j->outs)
                j->outs[i] = o;
            int verdict = j->check ? j->check(i, j->futures[i], o, j->ctx) : 0;
            if (verdict < 0) {
                j->failure = verdict;
                j->failed = i;
                return EDO_READY;
            }
        }
    }
    return j->left ? EDO_PENDING : EDO_READY;
}

static const edo_future_vtable join_vtable = {join_poll, NULL};

static int join_futures(edo_future *const *futures, size_t n, void **outs, edo_join_check check,
                        void *ctx, size_t *failed)
{
    if (!futures)
        return -EINVAL;
    for (size_t i = 0; i < n; i++)
        if (!futures[i] || !pollable(futures[i]))
            return -EINVAL;
    if (!edo__coro_running()) /* before the allocation, and for n == 0 too */
        return -EPERM;
    unsigned char small[64];
    unsigned char *done = n <= sizeof small ? small : calloc(n, 1);
    if (!done)
        return -ENOMEM;
    memset(done, 0, n <= sizeof small ? n : 0);
    join_all j = {{&join_vtable}, futures, n, n, outs, done, check, ctx, 0, 0};
    /* j.failure is set only by a poll that ends the wait, so never beside a wait's error */
    int rc = n ? edo__coro_run(&j.base, NULL, &j.failure) : 0;
    if (done != small)
        free(done);
    if (j.failure < 0 && failed)
        *failed = j.failed;
    return rc;
}

int edo_join(edo_future *const *futures, size_t n, void **outs)
{
    return join_futures(futures, n, outs, NULL, NULL, NULL);
}

int edo_try_join(edo_future *const *futures, size_t n, void **outs, edo_join_check check,
                 void *ctx, size_t *failed)
{
    if (!check)
        return -EINVAL;
    return join_futures(futures, n, outs, check, ctx, failed);
}
