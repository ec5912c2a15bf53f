/* edo-bench's signal workload (bench/tokio/src/main.rs has Tokio's). */
#ifndef EDO_BENCH_SIGNAL_WORKLOADS_H
#define EDO_BENCH_SIGNAL_WORKLOADS_H

#include <stdbool.h>

#include "edo.h"

/* signal: a task listens for SIGUSR1, then `n` times sends it to its own process
 * (kill(getpid())) and waits for its listener to be woken. Returns the median of those `n`
 * latencies in ns. With `block_in_main`, the calling (main) thread blocks the signal first, as
 * edo/signal.h advises, so every thread blocks it and it comes through the signalfd; without,
 * the kernel hands it to main, where edo's handler writes to the self-pipe. */
double signal_latency(edo_runtime *rt, long n, bool block_in_main);

#endif
