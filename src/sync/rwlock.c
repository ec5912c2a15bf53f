/* The read-write lock: a fair semaphore of R permits (R = the most readers at once). A reader
 * takes one permit, a writer all R. Because the semaphore serves its queue in order and lets a
 * waiter collect its permits part by part, a queued writer gathers the permits of the readers
 * as they leave while the readers that come after it queue behind it: writers are not starved
 * by a stream of readers, and readers are not starved by a stream of writers. A downgrade is a
 * release of R - 1 permits, which the semaphore hands to the queue head in the same step.
 * Unlocks never raise the free permits above R: an unlock of a lock that is not held (while
 * nobody waits) is refused rather than letting a reader in beside a writer. */
#include <errno.h>
#include <stdlib.h>

#include "edo/sync.h"
#include "sync/semaphore.h"

struct edo_rwlock {
    edo_semaphore *sem;
    size_t max; /* R */
};

int edo_rwlock_new(size_t max_readers, edo_rwlock **out)
{
    if (!out || max_readers > EDO_SEMAPHORE_MAX_PERMITS)
        return -EINVAL;
    if (max_readers == 0)
        max_readers = EDO_RWLOCK_DEFAULT_MAX_READERS;
    edo_rwlock *rw = malloc(sizeof *rw);
    if (!rw)
        return -ENOMEM;
    int rc = edo_semaphore_new(max_readers, &rw->sem);
    if (rc < 0) {
        free(rw);
        return rc;
    }
    rw->max = max_readers;
    *out = rw;
    return 0;
}

void edo_rwlock_free(edo_rwlock *rw)
{
    if (!rw)
        return;
    edo_semaphore_free(rw->sem);
    free(rw);
}

int edo_rwlock_read_lock(edo_rwlock *rw)
{
    return rw ? edo_semaphore_acquire(rw->sem, 1) : -EINVAL;
}

int edo_rwlock_try_read_lock(edo_rwlock *rw)
{
    return rw ? edo_semaphore_try_acquire(rw->sem, 1) : -EINVAL;
}

int edo_rwlock_read_unlock(edo_rwlock *rw)
{
    return rw ? edo__semaphore_release_upto(rw->sem, 1, rw->max) : -EINVAL;
}

int edo_rwlock_write_lock(edo_rwlock *rw)
{
    return rw ? edo_semaphore_acquire(rw->sem, rw->max) : -EINVAL;
}

int edo_rwlock_try_write_lock(edo_rwlock *rw)
{
    return rw ? edo_semaphore_try_acquire(rw->sem, rw->max) : -EINVAL;
}

int edo_rwlock_write_unlock(edo_rwlock *rw)
{
    return rw ? edo__semaphore_release_upto(rw->sem, rw->max, rw->max) : -EINVAL;
}

int edo_rwlock_write_downgrade(edo_rwlock *rw)
{
    if (!rw)
        return -EINVAL;
    /* The one permit kept is the read lock; with R = 1 there is nothing to hand on. */
    if (rw->max == 1) /* nothing to hand on; held or not cannot be told */
        return 0;
    return edo__semaphore_release_upto(rw->sem, rw->max - 1, rw->max);
}

void edo_rwlock_read_lock_future_init(edo_semaphore_acquire_future *f, edo_rwlock *rw)
{
    edo_semaphore_acquire_future_init(f, rw ? rw->sem : NULL, 1);
}

void edo_rwlock_write_lock_future_init(edo_semaphore_acquire_future *f, edo_rwlock *rw)
{
    edo_semaphore_acquire_future_init(f, rw ? rw->sem : NULL, rw ? rw->max : 1);
}
