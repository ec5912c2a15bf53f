/* TCP: listeners and connections over the reactor. An edo_tcp and an edo_tcp_listener are the
 * socket's registration itself (edo_io): a connection costs one slab slot and no allocation. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/runtime.h"
#include "coro/coro.h"
#include "net/sock.h"

#define MAX_ADDRS 16 /* addresses tried per host name */

static edo_io *io_of(const edo_tcp *c) { return (edo_io *)c; }

/* Resolves `addr` and tries each address in turn until one attempt succeeds (or is cancelled
 * or timed out); returns that result, or the last failure. */
typedef int (*attempt_fn)(const edo_sockaddr *a, void *ctx);
static int try_each_address(const char *addr, attempt_fn attempt, void *ctx)
{
    edo_sockaddr addrs[MAX_ADDRS];
    int n = edo_resolve(addr, addrs, MAX_ADDRS);
    if (n < 0)
        return n;
    int rc = -EINVAL;
    for (int i = 0; i < n; i++) {
        rc = attempt(&addrs[i], ctx);
        if (rc == 0 || rc == -ECANCELED || rc == -ETIMEDOUT)
            break;
    }
    return rc;
}
static edo_io *listener_io(const edo_tcp_listener *l) { return (edo_io *)l; }

/* ---- listening ----------------------------------------------------------------------------- */

static int listen_on(edo_runtime *rt, const edo_sockaddr *addr,
                     const edo_tcp_listen_options *opt, edo_io **out)
{
    int fd = socket(addr->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1, rc = 0;
    if ((!opt || !opt->no_reuse_addr) &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        rc = -errno;
    if (rc == 0 && opt && opt->reuse_port &&
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        rc = -errno;
    int backlog = opt && opt->backlog > 0 ? opt->backlog : 1024;
    if (rc == 0 && bind(fd, &addr->u.sa, addr->len) < 0)
        rc = -errno;
    if (rc == 0 && listen(fd, backlog) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    /* Registered once listening: epoll reports a socket that is neither connected nor
     * listening as hung up. */
    return edo__sock_adopt(rt, out, fd);
}

typedef struct listen_attempt {
    edo_runtime *rt;
    const edo_tcp_listen_options *options;
    edo_io *io;
} listen_attempt;

static int attempt_listen(const edo_sockaddr *a, void *ctx)
{
    listen_attempt *l = ctx;
    return listen_on(l->rt, a, l->options, &l->io);
}

int edo_tcp_listen(edo_tcp_listener **out, const char *addr,
                   const edo_tcp_listen_options *options)
{
    if (!out || !addr)
        return -EINVAL;
    listen_attempt l = {edo_runtime_current(), options, NULL};
    if (!l.rt)
        return -EPERM;
    int rc = try_each_address(addr, attempt_listen, &l);
    if (rc == 0)
        *out = (edo_tcp_listener *)l.io;
    return rc;
}

typedef struct accept_ctx {
    edo_sockaddr *peer;
    int fd;
} accept_ctx;

static ssize_t do_accept(int fd, void *arg, bool *drained)
{
    (void)drained;
    accept_ctx *a = arg;
    struct sockaddr *sa = a->peer ? &a->peer->u.sa : NULL;
    socklen_t *len = NULL;
    if (a->peer) {
        a->peer->len = sizeof a->peer->u;
        len = &a->peer->len;
    }
    for (;;) {
        int c = accept4(fd, sa, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c >= 0) {
            a->fd = c;
            return 0;
        }
        /* A connection that died in the queue: take the next one. */
        if (errno != EINTR && errno != ECONNABORTED)
            return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    }
}

int edo_tcp_accept(edo_tcp_listener *l, edo_tcp **out, edo_sockaddr *peer)
{
    if (!l || !out)
        return -EINVAL;
    edo_io *lio = listener_io(l);
    accept_ctx a = {peer, -1};
    int rc = (int)edo__sock_op(lio, EDO_READABLE, do_accept, &a);
    if (rc < 0)
        return rc;
    edo_io *io;
    if ((rc = edo__sock_adopt(lio->rt, &io, a.fd)) < 0)
        return rc;
    *out = (edo_tcp *)io;
    return 0;
}

int edo_tcp_listener_addr(const edo_tcp_listener *l, edo_sockaddr *out)
{
    return edo__sock_local_addr(listener_io(l), out);
}

int edo_tcp_listener_close(edo_tcp_listener *l)
{
    if (!l)
        return -EINVAL;
    edo__sock_close(listener_io(l));
    return 0;
}

/* ---- connecting ---------------------------------------------------------------------------- */

int edo_tcp_connect_addr(edo_tcp **out, const edo_sockaddr *addr)
{
    if (!out || !addr)
        return -EINVAL;
    if (!edo__coro_running())
        return -EPERM;
    edo_io *io;
    int rc = edo__sock_connect(&io, SOCK_STREAM, addr);
    if (rc == 0)
        *out = (edo_tcp *)io;
    return rc;
}

static int attempt_connect(const edo_sockaddr *a, void *ctx)
{
    return edo_tcp_connect_addr(ctx, a);
}

int edo_tcp_connect(edo_tcp **out, const char *addr)
{
    if (!out || !addr)
        return -EINVAL;
    if (!edo__coro_running())
        return -EPERM;
    return try_each_address(addr, attempt_connect, out);
}

/* ---- reading and writing --------------------------------------------------------------------- */

/* One recv or send (with the flags given), or with `iov` a recvmsg or sendmsg. */
typedef struct transfer {
    bool send;
    int flags;
    void *buf;
    size_t len;
    const struct iovec *iov;
    int iovcnt;
} transfer;

static ssize_t do_transfer(int fd, void *arg, bool *drained)
{
    transfer *x = arg;
    size_t want = x->len;
    ssize_t n;
    if (x->iov) {
        struct msghdr msg = {.msg_iov = (struct iovec *)x->iov, .msg_iovlen = (size_t)x->iovcnt};
        want = 0;
        for (int i = 0; i < x->iovcnt; i++)
            want += x->iov[i].iov_len;
        do
            n = x->send ? sendmsg(fd, &msg, x->flags) : recvmsg(fd, &msg, x->flags);
        while (n < 0 && errno == EINTR);
    } else {
        do
            n = x->send ? send(fd, x->buf, x->len, x->flags) : recv(fd, x->buf, x->len, x->flags);
        while (n < 0 && errno == EINTR);
    }
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    /* A short transfer drained the receive buffer (or filled the send buffer): wait for the
     * next edge rather than ask again. */
    *drained = (size_t)n < want && !(x->flags & MSG_PEEK);
    return n;
}

static ssize_t transfer_on(edo_tcp *c, transfer *x)
{
    return edo__sock_op(io_of(c), x->send ? EDO_WRITABLE : EDO_READABLE, do_transfer, x);
}

static ssize_t buf_op(edo_tcp *c, bool send, void *buf, size_t len, int flags)
{
    if (!c || (!buf && len))
        return -EINVAL;
    if (len == 0)
        return 0;
    transfer x = {send, flags, buf, len, NULL, 0};
    return transfer_on(c, &x);
}

static ssize_t vec_op(edo_tcp *c, bool send, const struct iovec *iov, int iovcnt)
{
    if (!c || !iov || iovcnt <= 0)
        return -EINVAL;
    transfer x = {send, send ? MSG_NOSIGNAL : 0, NULL, 0, iov, iovcnt};
    return transfer_on(c, &x);
}

ssize_t edo_tcp_read(edo_tcp *c, void *buf, size_t len) { return buf_op(c, false, buf, len, 0); }

ssize_t edo_tcp_peek(edo_tcp *c, void *buf, size_t len)
{
    return buf_op(c, false, buf, len, MSG_PEEK);
}

ssize_t edo_tcp_readv(edo_tcp *c, const struct iovec *iov, int iovcnt)
{
    return vec_op(c, false, iov, iovcnt);
}

ssize_t edo_tcp_write(edo_tcp *c, const void *buf, size_t len)
{
    return buf_op(c, true, (void *)buf, len, MSG_NOSIGNAL);
}

ssize_t edo_tcp_writev(edo_tcp *c, const struct iovec *iov, int iovcnt)
{
    return vec_op(c, true, iov, iovcnt);
}

int edo_tcp_write_all(edo_tcp *c, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = edo_tcp_write(c, p, len);
        if (n < 0)
            return (int)n;
        p += n;
        len -= (size_t)n;
    }
    return c ? 0 : -EINVAL;
}

int edo_tcp_shutdown(edo_tcp *c, int how)
{
    if (!c || (how != SHUT_RD && how != SHUT_WR && how != SHUT_RDWR))
        return -EINVAL;
    return shutdown(io_of(c)->fd, how) < 0 ? -errno : 0;
}

int edo_tcp_close(edo_tcp *c)
{
    if (!c)
        return -EINVAL;
    edo__sock_close(io_of(c));
    return 0;
}

/* ---- options and addresses ------------------------------------------------------------------ */

static int set_int(const edo_tcp *c, int level, int name, int value)
{
    if (!c)
        return -EINVAL;
    return setsockopt(io_of(c)->fd, level, name, &value, sizeof value) < 0 ? -errno : 0;
}

int edo_tcp_set_nodelay(edo_tcp *c, bool on) { return set_int(c, IPPROTO_TCP, TCP_NODELAY, on); }

int edo_tcp_set_keepalive(edo_tcp *c, bool on, int idle_s)
{
    int rc = set_int(c, SOL_SOCKET, SO_KEEPALIVE, on);
    if (rc == 0 && on && idle_s > 0)
        rc = set_int(c, IPPROTO_TCP, TCP_KEEPIDLE, idle_s);
    return rc;
}

int edo_tcp_set_linger(edo_tcp *c, int seconds)
{
    if (!c)
        return -EINVAL;
    struct linger l = {seconds >= 0, seconds >= 0 ? seconds : 0};
    return setsockopt(io_of(c)->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l) < 0 ? -errno : 0;
}

int edo_tcp_local_addr(const edo_tcp *c, edo_sockaddr *out)
{
    return edo__sock_local_addr(io_of(c), out);
}

int edo_tcp_peer_addr(const edo_tcp *c, edo_sockaddr *out)
{
    return edo__sock_peer_addr(io_of(c), out);
}

int edo_tcp_fd(const edo_tcp *c) { return c ? io_of(c)->fd : -EINVAL; }
