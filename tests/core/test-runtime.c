/* The runtime as a whole: configuration, thread names and hooks, edo_block_on, edo_main. */
#include <dirent.h>
#include <limits.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

/* ---- configuration ---------------------------------------------------------------------- */

static unsigned cpus(void)
{
    cpu_set_t set;
    CHECK_EQ(sched_getaffinity(0, sizeof set, &set), 0);
    return (unsigned)CPU_COUNT(&set);
}

TEST(config_out_of_range)
{
    edo_runtime *rt = NULL;
    edo_runtime_config cfg;
#define REJECTS(field, value)                                                                  \
    do {                                                                                       \
        memset(&cfg, 0, sizeof cfg);                                                           \
        cfg.field = value;                                                                     \
        CHECK_EQ(edo_runtime_new(&cfg, &rt), -EINVAL);                                         \
    } while (0)
    REJECTS(worker_threads, EDO_MAX_WORKER_THREADS + 1);
    REJECTS(worker_threads, UINT_MAX);
    REJECTS(max_blocking_threads, EDO_MAX_BLOCKING_THREADS + 1);
    REJECTS(max_blocking_threads, UINT_MAX);
    REJECTS(global_queue_interval, (1u << 20) + 1);
    REJECTS(global_queue_interval, UINT_MAX);
    REJECTS(flavor, (edo_runtime_flavor)2);
    REJECTS(flavor, (edo_runtime_flavor)-1);
    /* worker_threads is checked for the current-thread flavour too. */
    memset(&cfg, 0, sizeof cfg);
    cfg.flavor = EDO_RUNTIME_CURRENT_THREAD;
    cfg.worker_threads = EDO_MAX_WORKER_THREADS + 1;
    CHECK_EQ(edo_runtime_new(&cfg, &rt), -EINVAL);
#undef REJECTS
    memset(&cfg, 0, sizeof cfg);
    CHECK_EQ(edo_runtime_new(&cfg, NULL), -EINVAL);
    CHECK_EQ(edo_runtime_new(NULL, NULL), -EINVAL);

    /* The limits themselves are accepted. */
    memset(&cfg, 0, sizeof cfg);
    cfg.worker_threads = 1;
    cfg.max_blocking_threads = EDO_MAX_BLOCKING_THREADS;
    cfg.global_queue_interval = 1u << 20;
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    _Atomic long n = 0;
    count_future c = count_new(&n, (void *)3);
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, &t), 0);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 3);
    edo_task_free(t);
    edo_runtime_free(rt);
}

TEST(config_defaults_and_worker_count)
{
    edo_runtime *rt;
    CHECK_EQ(edo_runtime_new(NULL, &rt), 0); /* NULL: all defaults */
    CHECK_EQ(edo_runtime_worker_count(rt), cpus());
    _Atomic long n = 0;
    count_future c = count_new(&n, (void *)4);
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, &t), 0);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 4);
    edo_task_free(t);
    edo_runtime_free(rt);

    edo_runtime_config zero;
    memset(&zero, 0, sizeof zero);
    CHECK_EQ(edo_runtime_new(&zero, &rt), 0);
    CHECK_EQ(edo_runtime_worker_count(rt), cpus());
    edo_runtime_free(rt);

    rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 3);
    CHECK_EQ(edo_runtime_worker_count(rt), 3);
    edo_runtime_free(rt);
    rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 5); /* worker_threads ignored */
    CHECK_EQ(edo_runtime_worker_count(rt), 0);
    edo_runtime_free(rt);
    CHECK_EQ(edo_runtime_worker_count(NULL), -EINVAL);
    CHECK(edo_runtime_current() == NULL);
}

/* Threads of this process whose name starts with `prefix`. */
static int threads_named(const char *prefix)
{
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[300], name[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue; /* exited meanwhile */
        if (fgets(name, sizeof name, f) && strncmp(name, prefix, strlen(prefix)) == 0)
            n++;
        fclose(f);
    }
    closedir(d);
    return n;
}

static edo_poll name_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)f;
    (void)cx;
    char *name = calloc(1, 32);
    CHECK(name != NULL);
    CHECK_EQ(pthread_getname_np(pthread_self(), name, 32), 0);
    *out = name;
    return EDO_READY;
}
static const edo_future_vtable name_vtable = {name_poll, NULL};

static void *name_fn(void *arg)
{
    (void)arg;
    char *name = calloc(1, 32);
    CHECK(name != NULL);
    CHECK_EQ(pthread_getname_np(pthread_self(), name, 32), 0);
    return name;
}

TEST(thread_names)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 3, .thread_name = "abcdefghijklmnop"};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    /* The prefix is cut to 10 characters. Threads name themselves as they start. */
    WAIT_UNTIL(threads_named("abcdefghij") == 3);
    CHECK_EQ(threads_named("abcdefghijk"), 0);

    edo_future f = {&name_vtable};
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &f, sizeof f, &t), 0);
    char *name = NULL;
    CHECK_EQ(edo_task_join(t, (void **)&name), 0);
    edo_task_free(t);
    fprintf(stderr, "  worker thread: \"%s\"\n", name);
    CHECK(strncmp(name, "abcdefghij", 10) == 0);
    CHECK(name[10] != 'k');
    CHECK(strlen(name) <= 15);
    free(name);

    CHECK_EQ(edo_spawn_blocking_on(rt, name_fn, NULL, &t), 0);
    CHECK_EQ(edo_task_join(t, (void **)&name), 0);
    edo_task_free(t);
    fprintf(stderr, "  blocking thread: \"%s\"\n", name);
    CHECK(strncmp(name, "abcdefghij", 10) == 0);
    CHECK(name[10] != 'k');
    free(name);
    CHECK_EQ(threads_named("abcdefghij"), 4);

    edo_runtime_free(rt);
    /* All joined or exiting; a detached pool thread may take a moment to disappear. */
    WAIT_UNTIL(threads_named("abcdefghij") == 0);

    /* The default prefix. */
    rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    edo_future f2 = {&name_vtable};
    CHECK_EQ(edo_spawn_future_on(rt, &f2, sizeof f2, &t), 0);
    CHECK_EQ(edo_task_join(t, (void **)&name), 0);
    edo_task_free(t);
    CHECK(strncmp(name, "edo", 3) == 0);
    free(name);
    edo_runtime_free(rt);
}

/* Thread hooks: once per thread each, start before stop, on the thread itself. */
typedef struct {
    _Atomic int starts, stops, errors;
} hook_counts;

static _Thread_local int hook_state; /* 0 before start, 1 between, 2 after stop */

static void on_start(void *arg)
{
    hook_counts *h = arg;
    if (hook_state != 0)
        atomic_fetch_add(&h->errors, 1);
    hook_state = 1;
    atomic_fetch_add(&h->starts, 1);
}

static void on_stop(void *arg)
{
    hook_counts *h = arg;
    if (hook_state != 1)
        atomic_fetch_add(&h->errors, 1);
    hook_state = 2;
    atomic_fetch_add(&h->stops, 1);
}

/* Blocks until `n` calls run at once: forces the pool to run that many threads. */
typedef struct {
    _Atomic int arrived;
    int n;
} rendezvous;

static void *rendezvous_fn(void *arg)
{
    rendezvous *r = arg;
    if (hook_state != 1)
        return (void *)-1; /* the start hook ran first on this thread */
    atomic_fetch_add(&r->arrived, 1);
    WAIT_UNTIL(atomic_load(&r->arrived) >= r->n);
    return (void *)1;
}

static edo_poll hook_state_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)f;
    (void)cx;
    *out = (void *)(intptr_t)hook_state;
    return EDO_READY;
}
static const edo_future_vtable hook_state_vtable = {hook_state_poll, NULL};

TEST(thread_hooks_once_per_thread)
{
    hook_counts h;
    memset(&h, 0, sizeof h);
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 3, .on_thread_start = on_start,
                              .on_thread_stop = on_stop, .hook_arg = &h};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    WAIT_UNTIL(atomic_load(&h.starts) == 3);
    edo_future f = {&hook_state_vtable};
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &f, sizeof f, &t), 0);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 1); /* tasks run after the start hook */
    edo_task_free(t);

    enum { POOL = 4 };
    rendezvous r = {0, POOL};
    edo_task *bt[POOL];
    for (int i = 0; i < POOL; i++)
        CHECK_EQ(edo_spawn_blocking_on(rt, rendezvous_fn, &r, &bt[i]), 0);
    for (int i = 0; i < POOL; i++) {
        CHECK_EQ(edo_task_join(bt[i], &out), 0);
        CHECK_EQ((intptr_t)out, 1);
        edo_task_free(bt[i]);
    }
    CHECK_EQ(atomic_load(&h.starts), 3 + POOL);
    CHECK_EQ(atomic_load(&h.stops), 0);
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&h.starts), 3 + POOL);
    CHECK_EQ(atomic_load(&h.stops), 3 + POOL);
    CHECK_EQ(atomic_load(&h.errors), 0);

    /* Current-thread: the thread in edo_block_on is not a runtime thread; pool threads are. */
    memset(&h, 0, sizeof h);
    cfg.flavor = EDO_RUNTIME_CURRENT_THREAD;
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    edo_future f2 = {&hook_state_vtable};
    CHECK_EQ(edo_block_on(rt, &f2, &out), 0);
    CHECK_EQ(atomic_load(&h.starts), 0);
    rendezvous r1 = {0, 1};
    CHECK_EQ(edo_spawn_blocking_on(rt, rendezvous_fn, &r1, &bt[0]), 0);
    CHECK_EQ(edo_task_join(bt[0], &out), 0);
    CHECK_EQ((intptr_t)out, 1);
    edo_task_free(bt[0]);
    CHECK_EQ(atomic_load(&h.starts), 1);
    edo_runtime_free(rt);
    CHECK_EQ(atomic_load(&h.stops), 1);
    CHECK_EQ(atomic_load(&h.errors), 0);
}

/* ---- edo_block_on ---------------------------------------------------------------------- */

static void *open_gate_when_waited(void *arg)
{
    gate *g = arg;
    WAIT_UNTIL(gate_has_waiter(g));
    gate_open(g);
    return NULL;
}

TEST(block_on_returns_output)
{
    for (int flavor = 0; flavor < 2; flavor++) {
        edo_runtime *rt = new_rt((edo_runtime_flavor)flavor, 2);
        _Atomic long n = 0;
        count_future c = count_new(&n, (void *)77);
        void *out = NULL;
        CHECK_EQ(edo_block_on(rt, &c.base, &out), 0);
        CHECK_EQ((intptr_t)out, 77);
        CHECK_EQ(edo_block_on(rt, &c.base, NULL), 0); /* out may be NULL */
        CHECK_EQ(atomic_load(&n), 2);
        CHECK(edo_runtime_current() == NULL); /* entered only while inside */

        /* A future that waits, woken from another thread. */
        gate g;
        gate_init(&g);
        gate_future gf = gate_future_new(&g, (void *)78);
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, open_gate_when_waited, &g), 0);
        out = NULL;
        CHECK_EQ(edo_block_on(rt, &gf.base, &out), 0);
        CHECK_EQ((intptr_t)out, 78);
        pthread_join(th, NULL);
        CHECK_EQ(atomic_load(&g.dropped), 0); /* block_on does not drop: the caller owns it */
        gate_destroy(&g);
        edo_runtime_free(rt);
    }
}

/* Calls the blocking entry points from inside a poll; each must refuse with -EDEADLK. */
typedef struct {
    edo_runtime *other_rt;
    edo_task *pending; /* a task that is not finished */
    int rc_same, rc_other, rc_join, rc_main;
    int polled;
    int try_main; /* also call edo_main */
} deadlk_state;

typedef struct {
    edo_future base;
    deadlk_state *st;
} deadlk_future;

static int main_never(void *arg)
{
    atomic_fetch_add((_Atomic int *)arg, 1);
    return 0;
}

static _Atomic int main_never_ran;

static edo_poll deadlk_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)cx;
    (void)out;
    deadlk_state *st = ((deadlk_future *)f)->st;
    edo_runtime *self = edo_runtime_current();
    CHECK(self != NULL);
    count_future c = count_new(NULL, NULL);
    st->rc_same = edo_block_on(self, &c.base, NULL);
    st->rc_other = edo_block_on(st->other_rt, &c.base, NULL);
    st->rc_join = edo_task_join(st->pending, NULL);
    if (st->try_main)
        st->rc_main = edo_main(main_never, (void *)&main_never_ran);
    st->polled = 1;
    return EDO_READY;
}
static const edo_future_vtable deadlk_vtable = {deadlk_poll, NULL};

static void check_deadlk(deadlk_state *st)
{
    CHECK_EQ(st->polled, 1);
    CHECK_EQ(st->rc_same, -EDEADLK);
    CHECK_EQ(st->rc_other, -EDEADLK);
    CHECK_EQ(st->rc_join, -EDEADLK);
    if (st->try_main) {
        CHECK_EQ(st->rc_main, -EDEADLK);
        CHECK_EQ(atomic_load(&main_never_ran), 0);
    }
}

/* From a task: a worker thread (multi-thread) or the driving thread (current-thread). */
TEST(block_on_deadlk_inside_task)
{
    for (int flavor = 0; flavor < 2; flavor++) {
        edo_runtime *rt = new_rt((edo_runtime_flavor)flavor, 2);
        edo_runtime *other = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
        gate g;
        gate_init(&g);
        gate_future gf = gate_future_new(&g, NULL);
        deadlk_state st = {other, NULL, 1, 1, 1, 1, 0, 1};
        CHECK_EQ(edo_spawn_future_on(other, &gf.base, sizeof gf, &st.pending), 0);
        deadlk_future d = {{&deadlk_vtable}, &st};
        edo_task *t;
        CHECK_EQ(edo_spawn_future_on(rt, &d.base, sizeof d, &t), 0);
        CHECK_EQ(edo_task_join(t, NULL), 0);
        edo_task_free(t);
        check_deadlk(&st);
        gate_open(&g);
        CHECK_EQ(edo_task_join(st.pending, NULL), 0);
        edo_task_free(st.pending);
        edo_runtime_free(other);
        edo_runtime_free(rt);
        gate_destroy(&g);
    }
}

/* From a future polled by edo_block_on itself (nested). */
TEST(block_on_deadlk_nested)
{
    for (int flavor = 0; flavor < 2; flavor++) {
        edo_runtime *rt = new_rt((edo_runtime_flavor)flavor, 2);
        edo_runtime *other = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
        gate g;
        gate_init(&g);
        gate_future gf = gate_future_new(&g, NULL);
        deadlk_state st = {other, NULL, 1, 1, 1, 1, 0, 0}; /* edo_main: its own test below */
        CHECK_EQ(edo_spawn_future_on(other, &gf.base, sizeof gf, &st.pending), 0);
        deadlk_future d = {{&deadlk_vtable}, &st};
        CHECK_EQ(edo_block_on(rt, &d.base, NULL), 0);
        check_deadlk(&st);
        /* And block_on still works afterwards (the nesting count came back down). */
        gate_open(&g);
        CHECK_EQ(edo_task_join(st.pending, NULL), 0);
        edo_task_free(st.pending);
        count_future c = count_new(NULL, (void *)5);
        void *out;
        CHECK_EQ(edo_block_on(rt, &c.base, &out), 0);
        CHECK_EQ((intptr_t)out, 5);
        edo_runtime_free(other);
        edo_runtime_free(rt);
        gate_destroy(&g);
    }
}

/* Joins every handle in turn (the poll form), spawning `spawn_more` more tasks first. */
typedef struct {
    edo_future base;
    edo_task **handles;
    int n, joined;
    _Atomic long *counter;
    int spawn_more;
} join_all_future;

static edo_poll join_all_poll(edo_future *f, edo_context *cx, void **out)
{
    join_all_future *j = (join_all_future *)f;
    for (; j->spawn_more > 0; j->spawn_more--) {
        count_future c = count_new(j->counter, NULL);
        CHECK_EQ(edo_spawn_future(&c.base, sizeof c, &j->handles[j->n++]), 0);
    }
    for (; j->joined < j->n; j->joined++) {
        int rc;
        if (edo_task_poll_join(j->handles[j->joined], cx, &rc, NULL) == EDO_PENDING)
            return EDO_PENDING;
        CHECK_EQ(rc, 0);
        edo_task_free(j->handles[j->joined]);
    }
    *out = (void *)(intptr_t)j->joined;
    return EDO_READY;
}
static const edo_future_vtable join_all_vtable = {join_all_poll, NULL};

TEST(block_on_current_thread_drives_tasks)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    enum { N = 100 };
    edo_task *handles[2 * N];
    _Atomic long ran = 0;
    for (int i = 0; i < N; i++) {
        count_future c = count_new(&ran, NULL);
        CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, &handles[i]), 0);
    }
    CHECK_EQ(atomic_load(&ran), 0); /* no threads: nothing runs until someone drives */
    CHECK_EQ(edo_task_is_finished(handles[0]), 0);
    join_all_future j = {{&join_all_vtable}, handles, N, 0, &ran, N};
    void *out;
    CHECK_EQ(edo_block_on(rt, &j.base, &out), 0);
    CHECK_EQ((intptr_t)out, 2 * N);
    CHECK_EQ(atomic_load(&ran), 2 * N);
    edo_runtime_free(rt);
}

/* On a current-thread runtime one thread drives at a time. Here the main thread drives (in
 * edo_block_on, waiting for a gate) while a second thread calls edo_task_join on a task of
 * the runtime and opens the gate only once its join returned: the waiting joiner must be told
 * when its task completes, or neither call ever returns. */
typedef struct {
    edo_future base;
    gate *g;
    _Atomic int *driving;
} flag_gate_future;

static edo_poll flag_gate_poll(edo_future *f, edo_context *cx, void **out)
{
    flag_gate_future *fg = (flag_gate_future *)f;
    atomic_store(fg->driving, 1);
    gate_future inner = gate_future_new(fg->g, (void *)21);
    return gate_vtable.poll(&inner.base, cx, out);
}
static const edo_future_vtable flag_gate_vtable = {flag_gate_poll, NULL};

typedef struct {
    edo_task *task;
    gate *task_gate, *main_gate;
    _Atomic int *driving;
    int rc;
    void *out;
} joiner_arg;

static void *joiner_main(void *arg)
{
    joiner_arg *j = arg;
    WAIT_UNTIL(atomic_load(j->driving)); /* the main thread is the driver now */
    gate_open(j->task_gate);             /* the driver will complete the task soon */
    j->rc = edo_task_join(j->task, &j->out);
    gate_open(j->main_gate);
    return NULL;
}

TEST(block_on_second_thread_joins_current_thread)
{
    for (int round = 0; round < 20; round++) {
        edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
        gate tg, mg;
        gate_init(&tg);
        gate_init(&mg);
        gate_future tf = gate_future_new(&tg, (void *)12);
        edo_task *t;
        CHECK_EQ(edo_spawn_future_on(rt, &tf.base, sizeof tf, &t), 0);
        _Atomic int driving = 0;
        joiner_arg ja = {t, &tg, &mg, &driving, 1, NULL};
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, joiner_main, &ja), 0);
        watchdog wd;
        watchdog_start(&wd, 60, "edo_block_on on a current-thread runtime while another thread "
                                "waits in edo_task_join for a task the driver completes");
        flag_gate_future ff = {{&flag_gate_vtable}, &mg, &driving};
        void *out = NULL;
        CHECK_EQ(edo_block_on(rt, &ff.base, &out), 0);
        CHECK_EQ((intptr_t)out, 21);
        pthread_join(th, NULL);
        watchdog_stop(&wd);
        CHECK_EQ(ja.rc, 0);
        CHECK_EQ((intptr_t)ja.out, 12);
        edo_task_free(t);
        edo_runtime_free(rt);
        gate_destroy(&tg);
        gate_destroy(&mg);
    }
}

/* Two threads in edo_block_on on one current-thread runtime, each waiting for its own gate,
 * opened in either order by a third thread: both return. */
typedef struct {
    edo_runtime *rt;
    gate *g;
    void *out;
    int rc;
} block_on_arg;

static void *block_on_main(void *arg)
{
    block_on_arg *b = arg;
    gate_future gf = gate_future_new(b->g, (void *)31);
    b->rc = edo_block_on(b->rt, &gf.base, &b->out);
    return NULL;
}

TEST(block_on_two_threads_current_thread)
{
    for (int round = 0; round < 20; round++) {
        edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
        gate g[2];
        block_on_arg a[2];
        pthread_t th[2];
        for (int i = 0; i < 2; i++) {
            gate_init(&g[i]);
            a[i] = (block_on_arg){rt, &g[i], NULL, 1};
            CHECK_EQ(pthread_create(&th[i], NULL, block_on_main, &a[i]), 0);
        }
        watchdog wd;
        watchdog_start(&wd, 60, "two threads in edo_block_on on one current-thread runtime");
        /* Whoever drives polls its own future at once; open that gate last. */
        WAIT_UNTIL(gate_has_waiter(&g[0]) || gate_has_waiter(&g[1]));
        int first = gate_has_waiter(&g[0]) ? 1 : 0;
        gate_open(&g[first]);
        gate_open(&g[1 - first]);
        for (int i = 0; i < 2; i++) {
            pthread_join(th[i], NULL);
            CHECK_EQ(a[i].rc, 0);
            CHECK_EQ((intptr_t)a[i].out, 31);
        }
        watchdog_stop(&wd);
        edo_runtime_free(rt);
        for (int i = 0; i < 2; i++)
            gate_destroy(&g[i]);
    }
}

/* ---- edo_main ---------------------------------------------------------------------------- */

typedef struct {
    gate g;
    int ran;
    edo_runtime *rt;
} main_ctx;

static void *double_fn(void *arg) { return (void *)((intptr_t)arg * 2); }

static int main_body(void *arg)
{
    main_ctx *m = arg;
    m->ran++;
    m->rt = edo_runtime_current();
    CHECK(m->rt != NULL);
    CHECK(edo_runtime_worker_count(m->rt) >= 1);
    _Atomic long n = 0;
    count_future c = count_new(&n, (void *)40);
    edo_task *t;
    CHECK_EQ(edo_spawn_future(&c.base, sizeof c, &t), 0);
    void *out = NULL;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 40);
    edo_task_free(t);
    CHECK_EQ(edo_spawn_blocking(double_fn, (void *)1, &t), 0);
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 2);
    edo_task_free(t);
    /* Left pending when fn returns: cancelled and dropped by the shutdown. */
    gate_future gf = gate_future_new(&m->g, NULL);
    CHECK_EQ(edo_spawn_future(&gf.base, sizeof gf, NULL), 0);
    return 40 + (int)(intptr_t)out;
}

static int main_negative(void *arg)
{
    (void)arg;
    return -7;
}

TEST(edo_main_runs_fn)
{
    main_ctx m;
    memset(&m, 0, sizeof m);
    gate_init(&m.g);
    CHECK_EQ(edo_main(main_body, &m), 42);
    CHECK_EQ(m.ran, 1);
    CHECK_EQ(atomic_load(&m.g.dropped), 1);
    CHECK(edo_runtime_current() == NULL);
    CHECK_EQ(edo_main(main_negative, NULL), -7);
    CHECK_EQ(edo_main(NULL, NULL), -EINVAL);
    gate_destroy(&m.g);
}

/* edo_main from a thread that is already in a runtime: -EDEADLK, fn not called. */
typedef struct {
    edo_future base;
    int *rc;
} main_in_poll_future;

static edo_poll main_in_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)cx;
    (void)out;
    *((main_in_poll_future *)f)->rc = edo_main(main_never, (void *)&main_never_ran);
    return EDO_READY;
}
static const edo_future_vtable main_in_poll_vtable = {main_in_poll, NULL};

static int main_nested(void *arg)
{
    *(int *)arg = edo_main(main_never, (void *)&main_never_ran);
    return 0;
}

TEST(edo_main_deadlk_inside_runtime)
{
    atomic_store(&main_never_ran, 0);
    int rc_task[2], rc_block_on[2], rc_nested = 1;
    for (int flavor = 0; flavor < 2; flavor++) {
        edo_runtime *rt = new_rt((edo_runtime_flavor)flavor, 1);
        /* in a task */
        rc_task[flavor] = 1;
        main_in_poll_future f = {{&main_in_poll_vtable}, &rc_task[flavor]};
        edo_task *t;
        CHECK_EQ(edo_spawn_future_on(rt, &f.base, sizeof f, &t), 0);
        CHECK_EQ(edo_task_join(t, NULL), 0);
        edo_task_free(t);
        /* in a future polled by edo_block_on */
        rc_block_on[flavor] = 1;
        main_in_poll_future g = {{&main_in_poll_vtable}, &rc_block_on[flavor]};
        CHECK_EQ(edo_block_on(rt, &g.base, NULL), 0);
        edo_runtime_free(rt);
    }
    /* in edo_main's own fn */
    CHECK_EQ(edo_main(main_nested, &rc_nested), 0);
    for (int flavor = 0; flavor < 2; flavor++)
        fprintf(stderr, "  edo_main from a %s task: %d, from edo_block_on: %d\n",
                flavor ? "current-thread" : "multi-thread", rc_task[flavor], rc_block_on[flavor]);
    fprintf(stderr, "  edo_main inside edo_main: %d; fn ran %d times\n", rc_nested,
            atomic_load(&main_never_ran));
    for (int flavor = 0; flavor < 2; flavor++) {
        CHECK_EQ(rc_task[flavor], -EDEADLK);
        CHECK_EQ(rc_block_on[flavor], -EDEADLK);
    }
    CHECK_EQ(rc_nested, -EDEADLK);
    CHECK_EQ(atomic_load(&main_never_ran), 0);
}

/* ---- handles -------------------------------------------------------------------------------- */

/* A plain thread spawns through a handle it got from a task, while the owner shuts the runtime
 * down: each spawn either succeeds (the task then runs or is cancelled) or gets -ESHUTDOWN, and
 * the handle stays usable after the runtime is gone; the last reference frees it. */
typedef struct {
    edo_runtime *handle;
    _Atomic int started, stop;
    long ok, refused;
    edo_task *tasks[64];
    int ntasks;
} spawner;

static void *take_handle(void *arg)
{
    (void)arg;
    return edo_runtime_ref(edo_runtime_current());
}

static void *spawn_through_handle(void *arg)
{
    spawner *s = arg;
    atomic_store(&s->started, 1);
    while (!atomic_load(&s->stop)) {
        count_future c = count_new(NULL, (void *)1);
        edo_task **out = s->ntasks < 64 ? &s->tasks[s->ntasks] : NULL;
        int rc = edo_spawn_future_on(s->handle, &c.base, sizeof c, out);
        CHECK(rc == 0 || rc == -ESHUTDOWN);
        if (rc == 0) {
            s->ok++;
            s->ntasks += out != NULL;
        } else {
            s->refused++;
            break;
        }
        sched_yield();
    }
    return NULL;
}

TEST(handle_outlives_runtime)
{
    double until = stress_deadline();
    for (int round = 0; round < SCALE(40, 10, 5) && now_s() < until; round++) {
        edo_runtime_flavor flavor = (edo_runtime_flavor)(round % 2);
        edo_runtime *rt = new_rt(flavor, 2);
        spawner s = {0};
        s.handle = run_on(rt, take_handle, NULL);
        CHECK(s.handle == rt);
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, spawn_through_handle, &s), 0);
        WAIT_UNTIL(atomic_load(&s.started));
        edo_runtime_free(rt); /* the owner lets go; the handle keeps the memory */
        atomic_store(&s.stop, 1);
        CHECK_EQ(pthread_join(th, NULL), 0);
        count_future c = count_new(NULL, NULL);
        CHECK_EQ(edo_spawn_future_on(s.handle, &c.base, sizeof c, NULL), -ESHUTDOWN);
        CHECK_EQ(edo_block_on(s.handle, &c.base, NULL), -ESHUTDOWN);
        CHECK_EQ(edo_runtime_worker_count(s.handle), flavor == EDO_RUNTIME_MULTI_THREAD ? 2 : 0);
        for (int i = 0; i < s.ntasks; i++) {
            void *out = NULL;
            int rc = edo_task_join(s.tasks[i], &out);
            CHECK(rc == -ECANCELED || (rc == 0 && out == (void *)1));
            edo_task_free(s.tasks[i]);
        }
        edo_runtime_unref(s.handle); /* the last reference: frees it */
    }
    CHECK(edo_runtime_ref(NULL) == NULL);
    edo_runtime_unref(NULL);
}
