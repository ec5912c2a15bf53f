/* The fallback for kernels without pidfds (before Linux 5.3): SIGCHLD through the signal
 * module's hub (signal/hub.h), the one place the process learns of signals, and the switch
 * that forces the fallback for its tests.
 *
 * One watch for the whole process: a thread waits on a copy of the hub's descriptor and drains
 * the hub at each edge. Whichever drain finds a SIGCHLD (this thread's, or a signal listener's,
 * which empties the descriptor before this thread's edge comes) calls the hook set here: it
 * counts a generation and wakes every child waiting for its exit, which then tries to reap
 * itself. One descriptor, not one per waiting child: the hub's
 * descriptor is an epoll set, and the kernel refuses a 501st registration of copies of one
 * nested epoll set (its limit on wake-up paths), so a copy per child would fail a spawn with
 * -EINVAL at 500 children. A thread rather than a reactor registration, because children of
 * every runtime share it and a registration dies with its runtime.
 *
 * A waiting child's node is its future's edo_io_waiter (unused otherwise on this path):
 * next_/prev_ link it, waker_ is what to wake, linked_ says it is on the list. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <unistd.h>

#include "platform/sigmask.h"
#include "platform/thread.h"
#include "process/process.h"
#include "signal/hub.h"

static atomic_bool force_fallback, no_pidfd;

bool edo__process_use_pidfd(void)
{
    return !atomic_load_explicit(&force_fallback, memory_order_relaxed) &&
           !atomic_load_explicit(&no_pidfd, memory_order_relaxed);
}

void edo__process_force_sigchld(bool on)
{
    atomic_store_explicit(&force_fallback, on, memory_order_relaxed);
}

void edo__process_pidfd_missing(void) { atomic_store_explicit(&no_pidfd, true, memory_order_relaxed); }

static struct {
    pthread_once_t once;
    int error; /* of starting the watch */
    int fd;    /* the watch thread's copy of the hub's descriptor */
    pthread_mutex_t lock;
    edo_io_waiter *head; /* the waiting children */
    _Atomic uint32_t generation; /* SIGCHLD batches seen; bumped under the lock */
} watch = {.once = PTHREAD_ONCE_INIT, .lock = PTHREAD_MUTEX_INITIALIZER};

static void unlink_locked(edo_io_waiter *w)
{
    if (w->prev_)
        w->prev_->next_ = w->next_;
    else
        watch.head = w->next_;
    if (w->next_)
        w->next_->prev_ = w->prev_;
    w->next_ = w->prev_ = NULL;
    w->linked_ = 0;
}

/* Wakes every waiting child, a batch at a time outside the lock: each waker is taken off its
 * node under the lock, so a future dropped meanwhile is never touched. */
static void wake_all(void)
{
    enum { BATCH = 64 };
    edo_waker batch[BATCH];
    size_t n;
    pthread_mutex_lock(&watch.lock);
    atomic_fetch_add_explicit(&watch.generation, 1, memory_order_relaxed);
    do {
        for (n = 0; n < BATCH && watch.head; n++) {
            edo_io_waiter *w = watch.head;
            batch[n] = w->waker_;
            w->waker_ = EDO_WAKER_EMPTY;
            unlink_locked(w);
        }
        pthread_mutex_unlock(&watch.lock);
        for (size_t i = 0; i < n; i++)
            edo_waker_wake(&batch[i]);
        pthread_mutex_lock(&watch.lock);
    } while (n == BATCH);
    pthread_mutex_unlock(&watch.lock);
}

/* The hub's drain hook (any drain's, outside the hub's lock). */
static void on_drain(uint64_t found)
{
    if (found & ((uint64_t)1 << (SIGCHLD - 1)))
        wake_all();
}

static void *watch_main(void *arg)
{
    (void)arg;
    edo__thread_set_name("edo-sigchld");
    edo__sigmask_block_runtime(); /* as a runtime thread: SIGCHLD goes to the hub's signalfd */
    struct pollfd p = {.fd = watch.fd, .events = POLLIN};
    for (;;) {
        if (poll(&p, 1, -1) < 0)
            continue; /* EINTR */
        edo__sighub_drain(); /* a SIGCHLD found wakes the children through on_drain */
    }
    return NULL;
}

static void start_watch(void)
{
    edo__sighub_on_drain(on_drain); /* before the first drain that could find a SIGCHLD */
    int rc = edo__sighub_watch(SIGCHLD);
    if (rc == 0 && (watch.fd = fcntl(edo__sighub_fd(), F_DUPFD_CLOEXEC, 0)) < 0)
        rc = -errno;
    pthread_t thread;
    if (rc == 0 && (rc = edo__thread_start(&thread, watch_main, NULL, 1)) < 0)
        close(watch.fd);
    watch.error = rc;
}

int edo__sigchld_watch(void)
{
    pthread_once(&watch.once, start_watch);
    return watch.error;
}

edo_poll edo__sigchld_poll_reap(edo_child *c, edo_io_waiter *w, edo_context *cx, int *rc)
{
    for (;;) {
        uint32_t seen = atomic_load_explicit(&watch.generation, memory_order_relaxed);
        int r = edo__child_try_reap(c);
        if (r != -EAGAIN) {
            edo__sigchld_forget(w);
            *rc = r;
            return EDO_READY;
        }
        pthread_mutex_lock(&watch.lock);
        if (atomic_load_explicit(&watch.generation, memory_order_relaxed) != seen) {
            pthread_mutex_unlock(&watch.lock); /* a SIGCHLD since the try: try again */
            continue;
        }
        const edo_waker *waker = edo_context_waker(cx);
        if (!w->linked_) {
            w->waker_ = edo_waker_clone(waker);
            w->prev_ = NULL;
            w->next_ = watch.head;
            if (watch.head)
                watch.head->prev_ = w;
            watch.head = w;
            w->linked_ = 1;
        } else if (!edo_waker_will_wake(&w->waker_, waker)) {
            edo_waker_drop(&w->waker_);
            w->waker_ = edo_waker_clone(waker);
        }
        pthread_mutex_unlock(&watch.lock);
        return EDO_PENDING;
    }
}

void edo__sigchld_forget(edo_io_waiter *w)
{
    pthread_mutex_lock(&watch.lock);
    if (w->linked_)
        unlink_locked(w);
    edo_waker waker = w->waker_;
    w->waker_ = EDO_WAKER_EMPTY;
    pthread_mutex_unlock(&watch.lock);
    edo_waker_drop(&waker);
}
