/* Signal listeners: a count to compare with the hub's, and a wait on the hub's descriptor.
 *
 * Every runtime with listeners has one "pump": a dup() of the hub's descriptor registered with
 * its reactor, shared by the runtime's listeners (each waits on it with its own io waiter, and
 * one edge wakes them all). A woken listener drains the hub and compares counts; the drain is
 * serialised, so whichever listener read a delivery has counted it before another one looks. */
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

int edo_signal_try_recv(edo_signal *sig)
{
    if (!sig)
        return -EINVAL;
    edo__sighub_drain();
    return take_delivery(sig) ? 0 : -EAGAIN;
}

static edo_poll recv_poll(edo_future *self, edo_context *cx, void **out)
{
    edo_signal_recv_future *f = (edo_signal_recv_future *)self;
    *out = NULL;
    if (!f->sig) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    edo_io *io = f->sig->pump->io;
    for (;;) {
        /* Drain only when the descriptor says there is something: a listener woken by another
         * one's drain finds its count moved without a system call. */
        edo_io_event ev;
        int ready = edo_io_try_ready(io, EDO_READABLE, &ev);
        if (ready > 0)
            edo__sighub_drain();
        if (take_delivery(f->sig)) {
            edo_io_waiter_drop(io, &f->waiter_);
            f->result = 0;
            return EDO_READY;
        }
        if (ready > 0)
            edo_io_clear_ready(io, ev);
        int rc = 0;
        if (edo_io_poll_ready(io, EDO_READABLE, &f->waiter_, cx, &ev, &rc) == EDO_PENDING)
            return EDO_PENDING;
        if (rc < 0) {
            f->result = rc;
            return EDO_READY;
        }
    }
}

static void recv_drop(edo_future *self)
{
    edo_signal_recv_future *f = (edo_signal_recv_future *)self;
    if (f->sig)
        edo_io_waiter_drop(f->sig->pump->io, &f->waiter_);
}

static const edo_future_vtable recv_vtable = {recv_poll, recv_drop};

void edo_signal_recv_future_init(edo_signal_recv_future *f, edo_signal *sig)
{
    if (!f)
        return;
    f->base.vtable = &recv_vtable;
    f->result = 0;
    f->sig = sig;
    edo_io_waiter_init(&f->waiter_);
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
