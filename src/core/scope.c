/* Scopes: structured concurrency for coroutines. The scope's tasks live in a join set; the
 * coroutine is shielded for the whole scope (core/task.h, EDO__SHIELDED), so an abort cannot
 * drop it while its tasks may still run: it is told instead (its calls fail with -ECANCELED),
 * the scope aborts the tasks and waits for them, and only then does the abort take effect. */
#include <errno.h>

#include "core/join_set.h"
#include "coro/coro.h"
#include "edo/coro.h"

/* Takes the results of the tasks as they finish, until none is left. Returns 0, or the
 * caller's -ECANCELED / -ETIMEDOUT (the tasks still run then). */
static int wait_all(edo_join_set *set, void (*drop_output)(void *))
{
    edo_join_result r;
    int rc;
    while ((rc = edo_join_set_next(set, &r)) == 0)
        if (r.result == 0 && drop_output)
            drop_output(r.output);
    return rc == -ECHILD ? 0 : rc;
}

int edo_scope(int (*body)(edo_join_set *set, void *arg), void *arg,
              void (*drop_output)(void *output))
{
    if (!body)
        return -EINVAL;
    if (!edo_in_coroutine())
        return -EPERM;
    if (edo_coro_cancelled() > 0)
        return -ECANCELED;
    edo_join_set *set;
    int rc = edo_join_set_new(&set, drop_output);
    if (rc < 0)
        return rc;
    edo__coro_shield(true);
    rc = body(set, arg);
    if (rc >= 0 && edo_coro_cancelled() == 0) {
        int wait_rc = wait_all(set, drop_output);
        if (wait_rc < 0)
            rc = wait_rc;
    }
    edo__join_set_drain(set); /* aborts what still runs and waits for it to end */
    edo_join_set_free(set);
    bool cancelled = edo_coro_cancelled() > 0;
    edo__coro_shield(false); /* an abort deferred by the scope takes effect here */
    return cancelled ? -ECANCELED : rc;
}
