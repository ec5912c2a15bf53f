/* The child-process workload of edo-bench (process_workloads.c). */
#ifndef EDO_BENCH_PROCESS_WORKLOADS_H
#define EDO_BENCH_PROCESS_WORKLOADS_H

#include "edo.h"

/* process: spawns `n` children running /bin/true and waits for each, 32 at a time (32
 * coroutines taking turns from one counter). Returns the nanoseconds taken. */
double process_spawn(edo_runtime *rt, long n);

#endif
