/* Unix domain stream sockets: the stream operations of sock.c on AF_UNIX addresses. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "coro/coro.h"
#include "net/open.h"
#include "net/stream.h"

static edo_io *io_of(const edo_unix *c) { return (edo_io *)c; }

int edo_sockaddr_unix(const char *path, edo_sockaddr *out)
{
    if (!out || !path || !path[0])
        return -EINVAL;
    size_t len = strlen(path);
    if (len >= sizeof out->u.un.sun_path)
        return -ENAMETOOLONG;
    memset(out, 0, sizeof *out);
    out->u.un.sun_family = AF_UNIX;
    memcpy(out->u.un.sun_path, path, len);
    size_t used = len + 1; /* with its NUL */
    if (path[0] == '@') {
        out->u.un.sun_path[0] = '\0'; /* abstract: the name is exactly the bytes after '@' */
        used = len;
    }
    out->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + used);
    return 0;
}

int edo_unix_listen(const char *path, int backlog, edo_unix_listener **out)
{
    if (!out || backlog < 0)
        return -EINVAL;
    edo_sockaddr addr;
    int rc = edo_sockaddr_unix(path, &addr);
    if (rc < 0)
        return rc;
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return -EPERM;
    return edo__sock_listen(rt, &addr, backlog, false, false, (edo_io **)out);
}

int edo_unix_accept(edo_unix_listener *l, edo_unix **out)
{
    return edo__sock_accept((edo_io *)l, (edo_io **)out, NULL);
}

int edo_unix_listener_close(edo_unix_listener *l)
{
    return edo__sock_close_listener((edo_io *)l);
}

int edo_unix_listener_fd(const edo_unix_listener *l) { return edo_io_fd((const edo_io *)l); }

int edo_unix_listener_from_fd(int fd, edo_unix_listener **out)
{
    return edo__sock_from_fd((edo_io **)out, fd, SOCK_STREAM, EDO__FAMILY_UNIX,
                             EDO__SOCK_LISTENING);
}

int edo_unix_from_fd(int fd, edo_unix **out)
{
    return edo__sock_from_fd((edo_io **)out, fd, SOCK_STREAM, EDO__FAMILY_UNIX,
                             EDO__SOCK_CONNECTED);
}

int edo_unix_pair(edo_unix **a, edo_unix **b)
{
    return edo__sock_pair(SOCK_STREAM, (edo_io **)a, (edo_io **)b);
}

int edo_unix_datagram_pair(edo_udp **a, edo_udp **b)
{
    return edo__sock_pair(SOCK_DGRAM, (edo_io **)a, (edo_io **)b);
}

int edo_unix_peer_cred(const edo_unix *c, edo_unix_cred *out)
{
    if (!c || !out)
        return -EINVAL;
#ifdef SO_PEERCRED
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt(edo_io_fd(io_of(c)), SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
        return -errno;
    *out = (edo_unix_cred){.pid = cred.pid, .uid = cred.uid, .gid = cred.gid};
    return 0;
#else
    return -ENOTSUP;
#endif
}

int edo_unix_connect(const char *path, edo_unix **out)
{
    if (!out)
        return -EINVAL;
    edo_sockaddr addr;
    int rc = edo_sockaddr_unix(path, &addr);
    if (rc < 0)
        return rc;
    if (!edo__coro_running())
        return -EPERM;
    return edo__sock_connect((edo_io **)out, SOCK_STREAM, &addr, NULL);
}

/* ---- reading and writing: the stream (net/stream.h), shared with TCP ---- */

ssize_t edo_unix_read(edo_unix *c, void *buf, size_t len)
{
    return edo__stream_read(io_of(c), buf, len);
}

ssize_t edo_unix_peek(edo_unix *c, void *buf, size_t len)
{
    return edo__stream_peek(io_of(c), buf, len);
}

ssize_t edo_unix_readv(edo_unix *c, const struct iovec *iov, int iovcnt)
{
    return edo__stream_readv(io_of(c), iov, iovcnt);
}

ssize_t edo_unix_write(edo_unix *c, const void *buf, size_t len)
{
    return edo__stream_write(io_of(c), buf, len);
}

ssize_t edo_unix_writev(edo_unix *c, const struct iovec *iov, int iovcnt)
{
    return edo__stream_writev(io_of(c), iov, iovcnt);
}

int edo_unix_write_all(edo_unix *c, const void *buf, size_t len)
{
    return edo__stream_write_all(io_of(c), buf, len);
}

int edo_unix_ready(edo_unix *c, uint32_t interest) { return edo__stream_ready(io_of(c), interest); }

ssize_t edo_unix_try_read(edo_unix *c, void *buf, size_t len)
{
    return edo__stream_try_read(io_of(c), buf, len);
}

ssize_t edo_unix_try_write(edo_unix *c, const void *buf, size_t len)
{
    return edo__stream_try_write(io_of(c), buf, len);
}

ssize_t edo_unix_try_readv(edo_unix *c, const struct iovec *iov, int iovcnt)
{
    return edo__stream_try_readv(io_of(c), iov, iovcnt);
}

ssize_t edo_unix_try_writev(edo_unix *c, const struct iovec *iov, int iovcnt)
{
    return edo__stream_try_writev(io_of(c), iov, iovcnt);
}

int edo_unix_shutdown(edo_unix *c, int how) { return edo__stream_shutdown(io_of(c), how); }

int edo_unix_close(edo_unix *c) { return edo__stream_close(io_of(c)); }

int edo_unix_fd(const edo_unix *c) { return edo_io_fd(io_of(c)); }
