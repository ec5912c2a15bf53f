/* Parking: how an idle worker sleeps, and who wakes it.
 *
 * The runtime owns the driver stack (the timers and the I/O driver); the drivers know nothing of
 * workers. One parked worker at a time, the watcher, sleeps in the I/O driver (or on its futex
 * when there is nothing to watch) until the next timer is due; the others sleep on their
 * futexes until notified. The drivers reach the watcher only through the two callbacks here
 * (a timer armed earlier than its wake-up; the first fd registered), which wake it to look
 * again. A busy worker may hold the watcher role for a moment, to take I/O events without
 * waiting (edo__park_poll_io).
 */
#ifndef EDO_CORE_PARK_H
#define EDO_CORE_PARK_H

#include <stdatomic.h>
#include <stdint.h>

struct edo_runtime;
struct edo__worker;
struct edo__signal;

typedef struct edo__park {
    _Atomic int watcher; /* worker sleeping in the driver until the next deadline, or -1 */
    _Atomic int brief;   /* busy workers trying the watcher role for a poll that does not wait:
                            a worker about to sleep waits for them rather than sleep unwatched */
    uint64_t advance_to; /* paused clock: the next timer, to jump to if no socket has news */
} edo__park;

void edo__park_init(edo__park *p);
/* Worker `w`, announced as parked (core/idle.h), sleeps until notified, until `sig` (may be
 * NULL) is woken, or until shutdown; the watcher also until the next timer or I/O event. Then
 * it dispatches the I/O events it took. */
void edo__park_sleep(struct edo__worker *w, struct edo__signal *sig);
/* Between polls, when nobody sleeps in the I/O driver: takes the events that are there without
 * waiting, so busy workers still serve sockets. */
void edo__park_poll_io(struct edo__worker *w);
/* Wakes the watcher, if a worker is one, to look again at what to wait for (the drivers'
 * callbacks: an earlier timer, or the first fd to watch). */
void edo__park_wake_watcher(struct edo_runtime *rt);

#endif
