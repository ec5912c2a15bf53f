/* Threads: creation with a name and the runtime's start/stop hooks, CPU count, monotonic time. */
#ifndef EDO_PLATFORM_THREAD_H
#define EDO_PLATFORM_THREAD_H

#include <pthread.h>
#include <stdint.h>

/* Starts `fn(arg)` on a new thread, joinable or detached. Returns 0 or -errno. */
int edo__thread_start(pthread_t *thread, void *(*fn)(void *), void *arg, int detached);

/* Names the calling thread (truncated to 15 bytes, the kernel's limit). */
void edo__thread_set_name(const char *name);

/* Number of CPUs this process may run on; at least 1. */
unsigned edo__cpu_count(void);

/* Monotonic time in nanoseconds. */
uint64_t edo__clock_ns(void);

#endif
