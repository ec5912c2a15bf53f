/* The fallback for kernels without pidfds (before Linux 5.3): a SIGCHLD handler writes a byte
 * to a pipe, and every child waiting for its exit watches a copy of the pipe's reader (one file
 * description, so one write makes all of them readable), tries to reap itself when it turns
 * readable, and empties it. The handler is installed once, at the first spawn that needs it,
 * and calls the handler the program had before.
 *
 * The signal module will own SIGCHLD (one listener shared by both); until then this is the
 * module's own minimal hook. Also the switch that forces the fallback for its tests. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "process/process.h"

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

static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static int install_error;
static int pipe_fds[2] = {-1, -1};
static struct sigaction previous;

static void on_sigchld(int sig, siginfo_t *info, void *ucontext)
{
    int saved = errno;
    char byte = 0;
    /* Non-blocking: a full pipe already says "something ended". */
    ssize_t n = write(pipe_fds[1], &byte, 1);
    (void)n;
    errno = saved;
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction)
            previous.sa_sigaction(sig, info, ucontext);
    } else if (previous.sa_handler != SIG_DFL && previous.sa_handler != SIG_IGN) {
        previous.sa_handler(sig);
    }
}

static void install(void)
{
    if (pipe2(pipe_fds, O_NONBLOCK | O_CLOEXEC) < 0) {
        install_error = -errno;
        return;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigchld;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_NOCLDSTOP;
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGCHLD, &sa, &previous) < 0)
        install_error = -errno;
}

int edo__sigchld_watch(void)
{
    pthread_once(&install_once, install);
    if (install_error)
        return install_error;
    int fd = fcntl(pipe_fds[0], F_DUPFD_CLOEXEC, 0);
    return fd < 0 ? -errno : fd;
}

void edo__sigchld_drain(int fd)
{
    char buf[64];
    while (read(fd, buf, sizeof buf) > 0)
        ;
}
