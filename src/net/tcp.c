/* TCP: listeners and connections over the reactor. An edo_tcp and an edo_tcp_listener are the
 * socket's registration itself (edo_io): a connection costs one slab slot and no allocation. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "coro/coro.h"
#include "net/open.h"
#include "net/stream.h"

#define MAX_ADDRS 16 /* addresses tried per host name */

static edo_io *io_of(const edo_tcp *c) { return (edo_io *)c; }
static edo_io *listener_io(const edo_tcp_listener *l) { return (edo_io *)l; }

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

/* ---- listening ----------------------------------------------------------------------------- */

typedef struct listen_attempt {
    edo_runtime *rt;
    const edo_tcp_listen_options *options;
    edo_io *io;
} listen_attempt;

static int attempt_listen(const edo_sockaddr *a, void *ctx)
{
    listen_attempt *l = ctx;
    const edo_tcp_listen_options *o = l->options;
    return edo__sock_listen(l->rt, a, o ? o->backlog : 0, !o || !o->no_reuse_addr,
                            o && o->reuse_port, &l->io);
}

int edo_tcp_listen(const char *addr, const edo_tcp_listen_options *options,
                   edo_tcp_listener **out)
{
    if (!out || !addr || (options && options->backlog < 0))
        return -EINVAL;
    listen_attempt l = {edo_runtime_current(), options, NULL};
    if (!l.rt)
        return -EPERM;
    int rc = try_each_address(addr, attempt_listen, &l);
    if (rc == 0)
        *out = (edo_tcp_listener *)l.io;
    return rc;
}

int edo_tcp_accept(edo_tcp_listener *l, edo_tcp **out, edo_sockaddr *peer)
{
    return edo__sock_accept(listener_io(l), (edo_io **)out, peer);
}

int edo_tcp_listener_local_addr(const edo_tcp_listener *l, edo_sockaddr *out)
{
    return edo__sock_local_addr(listener_io(l), out);
}

int edo_tcp_listener_from_fd(int fd, edo_tcp_listener **out)
{
    return edo__sock_from_fd((edo_io **)out, fd, SOCK_STREAM, EDO__FAMILY_INET,
                             EDO__SOCK_LISTENING);
}

int edo_tcp_from_fd(int fd, edo_tcp **out)
{
    return edo__sock_from_fd((edo_io **)out, fd, SOCK_STREAM, EDO__FAMILY_INET,
                             EDO__SOCK_CONNECTED);
}

int edo_tcp_listener_fd(const edo_tcp_listener *l) { return edo_io_fd(listener_io(l)); }

int edo_tcp_listener_close(edo_tcp_listener *l)
{
    return edo__sock_close_listener(listener_io(l));
}

/* ---- connecting ---------------------------------------------------------------------------- */

int edo_tcp_connect_with(const edo_sockaddr *addr, const edo_tcp_connect_options *options,
                         edo_tcp **out)
{
    if (!out || !addr)
        return -EINVAL;
    int rc = edo__connect_options_check(addr, options);
    if (rc < 0)
        return rc;
    if (!edo__coro_running())
        return -EPERM;
    edo_io *io;
    rc = edo__sock_connect(&io, SOCK_STREAM, addr, options);
    if (rc == 0)
        *out = (edo_tcp *)io;
    return rc;
}

int edo_tcp_connect_addr(const edo_sockaddr *addr, edo_tcp **out)
{
    return edo_tcp_connect_with(addr, NULL, out);
}

static int attempt_connect(const edo_sockaddr *a, void *ctx)
{
    return edo_tcp_connect_addr(a, ctx);
}

int edo_tcp_connect(const char *addr, edo_tcp **out)
{
    if (!out || !addr)
        return -EINVAL;
    if (!edo__coro_running())
        return -EPERM;
    return try_each_address(addr, attempt_connect, out);
}

/* ---- reading and writing: the stream (net/stream.h), shared with Unix streams ---- */

ssize_t edo_tcp_read(edo_tcp *c, void *buf, size_t len)
{
    return edo__stream_read(io_of(c), buf, len);
}

ssize_t edo_tcp_peek(edo_tcp *c, void *buf, size_t len)
{
    return edo__stream_peek(io_of(c), buf, len);
}

ssize_t edo_tcp_readv(edo_tcp *c, const struct iovec *iov, int iovcnt)
{
    return edo__stream_readv(io_of(c), iov, iovcnt);
}

ssize_t edo_tcp_write(edo_tcp *c, const void *buf, size_t len)
{
    return edo__stream_write(io_of(c), buf, len);
}

ssize_t edo_tcp_writev(edo_tcp *c, const struct iovec *iov, int iovcnt)
{
    return edo__stream_writev(io_of(c), iov, iovcnt);
}

int edo_tcp_write_all(edo_tcp *c, const void *buf, size_t len)
{
    return edo__stream_write_all(io_of(c), buf, len);
}

int edo_tcp_ready(edo_tcp *c, uint32_t interest) { return edo__stream_ready(io_of(c), interest); }

ssize_t edo_tcp_try_read(edo_tcp *c, void *buf, size_t len)
{
    return edo__stream_try_read(io_of(c), buf, len);
}

ssize_t edo_tcp_try_write(edo_tcp *c, const void *buf, size_t len)
{
    return edo__stream_try_write(io_of(c), buf, len);
}

ssize_t edo_tcp_try_readv(edo_tcp *c, const struct iovec *iov, int iovcnt)
{
    return edo__stream_try_readv(io_of(c), iov, iovcnt);
}

ssize_t edo_tcp_try_writev(edo_tcp *c, const struct iovec *iov, int iovcnt)
{
    return edo__stream_try_writev(io_of(c), iov, iovcnt);
}

int edo_tcp_shutdown(edo_tcp *c, int how) { return edo__stream_shutdown(io_of(c), how); }

int edo_tcp_close(edo_tcp *c) { return edo__stream_close(io_of(c)); }

/* ---- options and addresses ------------------------------------------------------------------ */

static int set_int(const edo_tcp *c, int level, int name, int value)
{
    return edo__sock_set_int(io_of(c), level, name, value);
}

int edo_tcp_set_nodelay(edo_tcp *c, bool on) { return set_int(c, IPPROTO_TCP, TCP_NODELAY, on); }

int edo_tcp_set_keepalive(edo_tcp *c, bool on, int idle_s)
{
    /* Checked before anything is set: a failure changes nothing. 32767 is Linux's largest
     * TCP_KEEPIDLE. */
    if (!c || idle_s < 0 || idle_s > 32767)
        return -EINVAL;
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

int edo_tcp_fd(const edo_tcp *c) { return edo_io_fd(io_of(c)); }
