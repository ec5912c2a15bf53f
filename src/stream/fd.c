/* The reactor kind of fd stream (pipes, sockets taken over by fd, ttys and character devices)
 * and edo_stream_from_fd, which picks the kind an fd needs. Each operation is one try of the
 * socket loop (net/sock.c) with the fd's own system call: one read or write when the readiness
 * holds, a wait on the reactor when it would block; the edo_stream_waiter holds the reactor
 * waiter, as for a socket. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "edo/fd_stream.h"
#include "io/readiness.h"
#include "net/sock.h"
#include "platform/sigmask.h"
#include "stream/fd.h"

typedef struct fd_stream {
    edo_stream base;
    /* The registration; NULL once a write-only fd was shut down (closing it is the only way a
     * pipe's reader sees the end). Atomic: shutdown may race with a readiness wait. */
    edo_io *_Atomic io;
    int fd;
    edo__fd_mode mode;
    int restore_flags;  /* put back at close; -1: leave */
    bool write_only;    /* opened O_WRONLY: shutdown closes it */
    _Atomic bool write_shut;
} fd_stream;

static fd_stream *fd_of(edo_stream *s) { return (fd_stream *)s; }
static edo_io_waiter *io_waiter_of(edo_stream_waiter *w) { return (edo_io_waiter *)(void *)w; }
static edo_io *io_now(fd_stream *f) { return atomic_load_explicit(&f->io, memory_order_acquire); }

/* ---- the system calls, as edo__sock_op_fn ---------------------------------------------------- */

typedef struct transfer {
    fd_stream *f;
    void *buf; /* a read */
    const struct iovec *iov; /* a write */
    int iovcnt;
    size_t len; /* bytes asked for */
} transfer;

/* A socket given by fd moves bytes as the socket streams do (MSG_DONTWAIT: the fd's own
 * O_NONBLOCK flag is left as its owner set it). */
static ssize_t socket_transfer(int fd, transfer *t, bool send, bool *drained)
{
    edo__transfer x = {.send = send, .flags = MSG_DONTWAIT, .buf = t->buf, .len = t->len,
                       .iov = t->iov, .iovcnt = t->iovcnt};
    return edo__sock_do_transfer(fd, &x, drained);
}

static ssize_t do_read(int fd, void *ctx, bool *drained)
{
    transfer *t = ctx;
    if (t->f->mode == EDO__FD_SOCKET)
        return socket_transfer(fd, t, false, drained);
    ssize_t n;
    do {
        n = t->f->mode == EDO__FD_NOWAIT
                ? preadv2(fd, &(struct iovec){t->buf, t->len}, 1, -1, RWF_NOWAIT)
                : read(fd, t->buf, t->len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return errno == EWOULDBLOCK ? -EAGAIN : -errno;
    *drained = (size_t)n < t->len; /* a short read emptied the buffer: wait for the next edge */
    return n;
}

static ssize_t do_write(int fd, void *ctx, bool *drained)
{
    transfer *t = ctx;
    if (t->f->mode == EDO__FD_SOCKET)
        return socket_transfer(fd, t, true, drained);
    ssize_t n = edo__fd_writev(fd, t->iov, t->iovcnt, t->f->mode == EDO__FD_NOWAIT ? RWF_NOWAIT : 0);
    if (n < 0)
        return n == -EWOULDBLOCK ? -EAGAIN : n;
    *drained = (size_t)n < t->len; /* a short write filled the buffer */
    return n;
}

ssize_t edo__fd_writev(int fd, const struct iovec *iov, int iovcnt, int rwf)
{
    /* A runtime thread blocks SIGPIPE for good; any other gets it blocked for this call only. */
    bool guard = !edo__sigpipe_is_blocked();
    sigset_t pipe_only, old;
    if (guard) {
        sigemptyset(&pipe_only);
        sigaddset(&pipe_only, SIGPIPE);
        pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    }
    ssize_t n;
    do
        n = rwf ? pwritev2(fd, iov, iovcnt, -1, rwf) : writev(fd, iov, iovcnt);
    while (n < 0 && errno == EINTR);
    int err = n < 0 ? errno : 0;
    if (err == EPIPE)
        edo__sigpipe_take_back(); /* the SIGPIPE this write raised, still pending: blocked */
    if (guard)
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    return err ? -err : n;
}

ssize_t edo__fd_write_all(int fd, const void *data, size_t len)
{
    size_t done = 0;
    while (done < len) {
        struct iovec rest = {(char *)data + done, len - done};
        ssize_t n = edo__fd_writev(fd, &rest, 1, 0);
        if (n <= 0)
            return n < 0 ? n : -EIO;
        done += (size_t)n;
    }
    return 0;
}

bool edo__fd_nowait_works(int fd, bool write)
{
    char byte;
    struct iovec none = {&byte, 0};
    ssize_t n = write ? pwritev2(fd, &none, 1, -1, RWF_NOWAIT)
                      : preadv2(fd, &none, 1, -1, RWF_NOWAIT);
    return n >= 0 || errno == EAGAIN;
}

/* ---- the vtable ----------------------------------------------------------------------------- */

static edo_poll fd_poll_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                             size_t len, ssize_t *result)
{
    fd_stream *f = fd_of(s);
    edo_io *io = io_now(f);
    if (!io) {
        *result = -EBADF; /* a write-only fd, shut down */
        return EDO_READY;
    }
    transfer t = {.f = f, .buf = buf, .len = len};
    return edo__sock_poll_op(io, EDO_READABLE, do_read, &t, io_waiter_of(w), cx, result);
}

static edo_poll fd_poll_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                              const struct iovec *iov, int iovcnt, ssize_t *result)
{
    fd_stream *f = fd_of(s);
    edo_io *io = io_now(f);
    if (!io || atomic_load_explicit(&f->write_shut, memory_order_relaxed)) {
        *result = -EPIPE;
        return EDO_READY;
    }
    transfer t = {.f = f, .iov = iov, .iovcnt = iovcnt};
    for (int i = 0; i < iovcnt; i++)
        t.len += iov[i].iov_len;
    return edo__sock_poll_op(io, EDO_WRITABLE, do_write, &t, io_waiter_of(w), cx, result);
}

/* Deregisters and closes the fd, putting its flags back first. */
static void release_fd(fd_stream *f, edo_io *io)
{
    edo_io_deregister(io);
    if (f->restore_flags >= 0)
        fcntl(f->fd, F_SETFL, f->restore_flags);
    close(f->fd);
}

static edo_poll fd_poll_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                 ssize_t *result)
{
    (void)w, (void)cx;
    fd_stream *f = fd_of(s);
    *result = 0;
    if (atomic_exchange_explicit(&f->write_shut, true, memory_order_relaxed))
        return EDO_READY; /* twice: done already */
    if (f->mode == EDO__FD_SOCKET) {
        *result = shutdown(f->fd, SHUT_WR) < 0 ? -errno : 0;
    } else if (f->write_only) {
        edo_io *io = atomic_exchange_explicit(&f->io, NULL, memory_order_acq_rel);
        if (io)
            release_fd(f, io); /* the last write end closing is what a pipe's reader sees */
    }
    return EDO_READY;
}

static edo_poll fd_poll_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                              uint32_t interest, ssize_t *result)
{
    edo_io *io = io_now(fd_of(s));
    if (!io) {
        *result = -EBADF;
        return EDO_READY;
    }
    return edo__sock_poll_op(io, interest, NULL, NULL, io_waiter_of(w), cx, result);
}

static void fd_drop_waiter(edo_stream *s, edo_stream_waiter *w)
{
    edo_io_waiter *iw = io_waiter_of(w);
    edo_io *io = io_now(fd_of(s));
    if (io && edo__io_waiter_linked(iw))
        edo_io_waiter_drop(io, iw);
}

static int fd_raw_fd(const edo_stream *s, bool write)
{
    (void)write;
    const fd_stream *f = (const fd_stream *)s;
    return atomic_load_explicit(&f->io, memory_order_acquire) ? f->fd : -EBADF;
}

/* A system call of the caller's (splice) under the fd's readiness, as its own reads and
 * writes: refused as they are once the fd is gone or its write half shut down. */
static edo_poll fd_poll_raw_io(edo_stream *s, edo_stream_waiter *w, edo_context *cx, bool write,
                               edo_stream_raw_op op, void *ctx, ssize_t *result)
{
    fd_stream *f = fd_of(s);
    edo_io *io = io_now(f);
    if (!io || (write && atomic_load_explicit(&f->write_shut, memory_order_relaxed))) {
        *result = write ? -EPIPE : -EBADF;
        return EDO_READY;
    }
    return edo__sock_poll_op(io, write ? EDO_WRITABLE : EDO_READABLE, op, ctx, io_waiter_of(w),
                             cx, result);
}

static int fd_close(edo_stream *s)
{
    fd_stream *f = fd_of(s);
    edo_io *io = io_now(f);
    if (io)
        release_fd(f, io);
    free(f);
    return 0;
}

static const edo_stream_vtable fd_vtable = {
    .poll_read = fd_poll_read,
    .poll_write = fd_poll_write,
    .poll_shutdown = fd_poll_shutdown,
    .poll_ready = fd_poll_ready,
    .drop_waiter = fd_drop_waiter,
    .raw_fd = fd_raw_fd,
    .poll_raw_io = fd_poll_raw_io,
    .close = fd_close,
};

int edo__fd_stream_open(int fd, edo__fd_mode mode, int restore_flags, edo_stream **out)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -errno;
    fd_stream *f = calloc(1, sizeof *f);
    if (!f)
        return -ENOMEM;
    edo_io *io;
    int rc = edo_io_register(fd, &io);
    if (rc < 0) {
        free(f);
        return rc;
    }
    f->base.vtable = &fd_vtable;
    atomic_init(&f->io, io);
    f->fd = fd;
    f->mode = mode;
    f->restore_flags = restore_flags;
    f->write_only = (flags & O_ACCMODE) == O_WRONLY;
    atomic_init(&f->write_shut, false);
    *out = &f->base;
    return 0;
}

/* ---- edo_stream_from_fd --------------------------------------------------------------------- */

/* The reactor kind, the fd made non-blocking for it (and put back at close). */
static int open_nonblocking(int fd, edo_stream **out)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0)
        return -errno;
    if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    int rc = edo__fd_stream_open(fd, EDO__FD_PLAIN, flags & O_NONBLOCK ? -1 : flags, out);
    if (rc < 0 && !(flags & O_NONBLOCK))
        fcntl(fd, F_SETFL, flags); /* the caller gets it back as it was */
    return rc;
}

int edo_stream_from_fd(int fd, edo_stream **out)
{
    if (fd < 0 || !out)
        return -EINVAL;
    if (!edo_runtime_current())
        return -EPERM;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EINVAL;
    if (S_ISSOCK(st.st_mode))
        return edo__fd_stream_open(fd, EDO__FD_SOCKET, -1, out);
    if (S_ISREG(st.st_mode) || S_ISBLK(st.st_mode))
        return edo__file_stream_open(fd, st.st_mode, out);
    int rc = open_nonblocking(fd, out);
    if (rc == -EPERM) /* a character device epoll cannot watch (/dev/null, /dev/zero) */
        rc = edo__file_stream_open(fd, st.st_mode, out);
    return rc;
}
