/* A registration's inbox: the bytes a backend received for a stream socket by completion
 * (io_uring's multishot receive), kept until the socket's reader takes them; or, for a
 * listening socket, the connections the backend accepted by completion (io_uring's multishot
 * accept), each an fd (an int's bytes), kept until an accept takes them (an accept queue).
 *
 * Why the bytes are copied here rather than handed to the reader in the kernel's buffer: the
 * reaper (the worker that owns the ring) copies each completion's bytes in and gives the
 * provided buffer back to its ring at once, so buffers never cross threads, a slow reader never
 * holds the buffers the ring's other sockets need, and a read that is cancelled or times out
 * loses nothing (its bytes are already here, for the next read).
 *
 * Two sides, under the inbox's spinlock:
 *   - the producer, the ring's owner: edo__inbox_put for each completion's bytes,
 *     edo__inbox_ended when the multishot receive ends, edo__inbox_service when the reader asks
 *     for the receive to be armed again;
 *   - the consumer, the socket's reader (any thread): edo__inbox_take.
 * The end of the stream (end of file, or an error) is recorded once, after the bytes before it,
 * and read after them.
 *
 * Backpressure: past EDO__INBOX_CAP bytes the producer is told to stop the receive (cancel it
 * and not arm it again), so the socket's kernel buffer fills and TCP's flow control pushes back
 * on the sender; once the reader has taken the inbox down to half of it, the reader is told to
 * ask the producer to arm the receive again. Completions already on their way when the receive
 * stops are still taken in: the inbox may pass the cap by what was in flight.
 *
 * An accept queue differs in three ways (edo__inbox_reset_accepts): its cap counts fds
 * (EDO__INBOX_ACCEPT_CAP, so that past it the kernel's listen queue, and its backlog, push back
 * on the clients as they do without it); it starts stopped, so that nothing is accepted before
 * the first accept asks (a listener nobody accepts on keeps its connections in the kernel's
 * queue, as without it); and its errors (-EMFILE ...) do not end it: each is reported once, to
 * one accept, as accept(2) would, and the accept is armed again only when asked after it.
 *
 * The inbox of a slot lives as long as the driver (a registration's slot is reused, and its
 * inbox with it), so a reader that races with a close finds an empty inbox, never freed memory;
 * its bytes are freed with the registration (edo__inbox_clear). */
#ifndef EDO_IO_INBOX_H
#define EDO_IO_INBOX_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "platform/spinlock.h"

/* Bytes an inbox takes in before the receive is stopped (a knob for tests:
 * edo__inbox_set_cap). */
#define EDO__INBOX_CAP ((size_t)64 * 1024)
/* Connections an accept queue takes in before the accept is stopped (a knob for tests:
 * edo__inbox_set_accept_cap). */
#define EDO__INBOX_ACCEPT_CAP 64u

typedef enum edo__inbox_state {
    EDO__INBOX_RECEIVING, /* a receive is armed (or about to be) */
    EDO__INBOX_STOPPING,  /* past the cap: its cancellation is on its way */
    EDO__INBOX_STOPPED,   /* no receive armed: arm again once the reader drains it */
    EDO__INBOX_DONE,      /* end of file or an error recorded: no receive any more */
} edo__inbox_state;

typedef struct edo__inbox {
    edo__spinlock lock;
    uint8_t state;   /* edo__inbox_state */
    bool asked;      /* the reader asked for the receive to be armed again, not served yet */
    bool accepts;    /* an accept queue: fds, not bytes */
    int end;         /* after the bytes: 0 none, 1 end of file, or -errno */
    char *data;      /* a circular buffer of `size` bytes, `len` of them from `head` */
    size_t size, head, len;
    size_t cap;      /* the bytes taken in before the receive is stopped */
    /* The other direction: the send through a completion ring of this registration
     * (io/uring/outbox.h), made at its first such send, closed at its deregistration
     * (edo__io_outbox); NULL until then. */
    struct edo__outbox *_Atomic outbox;
} edo__inbox;

/* What the producer must do after a completion. */
typedef enum edo__inbox_action {
    EDO__INBOX_NOTHING,
    EDO__INBOX_ARM,    /* arm the receive again */
    EDO__INBOX_CANCEL, /* cancel the armed receive: the cap is reached */
    EDO__INBOX_DROPPED, /* the same, and the bytes could not be kept (out of memory, recorded as
                           the end): an accepted fd put is its producer's to close */
} edo__inbox_action;

/* A new inbox (NULL: out of memory). */
edo__inbox *edo__inbox_new(void);
void edo__inbox_free(edo__inbox *in);
/* Prepares `in` for a new registration: empty, receiving, no end. */
void edo__inbox_reset(edo__inbox *in);
/* Prepares `in` for a new listener's registration, as an accept queue: empty, stopped (the
 * first edo__inbox_take asks for the accept to be armed), no error. */
void edo__inbox_reset_accepts(edo__inbox *in);
/* Prepares `in` for a stream socket that is still connecting: as edo__inbox_reset, but
 * stopped, so that the backend arms no receive (it would take the connect's error, SO_ERROR,
 * from its outcome) until asked: edo__inbox_ask once connected, or the first read. */
void edo__inbox_reset_stopped(edo__inbox *in);
/* Whether `in` is in `state` now: EDO__INBOX_STOPPED (its receive not armed, nor to be armed
 * until asked), EDO__INBOX_RECEIVING (armed, not being stopped, no end recorded), ... */
bool edo__inbox_is(edo__inbox *in, edo__inbox_state state);
/* Producer: the receive could not be armed again (the kernel takes no SQE now): `in` stops
 * (a receiving inbox only), so that its reader's next take asks for it (edo__inbox_service
 * then arms it). */
void edo__inbox_stop(edo__inbox *in);
/* Consumer: asks for the receive of a stopped inbox to be armed (as a read would): true when
 * the caller must tell the producer (recv_ask), once; false when it is not stopped or was asked
 * already. */
bool edo__inbox_ask(edo__inbox *in);
/* Frees the bytes of a registration that ends; a reader that still races with it finds the
 * end of file. */
void edo__inbox_clear(edo__inbox *in);

/* Producer: appends `n` bytes (n > 0). EDO__INBOX_CANCEL when the receive must stop now. */
edo__inbox_action edo__inbox_put(edo__inbox *in, const void *bytes, size_t n);
/* Producer: the receive ended with `res` (0: end of file; -errno; or a count, its bytes put
 * already: it ended for want of buffers or room in the completion queue, or was cancelled).
 * Records the end of the stream where `res` is one (an accept queue: an fd, put already, or
 * -errno; an error other than a cancellation or an aborted connection is recorded to be
 * reported once, and the queue stops until asked); EDO__INBOX_ARM when it must be armed
 * again now. Sets *closed when the stream's end was recorded (the reader must hear of it). */
edo__inbox_action edo__inbox_ended(edo__inbox *in, int32_t res, bool *closed);
/* Producer: the reader's request (edo__inbox_take's *ask) arrived. EDO__INBOX_ARM when the
 * receive must be armed again now. */
edo__inbox_action edo__inbox_service(edo__inbox *in);

/* Consumer: copies up to the iovecs' size into them, consuming it unless `peek`. Returns the
 * bytes copied; 0 at end of file; the error recorded (once: later reads see end of file);
 * -EAGAIN when empty and more may come (an accept queue: the error recorded once, then -EAGAIN;
 * never 0). *drained: the inbox is empty and no end is recorded
 * (a wait for the next completion follows). *ask: the receive is stopped and the inbox is low
 * enough: the caller must ask the producer to arm it again (edo__inbox_service), once. */
ssize_t edo__inbox_take(edo__inbox *in, const struct iovec *iov, int iovcnt, bool peek,
                        bool *drained, bool *ask);

/* The cap of the inboxes reset from now on (0: EDO__INBOX_CAP): for tests that must fill one
 * with little. Thread-safe. */
void edo__inbox_set_cap(size_t cap);
/* The cap of the accept queues reset from now on, in connections (0: EDO__INBOX_ACCEPT_CAP):
 * for tests that must fill one with few. Thread-safe. */
void edo__inbox_set_accept_cap(unsigned fds);

#endif
