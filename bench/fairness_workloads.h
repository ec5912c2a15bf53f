/* The fairness workloads of edo-bench (fairness_workloads.c): one busy task per worker spins
 * FAIRNESS_SPIN on the clock and yields, over and over, while a plain thread spawns `n` tiny
 * tasks and a task sleeps 1 ms twenty times. */
#ifndef EDO_BENCH_FAIRNESS_WORKLOADS_H
#define EDO_BENCH_FAIRNESS_WORKLOADS_H

#include "edo.h"

/* A measurement not done after this many ms reports this value (the bench then still ends). */
#define FAIRNESS_CAP_MS 60000.0

/* ms from the spawning thread's first spawn until the last tiny task had run, and the worst
 * lateness of the sleeper's sleeps; each capped at FAIRNESS_CAP_MS. `ran` and `slept`: how many
 * tiny tasks and sleeps were done by then. */
typedef struct {
    double all_ran_ms, late_max_ms;
    long ran, slept;
} fairness_stats;

/* fairness: every task is a future (the busy ones yield with edo_yield_future). */
fairness_stats fairness(edo_runtime *rt, unsigned workers, long n);
/* coro_fairness: every task is a coroutine (the busy ones call edo_yield()). */
fairness_stats coro_fairness(edo_runtime *rt, unsigned workers, long n);

#endif
