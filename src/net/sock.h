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

/* What a writer holds while its send is in a completion ring (edo__sock_send_poll): zeroed
 * before the first poll. */
typedef struct edo__sock_send {
    struct edo__outbox *box; /* NULL: no send in flight */
    uint32_t seq;
} edo__sock_send;

/* An operation waiting on a registration: try `op` while `dir` readiness holds, clear and wait
 * when it would block. */
typedef struct edo__sock_wait {
    edo_io *io;
    uint32_t dir;
    edo__sock_op_fn op;
    void *ctx;
    edo_io_waiter waiter;
    edo__sock_send send;
} edo__sock_wait;

/* Polls the operation: EDO_READY with op's result (with no op, a readiness wait: the ready
 * bits), or the wait's error (-EBADF), in *result; or EDO_PENDING with cx's waker registered (or
 * the cooperative budget spent). Never suspends. */
edo_poll edo__sock_poll(edo__sock_wait *w, edo_context *cx, ssize_t *result);
/* edo__sock_poll with its parts apart: the waiter lives where the caller keeps it (a stream's
 * waiter), the operation's context may be rebuilt at each poll. */
edo_poll edo__sock_poll_op(edo_io *io, uint32_t dir, edo__sock_op_fn op, void *ctx,
                           edo_io_waiter *waiter, edo_context *cx, ssize_t *result);
/* edo__sock_poll_op for a write that may go through the completion ring (`send`: the
 * writer's, see edo__sock_send_poll). */
edo_poll edo__sock_poll_send_op(edo_io *io, edo__sock_op_fn op, void *ctx, edo_io_waiter *waiter,
                                edo__sock_send *send, edo_context *cx, ssize_t *result);
/* Leaves the registration's wait list, and lets go of a send in flight (cancelling it). */
void edo__sock_wait_drop(edo__sock_wait *w);

/* Sends by completion (net/send_ring.c). A write of a stream socket received by completion
 * (io->recv_mode) on a worker of its runtime whose completion ring has IORING_OP_SEND and
 * IORING_OP_ASYNC_CANCEL: a plain stream transfer (no address, flags or no_wait) is copied
 * into the registration's outbox (io/uring/outbox.h, at most EDO__OUTBOX_MAX bytes: more is a
 * short write) and sent by the ring, entered once per worker turn for all its tasks' SQEs.
 * The writer waits for the CQE; its count is the write's result (short only at an error or a
 * cancellation). One send at a time per socket: another writer waits for the outbox.
 * Every other write of such a socket (another thread, a try, a splice) takes the direct path,
 * but only while no send is in the kernel (it waits for the outbox), so bytes never overtake.
 *
 * Polls the write `op`/`ctx` of `io` (io->recv_mode set) for the writer holding `s` (NULL: a
 * write that cannot go by the ring). Returns true when it decided the poll (*p, and *result
 * when ready), false when the caller takes the direct path now. Never suspends. */
bool edo__sock_send_poll(edo_io *io, edo__sock_op_fn op, void *ctx, edo__sock_send *s,
                         edo_context *cx, ssize_t *result, edo_poll *p);
/* Before a write of `io` (io->recv_mode set) that does not wait (a try of the transfer `x`):
 * 0 to go on; -EAGAIN while a send is in the ring or held by its writer (bytes must not
 * overtake it); or the count of x's first bytes that an abandoned send let out already
 * (io/uring/outbox.h, stray bytes), the try's result without sending them. */
ssize_t edo__sock_send_try(edo_io *io, const struct edo__transfer *x);
/* The writer holding `s` stops waiting (a dropped future or waiter): its send, if still in
 * flight, is cancelled; its bytes are the outbox's, so the writer's buffer is free at once. */
void edo__sock_send_drop(edo__sock_send *s);
/* A coroutine write whose wait failed with `err` (-ECANCELED, -ETIMEDOUT) while its send is
 * in flight: cancels it, waits (shielded) for the CQE, and returns the count that went out
 * when any did (the write's short result), else `err`. */
ssize_t edo__sock_send_interrupted(edo__sock_send *s, ssize_t err);

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
