/* edo/io.h — readiness of file descriptors on the runtime's reactor (edge-triggered, on epoll or
 * io_uring: docs/io-backends.md).
 *
 * edo's sockets are built on this, and so can any C library that exposes its file descriptors
 * (libcurl's multi interface, c-ares, database clients): register the fd, wait until it is
 * ready, try the operation, and when it would block clear the readiness and wait again.
 *
 *     edo_io *io;
 *     edo_io_register(fd, &io);                  // fd in non-blocking mode
 *     for (;;) {
 *         edo_io_event ev;
 *         if ((rc = edo_io_ready(io, EDO_READABLE, &ev)) < 0)   // suspends until readable
 *             break;
 *         ssize_t n = read(fd, buf, sizeof buf);
 *         if (n < 0 && errno == EAGAIN) {
 *             edo_io_clear_ready(io, ev);         // drained: wait for the next edge
 *             continue;
 *         }
 *         ...
 *     }
 *     edo_io_deregister(io);                     // before close(fd)
 *
 * Readiness is remembered per registration with a tick that counts the events delivered: clearing
 * it with an event that is no longer the latest does nothing, so an edge that lands between the
 * operation and the clear is never lost. A new registration starts out ready in both directions
 * (the first operation is simply tried), so a fresh socket costs no wait for its first event;
 * the first event replaces that assumption with what the kernel reports (epoll reports an fd's
 * state when it is registered).
 * A registration's slot is recycled with a new generation, so a late event for a closed fd never
 * wakes the owner of the registration that reuses it.
 */
#ifndef EDO_IO_H
#define EDO_IO_H

#include <stdint.h>

#include "edo/future.h"
#include "edo/runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Readiness bits. */
#define EDO_READABLE 0x1u
#define EDO_WRITABLE 0x2u
#define EDO_READ_CLOSED 0x4u  /* the peer shut down its writing side (reads will return 0) */
#define EDO_WRITE_CLOSED 0x8u /* writing is no longer possible (hang-up) */
#define EDO_IO_ERROR 0x10u    /* an error is pending on the fd (SO_ERROR) */

/* A registration: one per file descriptor. */
typedef struct edo_io edo_io;

/* What a wait reported: the ready bits (among those asked for, plus the closed and error bits)
 * and when they were seen (for edo_io_clear_ready). */
typedef struct edo_io_event {
    uint32_t ready;
    uint64_t state_; /* private: the registration's generation and tick when seen */
} edo_io_event;

/* A waiter (private fields): the place in a registration's wait list of one future waiting for
 * readiness. Embed it in the future; initialise with edo_io_waiter_init. */
typedef struct edo_io_waiter {
    struct edo_io_waiter *next_, *prev_;
    edo_waker waker_;
    uint32_t linked_;
    uint32_t interest_;
    uint32_t generation_; /* of the registration it waits on, from its first poll */
} edo_io_waiter;

/* Registers `fd` (which must be non-blocking) with the current runtime's reactor, for both
 * directions. Returns 0 and stores the registration in *out, or
 *   -EINVAL  out is NULL or fd negative;
 *   -EPERM   the calling thread is not in a runtime;
 *   -ENOMEM  out of memory;
 *   or the backend's error, the same on both (-EPERM for a regular file, a directory or a
 *   device that cannot be polled; -EEXIST when fd is registered already; -EBADF).
 * Never suspends; thread-safe. */
int edo_io_register(int fd, edo_io **out);
/* Like edo_io_register, with runtime `rt` (from any thread). */
int edo_io_register_on(edo_runtime *rt, int fd, edo_io **out);
/* Removes the registration (the fd stays open: close it afterwards, not before: on io_uring
 * the reactor's poll holds the file open until it is removed). Waiters still waiting are
 * woken and their waits fail with -EBADF, and so do waits that start afterwards until the
 * registration's memory is reused by a new registration (from then on `io` names that one: do
 * not use a handle after deregistering it). NULL is a no-op. Never suspends; thread-safe. */
void edo_io_deregister(edo_io *io);
/* The registered file descriptor, or -EINVAL for NULL. */
int edo_io_fd(const edo_io *io);

/* Inside a coroutine: waits until `io` is ready for one of `interest` (EDO_READABLE and/or
 * EDO_WRITABLE), or that direction is closed (EDO_READ_CLOSED / EDO_WRITE_CLOSED), or the fd is
 * in error, and describes the readiness in *ev.
 * Returns 0, or -EINVAL (NULL io or ev, or neither EDO_READABLE nor EDO_WRITABLE in interest;
 * other bits are ignored), -EPERM (not in a coroutine), -ECANCELED (task aborted),
 * -ETIMEDOUT (the coroutine's deadline), -EBADF (deregistered meanwhile). Suspends. */
int edo_io_ready(edo_io *io, uint32_t interest, edo_io_event *ev);
/* The future form: EDO_READY with *ev filled when ready (or -EBADF in *rc after deregistration;
 * *rc is 0 otherwise), else EDO_PENDING with cx's waker queued on `waiter`. Call
 * edo_io_waiter_drop when the waiting future is dropped. Bad arguments (NULL io, waiter, cx, ev
 * or rc, or no direction in interest, as edo_io_ready) give EDO_READY at once with -EINVAL in *rc
 * (where rc is not NULL) and no ready bits in *ev (where ev is not NULL). Never suspends. */
edo_poll edo_io_poll_ready(edo_io *io, uint32_t interest, edo_io_waiter *waiter, edo_context *cx,
                           edo_io_event *ev, int *rc);
/* Prepares `waiter` (not on any list). NULL is a no-op. */
void edo_io_waiter_init(edo_io_waiter *waiter);
/* Takes `waiter` off `io`'s wait list if it is on it. NULL io or waiter is a no-op. Never
 * suspends; thread-safe. */
void edo_io_waiter_drop(edo_io *io, edo_io_waiter *waiter);
/* Without waiting: the readiness `io` has now for `interest` (the bits a wait would report), and
 * *ev describing it, for an operation tried at once and edo_io_clear_ready when it would block.
 * Returns those bits (0: not ready; try again after a wait), or -EINVAL (NULL io or ev, or
 * neither EDO_READABLE nor EDO_WRITABLE in interest; other bits are ignored, as by
 * edo_io_ready), -EBADF (deregistered). Never suspends; thread-safe. */
int edo_io_try_ready(edo_io *io, uint32_t interest, edo_io_event *ev);
/* The operation `ev` announced would block: forget that readiness (all of ev.ready: a wait
 * reports only its own direction's bits, that direction's closed bit and the error bit, all stale
 * if the operation would block), unless an event arrived since `ev` was reported. NULL io is a
 * no-op. Never suspends; thread-safe. */
void edo_io_clear_ready(edo_io *io, edo_io_event ev);

#ifdef __cplusplus
}
#endif

#endif /* EDO_IO_H */
