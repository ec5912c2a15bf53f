/* A one-permit thread parker: park() sleeps until unpark() is called (or returns at once if it
 * already was); a permit is never lost and at most one is stored. Futex-backed on Linux, a
 * mutex and condition variable elsewhere. */
#ifndef EDO_PLATFORM_PARKER_H
#define EDO_PLATFORM_PARKER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#ifdef __linux__
typedef struct edo__parker {
    _Atomic uint32_t state;
} edo__parker;
#else
#include <pthread.h>
typedef struct edo__parker {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int notified;
} edo__parker;
#endif

void edo__parker_init(edo__parker *p);
void edo__parker_destroy(edo__parker *p);
/* Sleeps until a permit is available, then consumes it. */
void edo__parker_park(edo__parker *p);
/* Like edo__parker_park, but gives up at `deadline` (CLOCK_MONOTONIC nanoseconds). Returns true
 * when it consumed a permit, false when the deadline passed first. */
bool edo__parker_park_until(edo__parker *p, uint64_t deadline);
/* Makes a permit available, waking the parked thread if any. Thread-safe. */
void edo__parker_unpark(edo__parker *p);

#endif
