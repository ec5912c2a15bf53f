/* The I/O driver: the backend, registering and deregistering, and waiting (see driver.h). */
#include "io/driver.h"

#include <errno.h>
#include <stdlib.h>

#include "core/runtime.h"
#include "platform/thread.h"

int edo__io_init(edo__io_driver *d)
{
    d->kind = &edo__io_epoll; /* the only backend so far */
    d->backend = NULL;
    pthread_mutex_init(&d->lock, NULL);
    atomic_init(&d->registered, 0);
    return edo__io_slab_init(&d->slab);
}

void edo__io_destroy(edo__io_driver *d)
{
    edo__io_slab_destroy(&d->slab);
    if (d->backend)
        d->backend->ops->destroy(d->backend);
    pthread_mutex_destroy(&d->lock);
}

int edo_io_register_on(edo_runtime *rt, edo_io **out, int fd)
{
    if (!rt || !out || fd < 0)
        return -EINVAL;
    edo__io_driver *d = &rt->io;
    pthread_mutex_lock(&d->lock);
    /* The backend is made on first use: a runtime that never watches an fd costs no fds. */
    int rc = d->backend ? 0 : d->kind->create(&d->backend);
    struct edo_io *io = rc == 0 ? edo__io_slab_take(&d->slab) : NULL;
    if (rc == 0 && !io)
        rc = -ENOMEM;
    if (rc < 0) {
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    io->fd = fd;
    io->rt = rt;
    uint32_t gen = edo__io_readiness_open(io);
    pthread_mutex_unlock(&d->lock);
    if ((rc = d->backend->ops->add(d->backend, fd, edo__io_token(gen, io->index))) < 0) {
        pthread_mutex_lock(&d->lock);
        edo__io_slab_put(&d->slab, io);
        pthread_mutex_unlock(&d->lock);
        return rc;
    }
    /* The first registration: a watcher asleep on its futex must move to the backend. */
    if (atomic_fetch_add_explicit(&d->registered, 1, memory_order_seq_cst) == 0) {
        int watcher = atomic_load_explicit(&rt->timers.watcher, memory_order_seq_cst);
        if (watcher >= 0)
            edo__parker_unpark(rt->workers[watcher].parker);
    }
    *out = io;
    return 0;
}

int edo_io_register(edo_io **out, int fd)
{
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return out && fd >= 0 ? -EPERM : -EINVAL;
    return edo_io_register_on(rt, out, fd);
}

int edo_io_fd(const edo_io *io) { return io ? io->fd : -EINVAL; }

void edo_io_deregister(edo_io *io)
{
    if (!io)
        return;
    edo__io_driver *d = &io->rt->io;
    d->backend->ops->remove(d->backend, io->fd, edo__io_token(edo__io_generation(io), io->index));
    edo__io_readiness_close(io);
    atomic_fetch_sub_explicit(&d->registered, 1, memory_order_seq_cst);
    pthread_mutex_lock(&d->lock);
    edo__io_slab_put(&d->slab, io);
    pthread_mutex_unlock(&d->lock);
}

int edo__io_wait(edo_runtime *rt, edo__worker *w, uint64_t deadline)
{
    edo__io_driver *d = &rt->io;
    uint64_t timeout = EDO__IO_NO_WAIT;
    if (deadline == UINT64_MAX) {
        timeout = EDO__IO_FOREVER;
    } else if (deadline) {
        uint64_t now = edo__clock_ns();
        timeout = deadline > now ? deadline - now : EDO__IO_NO_WAIT;
    }
    if (timeout != EDO__IO_NO_WAIT && !edo__parker_enter(w->parker, d->backend->waker))
        timeout = EDO__IO_NO_WAIT; /* already unparked: just collect what is there */
    /* Take no more events than the run queue has room for: the tasks they wake then queue
     * fairly behind the ones already there, and the rest stay in the backend's ready list (in
     * the order they became ready) for the next turn. Taking them all would spill the excess
     * into the global queue, where they would wait behind every later wake-up: a p99 of tens
     * of milliseconds once a few hundred connections are ready at once. */
    int room = (int)edo__local_free(&w->queue) - 1;
    int max = room < 1 ? 1 : room > EDO__IO_EVENTS ? EDO__IO_EVENTS : room;
    int n = d->backend->ops->wait(d->backend, w->io_events, max, timeout);
    if (timeout != EDO__IO_NO_WAIT)
        edo__parker_leave(w->parker);
    return n;
}

void edo__io_dispatch(edo_runtime *rt, edo__worker *w, int n)
{
    edo__io_readiness_deliver(&rt->io.slab, w->io_events, n);
}
