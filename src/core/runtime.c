/* The runtime: building it, spawning onto it, shutting it down, and the thread hooks. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/runtime.h"
#include "edo/error.h"
#include "platform/sanitizers.h"
#include "platform/sigmask.h"
#include "platform/thread.h"

#define DEFAULT_MAX_BLOCKING 512u
#define DEFAULT_KEEP_ALIVE_NS 10000000000ull
#define DEFAULT_GLOBAL_INTERVAL 61u
#define MAX_GLOBAL_INTERVAL (1u << 20)
#ifdef EDO_ASAN
#define DEFAULT_CORO_STACK ((size_t)256 * 1024) /* ASan's frames are several times larger */
#else
#define DEFAULT_CORO_STACK ((size_t)64 * 1024)
#endif

static void *aligned_zalloc(size_t size)
{
    size = (size + EDO__CACHE_LINE - 1) / EDO__CACHE_LINE * EDO__CACHE_LINE;
    void *p = aligned_alloc(EDO__CACHE_LINE, size);
    if (p)
        memset(p, 0, size);
    return p;
}

edo_runtime *edo_runtime_current(void)
{
    edo__worker *w = edo__worker_current();
    return w ? w->rt : edo__runtime_entered();
}

int edo_runtime_worker_count(const edo_runtime *rt)
{
    if (!rt)
        return -EINVAL;
    return rt->config.flavor == EDO_RUNTIME_CURRENT_THREAD ? 0 : (int)rt->nworkers;
}

const char *edo_runtime_io_backend(const edo_runtime *rt)
{
    return rt ? rt->io.kind->name : NULL;
}

/* The EDO_DEBUG line of a runtime that started (edo_runtime_new's header). */
static void debug_line(const edo_runtime *rt)
{
    const char *v = getenv("EDO_DEBUG");
    if (!v || !*v || strcmp(v, "0") == 0)
        return;
    bool multi = rt->config.flavor == EDO_RUNTIME_MULTI_THREAD;
    fprintf(stderr, "edo: runtime started: flavor=%s workers=%d io_backend=%s\n",
            multi ? "multi_thread" : "current_thread", edo_runtime_worker_count(rt),
            edo_runtime_io_backend(rt));
}

void edo__thread_enter(edo_runtime *rt, const char *kind, unsigned index)
{
    char name[16];
    snprintf(name, sizeof name, "%s-%s%u", rt->thread_name, kind, index);
    edo__thread_set_name(name);
    edo__overflow_thread_init();
    edo__sigmask_block_runtime(); /* before the user's hook: it may start threads, which inherit */
    edo__runtime_set_entered(rt);
    if (rt->config.on_thread_start)
        rt->config.on_thread_start(rt->config.hook_arg);
}

void edo__thread_leave(edo_runtime *rt)
{
    if (rt->config.on_thread_stop)
        rt->config.on_thread_stop(rt->config.hook_arg);
    edo__runtime_set_entered(NULL);
    edo__overflow_thread_exit();
}

static int validate_config(const edo_runtime_config *cfg)
{
    if (cfg->flavor != EDO_RUNTIME_MULTI_THREAD && cfg->flavor != EDO_RUNTIME_CURRENT_THREAD)
        return -EINVAL;
    if (cfg->worker_threads > EDO_MAX_WORKER_THREADS ||
        cfg->max_blocking_threads > EDO_MAX_BLOCKING_THREADS ||
        cfg->global_queue_interval > MAX_GLOBAL_INTERVAL)
        return -EINVAL;
    if (cfg->coro_stack_size &&
        (cfg->coro_stack_size < EDO_MIN_STACK_SIZE || cfg->coro_stack_size > EDO_MAX_STACK_SIZE))
        return -EINVAL;
    if (cfg->start_paused && cfg->flavor != EDO_RUNTIME_CURRENT_THREAD)
        return -EINVAL; /* only a current-thread runtime knows when all its tasks wait */
    if ((unsigned)cfg->io_backend > EDO_IO_BACKEND_IO_URING)
        return -EINVAL;
    return 0;
}

static void apply_defaults(edo_runtime *rt, const edo_runtime_config *cfg)
{
    rt->config = *cfg;
    edo_runtime_config *c = &rt->config;
    if (c->flavor == EDO_RUNTIME_CURRENT_THREAD)
        c->worker_threads = 1;
    else if (c->worker_threads == 0)
        c->worker_threads = edo__cpu_count();
    if (c->worker_threads > EDO_MAX_WORKER_THREADS)
        c->worker_threads = EDO_MAX_WORKER_THREADS;
    if (c->max_blocking_threads == 0)
        c->max_blocking_threads = DEFAULT_MAX_BLOCKING;
    if (c->blocking_keep_alive_ns == 0)
        c->blocking_keep_alive_ns = DEFAULT_KEEP_ALIVE_NS;
    rt->tune_interval = c->global_queue_interval == 0;
    if (c->global_queue_interval == 0)
        c->global_queue_interval = DEFAULT_GLOBAL_INTERVAL;
    if (c->coro_stack_size == 0)
        c->coro_stack_size = DEFAULT_CORO_STACK;
    snprintf(rt->thread_name, sizeof rt->thread_name, "%s", c->thread_name ? c->thread_name : "edo");
    c->thread_name = rt->thread_name;
}

/* Frees what edo_runtime_new built, but the struct itself and the blocking pool's lock (which
 * late references may still use: see edo_runtime_unref). The threads must be gone. */
static void release_resources(edo_runtime *rt)
{
    for (unsigned i = 0; i < rt->nworkers; i++) {
        if (rt->workers[i].parker)
            edo__parker_unref(rt->workers[i].parker);
        free(rt->workers[i].io_events);
        free(rt->workers[i].owned.slots);
        edo__stack_cache_flush(&rt->workers[i]);
    }
    edo__stack_pool_destroy(&rt->stacks);
    free(rt->workers);
    rt->workers = NULL;
    edo__idle_destroy(&rt->idle);
    edo__timers_destroy(&rt->timers);
    edo__io_destroy(&rt->io);
    pthread_mutex_destroy(&rt->driver_lock);
    rt->released = true;
}

/* Frees everything: edo_runtime_new's failure paths, and the last reference. */
static void runtime_destroy(edo_runtime *rt)
{
    if (!rt->released)
        release_resources(rt);
    edo__blocking_destroy(&rt->blocking);
    free(rt);
}

static void stop_workers(edo_runtime *rt)
{
    atomic_store_explicit(&rt->shutdown, true, memory_order_seq_cst);
    for (unsigned i = 0; i < rt->nworkers; i++)
        edo__parker_unpark(rt->workers[i].parker);
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (rt->workers[i].started)
            pthread_join(rt->workers[i].thread, NULL);
}

int edo_runtime_new(const edo_runtime_config *config, edo_runtime **out)
{
    if (!out)
        return -EINVAL;
    *out = NULL;
    edo_runtime_config defaults = {0};
    if (!config)
        config = &defaults;
    int rc = validate_config(config);
    if (rc < 0)
        return rc;

    edo_runtime *rt = aligned_zalloc(sizeof *rt);
    if (!rt)
        return -ENOMEM;
    apply_defaults(rt, config);
    rt->nworkers = rt->config.worker_threads;
    edo__global_init(&rt->global);
    pthread_mutex_init(&rt->driver_lock, NULL);
    edo__blocking_init(&rt->blocking, rt->config.max_blocking_threads,
                       rt->config.blocking_keep_alive_ns);
    edo__batch_init(&rt->batch);
    edo__stack_pool_init(&rt->stacks, rt->config.coro_stack_size);
    atomic_init(&rt->next_id, 1);
    atomic_init(&rt->refs, 1); /* the owner's */
    atomic_init(&rt->shutdown, false);
    atomic_init(&rt->owner_done, false);
    atomic_init(&rt->remote_in_flight, 0);
    int idle_rc = edo__idle_init(&rt->idle, rt->nworkers);
    int timers_rc = edo__timers_init(rt, rt->nworkers, rt->config.start_paused,
                                     edo__park_wake_watcher);
    edo__park_init(&rt->park);
    int io_rc = edo__io_init(&rt->io, rt, edo__park_wake_watcher, rt->config.io_backend);
    rt->workers = aligned_zalloc(rt->nworkers * sizeof *rt->workers);
    if (!rt->workers || idle_rc < 0 || timers_rc < 0 || io_rc < 0) {
        rt->nworkers = 0;
        runtime_destroy(rt);
        return io_rc < 0 ? io_rc : -ENOMEM;
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        edo__worker *w = &rt->workers[i];
        edo__local_init(&w->queue);
        edo__inject_init(&w->pinned);
        edo__spin_init(&w->owned.lock);
        w->rt = rt;
        w->index = i;
        w->lifo_enabled = true;
        w->maintenance_interval = rt->config.global_queue_interval;
        w->rng = 0x9e3779b97f4a7c15ull * (i + 1);
        w->parker = edo__parker_new();
        w->io_events = malloc(EDO__IO_EVENTS * sizeof(edo__io_ready));
        if (!w->parker || !w->io_events) {
            rt->nworkers = i + 1; /* the workers after it were never set up (w->rt is NULL) */
            runtime_destroy(rt);
            return -ENOMEM;
        }
    }
    if (rt->config.flavor == EDO_RUNTIME_MULTI_THREAD) {
        for (unsigned i = 0; i < rt->nworkers; i++) {
            edo__worker *w = &rt->workers[i];
            if (edo__thread_start(&w->thread, edo__worker_main, w, 0) < 0) {
                stop_workers(rt);
                runtime_destroy(rt);
                return -EAGAIN;
            }
            w->started = true;
        }
    }
    debug_line(rt);
    *out = rt;
    return 0;
}

/* Pops every queued task and runs it in cancel mode. Returns how many there were. */
static size_t drain_queues(edo_runtime *rt)
{
    size_t ran = 0;
    edo__task *t;
    for (unsigned i = 0; i < rt->nworkers; i++) {
        edo__worker *w = &rt->workers[i];
        if ((t = w->lifo)) {
            w->lifo = NULL;
            edo__task_cancel_queued(t);
            ran++;
        }
        for (; (t = edo__local_pop(&w->queue)); ran++)
            edo__task_cancel_queued(t);
        edo__fifo_append(&w->resumed, &w->deferred);
        for (; (t = edo__fifo_pop(&w->resumed)); ran++)
            edo__task_cancel_queued(t);
        for (; edo__inject_pop_batch(&w->pinned, &t, 1) == 1; ran++)
            edo__task_cancel_queued(t);
    }
    for (; edo__global_pop_batch(&rt->global, &t, 1, false) == 1; ran++)
        edo__task_cancel_queued(t);
    return ran;
}

/* Cancels what is left: tasks idle in the owned tables, and tasks in queues. Cancelling runs
 * drop functions, which may wake or abort other tasks, so it repeats until nothing is left. A
 * spawn or wake from a plain thread may still be on its way to the global queue: it waits for
 * those (they are counted) and drains again. Gives up at `deadline` (ns, edo__clock_ns) when
 * tasks are left that nothing here can end (shielded waits for calls still running on the
 * blocking pool); as long as cancelling makes progress it goes on. Returns true when every task
 * has ended. The workers must be stopped. */
static bool drain(edo_runtime *rt, uint64_t deadline)
{
    edo_runtime *outer = edo__runtime_entered();
    edo__runtime_set_entered(rt); /* drop functions that spawn get -ESHUTDOWN, not -EPERM */
    bool done;
    for (;;) {
        size_t alive = edo__owned_abort_all(rt);
        if (drain_queues(rt) > 0)
            continue;
        if (alive == 0 && edo__global_is_empty(&rt->global) &&
            atomic_load_explicit(&rt->remote_in_flight, memory_order_seq_cst) == 0) {
            done = true;
            break;
        }
        if (deadline != UINT64_MAX && edo__clock_ns() >= deadline) {
            done = false;
            break;
        }
        sched_yield();
    }
    edo__runtime_set_entered(outer);
    return done;
}

void edo__runtime_drain_late(edo_runtime *rt)
{
    edo_runtime *outer = edo__runtime_entered();
    edo__runtime_set_entered(rt);
    edo__task *t;
    bool ran;
    do {
        ran = false;
        for (; edo__global_pop_batch(&rt->global, &t, 1, false) == 1; ran = true)
            edo__task_cancel_queued(t);
        for (unsigned i = 0; i < rt->nworkers; i++)
            for (; edo__inject_pop_batch(&rt->workers[i].pinned, &t, 1) == 1; ran = true)
                edo__task_cancel_queued(t);
    } while (ran);
    edo__runtime_set_entered(outer);
}

/* Shuts `rt` down, giving blocking calls and unwinding tasks until `deadline` (UINT64_MAX: no
 * limit), and drops the owner's reference. Returns 0, or -ETIMEDOUT when something was left
 * behind: the resources then stay until the last reference goes. */
static int shutdown(edo_runtime *rt, uint64_t deadline)
{
    edo__blocking_close(rt); /* no queued blocking call starts from here on */
    stop_workers(rt);        /* sets the shutdown flag: spawning fails from here on */
    bool calls_done = edo__blocking_shutdown(rt, deadline);
    bool tasks_done = drain(rt, deadline);
    int rc = 0;
    if (calls_done && tasks_done) {
        release_resources(rt);
    } else {
        /* Left behind: the tasks still alive keep the runtime (so their handles can be joined),
         * and so do the pool threads still running calls. From here on an exiting pool thread
         * runs what its call woke; what was woken before it could see that runs here. */
        edo__owned_hold_runtime(rt);
        edo__blocking_set_closed(rt);
        edo__runtime_drain_late(rt);
        rc = -ETIMEDOUT;
    }
    edo_runtime_unref(rt);
    return rc;
}

/* Whether the calling thread may shut `rt` down now: -EDEADLK from a thread of `rt` (it would
 * wait for, or free, itself), -EALREADY when the owner did already (detectable while a handle
 * keeps the memory), or 0, after which it is the owner's shutdown. */
static int begin_shutdown(edo_runtime *rt)
{
    if (edo_runtime_current() == rt)
        return -EDEADLK;
    if (atomic_exchange_explicit(&rt->owner_done, true, memory_order_acq_rel))
        return -EALREADY;
    return 0;
}

void edo_runtime_free(edo_runtime *rt)
{
    if (rt && begin_shutdown(rt) == 0)
        (void)shutdown(rt, UINT64_MAX);
}

int edo_runtime_shutdown_timeout(edo_runtime *rt, uint64_t timeout_ns)
{
    if (!rt)
        return -EINVAL;
    int rc = begin_shutdown(rt);
    if (rc < 0)
        return rc;
    uint64_t now = edo__clock_ns();
    uint64_t deadline = timeout_ns < UINT64_MAX - now ? now + timeout_ns : UINT64_MAX;
    return shutdown(rt, deadline);
}

edo_runtime *edo_runtime_ref(edo_runtime *rt)
{
    if (rt)
        atomic_fetch_add_explicit(&rt->refs, 1, memory_order_relaxed);
    return rt;
}

void edo_runtime_unref(edo_runtime *rt)
{
    if (!rt)
        return;
    size_t n = atomic_load_explicit(&rt->refs, memory_order_acquire);
    do {
        /* The last reference before the owner's shutdown is the owner's: this unref is one
         * too many (only the owner ends the runtime, by shutting it down). Ignored. */
        if (n == 1 && !atomic_load_explicit(&rt->owner_done, memory_order_acquire))
            return;
    } while (!atomic_compare_exchange_weak_explicit(&rt->refs, &n, n - 1, memory_order_acq_rel,
                                                    memory_order_acquire));
    if (n != 1)
        return;
    if (!rt->released) {
        /* A shutdown left things behind, and they have all ended or let go: cancel what is
         * left (tasks their calls woke) and free. The drain holds a reference of its own, as
         * drop functions may take and drop references. */
        atomic_store_explicit(&rt->refs, 1, memory_order_relaxed);
        drain(rt, UINT64_MAX);
        release_resources(rt);
        if (atomic_fetch_sub_explicit(&rt->refs, 1, memory_order_acq_rel) != 1)
            return; /* a drop function kept a reference: the memory goes with it */
    }
    runtime_destroy(rt);
}

/* ---- spawning ------------------------------------------------------------------------------ */

/* Whether `future` of `size` bytes may be spawned (edo_spawn_future's -EINVAL). The maximum
 * also keeps the task's size (header + future) from wrapping around. */
static inline bool spawnable(const edo_future *future, size_t size)
{
    return future && future->vtable && future->vtable->poll && size >= sizeof *future &&
           size <= EDO_MAX_FUTURE_SIZE;
}

/* Spawns on `rt` from the calling thread, whose worker of `rt` is `w` (NULL: not one). Inlined
 * into the spawning calls: spawning from a task is a hot path (chained_spawn). */
static inline __attribute__((always_inline)) int spawn_on(edo_runtime *rt, edo__worker *w,
                                                          edo_future *future, size_t size,
                                                          edo_task **out, bool pinned)
{
    if (!rt || !spawnable(future, size))
        return -EINVAL;
    if (atomic_load_explicit(&rt->shutdown, memory_order_relaxed))
        return -ESHUTDOWN;
    if (pinned && (!w || rt->config.flavor != EDO_RUNTIME_MULTI_THREAD))
        return -EPERM;
    uint64_t id = w ? edo__worker_next_id(w)
                    : atomic_fetch_add_explicit(&rt->next_id, 1, memory_order_relaxed);
    edo__task *t = edo__task_new(rt, future, size, id, out != NULL, pinned);
    if (!t)
        return -ENOMEM;
    if (edo__blocking_is_task(t))
        edo__task_hold_runtime(t); /* its handle may outlive a bounded shutdown */
    if (pinned)
        edo__owned_insert(w, t); /* its home answers for it from the start */
    if (out)
        *out = (edo_task *)t;
    if (!edo__spawn_schedule(w, t)) {
        if (out)
            *out = NULL;
        edo__task_free_unspawned(t);
        return -ESHUTDOWN;
    }
    return 0;
}

int edo__spawn(edo_runtime *rt, edo_future *future, size_t size, edo_task **out, bool pinned)
{
    edo__worker *w = edo__worker_current();
    if (w && w->rt != rt)
        w = NULL;
    return spawn_on(rt, w, future, size, out, pinned);
}

int edo_spawn_future_on(edo_runtime *rt, edo_future *future, size_t size, edo_task **out)
{
    return edo__spawn(rt, future, size, out, false);
}

int edo_spawn_future_local(edo_future *future, size_t size, edo_task **out)
{
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return spawnable(future, size) ? -EPERM : -EINVAL;
    return edo__spawn(rt, future, size, out, true);
}

int edo_spawn_future(edo_future *future, size_t size, edo_task **out)
{
    edo__worker *w = edo__worker_current();
    edo_runtime *rt = w ? w->rt : edo__runtime_entered();
    if (!rt)
        return spawnable(future, size) ? -EPERM : -EINVAL;
    return spawn_on(rt, w, future, size, out, false);
}

/* ---- edo_main ------------------------------------------------------------------------------ */

int edo_main(int (*fn)(void *arg), void *arg)
{
    if (!fn)
        return -EINVAL;
    if (edo_runtime_current())
        return -EDEADLK;
    edo_runtime *rt;
    int rc = edo_runtime_new(NULL, &rt);
    if (rc < 0)
        return rc;
    edo_runtime *outer = edo__runtime_entered();
    edo__runtime_set_entered(rt);
    rc = fn(arg);
    edo__runtime_set_entered(outer);
    edo_runtime_free(rt);
    return rc;
}
