/* Signal listeners: a count to compare with the hub's, and a wait on the hub's descriptor.
 *
 * Every runtime with listeners has one "pump": a dup() of the hub's descriptor registered with
 * its reactor, shared by the runtime's listeners (each waits on it with its own io waiter). An
 * edge only says "drain the hub": whoever drains (here, or the process module's SIGCHLD watch)
 * wakes every receive waiting for the signals it found, on any runtime (the hub calls
 * wake_waiting), because once the descriptor is empty another reactor may drop its
 * edge for the same delivery (epoll checks readiness again before it reports an event). A
 * receive queues on its signal's list before its last look at the count, and a drain moves
 * the count before it wakes the list, so no delivery falls between the two. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "coro/coro.h"
#include "edo/coro.h"
#include "edo/io.h"
#include "edo/signal.h"
#include "platform/sigmask.h"
#include "signal/hub.h"

typedef struct pump {
    struct pump *next;
    edo_runtime *rt;
    edo_io *io;
    int fd;
    unsigned listeners;
} pump;

struct edo_signal {
    int signo;
    pump *pump;
    _Atomic uint64_t seen; /* the hub's count at the last receive (or at creation) */
};

static void wake_waiting(uint64_t found);

static pthread_mutex_t pumps_lock = PTHREAD_MUTEX_INITIALIZER;
static pump *pumps;

static int pump_get(edo_runtime *rt, pump **out)
{
    pthread_mutex_lock(&pumps_lock);
    pump *p = pumps;
    while (p && p->rt != rt)
        p = p->next;
    int rc = 0;
    if (!p) {
        p = calloc(1, sizeof *p);
        int fd = p ? fcntl(edo__sighub_fd(), F_DUPFD_CLOEXEC, 0) : -1;
        rc = !p ? -ENOMEM : fd < 0 ? -errno : edo_io_register_on(rt, fd, &p->io);
        if (rc < 0) {
            if (fd >= 0)
                close(fd);
            free(p);
            pthread_mutex_unlock(&pumps_lock);
            return rc;
        }
        p->rt = rt;
        p->fd = fd;
        p->next = pumps;
        pumps = p;
    }
    p->listeners++;
    pthread_mutex_unlock(&pumps_lock);
    *out = p;
    return 0;
}

static void pump_put(pump *p)
{
    pthread_mutex_lock(&pumps_lock);
    if (--p->listeners > 0) {
        pthread_mutex_unlock(&pumps_lock);
        return;
    }
    pump **link = &pumps;
    while (*link != p)
        link = &(*link)->next;
    *link = p->next;
    pthread_mutex_unlock(&pumps_lock);
    edo_io_deregister(p->io);
    close(p->fd);
    free(p);
}

int edo_signal_listen_on(edo_runtime *rt, int signo, edo_signal **out)
{
    if (!rt || !out || !edo__sighub_can_watch(signo))
        return -EINVAL;
    edo__sighub_on_drain(wake_waiting); /* before the first drain that could find something */
    int rc = edo__sighub_watch(signo);
    if (rc < 0)
        return rc;
    edo_signal *sig = malloc(sizeof *sig);
    if (!sig)
        return -ENOMEM;
    if ((rc = pump_get(rt, &sig->pump)) < 0) {
        free(sig);
        return rc;
    }
    sig->signo = signo;
    /* Deliveries that came before the listener are not its: count them now, then start. */
    edo__sighub_drain();
    atomic_init(&sig->seen, edo__sighub_count(signo));
    *out = sig;
    return 0;
}

int edo_signal_listen(int signo, edo_signal **out)
{
    edo_runtime *rt = edo_runtime_current();
    if (!out || !edo__sighub_can_watch(signo))
        return -EINVAL;
    if (!rt)
        return -EPERM;
    return edo_signal_listen_on(rt, signo, out);
}

void edo_signal_free(edo_signal *sig)
{
    if (!sig)
        return;
    pump_put(sig->pump);
    free(sig);
}

int edo_signal_number(const edo_signal *sig) { return sig ? sig->signo : -EINVAL; }

/* Takes the deliveries since the last receive, if any. */
static bool take_delivery(edo_signal *sig)
{
    uint64_t now = edo__sighub_count(sig->signo);
    uint64_t seen = atomic_load_explicit(&sig->seen, memory_order_relaxed);
    return now != seen &&
           atomic_compare_exchange_strong_explicit(&sig->seen, &seen, now, memory_order_relaxed,
                                                   memory_order_relaxed);
}

/* The receives waiting for each signal, under one lock (a wait list changes once per wait). */
static pthread_mutex_t waiting_lock = PTHREAD_MUTEX_INITIALIZER;
static edo_signal_recv_future *waiting[65];

static void unqueue_locked(edo_signal_recv_future *f)
{
    if (f->prev_)
        f->prev_->next_ = f->next_;
    else
        waiting[f->sig->signo] = f->next_;
    if (f->next_)
        f->next_->prev_ = f->prev_;
    f->next_ = f->prev_ = NULL;
    f->linked_ = 0;
}

/* Puts `f` on its signal's list with the waker of `cx` (or refreshes the waker). */
static void queue(edo_signal_recv_future *f, edo_context *cx)
{
    edo_waker old = EDO_WAKER_EMPTY;
    pthread_mutex_lock(&waiting_lock);
    if (!edo_waker_will_wake(&f->waker_, cx->waker)) {
        old = f->waker_;
        f->waker_ = edo_waker_clone(cx->waker);
    }
    if (!f->linked_) {
        f->linked_ = 1;
        f->prev_ = NULL;
        f->next_ = waiting[f->sig->signo];
        if (f->next_)
            f->next_->prev_ = f;
        waiting[f->sig->signo] = f;
    }
    pthread_mutex_unlock(&waiting_lock);
    edo_waker_drop(&old); /* outside the lock: it may free a task */
}

static void unqueue(edo_signal_recv_future *f)
{
    pthread_mutex_lock(&waiting_lock);
    if (f->linked_)
        unqueue_locked(f);
    edo_waker waker = f->waker_;
    f->waker_ = EDO_WAKER_EMPTY;
    pthread_mutex_unlock(&waiting_lock);
    edo_waker_drop(&waker);
}

#define WAKE_BATCH 32

/* The hub's drain hook: wakes the receives waiting for the signals a drain found, in batches
 * outside the lock. A woken receive is off the list: it queues again if it has to wait on. */
static void wake_waiting(uint64_t found)
{
    for (int signo = 1; found; signo++, found >>= 1) {
        if (!(found & 1))
            continue;
        for (;;) {
            edo_waker batch[WAKE_BATCH];
            size_t n = 0;
            pthread_mutex_lock(&waiting_lock);
            edo_signal_recv_future *f;
            while (n < WAKE_BATCH && (f = waiting[signo])) {
                unqueue_locked(f);
                batch[n++] = f->waker_;
                f->waker_ = EDO_WAKER_EMPTY;
            }
            pthread_mutex_unlock(&waiting_lock);
            for (size_t i = 0; i < n; i++)
                edo_waker_wake(&batch[i]);
            if (n < WAKE_BATCH)
                break;
        }
    }
}

int edo_signal_try_recv(edo_signal *sig)
{
    if (!sig)
        return -EINVAL;
    edo__sighub_drain();
    return take_delivery(sig) ? 0 : -EAGAIN;
}

/* Off both wait lists. */
static void stop_waiting(edo_signal_recv_future *f)
{
    if (f->sig) {
        edo_io_waiter_drop(f->sig->pump->io, &f->io_waiter_);
        unqueue(f);
    }
}

static edo_poll finish(edo_signal_recv_future *f, int result)
{
    stop_waiting(f);
    f->result = result;
    return EDO_READY;
}

static edo_poll recv_poll(edo_future *self, edo_context *cx, void **out)
{
    edo_signal_recv_future *f = (edo_signal_recv_future *)self;
    *out = NULL;
    if (!f->sig)
        return finish(f, -EINVAL);
    edo_io *io = f->sig->pump->io;
    for (;;) {
        /* Drain only when the descriptor says there is something: a receive woken by another
         * one's drain finds its count moved without a system call. */
        edo_io_event ev;
        int ready = edo_io_try_ready(io, EDO_READABLE, &ev);
        if (ready > 0)
            edo__sighub_drain();
        if (take_delivery(f->sig))
            return finish(f, 0);
        if (ready > 0)
            edo_io_clear_ready(io, ev);
        queue(f, cx);
        if (take_delivery(f->sig)) /* a drain between the first look and the queueing */
            return finish(f, 0);
        int rc = 0;
        if (edo_io_poll_ready(io, EDO_READABLE, &f->io_waiter_, cx, &ev, &rc) == EDO_PENDING)
            return EDO_PENDING;
        if (rc < 0)
            return finish(f, rc);
    }
}

static void recv_drop(edo_future *self) { stop_waiting((edo_signal_recv_future *)self); }

static const edo_future_vtable recv_vtable = {recv_poll, recv_drop};

void edo_signal_recv_future_init(edo_signal_recv_future *f, edo_signal *sig)
{
    if (!f)
        return;
    f->base.vtable = &recv_vtable;
    f->result = 0;
    f->sig = sig;
    edo_io_waiter_init(&f->io_waiter_);
    f->next_ = f->prev_ = NULL;
    f->waker_ = EDO_WAKER_EMPTY;
    f->linked_ = 0;
}

int edo_signal_recv(edo_signal *sig)
{
    if (!sig)
        return -EINVAL;
    edo_signal_recv_future f;
    edo_signal_recv_future_init(&f, sig);
    return edo__coro_run(&f.base, NULL, &f.result);
}

int edo_ctrl_c(void)
{
    if (!edo__coro_running())
        return -EPERM;
    edo_signal *sig;
    int rc = edo_signal_listen(SIGINT, &sig);
    if (rc < 0)
        return rc;
    rc = edo_signal_recv(sig);
    edo_signal_free(sig);
    return rc;
}

int edo_signal_block_in_this_thread(void)
{
    edo__sigmask_block_runtime();
    return 0;
}
