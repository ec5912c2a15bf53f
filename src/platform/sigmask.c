/* The signal mask of runtime threads and the choice between signalfd and the self-pipe. */
#include "platform/sigmask.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#if defined(__linux__)
#define HAVE_SIGNALFD 1
#else
#define HAVE_SIGNALFD 0
#endif

enum { UNDECIDED, SIGNALFD, SELF_PIPE };

static _Atomic int backend = UNDECIDED;

bool edo__sigmask_uses_signalfd(void)
{
    int b = atomic_load_explicit(&backend, memory_order_acquire);
    if (b == UNDECIDED) {
        int expected = UNDECIDED;
        atomic_compare_exchange_strong(&backend, &expected, HAVE_SIGNALFD ? SIGNALFD : SELF_PIPE);
        b = atomic_load_explicit(&backend, memory_order_acquire);
    }
    return b == SIGNALFD;
}

int edo__sigmask_force_self_pipe(void)
{
    int expected = UNDECIDED;
    if (atomic_compare_exchange_strong(&backend, &expected, SELF_PIPE) || expected == SELF_PIPE)
        return 0;
    return -EBUSY;
}

void edo__sigmask_runtime_set(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGPIPE);
    if (!edo__sigmask_uses_signalfd())
        return; /* the handler must be able to run in any thread, workers included */
    static const int usual[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM,
                                SIGUSR1, SIGUSR2, SIGCHLD, SIGWINCH};
    for (unsigned i = 0; i < sizeof usual / sizeof usual[0]; i++)
        sigaddset(set, usual[i]);
}

/* Whether this thread blocks SIGPIPE for good (the runtime set includes it in both ways). */
static _Thread_local bool sigpipe_blocked;

void edo__sigmask_block_runtime(void)
{
    sigset_t set;
    edo__sigmask_runtime_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sigpipe_blocked = true;
}

bool edo__sigpipe_is_blocked(void) { return sigpipe_blocked; }

static void sigpipe_only(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGPIPE);
}

void edo__sigpipe_block_thread(void)
{
    if (sigpipe_blocked)
        return;
    sigset_t set;
    sigpipe_only(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    sigpipe_blocked = true;
}

void edo__sigpipe_take_back(void)
{
    sigset_t set;
    sigpipe_only(&set);
    static const struct timespec no_wait = {0, 0};
    while (sigtimedwait(&set, NULL, &no_wait) < 0 && errno == EINTR)
        ;
}
