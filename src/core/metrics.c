/* Runtime metrics: a snapshot of what a runtime holds, read on demand.
 *
 * Nothing is counted on the hot paths for this: live tasks are the sum of the workers' owned
 * tables (owned.c), which already count the tasks they answer for at shutdown, and the
 * blocking pool already counts its threads. A reader takes each table's lock in turn, so a
 * snapshot costs a few uncontended lock round trips per worker.
 *
 * A handle (edo_runtime_ref) may ask from any thread while the owner shuts the runtime down,
 * when the tables are about to be freed. The reader counts itself in `remote_in_flight` before
 * it looks at the shutdown flag, as a spawn from a plain thread does (worker.c,
 * schedule_remote): shutdown's drain waits for that count to reach zero before it frees
 * anything, and a reader counted after drain's last look sees the flag. */
#include <errno.h>
#include <pthread.h>

#include "core/runtime.h"

static size_t live_tasks(edo_runtime *rt)
{
    size_t total = 0;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        edo__owned_list *l = &rt->workers[i].owned;
        edo__spin_lock(&l->lock);
        total += l->count;
        edo__spin_unlock(&l->lock);
    }
    return total;
}

static unsigned blocking_threads(edo_runtime *rt)
{
    edo__blocking_pool *p = &rt->blocking;
    pthread_mutex_lock(&p->lock);
    unsigned n = p->nthreads;
    pthread_mutex_unlock(&p->lock);
    return n;
}

int edo_runtime_metrics_get(edo_runtime *rt, edo_runtime_metrics *out)
{
    if (!rt || !out)
        return -EINVAL;
    atomic_fetch_add_explicit(&rt->remote_in_flight, 1, memory_order_seq_cst);
    int rc = -ESHUTDOWN;
    if (!atomic_load_explicit(&rt->shutdown, memory_order_seq_cst)) {
        *out = (edo_runtime_metrics){
            .workers = (unsigned)edo_runtime_worker_count(rt),
            .live_tasks = live_tasks(rt),
            .blocking_threads = blocking_threads(rt),
            .io_backend = edo_runtime_io_backend(rt),
        };
        rc = 0;
    }
    atomic_fetch_sub_explicit(&rt->remote_in_flight, 1, memory_order_release);
    return rc;
}
