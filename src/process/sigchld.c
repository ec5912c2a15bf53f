/* The fallback for kernels without pidfds (before Linux 5.3): SIGCHLD through the signal
 * module's hub (signal/hub.h), the one place the process learns of signals. Every child waiting
 * for its exit watches its own copy of the hub's descriptor (each copy gets its own edge when a
 * signal arrives), and at each edge drains the hub and tries to reap itself. Also the switch
 * that forces the fallback for its tests. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>

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

int edo__sigchld_watch(void)
{
    int rc = edo__sighub_watch(SIGCHLD);
    if (rc < 0)
        return rc;
    int fd = fcntl(edo__sighub_fd(), F_DUPFD_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

void edo__sigchld_drain(int fd)
{
    (void)fd; /* a copy of the hub's descriptor: the hub empties it */
    edo__sighub_drain();
}
