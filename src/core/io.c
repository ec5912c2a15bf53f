/* Registering fds on a runtime (edo/io.h): the runtime's driver does the work (io/driver.c);
 * this is where the public handle leads to it, since the driver knows no runtime. */
#include <errno.h>

#include "core/runtime.h"
#include "coro/coro.h"
#include "io/uring/completions.h"

int edo_io_register_on(edo_runtime *rt, int fd, edo_io **out)
{
    if (!rt || !out || fd < 0)
        return -EINVAL;
    return edo__io_register(&rt->io, out, fd);
}

int edo__runtime_register_stream(edo_runtime *rt, int fd, edo_io **out)
{
    if (!rt || !out || fd < 0)
        return -EINVAL;
    return edo__io_register_stream(&rt->io, out, fd);
}

int edo__runtime_register_connecting(edo_runtime *rt, int fd, edo_io **out)
{
    if (!rt || !out || fd < 0)
        return -EINVAL;
    return edo__io_register_connecting(&rt->io, out, fd);
}

int edo__runtime_register_listener(edo_runtime *rt, int fd, edo_io **out)
{
    if (!rt || !out || fd < 0)
        return -EINVAL;
    return edo__io_register_listener(&rt->io, out, fd);
}

int edo_io_register(int fd, edo_io **out)
{
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return out && fd >= 0 ? -EPERM : -EINVAL;
    return edo_io_register_on(rt, fd, out);
}

/* The completion ring slot of worker `w`: a ring per worker (see edo__io_cring); slot 0 is
 * the other threads'. */
static unsigned worker_slot(const edo__worker *w) { return 1 + w->index % (EDO__IO_CRINGS - 1); }

struct edo__cring *edo__runtime_cring(edo_runtime *rt)
{
    if (!rt)
        return NULL;
    edo__worker *w = edo__worker_current();
    return edo__io_cring(&rt->io, w && w->rt == rt ? worker_slot(w) : 0);
}

/* Whether `r` is worker w's own ring: read, not made (edo__io_cring would make a missing one). */
static bool own_cring(const edo__worker *w, edo_runtime *rt, const struct edo__cring *r)
{
    return w && w->rt == rt &&
           r == atomic_load_explicit(&rt->io.crings[worker_slot(w)], memory_order_acquire);
}

bool edo__runtime_cring_may_reap(const struct edo__cring *r)
{
    edo__worker *w = edo__worker_current();
    if (!w || own_cring(w, w->rt, r))
        return true;
    for (unsigned i = 0; i < EDO__IO_CRINGS; i++)
        if (r == atomic_load_explicit(&w->rt->io.crings[i], memory_order_acquire))
            return false; /* another worker's of the same runtime */
    return true; /* another runtime's: this thread is none of its workers */
}

struct edo__cring *edo__runtime_worker_cring(edo_runtime *rt)
{
    edo__worker *w = edo__worker_current();
    return w && w->rt == rt ? edo__io_cring(&rt->io, worker_slot(w)) : NULL;
}

uint64_t edo__runtime_op_deadline(edo_runtime *rt)
{
    edo__coro *co = edo__coro_running();
    if (!co || !co->timed || co->shield_depth || !rt || edo__timers_paused(&rt->timers))
        return EDO_INSTANT_NEVER;
    return edo__timers_system_time(&rt->timers, co->stack->deadline);
}

void edo__runtime_cring_submit_unlock(edo_runtime *rt, struct edo__cring *r)
{
    edo__worker *w = edo__worker_current();
    bool own = own_cring(w, rt, r);
    if (!own || (w->unentered && w->unentered != r)) {
        edo__cring_submit_unlock(r); /* not a worker on its own ring: at once */
        return;
    }
    edo__cring_publish_unlock(r);
    w->unentered = r;
    /* A worker with more tasks to run lets them publish theirs too, and enters for all of
     * them later; inside a flush, the flush's next round takes it. One with nothing else to
     * run enters now (deferring would only add latency), through the flush all the same: the
     * steps its reap runs then publish and go in together in the next round, not one entry
     * each. */
    if (!w->flushing && !w->lifo && edo__local_len(&w->queue) == 0)
        edo__worker_flush_io(w);
}

bool edo__worker_flush_io(edo__worker *w)
{
    edo__cring *r = w->unentered;
    if (!r)
        return false;
    w->flushing = true;
    edo__cring_flush(r);
    w->flushing = false;
    w->unentered = NULL; /* what the reaps published went in in the flush's later rounds */
    return true;
}
