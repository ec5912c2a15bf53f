/* The timer workloads of edo-bench (time_workloads.c). */
#ifndef EDO_BENCH_TIME_WORKLOADS_H
#define EDO_BENCH_TIME_WORKLOADS_H

#include "edo.h"

/* How late `n` sleeps of 1..1000 ms woke (median, 99th percentile and the latest, in µs; timers
 * have 1 ms resolution), and the wall time. */
typedef struct {
    double p50_us, p99_us, max_us, wall_ms;
} sleep_stats;

/* timeout_cancel: `n` timeouts of 10 s around a ready future, created, awaited and dropped in
 * one coroutine. Returns the nanoseconds the loop took. */
double timeout_cancel(edo_runtime *rt, long n);
/* sleep_overshoot: `n` tasks spawned from this thread each sleep 1 + splitmix64(i) % 1000 ms
 * and record how much later than asked they woke. */
sleep_stats sleep_overshoot(edo_runtime *rt, long n);
/* coro_sleep_overshoot: the same with coroutines (edo_sleep_at). */
sleep_stats coro_sleep_overshoot(edo_runtime *rt, long n);

#endif
