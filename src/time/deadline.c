/* Coroutine deadlines: the deadline edo_await honours, pushed and popped around a block. */
#include <errno.h>

#include "coro/coro.h"
#include "edo/time.h"

int edo_deadline_push(edo_instant deadline, edo_instant *saved)
{
    if (!saved)
        return -EINVAL;
    edo__coro *co = edo__coro_running();
    if (!co)
        return -EPERM;
    *saved = co->stack->deadline;
    if (deadline < co->stack->deadline)
        edo__coro_set_deadline(co, deadline);
    return 0;
}

int edo_deadline_pop(edo_instant saved)
{
    edo__coro *co = edo__coro_running();
    if (!co)
        return -EPERM;
    edo__coro_set_deadline(co, saved);
    return 0;
}

edo_instant edo_deadline(void)
{
    edo__coro *co = edo__coro_running();
    return co ? co->stack->deadline : EDO_INSTANT_NEVER;
}

int edo_timeout_at(edo_instant deadline, int (*fn)(void *arg), void *arg)
{
    if (!fn)
        return -EINVAL;
    edo_instant saved;
    int rc = edo_deadline_push(deadline, &saved);
    if (rc < 0)
        return rc;
    rc = fn(arg);
    /* fn may have moved to another worker: look the coroutine up again. */
    edo_deadline_pop(saved);
    return rc;
}

int edo_timeout(uint64_t duration, int (*fn)(void *arg), void *arg)
{
    return edo_timeout_at(edo_after(duration), fn, arg);
}
