/* A one-permit thread parker: park() sleeps until unpark() is called (or returns at once if it
 * already was); a permit is never lost and at most one is stored. Futex-backed on Linux, a
 * mutex and condition variable elsewhere. */
#ifndef EDO_PLATFORM_PARKER_H
#define EDO_PLATFORM_PARKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* How to wake a thread that waits in an event queue instead of on the parker. It is
 * refcounted: a parker that ever waited through it keeps it alive (an unpark may reach it after
 * the event queue's owner is gone, from a thread that still holds the parker). */
typedef struct edo__parker_waker {
    void (*interrupt)(struct edo__parker_waker *self);
    void (*ref)(struct edo__parker_waker *self);
    void (*unref)(struct edo__parker_waker *self);
} edo__parker_waker;

#ifdef __linux__
typedef struct edo__parker {
    _Atomic uint32_t state;
    /* How to reach the owner while it waits in an event queue: atomic because an unpark that
     * saw the owner there may read it as the owner, back from the queue, goes there again. */
    edo__parker_waker *_Atomic elsewhere;
    edo__parker_waker *held; /* the waker this parker keeps a reference to (owner only) */
} edo__parker;
#else
#include <pthread.h>
typedef struct edo__parker {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int notified;
    edo__parker_waker *elsewhere;
    edo__parker_waker *held;
} edo__parker;
#endif

void edo__parker_init(edo__parker *p);
void edo__parker_destroy(edo__parker *p);
/* Sleeps until a permit is available, then consumes it. */
void edo__parker_park(edo__parker *p);
/* Like edo__parker_park, but gives up at `deadline` (CLOCK_MONOTONIC nanoseconds). Returns true
 * when it consumed a permit, false when the deadline passed first. */
bool edo__parker_park_until(edo__parker *p, uint64_t deadline);
/* Makes a permit available, waking the parked thread if any (through `elsewhere->interrupt` when
 * it waits in an event queue). Thread-safe. */
void edo__parker_unpark(edo__parker *p);
/* The owner is about to wait in an event queue (epoll) rather than on the parker: from now until
 * edo__parker_leave, an unpark calls waker->interrupt(waker), which must make that wait
 * return. Returns false, consuming it, when a permit is already there: then do not wait. */
bool edo__parker_enter(edo__parker *p, edo__parker_waker *waker);
/* The wait in the event queue is over; consumes the permit an unpark meanwhile left. */
void edo__parker_leave(edo__parker *p);

#endif
