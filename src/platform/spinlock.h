/* A test-and-test-and-set spinlock for critical sections of a few instructions (list links),
 * where a mutex's bookkeeping costs more than the section itself. After a short spin it
 * yields the CPU, so a preempted holder is not starved of it. */
#ifndef EDO_PLATFORM_SPINLOCK_H
#define EDO_PLATFORM_SPINLOCK_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct edo__spinlock {
    _Atomic bool locked;
} edo__spinlock;

static inline void edo__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static inline void edo__spin_init(edo__spinlock *l) { atomic_init(&l->locked, false); }

static inline void edo__spin_lock(edo__spinlock *l)
{
    for (unsigned spins = 0;; spins++) {
        if (!atomic_exchange_explicit(&l->locked, true, memory_order_acquire))
            return;
        while (atomic_load_explicit(&l->locked, memory_order_relaxed)) {
            if (++spins < 64)
                edo__cpu_relax();
            else
                sched_yield();
        }
    }
}

static inline bool edo__spin_trylock(edo__spinlock *l)
{
    return !atomic_load_explicit(&l->locked, memory_order_relaxed) &&
           !atomic_exchange_explicit(&l->locked, true, memory_order_acquire);
}

static inline void edo__spin_unlock(edo__spinlock *l)
{
    atomic_store_explicit(&l->locked, false, memory_order_release);
}

#endif
