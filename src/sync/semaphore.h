/* What the owned permits (permit.c) need from the semaphore. */
#ifndef EDO_SYNC_SEMAPHORE_H
#define EDO_SYNC_SEMAPHORE_H

#include "edo/sync.h"

/* Adds a reference to `s` (not NULL), dropped by edo_semaphore_free. Never suspends;
 * thread-safe. */
void edo__semaphore_ref(edo_semaphore *s);

/* edo_semaphore_release, refusing (-EINVAL, nothing released) to bring the permits available
 * above `most` while nobody waits: the mutex and the rwlock use it to catch an unlock of a lock
 * that is not held. (With waiters queued the permits go to them and nothing is checked.) */
int edo__semaphore_release_upto(edo_semaphore *s, size_t n, size_t most);

#endif
