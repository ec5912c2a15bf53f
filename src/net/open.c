/* Where sockets come from (see open.h): made and registered, connected with the options that
 * must precede the handshake, listening, accepted, taken over from elsewhere, made in pairs, and
 * closed. A stream socket is registered only once connected (or listening): epoll reports one
 * that is not connected yet as hung up, and that bit would stick to the registration. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/runtime.h"
#include "net/open.h"

/* What a socket is, for its registration. */
typedef enum { WATCHED, OWN_STREAM, OWN_CONNECTING, OWN_LISTENER } sock_kind;

/* Registers a socket; a stream socket's registration is also its edo_stream (net/stream.c).
 * A connected stream socket edo made (OWN_STREAM: connected, accepted, of a pair) is read by
 * edo alone, so the backend may receive its bytes by completion (io/driver.h), and a listener
 * edo made (OWN_LISTENER) is accepted from by edo alone, so the backend may accept its
 * connections by completion; one taken over from elsewhere (from_fd) or a datagram socket is
 * watched for readiness (WATCHED). A stream socket still connecting (OWN_CONNECTING) is
 * registered as a stream whose receive is armed once it is connected (edo__sock_connected). */
static int register_socket(edo_runtime *rt, int fd, edo_io **out, sock_kind kind)
{
    int rc = kind == OWN_STREAM       ? edo__runtime_register_stream(rt, fd, out)
             : kind == OWN_CONNECTING ? edo__runtime_register_connecting(rt, fd, out)
             : kind == OWN_LISTENER   ? edo__runtime_register_listener(rt, fd, out)
                                      : edo_io_register_on(rt, fd, out);
    if (rc == 0) {
        (*out)->stream.vtable = &edo__socket_stream_vtable;
        (*out)->write_shut = false;
    }
    return rc;
}

static int adopt(edo_runtime *rt, edo_io **out, int fd, sock_kind kind)
{
    int rc = register_socket(rt, fd, out, kind);
    if (rc < 0)
        close(fd);
    return rc;
}

int edo__sock_adopt(edo_runtime *rt, edo_io **out, int fd) { return adopt(rt, out, fd, WATCHED); }

int edo__sock_adopt_stream(edo_runtime *rt, edo_io **out, int fd)
{
    return adopt(rt, out, fd, OWN_STREAM);
}

int edo__sock_from_fd(edo_io **out, int fd, int type, unsigned families, edo__sock_role role)
{
    if (!out || fd < 0)
        return -EINVAL;
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return -EPERM;
    int v;
    socklen_t len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &v, &len) < 0)
        return -errno; /* -EBADF, -ENOTSOCK */
    if (v != type)
        return -EINVAL;
    len = sizeof v;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &v, &len) < 0)
        return -errno;
    unsigned family = v == AF_UNIX                     ? EDO__FAMILY_UNIX
                      : v == AF_INET || v == AF_INET6 ? EDO__FAMILY_INET
                                                       : 0;
    if (!(family & families))
        return -EINVAL;
    if (role != EDO__SOCK_ANY) {
        len = sizeof v;
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &v, &len) < 0)
            return -errno;
        if ((role == EDO__SOCK_LISTENING) != (v != 0))
            return -EINVAL;
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        /* Registering a stream that is not connected yet would stick epoll's hang-up to it. */
        if (role == EDO__SOCK_CONNECTED && getpeername(fd, (struct sockaddr *)&peer, &plen) < 0)
            return -errno; /* -ENOTCONN */
    }
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -errno;
    if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    int rc = register_socket(rt, fd, out, WATCHED);
    if (rc < 0 && !(flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, flags); /* the caller gets it back as it was */
    return rc;
}

int edo__sock_pair(int type, edo_io **a, edo_io **b)
{
    if (!a || !b)
        return -EINVAL;
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return -EPERM;
    int sv[2];
    if (socketpair(AF_UNIX, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    sock_kind kind = type == SOCK_STREAM ? OWN_STREAM : WATCHED;
    int rc = adopt(rt, a, sv[0], kind);
    if (rc < 0) {
        close(sv[1]);
        return rc;
    }
    if ((rc = adopt(rt, b, sv[1], kind)) < 0)
        edo__sock_close(*a);
    return rc;
}

/* Deregisters (a task waiting on the fd wakes with -EBADF), then closes. A listener's listen
 * queue is shut down in between: the queue closes now even when the file outlives close() for
 * a moment (an io_uring poll lets go of it only when its cancellation has run on the thread
 * that armed it), so no connection is accepted after this returns. Shutting down before the
 * deregistration would wake a waiting accept into accept4's -EINVAL instead of -EBADF. */
static int close_io(edo_io *io, bool listener)
{
    if (!io)
        return -EINVAL;
    int fd = io->fd;
    edo_io_deregister(io);
    if (listener)
        shutdown(fd, SHUT_RDWR);
    close(fd);
    return 0;
}

int edo__sock_close(edo_io *io) { return close_io(io, false); }

int edo__sock_close_listener(edo_io *io) { return close_io(io, true); }

/* The outcome of a connect in progress, once the socket is writable. */
ssize_t edo__sock_connect_result(int fd, void *ctx, bool *drained)
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

/* Applies the options that must be set before connecting. */
static int set_up_connect(int fd, const edo_tcp_connect_options *o)
{
    int one = 1;
    if (o->nodelay && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        return -errno;
    if (o->send_buffer &&
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &o->send_buffer, sizeof o->send_buffer) < 0)
        return -errno;
    if (o->recv_buffer &&
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &o->recv_buffer, sizeof o->recv_buffer) < 0)
        return -errno;
    if (o->local) {
        if (o->reuse_addr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
            return -errno;
        if (bind(fd, &o->local->u.sa, o->local->len) < 0)
            return -errno;
    }
    return 0;
}

int edo__connect_options_check(const edo_sockaddr *addr, const edo_tcp_connect_options *o)
{
    if (edo__sockaddr_check(addr, EDO__FAMILY_INET) < 0)
        return -EINVAL; /* TCP: an IPv4 or IPv6 address */
    if (!o)
        return 0;
    if (o->send_buffer < 0 || o->recv_buffer < 0)
        return -EINVAL;
    if (o->local && (o->local->len == 0 || o->local->u.sa.sa_family != addr->u.sa.sa_family))
        return -EINVAL; /* an address of another family could never be bound */
    return 0;
}

int edo__sock_start_connect(edo_runtime *rt, const edo_sockaddr *addr, int type,
                            const edo_tcp_connect_options *options, edo_io **out)
{
    int fd = socket(addr->u.sa.sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int rc = options ? set_up_connect(fd, options) : 0;
    /* Connect before registering: epoll reports a socket that is not connected yet as hung
     * up, and that would stick to the registration. */
    if (rc == 0)
        rc = connect(fd, &addr->u.sa, addr->len) == 0 ? 0 : -errno;
    if (rc < 0 && rc != -EINPROGRESS && rc != -EINTR) {
        close(fd);
        return rc;
    }
    /* A stream socket is registered as one now, its receive by completion not armed yet (it
     * would take the connect's error, SO_ERROR, from its outcome): edo__sock_connected arms it
     * in place once connected, so the socket is added to the backend once. */
    return adopt(rt, out, fd, type == SOCK_STREAM ? OWN_CONNECTING : WATCHED);
}

int edo__sock_connected(edo_io **io)
{
    edo_io *old = *io;
    if (old->recv_mode) {
        edo__io_stream_connected(old); /* registered as a stream: its receive armed in place */
        return 0;
    }
    if (!edo__io_receives(old->driver))
        return 0; /* read on readiness as it is: nothing to change */
    edo_runtime *rt = edo__io_owner(old);
    int fd = old->fd;
    edo_io_deregister(old);
    return adopt(rt, io, fd, OWN_STREAM);
}

int edo__sock_connect(edo_io **out, int type, const edo_sockaddr *addr,
                      const edo_tcp_connect_options *options)
{
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return -EPERM;
    edo_io *io;
    int rc = edo__sock_start_connect(rt, addr, type, options, &io);
    if (rc < 0)
        return rc;
    /* The registration starts optimistic: learn the outcome from the first writable edge. */
    if ((rc = (int)edo__sock_op(io, EDO_WRITABLE, edo__sock_connect_result, NULL)) < 0) {
        edo__sock_close(io);
        return rc;
    }
    if (type == SOCK_STREAM && (rc = edo__sock_connected(&io)) < 0)
        return rc;
    *out = io;
    return 0;
}

int edo__sock_listen(edo_runtime *rt, const edo_sockaddr *addr, int backlog, bool reuse_addr,
                     bool reuse_port, edo_io **out)
{
    int fd = socket(addr->u.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1, rc = 0;
    if (reuse_addr && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        rc = -errno;
    if (rc == 0 && reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        rc = -errno;
    if (rc == 0 && bind(fd, &addr->u.sa, addr->len) < 0)
        rc = -errno;
    if (rc == 0 && listen(fd, backlog > 0 ? backlog : 1024) < 0)
        rc = -errno;
    if (rc < 0) {
        close(fd);
        return rc;
    }
    /* Registered once listening: epoll reports a socket that is neither connected nor
     * listening as hung up. */
    return adopt(rt, out, fd, OWN_LISTENER);
}

/* ---- accepting ----------------------------------------------------------------------------- */

/* accept(2), once the listener is readable. */
static ssize_t do_accept(int fd, void *arg, bool *drained)
{
    (void)drained;
    edo__accept *a = arg;
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

/* A connection the backend accepted by completion, from the listener's queue. */
static ssize_t take_accepted(int fd, void *arg, bool *drained)
{
    (void)fd;
    edo__accept *a = arg;
    for (;;) {
        int rc = edo__io_accept_take(a->listener, &a->fd, drained);
        if (rc < 0 || !a->peer)
            return rc;
        a->peer->len = sizeof a->peer->u;
        if (getpeername(a->fd, &a->peer->u.sa, &a->peer->len) == 0)
            return 0;
        /* It died in the queue (accept(2) would have named its peer, from before): take the
         * next one, as accept(2) skips one that died before it was taken. */
        close(a->fd);
        a->fd = -1;
    }
}

edo__sock_op_fn edo__sock_accept_op(const edo_io *lio)
{
    return lio && lio->recv_mode == EDO__IO_RECV_ACCEPTS ? take_accepted : do_accept;
}

int edo__sock_accept(edo_io *lio, edo_io **out, edo_sockaddr *peer)
{
    if (!lio || !out)
        return -EINVAL;
    edo__accept a = {peer, -1, lio};
    int rc = (int)edo__sock_op(lio, EDO_READABLE, edo__sock_accept_op(lio), &a);
    if (rc < 0)
        return rc;
    return edo__sock_adopt_stream(edo__io_owner(lio), out, a.fd);
}
