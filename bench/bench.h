/* What every workload file of edo-bench shares. */
#ifndef EDO_BENCH_BENCH_H
#define EDO_BENCH_BENCH_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "edo.h"

/* Exits with a message when `rc` is an error (negative errno). */
static inline void must(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "edo-bench: %s: %s\n", what, edo_strerror(rc));
        exit(1);
    }
}

/* CLOCK_MONOTONIC in nanoseconds (the clock of Tokio's Instant). */
static inline double clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

#endif
