/* Waiting for a future from a plain thread: edo_block_on and edo_task_join.
 *
 * On a multi-thread runtime the caller only polls its future and sleeps on a parker in between;
 * workers run everything else. On a current-thread runtime the caller also drives worker 0: it
 * runs queued tasks and parks in the worker's place when there are none. One thread drives at a
 * time; other callers wait, polling their own futures when woken, and take over the driving
 * when the driver leaves.
 */
#include <stdlib.h>

#include "core/runtime.h"
#include "coro/coro.h"
#include "edo/error.h"

static _Thread_local int block_on_depth;

/* Polls `fut` with `sig`'s waker whenever `sig` was woken since the last poll. */
static bool poll_if_woken(edo__signal *sig, edo_future *fut, void **out)
{
    if (!atomic_exchange_explicit(&sig->woken, false, memory_order_acq_rel))
        return false;
    edo_waker waker = edo__signal_waker(sig);
    uint32_t budget = EDO__COOP_BUDGET;
    edo_context cx = {&waker, &budget};
    return fut->vtable->poll(fut, &cx, out) == EDO_READY;
}

static void wait_parked(edo_future *fut, void **out)
{
    edo__signal *sig = edo__signal_new_own();
    if (!sig) {
        /* No memory for a waker: poll with a no-op waker, yielding in between. */
        edo_waker noop = edo_waker_noop();
        edo_context cx = {&noop, NULL};
        while (fut->vtable->poll(fut, &cx, out) != EDO_READY)
            sched_yield();
        return;
    }
    while (!poll_if_woken(sig, fut, out))
        edo__parker_park(sig->parker);
    edo__signal_unref(sig);
}

/* Returns 0, or -ENOMEM (before polling) when there is no memory for the waker: waiting
 * without driving would hang, as nothing else runs this runtime's tasks. */
static int drive(edo_runtime *rt, edo_future *fut, void **out)
{
    edo__worker *w = &rt->workers[0];
    edo__signal *sig = edo__signal_new(w->parker);
    if (!sig)
        return -ENOMEM;
    edo__worker_set_current(w);
    edo__overflow_thread_init(); /* coroutines run on this thread while it drives */
    /* The coroutines it resumes give back the state the thread has now (coro/context.h), not
     * the one it had when it last drove: between two calls it runs the caller's code. */
    edo__fp_baseline_read();
    while (!poll_if_woken(sig, fut, out)) {
        if (edo__worker_run_some(w, rt->config.global_queue_interval) == 0 &&
            !atomic_load_explicit(&sig->woken, memory_order_acquire))
            edo__worker_park(w, sig);
    }
    edo__worker_flush_io(w); /* what its tasks published: the kernel sees it now */
    edo__overflow_thread_exit();
    edo__worker_set_current(NULL);
    edo__signal_unref(sig);
    return 0;
}

static bool try_take_driver(edo_runtime *rt, edo__signal *waiter)
{
    pthread_mutex_lock(&rt->driver_lock);
    bool taken = !rt->driver_taken;
    if (taken) {
        rt->driver_taken = true;
    } else if (waiter) {
        waiter->next_waiter = rt->driver_waiters;
        rt->driver_waiters = waiter;
    }
    pthread_mutex_unlock(&rt->driver_lock);
    return taken;
}

static void remove_waiter(edo_runtime *rt, edo__signal *waiter)
{
    pthread_mutex_lock(&rt->driver_lock);
    for (edo__signal **p = &rt->driver_waiters; *p; p = &(*p)->next_waiter) {
        if (*p == waiter) {
            *p = waiter->next_waiter;
            break;
        }
    }
    pthread_mutex_unlock(&rt->driver_lock);
}

static void release_driver(edo_runtime *rt)
{
    pthread_mutex_lock(&rt->driver_lock);
    rt->driver_taken = false;
    /* Wake every waiter: one of them takes over, the others wait again. */
    for (edo__signal *s = rt->driver_waiters; s; s = s->next_waiter) {
        edo_waker waker = edo__signal_waker(s);
        edo_waker_wake_by_ref(&waker);
    }
    rt->driver_waiters = NULL;
    pthread_mutex_unlock(&rt->driver_lock);
}

/* Returns 0, or -ENOMEM (the future not polled): without a waker of its own this thread could
 * neither drive nor be told when the driver leaves. */
static int block_on_current_thread(edo_runtime *rt, edo_future *fut, void **out)
{
    int rc;
    if (try_take_driver(rt, NULL)) {
        rc = drive(rt, fut, out);
        release_driver(rt);
        return rc;
    }
    edo__signal *sig = edo__signal_new_own();
    if (!sig)
        return -ENOMEM;
    for (;;) {
        if (try_take_driver(rt, sig)) {
            edo__signal_unref(sig);
            rc = drive(rt, fut, out);
            release_driver(rt);
            return rc;
        }
        /* Registered as a waiter: the driver leaving, or our future's waker, wakes us. Poll
         * first, so the future has registered that waker before we sleep. */
        bool ready = poll_if_woken(sig, fut, out);
        if (!ready) {
            edo__parker_park(sig->parker);
            ready = poll_if_woken(sig, fut, out);
        }
        remove_waiter(rt, sig);
        if (ready)
            break;
        atomic_store_explicit(&sig->woken, true, memory_order_relaxed); /* poll on next turn */
    }
    edo__signal_unref(sig);
    return 0;
}

int edo_block_on(edo_runtime *rt, edo_future *future, void **out)
{
    if (!rt || !future || !future->vtable || !future->vtable->poll)
        return -EINVAL;
    if (edo__worker_current() || block_on_depth > 0)
        return -EDEADLK;
    if (atomic_load_explicit(&rt->shutdown, memory_order_acquire))
        return -ESHUTDOWN;
    void *ignored = NULL;
    if (!out)
        out = &ignored;
    edo_runtime *outer = edo__runtime_entered();
    edo__runtime_set_entered(rt);
    block_on_depth++;
    int rc = 0;
    if (rt->config.flavor == EDO_RUNTIME_CURRENT_THREAD)
        rc = block_on_current_thread(rt, future, out);
    else
        wait_parked(future, out);
    block_on_depth--;
    edo__runtime_set_entered(outer);
    return rc;
}

/* ---- edo_task_join: block_on over the handle's poll form ---------------------------------- */

typedef struct join_future {
    edo_future base;
    edo_task *task;
    int rc;
} join_future;

static edo_poll join_poll(edo_future *self, edo_context *cx, void **out)
{
    join_future *j = (join_future *)self;
    return edo_task_poll_join(j->task, cx, &j->rc, out);
}

static const edo_future_vtable join_vtable = {join_poll, NULL};

int edo_task_join(edo_task *task, void **out)
{
    if (!task)
        return -EINVAL;
    join_future j = {{&join_vtable}, task, 0};
    edo__task *t = (edo__task *)task;
    uint64_t s = atomic_load_explicit(&t->state, memory_order_acquire);
    if (s & (EDO__COMPLETE | EDO__JOINED)) {
        /* Finished: no waiting, and no touching the runtime (which may be gone). */
        edo_waker noop = edo_waker_noop();
        edo_context cx = {&noop, NULL};
        edo_task_poll_join(task, &cx, &j.rc, out);
        return j.rc;
    }
    if (t == edo__task_current())
        return -EDEADLK; /* a task joining itself (a coroutine, a blocking call) */
    void *result = NULL;
    int rc = 0;
    if (edo__coro_running())
        rc = edo__coro_run(&j.base, &result, NULL);
    else if (atomic_load_explicit(&t->rt->shutdown, memory_order_acquire))
        /* Shut down, and this task left behind (a blocking call still running, or a task that
         * waits for one): it ends on that call's thread, and holds the runtime meanwhile
         * (RT_REF), so there is nothing to drive: just wait. */
        wait_parked(&j.base, &result);
    else
        rc = edo_block_on(t->rt, &j.base, &result);
    if (rc < 0) {
        if (rc == -ECANCELED && out)
            *out = NULL; /* the caller's own cancellation: nothing to hand over */
        return rc;
    }
    if ((j.rc == 0 || j.rc == -ECANCELED) && out)
        *out = result;
    return j.rc;
}
