/* edo/signal.h — Unix signals as an asynchronous stream of deliveries.
 *
 *     static void *app(void *arg)
 *     {
 *         edo_signal *term;
 *         if (edo_signal_listen(SIGTERM, &term) < 0)     // from here on, no SIGTERM is missed
 *             return NULL;
 *         ... start the work ...
 *         edo_signal_recv(term);                          // suspends until SIGTERM arrives
 *         ... stop the work ...
 *         edo_signal_free(term);
 *         return NULL;
 *     }
 *
 * A listener counts from its creation: a delivery that arrives while nobody waits is seen by
 * the next edo_signal_recv of every listener that existed then. Many listeners may watch one
 * signal; each is woken once per batch: ten SIGUSR1s that arrive before a listener looks again
 * are one wake-up for it (Unix merges pending standard signals anyway).
 *
 * How signals get to edo (docs/signal.md has the details):
 *  - The first listener of a signal installs edo's handler for it, for the rest of the process
 *    (as Tokio does): from then on the signal's default action (ending the process, for SIGINT
 *    and SIGTERM) no longer happens, also while no listener exists, and a handler installed
 *    before is replaced. The handler only records the signal and writes a byte to a pipe.
 *  - The runtime's threads (workers, blocking pool) block SIGHUP, SIGINT, SIGQUIT, SIGTERM,
 *    SIGUSR1, SIGUSR2, SIGCHLD and SIGWINCH from their start (where signalfd exists), so those
 *    signals never interrupt a task or a blocking call: when every thread blocks a signal, edo
 *    reads it from a signalfd. Other threads of the process (main, your own) that do not block
 *    it may receive it instead; edo's handler then runs in that thread, and a system call that
 *    it interrupts may fail with EINTR (SA_RESTART restarts most). To keep your threads out of
 *    it, call edo_signal_block_in_this_thread() in each of them (in main before it starts any
 *    thread, and they inherit it). Do not block a signal that you do not listen for in every
 *    thread: it would then stay pending and its default action would never happen.
 *  - SIGPIPE is blocked in every runtime thread: a write to a closed pipe or socket fails with
 *    -EPIPE instead of killing the process (edo's own writes avoid it in any thread).
 *  - Threads inherit their creator's mask, and so do child processes: a program started from a
 *    runtime thread with fork/exec by hand should unblock the signals in the child.
 * Signals are process-wide: listeners on several runtimes all see every delivery.
 */
#ifndef EDO_SIGNAL_H
#define EDO_SIGNAL_H

#include <signal.h>

#include "edo/future.h"
#include "edo/io.h"
#include "edo/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A listener for one signal (opaque). Free it before the runtime it was made on. */
typedef struct edo_signal edo_signal;

/* Starts listening for `signo` on the current runtime and stores the listener in *out: every
 * delivery from now on wakes it. Returns 0, or
 *   -EINVAL  out is NULL, or signo is not a signal that can be listened for: outside 1..64,
 *            SIGKILL, SIGSTOP, the fault signals SIGSEGV, SIGBUS, SIGILL, SIGFPE, or the C
 *            library's reserved real-time signals (32 and 33 with glibc);
 *   -EPERM   the calling thread is not in a runtime;
 *   -ENOMEM, -EMFILE, -ENFILE  out of memory or descriptors.
 * Never suspends; thread-safe. */
int edo_signal_listen(int signo, edo_signal **out);
/* Like edo_signal_listen, on runtime `rt` (from any thread). -EINVAL also for a NULL rt. */
int edo_signal_listen_on(edo_runtime *rt, int signo, edo_signal **out);
/* Stops listening and frees the listener. A wait still in progress on it is not allowed (drop
 * its future first). NULL is a no-op. Never suspends; thread-safe. */
void edo_signal_free(edo_signal *sig);
/* The signal `sig` listens for, or -EINVAL for NULL. */
int edo_signal_number(const edo_signal *sig);

/* Inside a coroutine: waits until the signal has been delivered since the listener was created
 * or since its last edo_signal_recv / edo_signal_try_recv returned 0. Returns 0, or -EINVAL
 * (NULL sig), -EPERM (not in a coroutine), -ECANCELED (task aborted), -ETIMEDOUT (the
 * coroutine's deadline). One wait at a time per listener. Suspends. */
int edo_signal_recv(edo_signal *sig);
/* Without waiting: 0 if the signal has been delivered since the last receive (and takes that
 * delivery), -EAGAIN if not, -EINVAL for NULL. Never suspends; thread-safe. */
int edo_signal_try_recv(edo_signal *sig);

/* The future form of edo_signal_recv: ready with `result` 0 once a delivery is there, or
 * -EINVAL (NULL sig). Select it with a timer or anything else (edo_select). Dropping it before
 * it is ready takes nothing: the delivery stays for the next receive. One future at a time per
 * listener. */
typedef struct edo_signal_recv_future {
    edo_future base;
    int result;
    edo_signal *sig;
    edo_io_waiter waiter_; /* private */
} edo_signal_recv_future;
/* Prepares `f` to receive from `sig`. NULL f: no-op. Never suspends. */
void edo_signal_recv_future_init(edo_signal_recv_future *f, edo_signal *sig);

/* Inside a coroutine: waits for the next SIGINT (Ctrl-C in a terminal) that arrives after the
 * call. Listens for SIGINT for the call's duration (so edo's handler is installed from then
 * on: see above). Returns 0, -EPERM (not in a coroutine), -ECANCELED, -ETIMEDOUT, -ENOMEM,
 * -EMFILE. Suspends. */
int edo_ctrl_c(void);

/* Blocks, in the calling thread, the signals that the runtime's threads block (see above), so
 * they are read through the signalfd and never run a handler in this thread. Call it in main
 * before starting threads, or in each thread of your own. Where edo uses the self-pipe instead
 * of signalfd it blocks only SIGPIPE (the handler must be able to run somewhere). Returns 0.
 * Never suspends; affects only the calling thread. */
int edo_signal_block_in_this_thread(void);

#ifdef __cplusplus
}
#endif

#endif /* EDO_SIGNAL_H */
