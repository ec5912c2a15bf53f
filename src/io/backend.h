/* What the I/O driver asks of the operating system's event queue: the backend interface.
 *
 * The driver (io/driver.c) keeps everything that does not depend on the event queue: the
 * registration slab and its generations, the readiness word, the waiters. A backend only
 *   - watches an fd for readability, writability, hang-up and errors, edge-triggered, under an
 *     opaque 64-bit token the driver chose (its generation and slot);
 *   - waits for such edges until a timeout, and reports them as (token, EDO_* bits) pairs;
 *   - can be interrupted from any thread while it waits (its parker waker).
 * It never sees a registration, a waiter or a thread of the runtime.
 *
 * A backend is an object that begins with edo__io_backend (its operations and its waker), so
 * the driver calls it through a pointer: the runtime picks which `create` the driver calls
 * (epoll.c, uring.c; edo_runtime_config.io_backend, EDO_IO_BACKEND).
 *
 * The same interface on paper for the others, to be sure it fits:
 *   kqueue: create = kqueue() and an EVFILT_USER event (EV_CLEAR) for the wake; add = one
 *     kevent() with EVFILT_READ and EVFILT_WRITE, EV_ADD | EV_CLEAR, udata = token; remove =
 *     EV_DELETE of both (or nothing: closing the fd removes them); wait = kevent() with a
 *     timespec, each returned filter one pair (EVFILT_READ: EDO_READABLE, with EV_EOF also
 *     EDO_READ_CLOSED; EVFILT_WRITE: EDO_WRITABLE, with EV_EOF also EDO_WRITE_CLOSED; EV_ERROR
 *     or a non-zero fflags with EV_EOF: EDO_IO_ERROR), so one fd may give two pairs with one
 *     token, which the driver simply applies in turn; the EVFILT_USER event is the wake pair;
 *     interrupt = kevent() with NOTE_TRIGGER.
 *   io_uring (built: uring.c, which says how it meets the threading contract of `wait`):
 *     create = io_uring_setup, the rings mapped, and an eventfd for the wake; add = a
 *     multishot IORING_OP_POLL_ADD (POLLIN | POLLOUT | POLLRDHUP | POLLPRI) with user_data =
 *     token; remove = IORING_OP_ASYNC_CANCEL of that user_data (so remove takes the token too);
 *     wait = io_uring_enter with min_complete 1 and the timeout as an extended argument, each
 *     CQE one pair (its res holds the poll mask, mapped as epoll's); interrupt = a write to the
 *     eventfd, which a poll on it turns into the wake pair. Completion-based operations (read
 *     and write as submissions rather than readiness) would come beside this, not through it.
 */
#ifndef EDO_IO_BACKEND_H
#define EDO_IO_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "io/inbox.h"
#include "platform/parker.h"

/* One edge, backend-neutral: the token the fd was added with, and EDO_* bits (edo/io.h). */
typedef struct edo__io_ready {
    uint64_t token;
    uint32_t bits;
} edo__io_ready;

/* The token of a pair that only says the wait was interrupted (the backend has already reset
 * its wake handle); no fd is ever added with it. */
#define EDO__IO_WAKE_TOKEN UINT64_MAX

/* A wait that does not block, and one without a timeout. */
#define EDO__IO_NO_WAIT 0
#define EDO__IO_FOREVER UINT64_MAX

typedef struct edo__io_backend edo__io_backend;

typedef struct edo__io_backend_ops {
    const char *name;
    /* A new instance: 0, or -errno. */
    int (*create)(edo__io_backend **out);
    /* Stops watching everything; the instance is freed once the waker's last reference goes
     * (a parker may still hold one). */
    void (*destroy)(edo__io_backend *b);
    /* Watches `fd` for every direction, edge-triggered, reporting `token`: 0 or -errno. */
    int (*add)(edo__io_backend *b, int fd, uint64_t token);
    /* Stops watching `fd` (added with `token`); an edge already collected may still be
     * reported, and the driver drops it by its token. */
    void (*remove)(edo__io_backend *b, int fd, uint64_t token);
    /* Waits up to `timeout_ns` (EDO__IO_NO_WAIT, EDO__IO_FOREVER) for edges, or until the waker
     * interrupts it, and stores at most `max` pairs in `out` (owned by the caller, who keeps
     * the events there until it has dispatched them; the backend may use all `max` slots as
     * scratch, so that it needs no buffer of its own). Returns how many; 0 on a timeout or an
     * error. Safe to call from several threads at once. */
    int (*wait)(edo__io_backend *b, edo__io_ready *out, int max, uint64_t timeout_ns);

    /* Optional (NULL in a backend with one queue for all threads, epoll's): queues of the
     * calling thread's own, its *lane* (io_uring: a ring per worker). */
    /* The calling thread gets a lane (a worker, at its start, on its own thread): the fds it
     * adds from now on are watched there, and its waits and looks are in it (and in what is
     * shared). 0, or -errno (then it goes on without one, as a thread that is not a worker). */
    int (*attach)(edo__io_backend *b);
    /* The calling thread's lane is gone (the worker stops): its watches end. */
    void (*detach)(edo__io_backend *b);
    /* What interrupts the calling thread's wait: its lane's waker, else `waker` below. */
    edo__parker_waker *(*waker)(edo__io_backend *b);
    /* Whether the calling thread has a lane: then it must wait in it whenever it sleeps (its
     * watches' events arrive only while it is in its lane or looks at it). */
    bool (*has_lane)(edo__io_backend *b);
    /* Whether another thread's lane holds events or work it has not collected yet. */
    bool (*pending)(edo__io_backend *b);
    /* Whether the calling thread's own lane holds events, work or mail it has not collected
     * yet: a look at shared memory, no system call (false without a lane). */
    bool (*news)(edo__io_backend *b);

    /* Optional (NULL where the backend only reports readiness): receives by completion. */
    /* Watches `fd`, a connected stream socket, as add does, and where the calling thread's
     * lane can receive by completion (io_uring: a multishot receive into a provided-buffer
     * ring), receives its bytes into `inbox` (reset by the caller), whose news (bytes, end of
     * stream) it reports as the fd's readability: the fd is then never read by anyone else.
     * 1 when it receives so, 0 when it only watches readiness (as add), or add's -errno. */
    int (*add_stream)(edo__io_backend *b, int fd, uint64_t token, edo__inbox *inbox);
    /* Whether add_stream called now, by the calling thread, would receive by completion (its
     * lane has what it takes). */
    bool (*can_receive)(edo__io_backend *b);
    /* The reader of `fd` (added by add_stream with `token`, receiving) drained its inbox
     * after the receive was stopped at the inbox's cap: arm it again. Any thread; never
     * blocks on the lane's owner (it is told, and does it when it next looks at its lane). */
    void (*recv_ask)(edo__io_backend *b, int fd, uint64_t token);
    /* Watches `fd`, a listening stream socket, as add does, and where the calling thread's
     * lane can accept by completion (io_uring: a multishot accept), accepts its connections
     * into `inbox` (reset for accepts by the caller: stopped), armed when the inbox's taker
     * first asks (recv_ask); their fds are then the inbox's, and its news (a connection, an
     * error) is the fd's readability. 1 when it accepts so, 0 when it only watches readiness
     * (as add), or add's -errno. Optional (NULL: listeners are watched as any fd). */
    int (*add_listener)(edo__io_backend *b, int fd, uint64_t token, edo__inbox *inbox);
} edo__io_backend_ops;

/* The head of every backend instance. */
struct edo__io_backend {
    const edo__io_backend_ops *ops;
    /* Makes a wait in progress (or the next one) return: what a parker calls when its owner,
     * instead of sleeping on it, waits in this backend (edo__parker_enter). Refcounted: it
     * keeps the instance alive. */
    edo__parker_waker *waker;
};

#ifdef __linux__
extern const edo__io_backend_ops edo__io_epoll;
extern const edo__io_backend_ops edo__io_uring;
/* Ring sizes of the io_uring backends created from now on, the rings of their workers
 * included (0: the default, SQ 256 and CQ 4096): a knob for tests, which force tiny rings to
 * fill them. Thread-safe. */
void edo__io_uring_set_sizes(unsigned sq_entries, unsigned cq_entries);
/* Provided buffers of each worker's ring of the io_uring backends created from now on: `count`
 * (a power of two) buffers of `size` bytes (0, 0: the default, 256 of 4 KiB; count
 * EDO__IO_URING_NO_RECV: none, so stream sockets are read on readiness, as on a kernel without
 * multishot receive). A knob for tests, which force a few tiny buffers so that the multishot
 * receive runs out of them (-ENOBUFS) and is armed again, or none to try the fallback.
 * Thread-safe. */
#define EDO__IO_URING_NO_RECV 0xffffffffu
void edo__io_uring_set_recv_buffers(unsigned count, unsigned size);
/* Whether the workers' rings of the io_uring backends created from now on have the kernel
 * consume their provided buffers a part at a time where it can (io/uring/buf_ring.h): true by
 * default; false to try whole buffers, as on a kernel without (before Linux 6.12).
 * Thread-safe. */
void edo__io_uring_set_recv_parts(bool on);
/* Whether the ring of the calling worker, in io_uring backend `b`, has its provided buffers
 * consumed in parts: for tests, which must know which way they ran. */
bool edo__io_uring_recv_in_parts(edo__io_backend *b);
/* Whether the workers' rings of the io_uring backends created from now on accept their
 * listeners' connections by completion where the kernel can (multishot accept): true by
 * default; false to try the fallback (accept(2) on readiness, as on a kernel without it).
 * Thread-safe. */
void edo__io_uring_set_accepts(bool on);
/* How many times a multishot receive of io_uring backend `b` ended without ending its stream
 * (out of buffers, or the completion queue overflowed) and was armed again at once: for tests,
 * which must know that a tiny buffer ring did run out. Any thread. */
uint64_t edo__io_uring_recv_rearms(edo__io_backend *b);
/* Makes the next `n` re-arms of a multishot receive in io_uring backend `b` fail as when the
 * kernel takes no SQE (the inbox stops and its reader asks again): for tests, which cannot
 * fill the kernel's resources on demand. Returns how many of the refusals set before were
 * still to come. Any thread. */
unsigned edo__io_uring_refuse_recv_rearms(edo__io_backend *b, unsigned n);
/* Makes the next reap of a worker's ring in io_uring backend `b` resync it as after completions
 * the kernel dropped (-EBADR: every live fd's poll and receive armed afresh): for tests, which
 * cannot make the kernel run out of memory on demand. Any thread. */
void edo__io_uring_force_resync(edo__io_backend *b);
/* How many times a stream socket's poll in io_uring backend `b` saw the peer's end while its
 * receive was armed, and restarted the receive (at most once per registration): for tests,
 * which must know that the restart ran and lost nothing. Any thread. */
uint64_t edo__io_uring_end_probes(edo__io_backend *b);
/* How many stream sockets were added to io_uring backend `b` in a lane other than the
 * registering thread's (the arming mailed to that lane's owner): for tests, which must know
 * that the spreading of accepted sockets over the workers' rings did happen. Any thread. */
uint64_t edo__io_uring_arms_mailed(edo__io_backend *b);
/* How many fds were added to io_uring backend `b` (each a multishot poll armed; a stream
 * socket's receive beside it): for tests, which count the arms of one connection. Any
 * thread. */
uint64_t edo__io_uring_polls_added(edo__io_backend *b);
/* The lane the watch of `fd` in io_uring backend `b` is in: 1, 2, ... a worker's ring (in the
 * order the workers attached), 0 the shared ring, -1 not watched. For tests. Any thread. */
int edo__io_uring_lane_of(edo__io_backend *b, int fd);
/* How many times the completion queue of one of the workers' rings of io_uring backend `b`
 * overflowed (the kernel kept completions back, brought in as they were reaped): for tests,
 * which must know that a tiny ring did overflow. Any thread. */
uint64_t edo__io_uring_lane_overflows(edo__io_backend *b);
#endif

#endif
