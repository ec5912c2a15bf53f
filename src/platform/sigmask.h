/* Which signals the runtime's own threads block, and how signals reach edo at all.
 *
 * Two ways, chosen once per process (the first time either is asked for):
 *  - signalfd (Linux): the runtime's threads block the usual process signals (SIGHUP, SIGINT,
 *    SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD, SIGWINCH) from their start, so those signals
 *    never interrupt a worker, a coroutine or a blocking-pool call; a signal that every thread
 *    blocks stays pending for the process and is read from a signalfd.
 *  - self-pipe (where signalfd is missing, or forced for testing): the runtime's threads block
 *    nothing but SIGPIPE, and a handler writes to a pipe.
 * In both, SIGPIPE is blocked in runtime threads: a write to a closed pipe or socket then fails
 * with EPIPE, and the signal it raised stays pending on that thread, harmless. */
#ifndef EDO_PLATFORM_SIGMASK_H
#define EDO_PLATFORM_SIGMASK_H

#include <signal.h>
#include <stdbool.h>

/* True when signals are read from a signalfd, false for the self-pipe. Fixes the choice. */
bool edo__sigmask_uses_signalfd(void);
/* Tests only: use the self-pipe even where signalfd exists. Returns 0, or -EBUSY when the choice
 * was already made (call it before any runtime or listener exists). */
int edo__sigmask_force_self_pipe(void);
/* The set a runtime thread blocks (see above). */
void edo__sigmask_runtime_set(sigset_t *set);
/* Blocks that set in the calling thread (a runtime thread, at its start). */
void edo__sigmask_block_runtime(void);

/* SIGPIPE for writes that have no MSG_NOSIGNAL (pipes, splice): whether the calling thread
 * blocks it for good (a runtime thread from its start, any other from edo__sigpipe_block_thread),
 * so that such a write needs no mask change around it; blocking it for good in the calling thread
 * (one system call per thread); and taking back the SIGPIPE a write that failed with EPIPE left
 * pending on the thread while it was blocked. Never suspend. */
bool edo__sigpipe_is_blocked(void);
void edo__sigpipe_block_thread(void);
void edo__sigpipe_take_back(void);

#endif
