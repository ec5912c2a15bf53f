/* The I/O driver: the runtime's event queue (a backend, io/backend.h), the registrations it
 * watches (io/registration.h) and the readiness they carry (io/readiness.h).
 *
 * Who polls: the worker that watches the clock (time/timers.h) waits in the backend instead of
 * on its futex while registrations exist, and an unpark reaches it through the backend's waker;
 * busy workers poll without waiting at each maintenance (core/worker.c) when nobody waits in
 * the backend.
 */
#ifndef EDO_IO_DRIVER_H
#define EDO_IO_DRIVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "edo/io.h"
#include "io/backend.h"
#include "io/readiness.h"
#include "io/registration.h"

#define EDO__IO_EVENTS 256 /* events taken per wait */

struct edo_runtime;
struct edo__worker;

typedef struct edo__io_driver {
    const edo__io_backend_ops *kind; /* the backend to create */
    edo__io_backend *backend;        /* NULL until the first registration */
    pthread_mutex_t lock;            /* creation, the slab's growth and free list */
    edo__io_slab slab;
    _Atomic uint32_t registered; /* live registrations */
} edo__io_driver;

int edo__io_init(edo__io_driver *d);
void edo__io_destroy(edo__io_driver *d);

/* True when the backend has something to watch (then parking waits in it). */
static inline bool edo__io_active(edo__io_driver *d)
{
    return atomic_load_explicit(&d->registered, memory_order_seq_cst) > 0;
}

/* Waits in the backend until an event, `deadline` (system CLOCK_MONOTONIC ns; UINT64_MAX: no
 * deadline; 0: do not wait) or an unpark of w->parker, and stores the events in w's buffer.
 * Returns how many; dispatch them with edo__io_dispatch. */
int edo__io_wait(struct edo_runtime *rt, struct edo__worker *w, uint64_t deadline);
/* Delivers the events edo__io_wait stored in w's buffer: sets readiness, wakes waiters. */
void edo__io_dispatch(struct edo_runtime *rt, struct edo__worker *w, int n);

#endif
