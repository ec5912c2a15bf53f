/* Readiness: what the driver knows of each registration's fd, and who waits for it.
 *
 * Each registration's readiness is one 64-bit word: generation (32 bits) | tick (16) | ready
 * bits (16). Delivering an edge ORs the bits in and bumps the tick; clearing after an operation
 * would block compares the whole (generation, tick) pair it saw, so a clear that races with a
 * newer edge loses. Waiters (edo_io_waiter, inside the waiting futures) queue on the
 * registration's list under its spinlock. The public side is edo/io.h (edo_io_poll_ready,
 * edo_io_try_ready, edo_io_clear_ready, ...); this is the driver's. */
#ifndef EDO_IO_READINESS_H
#define EDO_IO_READINESS_H

#include <stdbool.h>
#include <stdint.h>

#include "io/backend.h"
#include "io/registration.h"

/* Starts a new generation of `io` (a slot just taken): readable and writable, so the first
 * operation is simply tried; no waiters. Returns the generation, for its token. */
uint32_t edo__io_readiness_open(struct edo_io *io);
/* Ends the generation: late edges are dropped, waits that start fail with -EBADF, and every
 * waiter is woken to find out. */
void edo__io_readiness_close(struct edo_io *io);
/* Applies `n` pairs a backend reported: sets readiness and wakes the waiters each answers.
 * Pairs of an older generation, and the wake pair, are skipped. */
void edo__io_readiness_deliver(edo__io_slab *slab, const edo__io_ready *events, int n);

/* The generation `io` is in (the high half of its state word). */
static inline uint32_t edo__io_generation(struct edo_io *io)
{
    return (uint32_t)(atomic_load_explicit(&io->state, memory_order_relaxed) >> 32);
}

/* edo_io_poll_ready and edo_io_clear_ready without their argument checks, for the sockets' own
 * loop (net/sock.c), whose arguments are never NULL: the checks stay at the public entries. */
edo_poll edo__io_poll_ready(edo_io *io, uint32_t interest, edo_io_waiter *w, edo_context *cx,
                            edo_io_event *ev, int *rc);
void edo__io_clear_ready(edo_io *io, edo_io_event ev);

/* Whether `ev` comes from a registration's assumed first readiness (both directions, before
 * the backend reported anything: see edo__io_readiness_open), not from an event. Right for an
 * operation, which is simply tried; a readiness wait must confirm it (readiness waits only:
 * after 65,536 events the count wraps and an event's readiness looks assumed too, which a
 * confirmation then finds true). */
bool edo__io_event_is_assumed(edo_io_event ev);

/* Whether `w` is on its registration's wait list (a quick look, for skipping the drop). */
static inline bool edo__io_waiter_linked(const edo_io_waiter *w)
{
    return __atomic_load_n(&w->linked_, __ATOMIC_ACQUIRE) != 0;
}

#endif
