/* The I/O driver: the runtime's epoll instance, its registrations, and the readiness they carry.
 *
 * Registrations live in a slab of fixed pages that is never freed while the runtime lives, and
 * epoll carries (generation, index) rather than a pointer: an event that arrives for a
 * registration already closed (its slot maybe reused) finds another generation and is dropped,
 * and dispatching never touches freed memory, whoever polls.
 *
 * Each registration's readiness is one 64-bit word: generation (32 bits) | tick (16) | ready
 * bits (16). Delivering an event ORs the bits in and bumps the tick; clearing after an
 * operation would block compares the whole (generation, tick) pair it saw, so a clear that
 * races with a newer event loses. Waiters (edo_io_waiter, inside the waiting futures) queue on
 * the registration's list under its spinlock.
 *
 * Who polls: the worker that watches the clock (time/timers.h) waits in epoll_wait instead of
 * on its futex while registrations exist, and an unpark reaches it through an eventfd; busy
 * workers poll without waiting at each maintenance (core/worker.c) when nobody waits in epoll.
 */
#ifndef EDO_IO_DRIVER_H
#define EDO_IO_DRIVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "edo/io.h"
#include "platform/parker.h"
#include "platform/spinlock.h"

#define EDO__IO_PAGE_SLOTS 256u
#define EDO__IO_MAX_PAGES 4096u /* 1,048,576 registrations */
#define EDO__IO_EVENTS 256      /* events taken per epoll_wait */

struct edo_runtime;
struct edo__worker;

/* A registration; the public edo_io. */
struct edo_io {
    _Alignas(64) _Atomic uint64_t state; /* generation | tick | ready */
    int fd;
    uint32_t index; /* slot in the slab */
    edo__spinlock lock;
    edo_io_waiter *waiters;
    struct edo_io *next_free;
    struct edo_runtime *rt;
};

/* The eventfd that interrupts an epoll_wait, refcounted (see edo__parker_waker). */
typedef struct edo__io_wake {
    edo__parker_waker base;
    _Atomic unsigned refs;
    int fd;
} edo__io_wake;

typedef struct edo__io_driver {
    int epfd;            /* -1 until the first registration */
    edo__io_wake *wake;  /* created with epfd */
    pthread_mutex_t lock; /* creation, the slab's growth and free list */
    struct edo_io *_Atomic *pages; /* EDO__IO_MAX_PAGES page pointers, each set once */
    uint32_t nslots;
    struct edo_io *free;
    _Atomic uint32_t registered; /* live registrations */
} edo__io_driver;

int edo__io_init(edo__io_driver *d);
void edo__io_destroy(edo__io_driver *d);

/* True when epoll has something to watch (then parking waits in epoll_wait). */
static inline bool edo__io_active(edo__io_driver *d)
{
    return atomic_load_explicit(&d->registered, memory_order_seq_cst) > 0;
}

/* Waits in epoll_wait until an event, `deadline` (system CLOCK_MONOTONIC ns; UINT64_MAX: no
 * deadline; 0: do not wait) or an unpark of w->parker, and stores the events in w's buffer.
 * Returns how many; dispatch them with edo__io_dispatch. */
int edo__io_wait(struct edo_runtime *rt, struct edo__worker *w, uint64_t deadline);
/* Delivers the events edo__io_wait stored in w's buffer: sets readiness, wakes waiters. */
void edo__io_dispatch(struct edo_runtime *rt, struct edo__worker *w, int n);

/* Whether `w` is on its registration's wait list (a quick look, for skipping the drop). */
static inline bool edo__io_waiter_linked(const edo_io_waiter *w)
{
    return __atomic_load_n(&w->linked_, __ATOMIC_ACQUIRE) != 0;
}

#endif
