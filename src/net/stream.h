/* The stream socket: reading, writing, peeking, vectors, tries, readiness, shutdown and close of
 * a connected stream, one implementation for every kind (edo_tcp and edo_unix are both just the
 * socket's registration, so tcp.c and unix.c forward their public calls here unchanged).
 *
 * Inline: a read or a write is the hot path of every connection, and each of these is one
 * edo__transfer built on the stack around the out-of-line loop in sock.c, as the calls were
 * before they were shared. */
#ifndef EDO_NET_STREAM_H
#define EDO_NET_STREAM_H

#include <sys/socket.h>

#include "net/open.h"
#include "net/sock.h"

/* One buffer (with recv/send `flags`), waiting or (no_wait) tried once. */
static inline ssize_t edo__stream_transfer(edo_io *io, bool send, bool no_wait, void *buf,
                                           size_t len, int flags)
{
    edo__transfer x = {.send = send, .no_wait = no_wait, .flags = flags, .buf = buf, .len = len};
    return edo__sock_transfer(io, &x);
}

/* A vector (-EINVAL for NULL), waiting or (no_wait) tried once. */
static inline ssize_t edo__stream_transferv(edo_io *io, bool send, bool no_wait,
                                            const struct iovec *iov, int iovcnt)
{
    if (!iov)
        return -EINVAL;
    edo__transfer x = {.send = send, .no_wait = no_wait, .iov = iov, .iovcnt = iovcnt};
    return edo__sock_transfer(io, &x);
}

static inline ssize_t edo__stream_read(edo_io *io, void *buf, size_t len)
{
    return edo__stream_transfer(io, false, false, buf, len, 0);
}

static inline ssize_t edo__stream_peek(edo_io *io, void *buf, size_t len)
{
    return edo__stream_transfer(io, false, false, buf, len, MSG_PEEK);
}

static inline ssize_t edo__stream_readv(edo_io *io, const struct iovec *iov, int iovcnt)
{
    return edo__stream_transferv(io, false, false, iov, iovcnt);
}

static inline ssize_t edo__stream_write(edo_io *io, const void *buf, size_t len)
{
    return edo__stream_transfer(io, true, false, (void *)buf, len, 0);
}

static inline ssize_t edo__stream_writev(edo_io *io, const struct iovec *iov, int iovcnt)
{
    return edo__stream_transferv(io, true, false, iov, iovcnt);
}

static inline int edo__stream_write_all(edo_io *io, const void *buf, size_t len)
{
    return edo__sock_send_all(io, buf, len);
}

static inline ssize_t edo__stream_try_read(edo_io *io, void *buf, size_t len)
{
    return edo__stream_transfer(io, false, true, buf, len, 0);
}

static inline ssize_t edo__stream_try_write(edo_io *io, const void *buf, size_t len)
{
    return edo__stream_transfer(io, true, true, (void *)buf, len, 0);
}

static inline ssize_t edo__stream_try_readv(edo_io *io, const struct iovec *iov, int iovcnt)
{
    return edo__stream_transferv(io, false, true, iov, iovcnt);
}

static inline ssize_t edo__stream_try_writev(edo_io *io, const struct iovec *iov, int iovcnt)
{
    return edo__stream_transferv(io, true, true, iov, iovcnt);
}

static inline int edo__stream_ready(edo_io *io, uint32_t interest)
{
    return edo__sock_ready(io, interest);
}

static inline int edo__stream_shutdown(edo_io *io, int how) { return edo__sock_shutdown(io, how); }

static inline int edo__stream_close(edo_io *io) { return edo__sock_close(io); }

#endif
