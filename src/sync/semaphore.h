/* What the owned permits (permit.c) need from the semaphore. */
#ifndef EDO_SYNC_SEMAPHORE_H
#define EDO_SYNC_SEMAPHORE_H

#include "edo/sync.h"

/* Adds a reference to `s` (not NULL), dropped by edo_semaphore_free. Never suspends;
 * thread-safe. */
void edo__semaphore_ref(edo_semaphore *s);

#endif
