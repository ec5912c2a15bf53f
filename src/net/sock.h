/* What edo's socket types share: the operation loop over a registration (try, and when it would
 * block, clear the readiness and wait), transfers, options and addresses. The bottom of the
 * networking layer: it calls only the I/O driver and the coroutines below it. Where sockets
 * come from (making, connecting, accepting, closing) is net/open.h, above it. */
#ifndef EDO_NET_SOCK_H
#define EDO_NET_SOCK_H

#include <errno.h>
#include <stdbool.h>
#include <sys/types.h>

#include "edo/io.h"
#include "edo/net.h"
#include "io/driver.h"

/* One attempt at an operation on `fd`: returns a result >= 0, or -errno (-EAGAIN: would
 * block). Sets *drained when the result shows the kernel's buffer is now empty (a short read)
 * or full (a short write), so no new edge is missed by waiting at once. */
typedef ssize_t (*edo__sock_op_fn)(int fd, void *ctx, bool *drained);

struct edo__transfer;

/* An operation waiting on a registration: try `op` while `dir` readiness holds, clear and wait
 * when it would block. */
typedef struct edo__sock_wait {
    edo_io *io;
    uint32_t dir;
    edo__sock_op_fn op;
    void *ctx;
    edo_io_waiter waiter;
} edo__sock_wait;

/* Polls the operation: EDO_READY with op's result (with no op, a readiness wait: the ready
 * bits), or the wait's error (-EBADF), in *result; or EDO_PENDING with cx's waker registered (or
 * the cooperative budget spent). Never suspends. */
edo_poll edo__sock_poll(edo__sock_wait *w, edo_context *cx, ssize_t *result);
/* edo__sock_poll with its parts apart: the waiter lives where the caller keeps it (a stream's
 * waiter), the operation's context may be rebuilt at each poll. */
edo_poll edo__sock_poll_op(edo_io *io, uint32_t dir, edo__sock_op_fn op, void *ctx,
                           edo_io_waiter *waiter, edo_context *cx, ssize_t *result);
/* edo__sock_poll_op for a write that may go through the completion ring (edo__sock_send_poll). */
edo_poll edo__sock_poll_send_op(edo_io *io, edo__sock_op_fn op, void *ctx, edo_io_waiter *waiter,
                                edo_context *cx, ssize_t *result);
/* Leaves the registration's wait list. */
void edo__sock_wait_drop(edo__sock_wait *w);

/* Sends by completion (net/send_ring.c). A write of a stream socket received by completion
 * (io->recv_mode) on a worker of its runtime whose completion ring has IORING_OP_SEND: a plain
 * stream transfer (no address, flags or no_wait) is copied into the registration's outbox
 * (io/uring/outbox.h, at most EDO__OUTBOX_MAX bytes: more is a short write) and sent by the
 * ring, entered once per worker turn for all its tasks' SQEs. Written behind: the write's
 * result is the count handed over, at once; a failure of the send is reported by the next
 * write, flush or shutdown. One send at a time per socket: another writer waits for the
 * outbox. Every other write of such a socket (another thread, a try, a splice) takes the
 * direct path, but only while no send is in the kernel (it waits for the outbox), so bytes
 * never overtake.
 *
 * Polls the write `op`/`ctx` of `io` (io->recv_mode set); `by_ring`: it may go through the
 * ring (a wait that can be polled again), else only the direct path's wait. Returns true when
 * it decided the poll (*p, and *result when ready), false when the caller takes the direct
 * path now. Never suspends. */
bool edo__sock_send_poll(edo_io *io, edo__sock_op_fn op, void *ctx, bool by_ring,
                         edo_context *cx, ssize_t *result, edo_poll *p);
/* Before a write of `io` (io->recv_mode set) that does not wait (a try): 0 to go on; -EAGAIN
 * while a send is in the ring (bytes must not overtake it); or the failure of the last send,
 * reported now. */
ssize_t edo__sock_send_try(edo_io *io);
/* Whether the sends `io` wrote behind have gone: EDO_READY with 0 or the failure of the last
 * one (reported now) in *result, or EDO_PENDING with cx's waker left for the send in flight.
 * EDO_READY with 0 at once for a socket with none (epoll, readiness). Never suspends. */
edo_poll edo__sock_poll_sent(edo_io *io, edo_context *cx, int *result);
/* A shutdown(2) of `io` with `how` that writes (SHUT_WR, SHUT_RDWR) while a send written
 * behind is in flight: done at its CQE, after its bytes, and true; false: shut down now. */
bool edo__sock_shutdown_later(edo_io *io, int how);

/* Runs `op` in the calling coroutine until it does not return -EAGAIN, waiting for `dir`
 * (EDO_READABLE or EDO_WRITABLE) in between; every completed operation takes a unit of the
 * cooperative budget. Returns op's result, or -EPERM (not in a coroutine), -ECANCELED,
 * -ETIMEDOUT, -EBADF (deregistered meanwhile). */
ssize_t edo__sock_op(edo_io *io, uint32_t dir, edo__sock_op_fn op, void *ctx);

/* One try of `op` without waiting: -EAGAIN at once when `dir` readiness is not there (no system
 * call), else op's result, the readiness cleared as a wait would. Returns -EBADF when `io` was
 * deregistered. Never suspends. */
ssize_t edo__sock_try(edo_io *io, uint32_t dir, edo__sock_op_fn op, void *ctx);
/* Waits (in the calling coroutine) until `io` is ready for `interest`; returns the ready bits,
 * or -EINVAL (no or unknown direction), and the errors of edo__sock_op. Takes a unit of the
 * cooperative budget, so a loop of waits and tries on a busy socket still yields. */
int edo__sock_ready(edo_io *io, uint32_t interest);

/* One transfer: recv/send on `buf`, or recvmsg/sendmsg on `iov`, with `addr` the peer to send
 * to or where to store the sender (may be NULL). A stream's short transfer means its kernel
 * buffer is drained (or full); a datagram says nothing of the next one. */
typedef struct edo__transfer {
    bool send, datagram;
    bool no_wait; /* one try (edo__sock_try), -EAGAIN instead of waiting */
    int flags; /* MSG_NOSIGNAL is added for sends */
    void *buf;
    size_t len;
    const struct iovec *iov;
    int iovcnt;
    edo_sockaddr *addr;
} edo__transfer;

/* Whether a stream transfer moves nothing (then it completes at once with 0, waiting for nothing;
 * an empty datagram is still a datagram). */
static inline bool edo__transfer_is_empty(const edo__transfer *x)
{
    return !x->iov && x->len == 0 && !x->datagram;
}

/* Whether `interest` names a direction and nothing else (for readiness waits). */
static inline bool edo__interest_valid(uint32_t interest)
{
    const uint32_t both = EDO_READABLE | EDO_WRITABLE;
    return (interest & both) && !(interest & ~both);
}

/* The operation of a transfer, for edo__sock_wait (ctx: edo__transfer). */
ssize_t edo__sock_do_transfer(int fd, void *ctx, bool *drained);
/* Runs one transfer in the calling coroutine (waiting as edo__sock_op does; or, with no_wait,
 * tried once as edo__sock_try does, in any thread). Returns the bytes moved or -errno; -EINVAL
 * for a NULL io or buffer (0 for an empty one). */
ssize_t edo__sock_transfer(edo_io *io, edo__transfer *x);
/* Sends all of buf on a stream: 0 or the first error. */
int edo__sock_send_all(edo_io *io, const void *buf, size_t len);
/* shutdown(2) with its `how` checked. */
int edo__sock_shutdown(edo_io *io, int how);
/* setsockopt of an int. */
int edo__sock_set_int(const edo_io *io, int level, int name, int value);
/* The families of addresses a call accepts. */
enum { EDO__FAMILY_INET = 1, EDO__FAMILY_UNIX = 2 };
/* 0 when `a` is an address of one of `families` (EDO__FAMILY_INET: IPv4 or IPv6) whose length
 * covers its family's fields and fits edo_sockaddr; -EINVAL otherwise (NULL included). */
int edo__sockaddr_check(const edo_sockaddr *a, unsigned families);
/* getsockname and getpeername into an edo_sockaddr. */
int edo__sock_local_addr(const edo_io *io, edo_sockaddr *out);
int edo__sock_peer_addr(const edo_io *io, edo_sockaddr *out);

#endif
