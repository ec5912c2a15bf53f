/* The demo: a million tiny tasks spawned from inside the runtime and joined, across all
 * workers, with the throughput printed. */
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "edo.h"

#define TASKS 1000000

static _Atomic long remaining;

/* Each task adds its number to a running sum and finishes. */
typedef struct {
    edo_future base;
    long n;
    _Atomic long *sum;
} add_task;

static edo_poll add_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)cx;
    (void)out;
    add_task *a = (add_task *)f;
    atomic_fetch_add_explicit(a->sum, a->n, memory_order_relaxed);
    atomic_fetch_sub_explicit(&remaining, 1, memory_order_release);
    return EDO_READY;
}
static const edo_future_vtable add_vtable = {add_poll, NULL};

/* The root task: spawns TASKS children with handles, then joins every one. */
typedef struct {
    edo_future base;
    edo_task **handles;
    _Atomic long sum;
    long spawned, joined;
} root_task;

static edo_poll root_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    root_task *r = (root_task *)f;
    for (; r->spawned < TASKS; r->spawned++) {
        add_task a = {{&add_vtable}, r->spawned + 1, &r->sum};
        int rc = edo_spawn_future(&a.base, sizeof a, &r->handles[r->spawned]);
        if (rc < 0) {
            fprintf(stderr, "spawn: %s\n", edo_strerror(rc));
            exit(1);
        }
    }
    for (; r->joined < TASKS; r->joined++) {
        int rc;
        if (edo_task_poll_join(r->handles[r->joined], cx, &rc, NULL) == EDO_PENDING)
            return EDO_PENDING; /* woken when that one finishes */
        edo_task_free(r->handles[r->joined]);
    }
    return EDO_READY;
}
static const edo_future_vtable root_vtable = {root_poll, NULL};

int main(void)
{
    edo_runtime *rt;
    int rc = edo_runtime_new(NULL, &rt);
    if (rc < 0) {
        fprintf(stderr, "runtime: %s\n", edo_strerror(rc));
        return 1;
    }
    root_task *root = calloc(1, sizeof *root);
    root->handles = malloc(TASKS * sizeof *root->handles);
    root->base.vtable = &root_vtable;
    atomic_store(&remaining, TASKS);

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    edo_task *t;
    rc = edo_spawn_future_on(rt, &root->base, sizeof *root, &t);
    if (rc == 0)
        rc = edo_task_join(t, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    edo_task_free(t);

    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    long left = atomic_load(&remaining);
    printf("edo %s: spawned and joined %d tasks on %d workers in %.3f s (%.1f M tasks/s), "
           "%ld left\n",
           EDO_VERSION_STRING, TASKS, edo_runtime_worker_count(rt), secs, TASKS / secs / 1e6,
           left);
    edo_runtime_free(rt);
    free(root->handles);
    free(root);
    return rc == 0 && left == 0 ? 0 : 1;
}
