/* Blocking forms of the channel operations, for plain threads: each runs the operation's future
 * on the calling thread, polling it with a waker that unparks this thread (the one edo_block_on
 * uses, without entering a runtime) and parking in between, up to a deadline. A timed-out wait
 * drops the future, which is the future's cancellation: whatever it had not finished is undone.
 */
#include <errno.h>

#include "core/runtime.h"
#include "coro/coro.h"
#include "edo/sync.h"
#include "platform/thread.h"

/* Polls `f` until it is ready (0) or `timeout_ns` has passed (-ETIMEDOUT), parking the thread
 * between polls; then drops it. -EDEADLK (nothing polled) on a thread the runtime needs. */
static int wait_blocking(edo_future *f, void **out, uint64_t timeout_ns)
{
    if (edo__worker_current() || edo__coro_running()) {
        edo_future_drop(f);
        return -EDEADLK;
    }
    edo__signal *sig = edo__signal_new_own();
    if (!sig) {
        edo_future_drop(f);
        return -ENOMEM;
    }
    uint64_t deadline = UINT64_MAX;
    if (timeout_ns != EDO_WAIT_FOREVER) {
        uint64_t now = edo__clock_ns();
        deadline = timeout_ns < UINT64_MAX - now ? now + timeout_ns : UINT64_MAX;
    }
    edo_waker waker = edo__signal_waker(sig);
    edo_context cx = {&waker, NULL};
    int rc = -ETIMEDOUT;
    for (;;) {
        /* The signal starts woken, so the first turn polls. */
        if (atomic_exchange_explicit(&sig->woken, false, memory_order_acq_rel) &&
            f->vtable->poll(f, &cx, out) == EDO_READY) {
            rc = 0;
            break;
        }
        if (deadline == UINT64_MAX)
            edo__parker_park(sig->parker);
        else if (edo__clock_ns() >= deadline)
            break;
        else
            edo__parker_park_until(sig->parker, deadline);
    }
    edo_future_drop(f); /* after the last poll: a stored waker goes before the signal does */
    edo__signal_unref(sig);
    return rc;
}

/* wait_blocking, then the future's own result. */
static int finish(edo_future *f, void **out, uint64_t timeout_ns, const int *result)
{
    int rc = wait_blocking(f, out, timeout_ns);
    return rc < 0 ? rc : *result;
}

int edo_chan_send_blocking(edo_chan *ch, void *msg, uint64_t timeout_ns)
{
    if (!ch)
        return -EINVAL;
    edo_chan_send_future f;
    edo_chan_send_future_init(&f, ch, msg);
    return finish(&f.base, NULL, timeout_ns, &f.result);
}

int edo_chan_recv_blocking(edo_chan *ch, void **msg, uint64_t timeout_ns)
{
    if (!ch || !msg)
        return -EINVAL;
    edo_chan_recv_future f;
    edo_chan_recv_future_init(&f, ch);
    void *got = NULL;
    int rc = finish(&f.base, &got, timeout_ns, &f.result);
    if (rc == 0)
        *msg = got;
    return rc;
}

int edo_oneshot_recv_blocking(edo_oneshot *o, void **value, uint64_t timeout_ns)
{
    if (!o)
        return -EINVAL;
    edo_oneshot_recv_future f;
    edo_oneshot_recv_future_init(&f, o);
    void *got = NULL;
    int rc = finish(&f.base, &got, timeout_ns, &f.result);
    if (rc == 0 && value)
        *value = got;
    return rc;
}

int edo_semaphore_acquire_blocking(edo_semaphore *s, size_t n, uint64_t timeout_ns)
{
    if (!s || n == 0 || n > EDO_SEMAPHORE_MAX_PERMITS)
        return -EINVAL;
    edo_semaphore_acquire_future f;
    edo_semaphore_acquire_future_init(&f, s, n);
    return finish(&f.base, NULL, timeout_ns, &f.result);
}

int edo_watch_changed_blocking(edo_watch_receiver *rx, void *value, uint64_t timeout_ns)
{
    if (!rx)
        return -EINVAL;
    edo_watch_changed_future f;
    edo_watch_changed_future_init(&f, rx, value);
    return finish(&f.base, NULL, timeout_ns, &f.result);
}

int edo_broadcast_recv_blocking(edo_broadcast_receiver *rx, void *msg, uint64_t *missed,
                                uint64_t timeout_ns)
{
    if (!rx || !msg)
        return -EINVAL;
    edo_broadcast_recv_future f;
    edo_broadcast_recv_future_init(&f, rx, msg);
    int rc = finish(&f.base, NULL, timeout_ns, &f.result);
    if (rc == -EOVERFLOW && missed)
        *missed = f.missed;
    return rc;
}
