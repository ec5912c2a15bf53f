/* The socket operation loop, transfers, addresses and options (see sock.h). */
#include "net/sock.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "coro/coro.h"
#include "io/readiness.h"

/* The operation drained the kernel buffer (filled it, for a write): forget this direction's
 * readiness but keep the closed bits, whose edge will not come again. A later edge bumps the
 * tick, so none is lost. (When an operation would block, all it saw is stale: clear ev whole.) */
static inline void forget_drained(edo_io *io, uint32_t dir, edo_io_event ev)
{
    ev.ready &= dir;
    edo__io_clear_ready(io, ev);
}

/* A readiness wait found only the registration's assumed first readiness (io/readiness.h): asks
 * the kernel (poll(2), no wait) and forgets the assumed directions it does not confirm, so that
 * a wait for them waits for their event (epoll reports an fd's state when it is registered, so
 * none is missed). Returns whether a bit the wait reports is left. Once per registration: the
 * first event ends the assumption. */
static bool confirm_assumed(edo_io *io, edo_io_event *ev)
{
    struct pollfd p = {.fd = io->fd, .events = POLLIN | POLLOUT};
    int n;
    do
        n = poll(&p, 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return true; /* cannot tell: let the operation that follows find out */
    uint32_t real = 0;
    if (p.revents & (POLLIN | POLLHUP | POLLERR))
        real |= EDO_READABLE;
    if (p.revents & (POLLOUT | POLLHUP | POLLERR))
        real |= EDO_WRITABLE;
    uint32_t stale = ev->ready & (EDO_READABLE | EDO_WRITABLE) & ~real;
    if (stale) {
        edo_io_event forget = *ev;
        forget.ready = stale;
        edo__io_clear_ready(io, forget);
        ev->ready &= ~stale;
    }
    return ev->ready != 0;
}

/* A stream read of a socket whose bytes the backend receives by completion: taken from its
 * inbox (io/driver.h), which the fd is never read around, so no byte is reordered or lost. */
static ssize_t inbox_transfer(edo_io *io, const edo__transfer *x, bool *drained)
{
    struct iovec one = {x->buf, x->len};
    if (x->addr)
        x->addr->len = 0; /* a connected stream: no sender's address */
    return edo__io_inbox_read(io, x->iov ? x->iov : &one, x->iov ? x->iovcnt : 1,
                              x->flags & MSG_PEEK, drained);
}

/* Runs `op` once: a stream read of a socket received by completion goes to its inbox. */
static inline __attribute__((always_inline)) ssize_t run_op(edo_io *io, uint32_t dir,
                                                            edo__sock_op_fn op, void *ctx,
                                                            bool *drained)
{
    if (io->recv_mode && dir == EDO_READABLE && op == edo__sock_do_transfer)
        return inbox_transfer(io, ctx, drained);
    return op(io->fd, ctx, drained);
}

/* The loop of edo__sock_poll, with the waiter anywhere (inlined into both entries). */
static inline __attribute__((always_inline)) edo_poll
poll_op(edo_io *io, uint32_t dir, edo__sock_op_fn op, void *ctx, edo_io_waiter *waiter,
        bool by_ring, edo_context *cx, ssize_t *result)
{
    edo_poll sent;
    if (__builtin_expect(dir == EDO_WRITABLE && io->recv_mode, 0) &&
        edo__sock_send_poll(io, op, ctx, by_ring, cx, result, &sent))
        return sent; /* by the completion ring, or waiting for its send to leave the kernel */
    for (;;) {
        edo_io_event ev;
        int rc;
        if (edo__io_poll_ready(io, dir, waiter, cx, &ev, &rc) == EDO_PENDING)
            return EDO_PENDING;
        if (rc < 0) {
            *result = rc;
            return EDO_READY;
        }
        if (!edo_coop_proceed(cx))
            return EDO_PENDING; /* budget spent: it queued us again, behind the others */
        if (__builtin_expect(!op, 0)) { /* a readiness wait */
            if (edo__io_event_is_assumed(ev) && !confirm_assumed(io, &ev))
                continue; /* nothing real yet: wait for the event */
            *result = ev.ready;
            return EDO_READY;
        }
        bool drained = false;
        ssize_t n = run_op(io, dir, op, ctx, &drained);
        if (n != -EAGAIN) {
            if (drained)
                forget_drained(io, dir, ev);
            *result = n;
            return EDO_READY;
        }
        edo__io_clear_ready(io, ev); /* would block: whatever was seen is stale */
    }
}

edo_poll edo__sock_poll(edo__sock_wait *w, edo_context *cx, ssize_t *result)
{
    return poll_op(w->io, w->dir, w->op, w->ctx, &w->waiter, true, cx, result);
}

edo_poll edo__sock_poll_op(edo_io *io, uint32_t dir, edo__sock_op_fn op, void *ctx,
                           edo_io_waiter *waiter, edo_context *cx, ssize_t *result)
{
    return poll_op(io, dir, op, ctx, waiter, false, cx, result);
}

edo_poll edo__sock_poll_send_op(edo_io *io, edo__sock_op_fn op, void *ctx, edo_io_waiter *waiter,
                                edo_context *cx, ssize_t *result)
{
    return poll_op(io, EDO_WRITABLE, op, ctx, waiter, true, cx, result);
}

ssize_t edo__sock_try(edo_io *io, uint32_t dir, edo__sock_op_fn op, void *ctx)
{
    edo_io_event ev;
    int rc = edo_io_try_ready(io, dir, &ev);
    if (rc <= 0)
        return rc == 0 ? -EAGAIN : rc; /* not ready: no system call */
    if (dir == EDO_WRITABLE && io->recv_mode && op == edo__sock_do_transfer) {
        ssize_t k = edo__sock_send_try(io); /* a send of the ring's comes first */
        if (k != 0)
            return k;
    }
    bool drained = false;
    ssize_t n = run_op(io, dir, op, ctx, &drained);
    if (n == -EAGAIN)
        edo__io_clear_ready(io, ev);
    else if (drained)
        forget_drained(io, dir, ev);
    return n;
}

int edo__sock_ready(edo_io *io, uint32_t interest)
{
    if (!io || !edo__interest_valid(interest))
        return -EINVAL;
    return (int)edo__sock_op(io, interest, NULL, NULL);
}

void edo__sock_wait_drop(edo__sock_wait *w)
{
    if (edo__io_waiter_linked(&w->waiter)) /* usually not: a wake or a ready poll unlinked it */
        edo_io_waiter_drop(w->io, &w->waiter);
}

/* The coroutine form: the wait as a future on this frame, awaited. */
typedef struct op_future {
    edo_future base;
    edo__sock_wait wait;
    ssize_t result;
} op_future;

static edo_poll op_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    op_future *f = (op_future *)self;
    return edo__sock_poll(&f->wait, cx, &f->result);
}

static const edo_future_vtable op_vtable = {op_poll, NULL};

/* edo__sock_op, inlined into the transfers (the hot path of every read and write). Not
 * edo__coro_run: the first poll here is a direct call (no vtable), and the drop an inline check
 * of the waiter; only a wait that must suspend goes out of line (edo__await_pending). */
static inline __attribute__((always_inline)) ssize_t sock_op(edo_io *io, uint32_t dir,
                                                             edo__sock_op_fn op, void *ctx)
{
    edo__coro *co = edo__coro_running();
    if (!co)
        return -EPERM;
    op_future f = {{&op_vtable}, {io, dir, op, ctx, {0}}, 0};
    /* Polled here first, as edo_await would: an operation that can proceed at once (most do)
     * then costs no await. */
    int rc = co->cancelled ? -ECANCELED : 0;
    if (rc == 0 && edo__sock_poll(&f.wait, co->cx, &f.result) == EDO_PENDING)
        rc = edo__await_pending(&f.base, NULL);
    edo__sock_wait_drop(&f.wait);
    return rc < 0 ? rc : f.result;
}

ssize_t edo__sock_op(edo_io *io, uint32_t dir, edo__sock_op_fn op, void *ctx)
{
    return sock_op(io, dir, op, ctx);
}

int edo__sock_local_addr(const edo_io *io, edo_sockaddr *out)
{
    if (!io || !out)
        return -EINVAL;
    out->len = sizeof out->u;
    return getsockname(io->fd, &out->u.sa, &out->len) < 0 ? -errno : 0;
}

int edo__sock_peer_addr(const edo_io *io, edo_sockaddr *out)
{
    if (!io || !out)
        return -EINVAL;
    out->len = sizeof out->u;
    return getpeername(io->fd, &out->u.sa, &out->len) < 0 ? -errno : 0;
}

/* ---- transfers ----------------------------------------------------------------------------- */

/* One buffer, no address: the common stream read and write, with nothing to set up. */
static ssize_t plain_transfer(int fd, edo__transfer *x, bool *drained)
{
    ssize_t n;
    do {
        n = x->send ? sendto(fd, x->buf, x->len, x->flags | MSG_NOSIGNAL, NULL, 0)
                    : recvfrom(fd, x->buf, x->len, x->flags, NULL, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    *drained = !x->datagram && (size_t)n < x->len && !(x->flags & MSG_PEEK);
    return n;
}

ssize_t edo__sock_do_transfer(int fd, void *arg, bool *drained)
{
    edo__transfer *x = arg;
    if (!x->iov && !x->addr)
        return plain_transfer(fd, x, drained);
    struct sockaddr *sa = x->addr ? &x->addr->u.sa : NULL;
    struct iovec one = {x->buf, x->len};
    struct msghdr msg = {.msg_iov = x->iov ? (struct iovec *)x->iov : &one,
                         .msg_iovlen = x->iov ? (size_t)x->iovcnt : 1};
    size_t want = 0;
    for (size_t i = 0; i < msg.msg_iovlen; i++)
        want += msg.msg_iov[i].iov_len;
    if (sa) {
        msg.msg_name = sa;
        msg.msg_namelen = x->send ? x->addr->len : (socklen_t)sizeof x->addr->u;
    }
    ssize_t n;
    do {
        if (x->iov) /* scatter/gather */
            n = x->send ? sendmsg(fd, &msg, x->flags | MSG_NOSIGNAL) : recvmsg(fd, &msg, x->flags);
        else if (x->send) /* one buffer: the plain calls, cheaper in the kernel */
            n = sendto(fd, x->buf, x->len, x->flags | MSG_NOSIGNAL, sa, sa ? x->addr->len : 0);
        else
            n = recvfrom(fd, x->buf, x->len, x->flags, sa, sa ? &msg.msg_namelen : NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    if (sa && !x->send)
        x->addr->len = msg.msg_namelen;
    /* A stream's short transfer drained the receive buffer (or filled the send buffer): wait
     * for the next edge rather than ask again. */
    *drained = !x->datagram && (size_t)n < want && !(x->flags & MSG_PEEK);
    return n;
}

ssize_t edo__sock_transfer(edo_io *io, edo__transfer *x)
{
    /* The public entry of every transfer: one check here, none in the loop. */
    if (!io || (x->iov ? x->iovcnt <= 0 || x->iovcnt > IOV_MAX
                       : (!x->buf && x->len) || x->len > SSIZE_MAX))
        return -EINVAL;
    if (edo__transfer_is_empty(x))
        return 0;
    uint32_t dir = x->send ? EDO_WRITABLE : EDO_READABLE;
    if (__builtin_expect(x->no_wait, 0))
        return edo__sock_try(io, dir, edo__sock_do_transfer, x);
    return sock_op(io, dir, edo__sock_do_transfer, x);
}

int edo__sock_send_all(edo_io *io, const void *buf, size_t len)
{
    if (!io || (!buf && len) || len > SSIZE_MAX)
        return -EINVAL;
    const char *p = buf;
    while (len > 0) {
        edo__transfer x = {.send = true, .buf = (void *)p, .len = len};
        ssize_t n = edo__sock_transfer(io, &x);
        if (n < 0)
            return (int)n;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* ---- options ------------------------------------------------------------------------------- */

int edo__sock_shutdown(edo_io *io, int how)
{
    if (!io || (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR))
        return -EINVAL;
    if (edo__sock_shutdown_later(io, how))
        return 0; /* after the bytes written behind */
    return shutdown(io->fd, how) < 0 ? -errno : 0;
}

int edo__sock_set_int(const edo_io *io, int level, int name, int value)
{
    if (!io)
        return -EINVAL;
    return setsockopt(io->fd, level, name, &value, sizeof value) < 0 ? -errno : 0;
}

/* ---- addresses ----------------------------------------------------------------------------- */

int edo__sockaddr_check(const edo_sockaddr *a, unsigned families)
{
    if (!a || a->len > sizeof a->u)
        return -EINVAL;
    switch (a->u.sa.sa_family) {
    case AF_INET:
        return families & EDO__FAMILY_INET && a->len >= sizeof a->u.in ? 0 : -EINVAL;
    case AF_INET6:
        return families & EDO__FAMILY_INET && a->len >= sizeof a->u.in6 ? 0 : -EINVAL;
    case AF_UNIX:
        return families & EDO__FAMILY_UNIX && a->len >= offsetof(struct sockaddr_un, sun_path)
                   ? 0
                   : -EINVAL;
    default:
        return -EINVAL;
    }
}
