/* The process's signal hub: signals are process-wide, so this is one per process, shared by
 * every runtime. It turns deliveries into a count per signal and one file descriptor that is
 * readable when any watched signal has arrived.
 *
 * Where a signal lands, and how it reaches the count:
 *  - in a thread that does not block it (the main thread, a user's thread; with the self-pipe,
 *    any thread): edo's handler runs there. It only sets the signal's bit in an atomic word and
 *    writes a byte to a non-blocking pipe (async-signal-safe, errno preserved; nothing that
 *    ThreadSanitizer's deferred handlers mind).
 *  - when every thread blocks it (signalfd backend): it stays pending for the process and is read
 *    from the signalfd.
 * edo__sighub_drain() reads both and bumps the counts; a listener compares the count with the
 * one it saw last, so a burst of deliveries is one wake-up, and a signal that arrives while no
 * one waits is still seen by every listener created before it.
 *
 * Other modules may use the hub directly: the process module's SIGCHLD fallback watches a copy
 * of edo__sighub_fd() and drains at each edge (edo__sighub_watch(SIGCHLD) first, then
 * edo__sighub_count(SIGCHLD) tells it a batch came). Any drain wakes the listeners' waiting
 * receives and the waiting children through the hooks, so draining elsewhere never strands a
 * waiter. Children inherit
 * the signal mask of the thread that spawns them: a spawn from a runtime thread must give the
 * child an empty mask (POSIX_SPAWN_SETSIGMASK). */
#ifndef EDO_SIGNAL_HUB_H
#define EDO_SIGNAL_HUB_H

#include <stdbool.h>
#include <stdint.h>

/* Whether `signo` can be listened for: 1..64 except SIGKILL, SIGSTOP, the synchronous fault
 * signals (SIGSEGV, SIGBUS, SIGILL, SIGFPE: edo's stack-overflow handler owns the first two) and
 * the C library's reserved real-time signals. */
bool edo__sighub_can_watch(int signo);
/* Starts watching `signo` (once per signal; later calls only check): sets up the hub, installs
 * the handler and adds the signal to the signalfd's mask. Returns 0, -ENOMEM, -EMFILE/-ENFILE
 * (no fds left) or what sigaction gave. The caller checked edo__sighub_can_watch. Thread-safe. */
int edo__sighub_watch(int signo);
/* The descriptor that becomes readable when a watched signal arrives (-1 before the first
 * edo__sighub_watch). Never closed. Register a dup() of it, each with its own epoll edges. */
int edo__sighub_fd(void);
/* Reads every delivery waiting in the signalfd and the pipe into the counts, then calls the
 * hook set with edo__sighub_on_drain with the signals whose count it moved (bit signo-1), if
 * any, and returns them. Whoever drains (a listener, the process module's SIGCHLD watch) thus
 * wakes every waiter: another reactor's edge for the same delivery may be dropped once the
 * descriptor is empty. Thread-safe. */
uint64_t edo__sighub_drain(void);
/* Adds a hook that every drain that found something calls (outside the hub's lock); adding the
 * same hook again does nothing. edo's modules add theirs: the listeners' (listener.c) and the
 * SIGCHLD watch's (process/sigchld.c). Thread-safe. */
void edo__sighub_on_drain(void (*hook)(uint64_t found));
/* How many delivery batches of `signo` the hub has seen (grows by one per drain that found it). */
uint64_t edo__sighub_count(int signo);

#endif
