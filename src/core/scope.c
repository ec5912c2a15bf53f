/* Scopes: structured concurrency for coroutines. The scope's tasks live in a join set; the
 * coroutine is shielded for the whole scope (core/task.h, EDO__SHIELDED), so an abort cannot
 * drop it while its tasks may still run: it is told instead (its calls fail with -ECANCELED),
 * the scope aborts the tasks and waits for them, and only then does the abort take effect. */
#include <errno.h>

#include "core/join_set.h"
#include "coro/coro.h"
#include "edo/coro.h"

int edo_scope(int (*body)(edo_join_set *set, void *arg), void *arg,
              void (*drop_output)(void *output))
{
    if (!body)
        return -EINVAL;
    if (!edo__coro_running())
        return -EPERM;
    if (edo_coro_is_cancelled())
        return -ECANCELED;
    edo_join_set *set;
    int rc = edo__join_set_new_scoped(drop_output, &set);
    if (rc < 0)
        return rc;
    edo__coro_shield(true);
    rc = body(set, arg);
    if (rc >= 0 && !edo_coro_is_cancelled()) {
        int wait_rc = edo__join_set_wait(set);
        if (wait_rc < 0)
            rc = wait_rc;
    }
    edo__join_set_drain(set); /* aborts what still runs and waits for it to end */
    edo__join_set_free_scoped(set);
    bool cancelled = edo_coro_is_cancelled();
    edo__coro_shield(false); /* an abort deferred by the scope takes effect here */
    return cancelled ? -ECANCELED : rc;
}
