/* The signal mask of runtime threads and the choice between signalfd and the self-pipe. */
#include "platform/sigmask.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

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

void edo__sigmask_block_runtime(void)
{
    sigset_t set;
    edo__sigmask_runtime_set(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}
