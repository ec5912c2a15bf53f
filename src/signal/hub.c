/* The process's signal hub (see hub.h): the handler, the self-pipe, the signalfd and the counts. */
#include "signal/hub.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "platform/sigmask.h"

#if defined(__linux__)
#include <sys/signalfd.h>
#endif

#define MAX_SIGNO 64

/* Modules told of every drain: the listeners and the process module's SIGCHLD watch. */
#define MAX_DRAIN_HOOKS 4

static struct {
    pthread_mutex_t lock; /* setting up, watching, draining */
    bool ready;
    int sfd;              /* the signalfd, or -1 (self-pipe backend) */
    int pipe_r;
    _Atomic int pipe_w;   /* read by the handler, so atomic */
    int watch_fd;         /* epoll over both (signalfd backend), else pipe_r */
    sigset_t watched;
    _Atomic uint64_t handled; /* bit signo-1: the handler is installed */
    _Atomic uint64_t pending; /* bit signo-1: set by the handler, taken by the drain */
    _Atomic uint64_t count[MAX_SIGNO + 1];
    void (*_Atomic on_drain[MAX_DRAIN_HOOKS])(uint64_t found);
} hub = {.lock = PTHREAD_MUTEX_INITIALIZER, .sfd = -1, .pipe_r = -1, .pipe_w = -1,
         .watch_fd = -1};

static inline uint64_t bit(int signo) { return (uint64_t)1 << (signo - 1); }

bool edo__sighub_can_watch(int signo)
{
    if (signo < 1 || signo > MAX_SIGNO)
        return false;
    switch (signo) {
    case SIGKILL: case SIGSTOP: case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE:
        return false;
    default:
        /* glibc keeps the real-time signals below SIGRTMIN for its threads */
        return signo < 32 || signo >= SIGRTMIN;
    }
}

/* Async-signal-safe: an atomic OR and a write. The byte only makes the pipe readable; a full
 * pipe (a flood nobody drains) loses bytes, never bits. */
static void on_signal(int signo)
{
    int saved = errno;
    atomic_fetch_or_explicit(&hub.pending, bit(signo), memory_order_release);
    char byte = (char)signo;
    ssize_t n = write(atomic_load_explicit(&hub.pipe_w, memory_order_acquire), &byte, 1);
    (void)n;
    errno = saved;
}

static int set_up_locked(void)
{
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    sigemptyset(&hub.watched);
    hub.pipe_r = fds[0];
    atomic_store_explicit(&hub.pipe_w, fds[1], memory_order_release);
    hub.watch_fd = hub.pipe_r;
#if defined(__linux__)
    if (edo__sigmask_uses_signalfd()) {
        /* One descriptor for both sources: an epoll set holding them, readable when either is
         * (epoll fds nest). */
        int sfd = signalfd(-1, &hub.watched, SFD_NONBLOCK | SFD_CLOEXEC);
        int ep = sfd < 0 ? -1 : epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event in = {.events = EPOLLIN};
        if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &in) < 0 ||
            epoll_ctl(ep, EPOLL_CTL_ADD, hub.pipe_r, &in) < 0) {
            int err = errno;
            if (sfd >= 0)
                close(sfd);
            if (ep >= 0)
                close(ep);
            close(fds[0]);
            close(fds[1]);
            atomic_store_explicit(&hub.pipe_w, -1, memory_order_relaxed);
            hub.pipe_r = hub.watch_fd = -1;
            return -err;
        }
        hub.sfd = sfd;
        hub.watch_fd = ep;
    }
#endif
    hub.ready = true;
    return 0;
}

static int watch_locked(int signo)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigset_t watched = hub.watched;
    sigaddset(&watched, signo);
#if defined(__linux__)
    if (hub.sfd >= 0 && signalfd(hub.sfd, &watched, 0) < 0)
        return -errno;
#endif
    if (sigaction(signo, &sa, NULL) < 0)
        return -errno;
    hub.watched = watched;
    atomic_fetch_or_explicit(&hub.handled, bit(signo), memory_order_release);
    return 0;
}

int edo__sighub_watch(int signo)
{
    if (atomic_load_explicit(&hub.handled, memory_order_acquire) & bit(signo))
        return 0;
    pthread_mutex_lock(&hub.lock);
    int rc = hub.ready ? 0 : set_up_locked();
    if (rc == 0 && !(atomic_load_explicit(&hub.handled, memory_order_relaxed) & bit(signo)))
        rc = watch_locked(signo);
    pthread_mutex_unlock(&hub.lock);
    return rc;
}

int edo__sighub_fd(void)
{
    pthread_mutex_lock(&hub.lock);
    int fd = hub.watch_fd;
    pthread_mutex_unlock(&hub.lock);
    return fd;
}

/* Empties the signalfd: the signals it held, as bits. */
static uint64_t read_signalfd_locked(void)
{
    uint64_t got = 0;
#if defined(__linux__)
    struct signalfd_siginfo info[16];
    ssize_t n;
    while (hub.sfd >= 0 && (n = read(hub.sfd, info, sizeof info)) > 0)
        for (size_t i = 0; i < (size_t)n / sizeof info[0]; i++)
            if (info[i].ssi_signo >= 1 && info[i].ssi_signo <= MAX_SIGNO)
                got |= bit((int)info[i].ssi_signo);
#endif
    return got;
}

uint64_t edo__sighub_drain(void)
{
    pthread_mutex_lock(&hub.lock);
    if (!hub.ready) {
        pthread_mutex_unlock(&hub.lock);
        return 0;
    }
    uint64_t got = read_signalfd_locked();
    char sink[64];
    while (read(hub.pipe_r, sink, sizeof sink) > 0)
        ;
    /* After the pipe is empty: a handler that runs from here on writes a new byte. */
    got |= atomic_exchange_explicit(&hub.pending, 0, memory_order_acquire);
    for (int signo = 1; signo <= MAX_SIGNO; signo++)
        if (got & bit(signo))
            atomic_fetch_add_explicit(&hub.count[signo], 1, memory_order_release);
    pthread_mutex_unlock(&hub.lock);
    for (int i = 0; got && i < MAX_DRAIN_HOOKS; i++) {
        void (*hook)(uint64_t) = atomic_load_explicit(&hub.on_drain[i], memory_order_acquire);
        if (hook)
            hook(got);
    }
    return got;
}

void edo__sighub_on_drain(void (*hook)(uint64_t found))
{
    for (int i = 0; i < MAX_DRAIN_HOOKS; i++) {
        void (*seen)(uint64_t) = NULL;
        if (atomic_compare_exchange_strong_explicit(&hub.on_drain[i], &seen, hook,
                                                    memory_order_acq_rel, memory_order_acquire) ||
            seen == hook)
            return; /* set here, or set already */
    }
    abort(); /* more hooks than edo's own modules set: a bug */
}

uint64_t edo__sighub_count(int signo)
{
    return atomic_load_explicit(&hub.count[signo], memory_order_acquire);
}
