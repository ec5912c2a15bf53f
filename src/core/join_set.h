/* Join sets, the part other files use (scope.c). */
#ifndef EDO_CORE_JOIN_SET_H
#define EDO_CORE_JOIN_SET_H

#include "edo/task.h"

/* Inside a coroutine: waits until every task of `set` has ended, dropping their results (the
 * set's drop_output). Returns 0, or -ECANCELED / -ETIMEDOUT (the caller's abort or deadline:
 * the tasks still run). */
int edo__join_set_wait(edo_join_set *set);

/* Inside a coroutine: aborts every task of `set`, waits until all have ended (ignoring the
 * caller's own abort and deadline, even while the caller is being cancelled: the tasks were
 * told to stop) and drops their results. Returns 0. */
int edo__join_set_drain(edo_join_set *set);

/* A scope's set (scope.c): edo_join_set_free() on it does nothing (the scope's body must not
 * free it); edo__join_set_free_scoped() frees it. */
int edo__join_set_new_scoped(void (*drop_output)(void *output), edo_join_set **out);
void edo__join_set_free_scoped(edo_join_set *set);

#endif /* EDO_CORE_JOIN_SET_H */
