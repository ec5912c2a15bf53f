/* The socket operation loop, creation, connect and addresses (see sock.h). */
#include "net/sock.h"

#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/runtime.h"
#include "coro/coro.h"

ssize_t edo__sock_op(edo_io *io, uint32_t dir, edo__sock_op_fn op, void *ctx)
{
    if (!edo__coro_running())
        return -EPERM;
    for (;;) {
        edo_io_event ev;
        int rc = edo_io_ready(io, dir, &ev); /* returns at once while the readiness holds */
        if (rc < 0)
            return rc;
        if ((rc = edo__coro_coop()) < 0)
            return rc;
        bool drained = false;
        ssize_t n = op(io->fd, ctx, &drained);
        if (n != -EAGAIN) {
            if (drained) {
                /* The buffer is empty (full) now: forget this direction's readiness, but keep
                 * the closed bits, whose edge will not come again. */
                ev.ready &= dir;
                edo_io_clear_ready(io, ev); /* a later edge bumps the tick: nothing is lost */
            }
            return n;
        }
        edo_io_clear_ready(io, ev); /* would block: whatever was seen is stale */
    }
}

int edo__sock_adopt(edo_runtime *rt, edo_io **out, int fd)
{
    int rc = edo_io_register_on(rt, out, fd);
    if (rc < 0)
        close(fd);
    return rc;
}

void edo__sock_close(edo_io *io)
{
    int fd = io->fd;
    edo_io_deregister(io);
    close(fd);
}

/* The outcome of a connect in progress, once the socket is writable. */
static ssize_t connect_result(int fd, void *ctx, bool *drained)
{
    (void)ctx, (void)drained;
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -errno;
    if (err == 0) {
        /* Writable without an error can also mean "not yet" on some systems: make sure. */
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        if (getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
            return errno == ENOTCONN ? -EAGAIN : -errno;
    }
    return -err;
}

int edo__sock_connect(edo_io **out, int type, const edo_sockaddr *addr)
{
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return -EPERM;
    int fd = socket(addr->u.sa.sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    /* Connect before registering: epoll reports a socket that is not connected yet as hung
     * up, and that would stick to the registration. */
    int rc = connect(fd, &addr->u.sa, addr->len) == 0 ? 0 : -errno;
    if (rc < 0 && rc != -EINPROGRESS && rc != -EINTR) {
        close(fd);
        return rc;
    }
    edo_io *io;
    if ((rc = edo__sock_adopt(rt, &io, fd)) < 0)
        return rc;
    /* The registration starts optimistic: learn the outcome from the first writable edge. */
    if ((rc = (int)edo__sock_op(io, EDO_WRITABLE, connect_result, NULL)) < 0) {
        edo__sock_close(io);
        return rc;
    }
    *out = io;
    return 0;
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
