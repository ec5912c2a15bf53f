/* The signal workload: kill(self) to a woken listener, median latency. */
#include "signal_workloads.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

typedef struct {
    long n;
    double *latency;
} latency_run;

static void *deliver_to_self(void *arg)
{
    latency_run *r = arg;
    edo_signal *sig;
    must(edo_signal_listen(SIGUSR1, &sig), "listen");
    for (long i = 0; i < r->n; i++) {
        double start = clock_ns();
        if (kill(getpid(), SIGUSR1) < 0)
            must(-1, "kill");
        must(edo_signal_recv(sig), "recv");
        r->latency[i] = clock_ns() - start;
    }
    edo_signal_free(sig);
    return NULL;
}

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double signal_latency(edo_runtime *rt, long n, bool block_in_main)
{
    if (block_in_main)
        must(edo_signal_block_in_this_thread(), "block");
    latency_run r = {n, malloc((size_t)n * sizeof(double))};
    if (!r.latency)
        must(-ENOMEM, "latencies");
    edo_task *t;
    must(edo_spawn_with(rt, NULL, deliver_to_self, &r, &t), "spawn");
    must(edo_task_join(t, NULL), "join");
    edo_task_free(t);
    qsort(r.latency, (size_t)n, sizeof(double), by_value);
    double median = r.latency[n / 2];
    free(r.latency);
    return median;
}
