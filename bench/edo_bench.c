/* edo's side of the scheduler benchmarks; bench/tokio/src/main.rs is the same workloads in
 * Tokio, and bench/run.sh runs both and prints ratios.
 *
 *   edo-bench WORKLOAD [--workers N] [--ops N]
 *
 * Prints one line: `bench=WORKLOAD peer=edo ns_per_op=X ops=N`, for memory
 * `bench=idle_task_memory peer=edo bytes_per_task=B` (idle_conn_memory: bytes_per_conn=B),
 * for timer lateness `bench=sleep_overshoot peer=edo p50_us=X p99_us=Y max_us=M wall_ms=Z`,
 * and for fairness `bench=fairness peer=edo all_ran_ms=A late_max_ms=L`. Exit status 2: unknown workload.
 * Every timed workload runs a warm-up round of a tenth of its size first. The signal rows
 * print the median latency of one delivery as ns_per_op.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "edo.h"
#include "coro/context.h" /* internal: the bare switch benchmark */
#include "conn_workloads.h"
#include "fairness_workloads.h"
#include "fs_workloads.h"
#include "stream_workloads.h"
#include "signal_workloads.h"
#include "process_workloads.h"
#include "sync_workloads.h"
#include "time_workloads.h"

#define EXIT_UNKNOWN_WORKLOAD 2
/* yield_many's tasks: as many as Tokio's own benchmark runs (rt_multi_threaded's yield_many:
 * 200 tasks, 1,000 yields each). Each yields n / 200 times: 5,000 at the default 1,000,000
 * ops, the same loop run longer for a steadier clock. This was 1,000 tasks before, a shape of
 * our own, which also made the row depend on how a worker's caches and TLB take 1,000 stacks. */
#define YIELD_TASKS 200

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void check(int rc, const char *what)
{
    if (rc < 0) {
        fprintf(stderr, "edo-bench: %s: %s\n", what, edo_strerror(rc));
        exit(1);
    }
}

/* ---- countdown: whoever takes it to zero releases the waiting thread (as Tokio's bench does
 * with an AtomicUsize and a std channel) ---- */

typedef struct {
    _Atomic long remaining;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int done;
} countdown;

static countdown cd = {0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void countdown_reset(long n)
{
    atomic_store(&cd.remaining, n);
    cd.done = 0;
}

static void countdown_hit(void)
{
    if (atomic_fetch_sub_explicit(&cd.remaining, 1, memory_order_relaxed) == 1) {
        pthread_mutex_lock(&cd.lock);
        cd.done = 1;
        pthread_cond_signal(&cd.cond);
        pthread_mutex_unlock(&cd.lock);
    }
}

static void countdown_wait(void)
{
    pthread_mutex_lock(&cd.lock);
    while (!cd.done)
        pthread_cond_wait(&cd.cond, &cd.lock);
    pthread_mutex_unlock(&cd.lock);
}

/* ---- tasks ---- */

static edo_poll hit_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)f, (void)cx, (void)out;
    countdown_hit();
    return EDO_READY;
}
static const edo_future_vtable hit_vtable = {hit_poll, NULL};

typedef struct {
    edo_future base;
    long n;
} spawner_task;

static edo_poll spawner_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)cx, (void)out;
    spawner_task *s = (spawner_task *)f;
    for (long i = 0; i < s->n; i++) {
        edo_future hit = {&hit_vtable};
        check(edo_spawn_future(&hit, sizeof hit, NULL), "spawn");
    }
    return EDO_READY;
}
static const edo_future_vtable spawner_vtable = {spawner_poll, NULL};

/* spawn_many: the spawning loop runs as a task on a worker. */
static double spawn_many(edo_runtime *rt, long n)
{
    countdown_reset(n);
    double t0 = now_ns();
    spawner_task s = {{&spawner_vtable}, n};
    check(edo_spawn_future_on(rt, &s.base, sizeof s, NULL), "spawn");
    countdown_wait();
    return now_ns() - t0;
}

/* spawn_many_remote: a plain thread (this one) spawns through the runtime handle. */
static double spawn_many_remote(edo_runtime *rt, long n)
{
    countdown_reset(n);
    double t0 = now_ns();
    for (long i = 0; i < n; i++) {
        edo_future hit = {&hit_vtable};
        check(edo_spawn_future_on(rt, &hit, sizeof hit, NULL), "spawn");
    }
    countdown_wait();
    return now_ns() - t0;
}

typedef struct {
    edo_future base;
    edo_yield_future y;
    long left;
} yielder_task;

static edo_poll yielder_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    yielder_task *t = (yielder_task *)f;
    while (t->left > 0) {
        if (edo_future_poll(&t->y.base, cx, NULL) == EDO_PENDING)
            return EDO_PENDING;
        t->left--;
        edo_yield_future_init(&t->y);
    }
    countdown_hit();
    return EDO_READY;
}
static const edo_future_vtable yielder_vtable = {yielder_poll, NULL};

/* yield_many: YIELD_TASKS tasks spawned from outside, each yielding n / YIELD_TASKS times. */
static double yield_many(edo_runtime *rt, long n)
{
    long per_task = n / YIELD_TASKS > 0 ? n / YIELD_TASKS : 1;
    countdown_reset(YIELD_TASKS);
    double t0 = now_ns();
    for (int i = 0; i < YIELD_TASKS; i++) {
        yielder_task t = {{&yielder_vtable}, {{NULL}, 0}, per_task};
        edo_yield_future_init(&t.y);
        check(edo_spawn_future_on(rt, &t.base, sizeof t, NULL), "spawn");
    }
    countdown_wait();
    return now_ns() - t0;
}

typedef struct {
    edo_future base;
    long left;
} chain_task;

static edo_poll chain_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)cx, (void)out;
    chain_task *c = (chain_task *)f;
    if (c->left == 0) {
        countdown_hit();
    } else {
        chain_task next = {{c->base.vtable}, c->left - 1};
        check(edo_spawn_future(&next.base, sizeof next, NULL), "spawn");
    }
    return EDO_READY;
}
static const edo_future_vtable chain_vtable = {chain_poll, NULL};

/* chained_spawn: each task spawns the next, n deep. */
static double chained_spawn(edo_runtime *rt, long n)
{
    countdown_reset(1);
    double t0 = now_ns();
    chain_task c = {{&chain_vtable}, n - 1};
    check(edo_spawn_future_on(rt, &c.base, sizeof c, NULL), "spawn");
    countdown_wait();
    return now_ns() - t0;
}

/* ---- coroutines ---- */

static void *coro_hit(void *arg)
{
    (void)arg;
    countdown_hit();
    return NULL;
}

static void *coro_spawner(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++)
        check(edo_spawn(coro_hit, NULL, NULL), "spawn");
    return NULL;
}

/* coro_spawn_many: a coroutine spawns n coroutines, each decrements the countdown. */
static double coro_spawn_many(edo_runtime *rt, long n)
{
    countdown_reset(n);
    double t0 = now_ns();
    check(edo_spawn_with(rt, NULL, coro_spawner, (void *)(intptr_t)n, NULL), "spawn");
    countdown_wait();
    return now_ns() - t0;
}

static void *coro_yielder(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++)
        edo_yield();
    countdown_hit();
    return NULL;
}

/* coro_yield_many: YIELD_TASKS coroutines, each yielding n / YIELD_TASKS times. */
static double coro_yield_many(edo_runtime *rt, long n)
{
    long per_task = n / YIELD_TASKS > 0 ? n / YIELD_TASKS : 1;
    countdown_reset(YIELD_TASKS);
    double t0 = now_ns();
    for (int i = 0; i < YIELD_TASKS; i++)
        check(edo_spawn_with(rt, NULL, coro_yielder, (void *)(intptr_t)per_task, NULL), "spawn");
    countdown_wait();
    return now_ns() - t0;
}

static void *coro_chain(void *arg)
{
    long left = (long)(intptr_t)arg;
    if (left == 0)
        countdown_hit();
    else
        check(edo_spawn(coro_chain, (void *)(intptr_t)(left - 1), NULL), "spawn");
    return NULL;
}

/* coro_chained_spawn: each coroutine spawns the next, n deep. */
static double coro_chained_spawn(edo_runtime *rt, long n)
{
    countdown_reset(1);
    double t0 = now_ns();
    check(edo_spawn_with(rt, NULL, coro_chain, (void *)(intptr_t)(n - 1), NULL), "spawn");
    countdown_wait();
    return now_ns() - t0;
}

/* switch: the bare context switch, into a coroutine's stack and back (two switches per op). */
static edo__context bare_main, bare_coro;

static void bare_entry(void *arg)
{
    (void)arg;
    for (;;)
        (void)edo__context_suspend(&bare_coro, &bare_main, 0);
}

static double bare_switch(edo_runtime *rt, long n)
{
    (void)rt;
    enum { STACK = 64 * 1024 };
    char *stack = malloc(STACK);
    edo__context_make(&bare_coro, stack + STACK, bare_entry, NULL);
    double t0 = now_ns();
    for (long i = 0; i < n; i++)
        (void)edo__context_resume(&bare_main, &bare_coro, 0, edo__fp_baseline());
    double ns = now_ns() - t0;
    free(stack);
    return ns;
}

/* coro_self_yield: one coroutine yielding on a current-thread runtime with nothing else to
 * run: each op is a suspend and a resume through the scheduler. */
static void *self_yielder(void *arg)
{
    long n = (long)(intptr_t)arg;
    for (long i = 0; i < n; i++)
        edo_yield();
    return NULL;
}

static double coro_switch(edo_runtime *rt, long n)
{
    (void)rt;
    edo_runtime *one;
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_CURRENT_THREAD};
    check(edo_runtime_new(&cfg, &one), "runtime");
    edo_task *t;
    double t0 = now_ns();
    check(edo_spawn_with(one, NULL, self_yielder, (void *)(intptr_t)n, &t), "spawn");
    check(edo_task_join(t, NULL), "join");
    double ns = now_ns() - t0;
    edo_task_free(t);
    edo_runtime_free(one);
    return ns;
}

/* ---- memory ---- */

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long size = 0, resident = 0;
    if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2) {
        fprintf(stderr, "edo-bench: cannot read /proc/self/statm\n");
        exit(1);
    }
    fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

/* The idle tasks park on a notify that is never notified, as a task waiting for work or for
 * shutdown does (Tokio's side: `notify.notified().await`): each holds its place in the wait
 * list, with its waker. The notify outlives the runtime. */
static edo_notify *idle_notify;

/* Counts its first poll, which goes on to queue it on idle_notify. */
typedef struct {
    edo_future base;
    _Atomic long *polled;
    bool counted;
    edo_notify_wait_future wait;
} idle_task;

static edo_poll idle_poll(edo_future *f, edo_context *cx, void **out)
{
    idle_task *t = (idle_task *)f;
    if (!t->counted) {
        t->counted = true;
        atomic_fetch_add_explicit(t->polled, 1, memory_order_release);
    }
    return edo_future_poll(&t->wait.base, cx, out);
}

static void idle_drop(edo_future *f) { edo_future_drop(&((idle_task *)f)->wait.base); }
static const edo_future_vtable idle_vtable = {idle_poll, idle_drop};

/* RSS growth per task parked on idle_notify, once all `n` have been polled (but for the last
 * few, still inside that first poll). */
static long idle_task_memory(edo_runtime *rt, long n)
{
    static _Atomic long polled;
    check(edo_notify_new(&idle_notify), "notify");
    long before = rss_bytes();
    for (long i = 0; i < n; i++) {
        idle_task t = {.base = {&idle_vtable}, .polled = &polled};
        edo_notify_wait_future_init(&t.wait, idle_notify);
        check(edo_spawn_future_on(rt, &t.base, sizeof t, NULL), "spawn");
    }
    while (atomic_load_explicit(&polled, memory_order_acquire) < n)
        usleep(1000);
    long after = rss_bytes();
    return (after - before) / n;
}

/* A coroutine that counts its start and then parks on idle_notify, like an idle task. */
static void *idle_coro(void *arg)
{
    atomic_fetch_add_explicit((_Atomic long *)arg, 1, memory_order_release);
    edo_notify_wait(idle_notify);
    return NULL;
}

static long idle_coro_memory(edo_runtime *rt, long n)
{
    static _Atomic long started;
    check(edo_notify_new(&idle_notify), "notify");
    long before = rss_bytes();
    for (long i = 0; i < n; i++)
        check(edo_spawn_with(rt, NULL, idle_coro, (void *)&started, NULL), "spawn");
    while (atomic_load_explicit(&started, memory_order_acquire) < n)
        usleep(1000);
    long after = rss_bytes();
    return (after - before) / n;
}

/* ---- main ---- */

static const struct {
    const char *name;
    double (*run)(edo_runtime *rt, long n);
    long (*ops)(long n); /* the ops a run of n does; NULL: n */
} timed[] = {
    {"spawn_many", spawn_many, NULL},
    {"spawn_many_remote", spawn_many_remote, NULL},
    {"yield_many", yield_many, NULL},
    {"chained_spawn", chained_spawn, NULL},
    {"coro_spawn_many", coro_spawn_many, NULL},
    {"coro_yield_many", coro_yield_many, NULL},
    {"coro_chained_spawn", coro_chained_spawn, NULL},
    {"switch", bare_switch, NULL},
    {"coro_self_yield", coro_switch, NULL},
    {"timeout_cancel", timeout_cancel, NULL},
    {"mutex_contended", mutex_contended, NULL},
    {"semaphore_contended", semaphore_contended, NULL},
    {"ping_pong", ping_pong, NULL},
    {"ping_pong_pairs", ping_pong_pairs, ping_pong_pairs_hops},
    {"coro_ping_pong_pairs", coro_ping_pong_pairs, ping_pong_pairs_hops},
    {"mpsc", mpsc, NULL},
    {"lines", lines, NULL},
    {"fs_read_small", fs_read_small, NULL},
    {"fs_read_small_sync", fs_read_small_sync, NULL},
    {"fs_metadata", fs_metadata, NULL},
    {"fs_metadata_sync", fs_metadata_sync, NULL},
    {"fs_write_fsync", fs_write_fsync, NULL},
    {"read_dir", read_dir, NULL},
    {"process", process_spawn, NULL},
};

/* The lateness workloads: they print their own fields and run no warm-up. */
static void report_overshoot(const char *name, sleep_stats st)
{
    printf("bench=%s peer=edo p50_us=%.0f p99_us=%.0f max_us=%.0f wall_ms=%.1f\n", name,
           st.p50_us, st.p99_us, st.max_us, st.wall_ms);
}

static void report_fairness(const char *name, fairness_stats st)
{
    if (st.all_ran_ms >= FAIRNESS_CAP_MS || st.late_max_ms >= FAIRNESS_CAP_MS)
        fprintf(stderr,
                "edo-bench: %s not done after %.0f s (%ld tiny tasks ran, %ld sleeps done): "
                "printing the cap\n",
                name, FAIRNESS_CAP_MS / 1000, st.ran, st.slept);
    printf("bench=%s peer=edo all_ran_ms=%.1f late_max_ms=%.2f\n", name, st.all_ran_ms,
           st.late_max_ms);
}

/* --ops unless given: the workload's size. */
static long default_ops(const char *name)
{
    if (strstr(name, "sleep_overshoot"))
        return 100000; /* sleeping tasks */
    if (strstr(name, "fairness"))
        return 1000; /* tiny tasks */
    if (strstr(name, "ping_pong_pairs"))
        return 8000000; /* hops */
    if (strcmp(name, "lines") == 0)
        return LINES_DEFAULT_OPS; /* 80-byte lines: 1 GiB */
    if (strcmp(name, "idle_conn_memory") == 0)
        return 10000; /* connections */
    if (strncmp(name, "fs_read_small", 13) == 0 || strncmp(name, "fs_metadata", 11) == 0)
        return FS_SMALL_DEFAULT_OPS; /* files of 4 KiB */
    if (strcmp(name, "fs_write_fsync") == 0)
        return FS_FSYNC_DEFAULT_OPS;
    if (strcmp(name, "read_dir") == 0)
        return FS_DIR_DEFAULT_OPS; /* entries */
    if (strstr(name, "signal"))
        return 10000; /* deliveries */
    if (strcmp(name, "process") == 0)
        return 1000; /* children */
    return 1000000;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: edo-bench WORKLOAD [--workers N] [--ops N] [--idle-fd]\n");
        return 64;
    }
    const char *name = argv[1];
    if (strcmp(name, "idle_conn_client") == 0) /* idle_conn_memory's other process */
        return argc == 4 ? idle_conn_client(argv[2], argv[3]) : 64;
    unsigned workers = 2;
    long n = default_ops(name);
    bool idle_fd = false;
    for (int i = 2; i < argc; i += 2) {
        if (strcmp(argv[i], "--idle-fd") == 0) {
            idle_fd = true;
            i--; /* takes no value */
        } else if (i + 1 == argc) {
            fprintf(stderr, "edo-bench: %s needs a value\n", argv[i]);
            return 64;
        } else if (strcmp(argv[i], "--workers") == 0)
            workers = (unsigned)strtoul(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--ops") == 0)
            n = strtol(argv[i + 1], NULL, 10);
        else {
            fprintf(stderr, "edo-bench: unknown option %s\n", argv[i]);
            return 64;
        }
    }
    if (n < 1 || workers < 1) {
        fprintf(stderr, "edo-bench: --ops and --workers must be positive\n");
        return 64;
    }

    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = workers};
    check(edo_runtime_new(&cfg, &rt), "runtime");
    /* --idle-fd: a pipe registered and never ready, so that a worker with nothing to run waits
     * in the I/O backend (the one EDO_IO_BACKEND picks) rather than on its futex, and wakes
     * and timers go through it; a runtime without fds never enters the backend. */
    int idle_pipe[2] = {-1, -1};
    edo_io *idle_io = NULL;
    if (idle_fd) {
        check(pipe2(idle_pipe, O_NONBLOCK | O_CLOEXEC) < 0 ? -errno : 0, "pipe");
        check(edo_io_register_on(rt, idle_pipe[0], &idle_io), "register");
    }
    int status = EXIT_UNKNOWN_WORKLOAD;
    if (strcmp(name, "idle_task_memory") == 0) {
        printf("bench=%s peer=edo bytes_per_task=%ld\n", name, idle_task_memory(rt, n));
        status = 0;
    }
    if (strcmp(name, "sleep_overshoot") == 0 || strcmp(name, "coro_sleep_overshoot") == 0) {
        report_overshoot(name, name[0] == 'c' ? coro_sleep_overshoot(rt, n)
                                              : sleep_overshoot(rt, n));
        status = 0;
    }
    if (strcmp(name, "fairness") == 0 || strcmp(name, "coro_fairness") == 0) {
        report_fairness(name, name[0] == 'c' ? coro_fairness(rt, workers, n)
                                             : fairness(rt, workers, n));
        status = 0;
    }
    if (strcmp(name, "idle_conn_memory") == 0) {
        printf("bench=%s peer=edo bytes_per_conn=%ld\n", name, idle_conn_memory(rt, n, rss_bytes));
        status = 0;
    }
    if (strcmp(name, "signal") == 0 || strcmp(name, "signal_unblocked_main") == 0) {
        bool block = strcmp(name, "signal") == 0;
        signal_latency(rt, n / 10 > 0 ? n / 10 : 1, block); /* warm-up */
        printf("bench=%s peer=edo ns_per_op=%.1f ops=%ld\n", name, signal_latency(rt, n, block),
               n);
        status = 0;
    }
    if (strcmp(name, "idle_coro_memory") == 0) {
        printf("bench=%s peer=edo bytes_per_task=%ld\n", name, idle_coro_memory(rt, n));
        status = 0;
    }
    for (size_t i = 0; i < sizeof timed / sizeof timed[0]; i++) {
        if (strcmp(name, timed[i].name) != 0)
            continue;
        timed[i].run(rt, n / 10 > 0 ? n / 10 : 1); /* warm-up */
        double ns = timed[i].run(rt, n);
        long ops = timed[i].ops ? timed[i].ops(n) : n;
        printf("bench=%s peer=edo ns_per_op=%.1f ops=%ld\n", name, ns / (double)ops, ops);
        status = 0;
    }
    if (status == EXIT_UNKNOWN_WORKLOAD)
        fprintf(stderr, "edo-bench: unknown workload %s\n", name);
    fflush(stdout);
    if (idle_io) {
        edo_io_deregister(idle_io);
        close(idle_pipe[0]);
        close(idle_pipe[1]);
    }
    edo_runtime_free(rt);
    return status;
}
