/* The blocking pool: runs functions that block on threads of their own, so workers never do.
 *
 * A blocking call is an ordinary task whose future calls the function once; only its queue
 * differs. Threads start on demand up to max_threads, wait for work for keep_alive_ns, then
 * retire. Shutdown lets running calls finish, cancels queued ones, and waits for every thread.
 */
#include <stdlib.h>
#include <time.h>

#include "core/runtime.h"
#include "edo/error.h"
#include "platform/thread.h"

typedef struct blocking_call {
    edo_future base;
    void *(*fn)(void *);
    void *arg;
    void (*drop_arg)(void *arg); /* called when the call is dropped, run or not; may be NULL */
    /* Frees an output no handle takes (task.c); read after the drop, which leaves it alone. */
    void (*drop_output)(void *output);
} blocking_call;

static edo_poll blocking_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)cx;
    blocking_call *call = (blocking_call *)self;
    *out = call->fn(call->arg);
    return EDO_READY;
}

static void blocking_drop(edo_future *self)
{
    blocking_call *call = (blocking_call *)self;
    if (call->drop_arg)
        call->drop_arg(call->arg);
}

const edo_future_vtable edo__blocking_vtable = {blocking_poll, blocking_drop};

void (*edo__blocking_output_drop(const edo__task *t))(void *output)
{
    return edo__blocking_is_task(t) ? ((const blocking_call *)&t->future)->drop_output : NULL;
}

int edo__blocking_init(edo__blocking_pool *p, unsigned max_threads, uint64_t keep_alive_ns)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->work, &attr);
    pthread_cond_init(&p->all_gone, &attr);
    pthread_condattr_destroy(&attr);
    p->head = p->tail = NULL;
    p->nthreads = p->nidle = p->nnotified = p->nrunning = p->nexiting = p->next_index = 0;
    p->max_threads = max_threads;
    p->keep_alive_ns = keep_alive_ns;
    p->shutdown = p->closed = false;
    return 0;
}

void edo__blocking_destroy(edo__blocking_pool *p)
{
    pthread_cond_destroy(&p->all_gone);
    pthread_cond_destroy(&p->work);
    pthread_mutex_destroy(&p->lock);
}

static edo__task *pop_locked(edo__blocking_pool *p)
{
    edo__task *t = p->head;
    if (t) {
        p->head = edo__task_next(t);
        if (!p->head)
            p->tail = NULL;
        edo__task_set_next(t, NULL);
    }
    return t;
}

static void deadline_after(struct timespec *ts, uint64_t ns)
{
    clock_gettime(CLOCK_MONOTONIC, ts);
    uint64_t nsec = (uint64_t)ts->tv_nsec + ns % 1000000000u;
    ts->tv_sec += (time_t)(ns / 1000000000u + nsec / 1000000000u);
    ts->tv_nsec = (long)(nsec % 1000000000u);
}

/* Under the lock, once a thread has left the counts: the last one gone lets a shutdown that
 * waits for them go on. */
static void note_thread_gone(edo__blocking_pool *p)
{
    if (p->nthreads == 0 && p->nexiting == 0)
        pthread_cond_broadcast(&p->all_gone);
}

/* A thread of the pool; it holds a runtime reference (taken by whoever started it), since a
 * bounded shutdown may leave it running its call after the runtime's owner let go. */
static void *pool_thread_main(void *arg)
{
    edo_runtime *rt = arg;
    edo__blocking_pool *p = &rt->blocking;
    pthread_mutex_lock(&p->lock);
    unsigned index = p->next_index++;
    pthread_mutex_unlock(&p->lock);
    edo__thread_enter(rt, "b", index);

    pthread_mutex_lock(&p->lock);
    for (;;) {
        if (p->shutdown)
            break;
        edo__task *t = pop_locked(p);
        if (t) {
            p->nrunning++;
            pthread_mutex_unlock(&p->lock);
            edo__task_run_detached(t);
            pthread_mutex_lock(&p->lock);
            p->nrunning--;
            continue;
        }
        struct timespec deadline;
        deadline_after(&deadline, p->keep_alive_ns);
        p->nidle++;
        int rc = pthread_cond_timedwait(&p->work, &p->lock, &deadline);
        if (p->nnotified > 0) {
            p->nnotified--; /* the push that woke a thread took it off the idle count */
        } else {
            p->nidle--;
            if (rc == ETIMEDOUT && !p->head && !p->shutdown)
                break; /* idle long enough: retire */
        }
    }
    /* No longer counted as able to take work, but shutdown still waits for us. */
    p->nthreads--;
    p->nexiting++;
    bool left_behind = p->closed;
    pthread_mutex_unlock(&p->lock);

    /* Shutdown gave up waiting for our call: run (cancel) what it woke, nobody else will. */
    if (left_behind)
        edo__runtime_drain_late(rt);
    edo__thread_leave(rt);

    pthread_mutex_lock(&p->lock);
    p->nexiting--;
    note_thread_gone(p);
    pthread_mutex_unlock(&p->lock);
    edo_runtime_unref(rt); /* the last thing: it may free the runtime */
    return NULL;
}

void edo__blocking_push(edo_runtime *rt, edo__task *t)
{
    edo__blocking_pool *p = &rt->blocking;
    edo__task_set_next(t, NULL);
    pthread_mutex_lock(&p->lock);
    if (p->shutdown) {
        /* The pool is gone (its queue already drained): cancel the call here. */
        pthread_mutex_unlock(&p->lock);
        edo__task_cancel_queued(t);
        return;
    }
    if (p->tail)
        edo__task_set_next(p->tail, t);
    else
        p->head = t;
    p->tail = t;
    /* An idle thread is taken off the idle count now, not when it wakes up: a call pushed
     * before it has woken must not count on the same thread (it would queue behind this one,
     * two slow calls one after the other, instead of starting a thread of its own). */
    bool wake = p->nidle > 0, start = !wake && p->nthreads < p->max_threads;
    if (wake) {
        p->nidle--;
        p->nnotified++;
    }
    if (start) {
        p->nthreads++; /* counted now, so the next push does not start one for this call */
        /* The owner's reference is held here (the pool is open), so dropping the thread's
         * again on failure never frees the runtime. */
        edo_runtime_ref(rt);
    }
    pthread_mutex_unlock(&p->lock);
    /* Outside the lock: a woken thread does not block on it at once, and starting a thread
     * (a clone and a stack) holds up no other push meanwhile. The pool outlives this call:
     * whoever pushes holds the runtime. */
    if (wake)
        pthread_cond_signal(&p->work);
    if (!start)
        return;
    pthread_t thread;
    if (edo__thread_start(&thread, pool_thread_main, rt, 1) == 0)
        return;
    /* No thread: the call waits for the next one that can start (or for shutdown, which
     * cancels it). */
    pthread_mutex_lock(&p->lock);
    p->nthreads--;
    note_thread_gone(p); /* a shutdown may be waiting for it */
    pthread_mutex_unlock(&p->lock);
    edo_runtime_unref(rt);
}

void edo__blocking_close(edo_runtime *rt)
{
    edo__blocking_pool *p = &rt->blocking;
    pthread_mutex_lock(&p->lock);
    p->shutdown = true;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->lock);
}

bool edo__blocking_shutdown(edo_runtime *rt, uint64_t deadline)
{
    edo__blocking_pool *p = &rt->blocking;
    edo__blocking_close(rt);
    struct timespec until = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    pthread_mutex_lock(&p->lock);
    while (p->nthreads > 0 || p->nexiting > 0) {
        if (deadline == UINT64_MAX)
            pthread_cond_wait(&p->all_gone, &p->lock);
        else if (pthread_cond_timedwait(&p->all_gone, &p->lock, &until) == ETIMEDOUT)
            break;
    }
    /* Threads that are only exiting hold a runtime reference and touch nothing else. */
    bool calls_done = p->nrunning == 0;
    edo__task *queued = p->head; /* no thread starts a queued call once the pool is closed */
    p->head = p->tail = NULL;
    pthread_mutex_unlock(&p->lock);
    while (queued) {
        edo__task *next = edo__task_next(queued);
        edo__task_cancel_queued(queued);
        queued = next;
    }
    return calls_done;
}

void edo__blocking_set_closed(edo_runtime *rt)
{
    edo__blocking_pool *p = &rt->blocking;
    pthread_mutex_lock(&p->lock);
    p->closed = true;
    pthread_mutex_unlock(&p->lock);
}

int edo_spawn_blocking_with(edo_runtime *rt, const edo_blocking_options *options,
                            void *(*fn)(void *), void *arg, edo_task **out)
{
    if (!fn)
        return -EINVAL;
    if (!rt && !(rt = edo_runtime_current()))
        return -EPERM;
    blocking_call call = {{&edo__blocking_vtable}, fn, arg, options ? options->drop_arg : NULL,
                          options ? options->drop_output : NULL};
    return edo__spawn(rt, &call.base, sizeof call, out, false);
}

int edo_spawn_blocking_on(edo_runtime *rt, void *(*fn)(void *), void *arg, edo_task **out)
{
    return rt ? edo_spawn_blocking_with(rt, NULL, fn, arg, out) : -EINVAL;
}

int edo_spawn_blocking(void *(*fn)(void *), void *arg, edo_task **out)
{
    return edo_spawn_blocking_with(NULL, NULL, fn, arg, out);
}

bool edo__blocking_full(edo_runtime *rt)
{
    edo__blocking_pool *p = &rt->blocking;
    pthread_mutex_lock(&p->lock);
    bool full = p->nidle == 0 && p->nthreads >= p->max_threads;
    pthread_mutex_unlock(&p->lock);
    return full;
}

bool edo__blocking_busy(edo_runtime *rt)
{
    edo__blocking_pool *p = &rt->blocking;
    pthread_mutex_lock(&p->lock);
    bool busy = p->head || p->nthreads > p->nidle;
    pthread_mutex_unlock(&p->lock);
    return busy;
}
