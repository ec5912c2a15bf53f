/* The I/O driver: an event queue (a backend, io/backend.h), the registrations it watches
 * (io/registration.h) and the readiness they carry (io/readiness.h).
 *
 * It knows nothing of workers or of the runtime that owns it: whoever waits hands it an event
 * buffer, a maximum and its parker, and dispatches the events itself (the runtime's worker that
 * watches the clock waits here instead of on its futex while registrations exist, and busy
 * workers poll without waiting: core/worker.c). The owner is told, through the function it
 * gave at init, when the first registration appears, so that a thread asleep elsewhere because
 * there was nothing to watch comes to wait here.
 */
#ifndef EDO_IO_DRIVER_H
#define EDO_IO_DRIVER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "edo/io.h"
#include "io/backend.h"
#include "io/readiness.h"
#include "io/registration.h"

#define EDO__IO_EVENTS 256 /* events taken per wait */

/* Completion rings per driver: one for threads that are not workers, the rest shared out among
 * the workers (edo__io_cring). */
#define EDO__IO_CRINGS 8

typedef struct edo__io_driver {
    edo_runtime *owner; /* opaque here: handed to on_active, and to the layers above */
    void (*on_active)(edo_runtime *owner); /* registrations went from none to some */
    const edo__io_backend_ops *kind; /* the backend to create */
    edo__io_backend *backend;        /* NULL until the first registration */
    pthread_mutex_t lock;            /* creation, the slab's growth and free list */
    edo__io_slab slab;
    _Atomic uint32_t registered; /* live registrations */
    /* Completion-based operations (io/uring/completions.h), where the runtime runs io_uring:
     * the rings, each made on first use (under cring_lock); cring_error once one failed. */
    bool cring_wanted;
    pthread_mutex_t cring_lock;
    struct edo__cring *_Atomic crings[EDO__IO_CRINGS];
    int cring_error;
} edo__io_driver;

/* Prepares `d` with the backend `wanted` names (AUTO: the one EDO_IO_BACKEND names, else the
 * default, epoll). A backend named either way is created at once, and its error returned
 * (-ENOSYS, -EPERM: io_uring is missing or disabled; -EMFILE, -ENOMEM); -EINVAL when
 * EDO_IO_BACKEND names no backend. On failure edo__io_destroy still releases `d`. */
int edo__io_init(edo__io_driver *d, edo_runtime *owner, void (*on_active)(edo_runtime *owner),
                 edo_io_backend wanted);
void edo__io_destroy(edo__io_driver *d);

/* True when the backend has something to watch (then parking waits in it). */
static inline bool edo__io_active(edo__io_driver *d)
{
    return atomic_load_explicit(&d->registered, memory_order_seq_cst) > 0;
}

/* The completion ring `slot` of `d` (made on first use; slot modulo EDO__IO_CRINGS), or NULL
 * where the runtime does not run the io_uring backend or the ring cannot be made: then callers
 * take the blocking pool. Thread-safe.
 *
 * Why several: io_uring runs the operations it can do at once (an openat, a read from the page
 * cache) inside io_uring_enter, under the ring's own kernel mutex. Two workers submitting to
 * one ring therefore take turns for all of that work, the second asleep on the mutex: a
 * runtime would read files on one CPU at most. So each worker submits to a ring of its own
 * (slot 1 + its index, the workers sharing out the slots beyond 7), and other threads to slot
 * 0. Rings stay safe from any thread (a dropped future cancels on the ring its call went to,
 * and the driver reaps them all after each wait). */
struct edo__cring *edo__io_cring(edo__io_driver *d, unsigned slot);

/* Whether operations are in flight in `d`'s completion ring (a paused clock waits for them
 * as for the blocking pool's calls). */
bool edo__io_completions_pending(edo__io_driver *d);

/* Registers `fd` (edge-triggered, both directions): 0, or -ENOMEM, or the backend's error. */
int edo__io_register(edo__io_driver *d, edo_io **out, int fd);

/* Registers `fd`, a connected stream socket of edo's own (TCP or Unix, connected or accepted
 * by edo), as edo__io_register does; where the backend can (io_uring, on a worker's own ring,
 * with provided-buffer rings and multishot receive), its bytes are received by completion into
 * the registration's inbox (io->recv_mode set): its reads must then take them from there
 * (edo__io_inbox_read), never from the fd. Errors as edo__io_register. Any thread. */
int edo__io_register_stream(edo__io_driver *d, edo_io **out, int fd);

/* Registers `fd`, a stream socket of edo's own whose connect is in progress, as
 * edo__io_register_stream does, but where it is received by completion (io->recv_mode set)
 * the receive is not armed yet (it would take the connect's error, SO_ERROR, from its
 * outcome): edo__io_stream_connected arms it in place once the connect has succeeded, so the
 * socket is added to the backend once (on io_uring: one poll armed, where a registration for
 * readiness, then another as a stream, armed two and cancelled one). Its writability (the
 * connect's outcome) is reported as for any registration meanwhile. Errors as
 * edo__io_register. Any thread. */
int edo__io_register_connecting(edo__io_driver *d, edo_io **out, int fd);
/* The connect of `io` (edo__io_register_connecting) succeeded: its receive by completion is
 * armed now, where it has one (a request to the lane's owner, as a read's). No-op otherwise.
 * Never blocks; any thread. */
void edo__io_stream_connected(edo_io *io);

/* Registers `fd`, a listening stream socket of edo's own, as edo__io_register does; where the
 * backend can (io_uring, on a worker's own ring that can accept by completion), its connections
 * are accepted by completion into the registration's inbox once the first accept asks
 * (io->recv_mode EDO__IO_RECV_ACCEPTS): its accepts must then take them from there
 * (edo__io_accept_take), never from the fd. Deregistration closes those not taken. Errors as
 * edo__io_register. Any thread. */
int edo__io_register_listener(edo__io_driver *d, edo_io **out, int fd);

/* Takes a connection that the backend accepted for listener `io` (io->recv_mode
 * EDO__IO_RECV_ACCEPTS): 0 with its fd (non-blocking, close-on-exec) in *fd; the error an
 * accept by completion failed with (-EMFILE, -ENFILE, -ENOBUFS, -ENOMEM ...), once; or -EAGAIN
 * when none has come yet (wait for readability: the next connection, or error, makes it
 * readable; the first call arms the accept). *drained: none is left. Never blocks nor
 * suspends; any thread. */
int edo__io_accept_take(edo_io *io, int *fd, bool *drained);

/* Whether a stream socket the calling thread registers now (edo__io_register_stream) would be
 * received by completion: the backend can, and the thread's own lane has what it takes (the
 * kernel's features, its buffers). */
bool edo__io_receives(edo__io_driver *d);

/* Reads from the inbox of `io` (io->recv_mode set) into the iovecs (consuming unless `peek`):
 * the bytes copied, 0 at end of file, the socket's error once, or -EAGAIN when nothing has come
 * yet (wait for readability: the next completion's bytes, or the end, make it readable).
 * *drained: the inbox is empty and the stream goes on. Never blocks nor suspends; any thread,
 * and one reader at a time as for any socket read. */
ssize_t edo__io_inbox_read(edo_io *io, const struct iovec *iov, int iovcnt, bool peek,
                           bool *drained);

/* The outbox of `io` (io->recv_mode set): the send through a completion ring of a stream
 * socket received by completion (io/uring/outbox.h), made on first use; NULL when out of
 * memory. It lives until the registration is deregistered (a send in flight goes on: see
 * edo__io_close). Any thread. */
struct edo__outbox *edo__io_outbox(edo_io *io);
/* The outbox of `io` if one was made (a send may be in flight), else NULL. Any thread. */
struct edo__outbox *edo__io_outbox_made(edo_io *io);
/* Deregisters `io` (edo_io_deregister) and closes its fd: now, or, while a send of its outbox
 * is in flight, at that send's CQE (the kernel reads the SEND's fd when the ring is entered,
 * which may be later: closing it before would let another file take its number). */
void edo__io_close(edo_io *io);

/* The runtime `io` was registered with (for registering the sockets it accepts there too). */
static inline edo_runtime *edo__io_owner(const edo_io *io) { return io->driver->owner; }

/* Waits in the backend until an event, `deadline` (system CLOCK_MONOTONIC ns; UINT64_MAX: no
 * deadline; 0: do not wait) or an unpark of `parker` (the caller's: while the wait blocks, an
 * unpark interrupts it through the backend's waker), and stores at most `max` (1 to
 * EDO__IO_EVENTS) events in `events`, which the caller owns. Returns how many; dispatch them
 * with edo__io_dispatch. Only once edo__io_active has been true: the backend is made with the
 * first registration. */
int edo__io_wait(edo__io_driver *d, edo__io_ready *events, int max, uint64_t deadline,
                 edo__parker *parker);
/* Gives the calling thread (a worker of a multi-thread runtime, on its own thread, at its
 * start) a queue of its own where the backend has them (io_uring: its ring; see backend.h's
 * attach): the fds it registers are watched there, and its edo__io_wait waits there. 0, or the
 * backend's error (the thread then uses the shared queue). Nothing where the backend was not
 * made at init (the default, epoll, has no such queues). */
int edo__io_attach(edo__io_driver *d);
/* The calling thread's own queue is closed (its worker stops). */
void edo__io_detach(edo__io_driver *d);
/* Whether the calling thread has a queue of its own: then it sleeps in edo__io_wait, never on
 * its parker alone (the events of the fds it registered arrive only while it is there). */
bool edo__io_has_lane(edo__io_driver *d);
/* Whether another thread's own queue holds events it has not collected yet (a paused clock
 * waits for them before it jumps). */
bool edo__io_lanes_pending(edo__io_driver *d);

/* Whether the calling thread's own queue holds news it has not collected (a look at memory,
 * no system call): false without one. */
bool edo__io_lane_news(edo__io_driver *d);

/* Delivers `n` events edo__io_wait stored: sets readiness, wakes waiters. */
void edo__io_dispatch(edo__io_driver *d, const edo__io_ready *events, int n);

#endif
