#include "platform/parker.h"

#ifdef __linux__
#include <errno.h>
#include <limits.h>
#include <time.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* EMPTY -> PARKED by the parker (a decrement), anything -> NOTIFIED by unpark. The parker
 * sleeps on the futex only while the word reads PARKED, so an unpark that lands between the
 * decrement and the wait is never missed. */
enum { EMPTY = 0, NOTIFIED = 1, ELSEWHERE = 2, PARKED = UINT32_MAX };

void edo__parker_init(edo__parker *p)
{
    atomic_init(&p->state, EMPTY);
    atomic_init(&p->elsewhere, NULL);
    p->held = NULL;
}

void edo__parker_destroy(edo__parker *p)
{
    if (p->held)
        p->held->unref(p->held);
}

void edo__parker_park(edo__parker *p)
{
    if (atomic_fetch_sub_explicit(&p->state, 1, memory_order_acquire) == NOTIFIED)
        return;
    for (;;) {
        syscall(SYS_futex, &p->state, FUTEX_WAIT_PRIVATE, PARKED, NULL, NULL, 0);
        uint32_t expected = NOTIFIED;
        if (atomic_compare_exchange_strong_explicit(&p->state, &expected, EMPTY,
                                                    memory_order_acquire, memory_order_relaxed))
            return;
    }
}

bool edo__parker_park_until(edo__parker *p, uint64_t deadline)
{
    if (atomic_fetch_sub_explicit(&p->state, 1, memory_order_acquire) == NOTIFIED)
        return true;
    struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    for (;;) {
        /* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC time (FUTEX_WAIT a relative one,
         * which would have to be recomputed after every spurious wake-up). */
        long rc = syscall(SYS_futex, &p->state, FUTEX_WAIT_BITSET_PRIVATE, PARKED, &ts, NULL,
                          FUTEX_BITSET_MATCH_ANY);
        uint32_t expected = NOTIFIED;
        if (atomic_compare_exchange_strong_explicit(&p->state, &expected, EMPTY,
                                                    memory_order_acquire, memory_order_relaxed))
            return true;
        if (rc < 0 && errno == ETIMEDOUT) {
            /* Back to EMPTY, unless an unpark landed meanwhile: then take its permit. */
            expected = PARKED;
            if (atomic_compare_exchange_strong_explicit(&p->state, &expected, EMPTY,
                                                        memory_order_acquire, memory_order_relaxed))
                return false;
            atomic_exchange_explicit(&p->state, EMPTY, memory_order_acquire);
            return true;
        }
    }
}

void edo__parker_unpark(edo__parker *p)
{
    uint32_t prev = atomic_exchange_explicit(&p->state, NOTIFIED, memory_order_acq_rel);
    if (prev == PARKED)
        syscall(SYS_futex, &p->state, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
    else if (prev == ELSEWHERE) {
        edo__parker_waker *w = atomic_load_explicit(&p->elsewhere, memory_order_relaxed);
        w->interrupt(w);
    }
}

/* Keeps a reference to `waker` for as long as the parker lives. */
static void hold(edo__parker *p, edo__parker_waker *waker)
{
    if (p->held == waker)
        return;
    waker->ref(waker);
    if (p->held)
        p->held->unref(p->held);
    p->held = waker;
}

bool edo__parker_enter(edo__parker *p, edo__parker_waker *waker)
{
    hold(p, waker);
    atomic_store_explicit(&p->elsewhere, waker, memory_order_relaxed); /* published below */
    uint32_t expected = EMPTY;
    if (atomic_compare_exchange_strong_explicit(&p->state, &expected, ELSEWHERE,
                                                memory_order_acq_rel, memory_order_acquire))
        return true;
    atomic_store_explicit(&p->state, EMPTY, memory_order_relaxed); /* take the permit */
    return false;
}

void edo__parker_leave(edo__parker *p)
{
    atomic_exchange_explicit(&p->state, EMPTY, memory_order_acquire);
}

#else
#include <errno.h>
#include <time.h>

void edo__parker_init(edo__parker *p)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, &attr);
    pthread_condattr_destroy(&attr);
    p->notified = 0;
    p->elsewhere = NULL;
    p->held = NULL;
}

void edo__parker_destroy(edo__parker *p)
{
    if (p->held)
        p->held->unref(p->held);
    pthread_cond_destroy(&p->cond);
    pthread_mutex_destroy(&p->lock);
}

void edo__parker_park(edo__parker *p)
{
    pthread_mutex_lock(&p->lock);
    while (!p->notified)
        pthread_cond_wait(&p->cond, &p->lock);
    p->notified = 0;
    pthread_mutex_unlock(&p->lock);
}

bool edo__parker_park_until(edo__parker *p, uint64_t deadline)
{
    struct timespec ts = {(time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u)};
    pthread_mutex_lock(&p->lock);
    int rc = 0;
    while (!p->notified && rc != ETIMEDOUT)
        rc = pthread_cond_timedwait(&p->cond, &p->lock, &ts);
    bool got = p->notified;
    p->notified = 0;
    pthread_mutex_unlock(&p->lock);
    return got;
}

void edo__parker_unpark(edo__parker *p)
{
    pthread_mutex_lock(&p->lock);
    p->notified = 1;
    edo__parker_waker *elsewhere = p->elsewhere;
    pthread_cond_signal(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (elsewhere)
        elsewhere->interrupt(elsewhere);
}

bool edo__parker_enter(edo__parker *p, edo__parker_waker *waker)
{
    hold(p, waker);
    pthread_mutex_lock(&p->lock);
    bool free_to_wait = !p->notified;
    if (free_to_wait)
        p->elsewhere = waker;
    p->notified = 0;
    pthread_mutex_unlock(&p->lock);
    return free_to_wait;
}

void edo__parker_leave(edo__parker *p)
{
    pthread_mutex_lock(&p->lock);
    p->elsewhere = NULL;
    p->notified = 0;
    pthread_mutex_unlock(&p->lock);
}

#endif
