/* A connected stream socket (TCP, Unix) as an edo_stream: the registration itself is the stream
 * (its `stream` head, set when the socket is registered), so edo_tcp_stream costs nothing and
 * the stream lives and dies with the connection. Each operation is one try of the socket loop
 * (net/sock.c): one recv or send when the readiness holds, a wait on the reactor when it would
 * block; the edo_stream_waiter holds the reactor waiter. */
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>

#include "io/readiness.h"
#include "net/open.h"
#include "net/sock.h"

/* What a socket keeps in a caller's edo_stream_waiter: its reactor waiter. */
_Static_assert(sizeof(edo_io_waiter) <= sizeof(edo_stream_waiter), "edo_stream_waiter too small");

static edo_io *io_of(const edo_stream *s)
{
    return (edo_io *)((const char *)s - offsetof(struct edo_io, stream));
}

static edo_io_waiter *io_waiter_of(edo_stream_waiter *w) { return (edo_io_waiter *)(void *)w; }

static edo_poll socket_poll_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                                 size_t len, ssize_t *result)
{
    edo__transfer x = {.buf = buf, .len = len};
    return edo__sock_poll_op(io_of(s), EDO_READABLE, edo__sock_do_transfer, &x, io_waiter_of(w),
                             cx, result);
}

static edo_poll socket_poll_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                  const struct iovec *iov, int iovcnt, ssize_t *result)
{
    /* One buffer goes by send(2), cheaper in the kernel than sendmsg(2). */
    edo__transfer x = iovcnt == 1
                          ? (edo__transfer){.send = true, .buf = iov->iov_base, .len = iov->iov_len}
                          : (edo__transfer){.send = true, .iov = iov, .iovcnt = iovcnt};
    return edo__sock_poll_send_op(io_of(s), edo__sock_do_transfer, &x, io_waiter_of(w), cx,
                                  result);
}

/* Waits for the bytes written behind (net/send_ring.c) to go: 0, or their failure. */
static edo_poll socket_poll_flush(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                  ssize_t *result)
{
    (void)w;
    int rc;
    if (edo__sock_poll_sent(io_of(s), cx, &rc) == EDO_PENDING)
        return EDO_PENDING;
    *result = rc;
    return EDO_READY;
}

static edo_poll socket_poll_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                     ssize_t *result)
{
    edo_io *io = io_of(s);
    /* Once shut, the kernel may answer -ENOTCONN to another shutdown (the connection closed
     * both ways: the socket left for TIME_WAIT); the stream's promise is 0. */
    if (io->write_shut) {
        *result = 0;
        return EDO_READY;
    }
    /* Flushed first: the failure of a send written behind is the shutdown's to report. */
    if (socket_poll_flush(s, w, cx, result) == EDO_PENDING)
        return EDO_PENDING;
    if (*result == 0 && (*result = edo__sock_shutdown(io, SHUT_WR)) == 0)
        io->write_shut = true;
    return EDO_READY;
}

static edo_poll socket_poll_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                  uint32_t interest, ssize_t *result)
{
    return edo__sock_poll_op(io_of(s), interest, NULL, NULL, io_waiter_of(w), cx, result);
}

static void socket_drop_waiter(edo_stream *s, edo_stream_waiter *w)
{
    edo_io_waiter *iw = io_waiter_of(w);
    if (edo__io_waiter_linked(iw)) /* usually not: a wake or a ready poll unlinked it */
        edo_io_waiter_drop(io_of(s), iw);
}

static int socket_raw_fd(const edo_stream *s, bool write)
{
    /* A socket received by completion is read from its inbox only (the fd's bytes may already
     * be there): no fd to read, so a copy takes the buffered path, not splice. */
    if (!write && io_of(s)->recv_mode)
        return -ENOTSUP;
    return io_of(s)->fd;
}

/* A system call of the caller's (splice) under the socket's readiness, as its own transfers. */
static edo_poll socket_poll_raw_io(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                   bool write, edo_stream_raw_op op, void *ctx, ssize_t *result)
{
    return edo__sock_poll_op(io_of(s), write ? EDO_WRITABLE : EDO_READABLE, op, ctx,
                             io_waiter_of(w), cx, result);
}

static int socket_close(edo_stream *s) { return edo__sock_close(io_of(s)); }

const edo_stream_vtable edo__socket_stream_vtable = {
    .poll_read = socket_poll_read,
    .poll_write = socket_poll_write,
    .poll_flush = socket_poll_flush,
    .poll_shutdown = socket_poll_shutdown,
    .poll_ready = socket_poll_ready,
    .drop_waiter = socket_drop_waiter,
    .raw_fd = socket_raw_fd,
    .poll_raw_io = socket_poll_raw_io,
    .close = socket_close,
};

edo_stream *edo_tcp_stream(edo_tcp *c) { return c ? &((edo_io *)c)->stream : NULL; }

edo_stream *edo_unix_stream(edo_unix *c) { return c ? &((edo_io *)c)->stream : NULL; }
