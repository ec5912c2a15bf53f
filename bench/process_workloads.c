/* The child-process workload (see process_workloads.h), as Tokio's side runs it: each of 32
 * tasks keeps one command and spawns from it until the shared count is used up. */
#include "process_workloads.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define PROCESS_CONCURRENCY 32

typedef struct process_run {
    _Atomic long next;
    long n;
} process_run;

static void *spawner(void *arg)
{
    process_run *run = arg;
    edo_command *cmd;
    if (edo_command_new("/bin/true", &cmd) < 0)
        abort();
    while (atomic_fetch_add_explicit(&run->next, 1, memory_order_relaxed) < run->n) {
        edo_child *child;
        edo_exit_status st;
        int rc = edo_command_spawn(cmd, &child);
        if (rc == 0)
            rc = edo_child_wait(child, &st);
        if (rc < 0 || !edo_exit_status_is_success(st)) {
            fprintf(stderr, "edo-bench: process: %s\n", rc < 0 ? edo_strerror(rc) : "failed");
            abort();
        }
        edo_child_free(child);
    }
    edo_command_free(cmd);
    return NULL;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

double process_spawn(edo_runtime *rt, long n)
{
    process_run run = {0, n};
    edo_task *tasks[PROCESS_CONCURRENCY];
    double start = now_ns();
    for (int i = 0; i < PROCESS_CONCURRENCY; i++)
        if (edo_spawn_with(rt, NULL, spawner, &run, &tasks[i]) < 0)
            abort();
    for (int i = 0; i < PROCESS_CONCURRENCY; i++) {
        if (edo_task_join(tasks[i], NULL) < 0)
            abort();
        edo_task_free(tasks[i]);
    }
    return now_ns() - start;
}
