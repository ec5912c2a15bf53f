/* The future forms of the socket operations: one future type whose private state says which
 * operation it runs (see edo/net.h). */
#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "net/open.h"
#include "net/sock.h"

enum kind { TRANSFER, ACCEPT, CONNECT, READY };

/* What edo_socket_future.private_ holds. Pointers into the future itself are set at each poll,
 * not at init: a future may be moved until its first poll. */
typedef struct state {
    edo__sock_wait wait;
    enum kind kind;
    int error;     /* bad arguments: ready at once with this (-EINVAL, -ENAMETOOLONG) */
    bool has_addr; /* a send_to target or connect address is in `addr` */
    bool all;      /* write_all: transfer again until the whole buffer is gone */
    const edo_tcp_connect_options *connect_options; /* the caller's, alive until completion */
    union { /* by kind: a future is one operation for its life */
        edo__transfer transfer;
        edo__accept accept;
    };
    edo_sockaddr addr;
} state;

_Static_assert(sizeof(state) <= sizeof(((edo_socket_future *)0)->private_),
               "edo_socket_future.private_ is too small");
_Static_assert(alignof(state) <= alignof(uint64_t), "edo_socket_future.private_ misaligned");

static state *state_of(edo_socket_future *f) { return (state *)(void *)f->private_; }

/* Starts a connect at the first poll: the socket exists from then on. */
static int start_connect(state *st)
{
    edo_runtime *rt = edo_runtime_current();
    if (!rt)
        return -EPERM;
    return edo__sock_start_connect(rt, &st->addr, SOCK_STREAM, st->connect_options,
                                   &st->wait.io);
}

static edo_poll socket_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_socket_future *f = (edo_socket_future *)self;
    state *st = state_of(f);
    if (st->error) {
        f->result = st->error;
        return EDO_READY;
    }
    if (st->kind == CONNECT && !st->wait.io) {
        int rc = start_connect(st);
        if (rc < 0) {
            f->result = rc;
            return EDO_READY;
        }
    }
    if (st->kind == TRANSFER) {
        if (edo__transfer_is_empty(&st->transfer)) {
            f->result = 0; /* nothing to move (as the coroutine calls): no wait */
            return EDO_READY;
        }
        st->wait.ctx = &st->transfer;
        if (st->has_addr)
            st->transfer.addr = &st->addr;
    } else if (st->kind == ACCEPT) {
        st->wait.ctx = &st->accept;
    }
    ssize_t result;
    for (;;) {
        if (edo__sock_poll(&st->wait, cx, &result) == EDO_PENDING)
            return EDO_PENDING;
        edo__sock_wait_drop(&st->wait);
        if (!st->all || result < 0)
            break;
        st->transfer.buf = (char *)st->transfer.buf + result;
        st->transfer.len -= (size_t)result;
        if (st->transfer.len == 0) {
            result = 0; /* as edo_tcp_write_all: 0 once everything is sent */
            break;
        }
    }
    f->result = result;
    if (result >= 0 && st->kind == ACCEPT) {
        edo_io *io;
        int rc = edo__sock_adopt_stream(edo__io_owner(st->wait.io), &io, st->accept.fd);
        f->result = rc;
        f->socket = rc == 0 ? io : NULL;
    } else if (st->kind == CONNECT) {
        if (result >= 0) {
            int rc = edo__sock_connected(&st->wait.io); /* closed on failure */
            f->result = rc < 0 ? rc : result;
            f->socket = rc < 0 ? NULL : st->wait.io; /* handed over: the drop leaves it */
        } else {
            edo__sock_close(st->wait.io);
        }
        st->wait.io = NULL;
    }
    return EDO_READY;
}

static void socket_drop(edo_future *self)
{
    state *st = state_of((edo_socket_future *)self);
    if (!st->wait.io)
        return;
    edo__sock_wait_drop(&st->wait);
    if (st->kind == CONNECT)
        edo__sock_close(st->wait.io); /* cancelled half-way: the socket was never handed out */
    st->wait.io = NULL;
}

static const edo_future_vtable socket_vtable = {socket_poll, socket_drop};

static state *init(edo_socket_future *f, edo_io *io, enum kind kind, uint32_t dir,
                   edo__sock_op_fn op)
{
    memset(f, 0, sizeof *f);
    f->base.vtable = &socket_vtable;
    state *st = state_of(f);
    st->wait.io = io;
    st->wait.dir = dir;
    st->wait.op = op;
    st->kind = kind;
    st->error = !io && kind != CONNECT ? -EINVAL : 0;
    return st;
}

static void transfer_init(edo_socket_future *f, edo_io *io, bool send, bool datagram, void *buf,
                          size_t len, edo_sockaddr *addr)
{
    if (!f)
        return;
    state *st = init(f, io, TRANSFER, send ? EDO_WRITABLE : EDO_READABLE, edo__sock_do_transfer);
    if ((!buf && len) || len > SSIZE_MAX)
        st->error = -EINVAL;
    st->transfer = (edo__transfer){.send = send, .datagram = datagram, .buf = buf, .len = len,
                                   .addr = send ? NULL : addr};
    if (send && addr) {
        st->addr = *addr;
        st->has_addr = true;
    }
}

/* A receive that leaves what it reads queued (MSG_PEEK). */
static void peek_init(edo_socket_future *f, edo_io *io, bool datagram, void *buf, size_t len,
                      edo_sockaddr *from)
{
    if (!f)
        return;
    transfer_init(f, io, false, datagram, buf, len, from);
    state_of(f)->transfer.flags = MSG_PEEK;
}

/* A scatter/gather transfer over `iov` (which must outlive the future). */
static void vector_init(edo_socket_future *f, edo_io *io, bool send, const struct iovec *iov,
                        int iovcnt)
{
    if (!f)
        return;
    state *st = init(f, io, TRANSFER, send ? EDO_WRITABLE : EDO_READABLE, edo__sock_do_transfer);
    if (!iov || iovcnt <= 0 || iovcnt > IOV_MAX)
        st->error = -EINVAL;
    st->transfer = (edo__transfer){.send = send, .iov = iov, .iovcnt = iovcnt};
}

/* A send of the whole buffer: transfers again until it is gone. */
static void write_all_init(edo_socket_future *f, edo_io *io, const void *buf, size_t len)
{
    if (!f)
        return;
    transfer_init(f, io, true, false, (void *)buf, len, NULL);
    state_of(f)->all = true;
}

/* ---- streams: TCP and Unix share every form ------------------------------------------------- */

void edo_tcp_read_future_init(edo_socket_future *f, edo_tcp *c, void *buf, size_t len)
{
    transfer_init(f, (edo_io *)c, false, false, buf, len, NULL);
}

void edo_unix_read_future_init(edo_socket_future *f, edo_unix *c, void *buf, size_t len)
{
    transfer_init(f, (edo_io *)c, false, false, buf, len, NULL);
}

void edo_tcp_peek_future_init(edo_socket_future *f, edo_tcp *c, void *buf, size_t len)
{
    peek_init(f, (edo_io *)c, false, buf, len, NULL);
}

void edo_unix_peek_future_init(edo_socket_future *f, edo_unix *c, void *buf, size_t len)
{
    peek_init(f, (edo_io *)c, false, buf, len, NULL);
}

void edo_tcp_write_future_init(edo_socket_future *f, edo_tcp *c, const void *buf, size_t len)
{
    transfer_init(f, (edo_io *)c, true, false, (void *)buf, len, NULL);
}

void edo_unix_write_future_init(edo_socket_future *f, edo_unix *c, const void *buf, size_t len)
{
    transfer_init(f, (edo_io *)c, true, false, (void *)buf, len, NULL);
}

void edo_tcp_write_all_future_init(edo_socket_future *f, edo_tcp *c, const void *buf, size_t len)
{
    write_all_init(f, (edo_io *)c, buf, len);
}

void edo_unix_write_all_future_init(edo_socket_future *f, edo_unix *c, const void *buf,
                                    size_t len)
{
    write_all_init(f, (edo_io *)c, buf, len);
}

void edo_tcp_readv_future_init(edo_socket_future *f, edo_tcp *c, const struct iovec *iov,
                               int iovcnt)
{
    vector_init(f, (edo_io *)c, false, iov, iovcnt);
}

void edo_unix_readv_future_init(edo_socket_future *f, edo_unix *c, const struct iovec *iov,
                                int iovcnt)
{
    vector_init(f, (edo_io *)c, false, iov, iovcnt);
}

void edo_tcp_writev_future_init(edo_socket_future *f, edo_tcp *c, const struct iovec *iov,
                                int iovcnt)
{
    vector_init(f, (edo_io *)c, true, iov, iovcnt);
}

void edo_unix_writev_future_init(edo_socket_future *f, edo_unix *c, const struct iovec *iov,
                                 int iovcnt)
{
    vector_init(f, (edo_io *)c, true, iov, iovcnt);
}

/* ---- datagrams ------------------------------------------------------------------------------ */

void edo_udp_recv_from_future_init(edo_socket_future *f, edo_udp *u, void *buf, size_t len,
                                   edo_sockaddr *from)
{
    transfer_init(f, (edo_io *)u, false, true, buf, len, from);
}

void edo_udp_peek_from_future_init(edo_socket_future *f, edo_udp *u, void *buf, size_t len,
                                   edo_sockaddr *from)
{
    peek_init(f, (edo_io *)u, true, buf, len, from);
}

void edo_udp_send_to_future_init(edo_socket_future *f, edo_udp *u, const void *buf, size_t len,
                                 const edo_sockaddr *to)
{
    transfer_init(f, (edo_io *)u, true, true, (void *)buf, len, (edo_sockaddr *)to);
}

/* ---- accepting ------------------------------------------------------------------------------ */

static void accept_init(edo_socket_future *f, edo_io *listener, edo_sockaddr *peer)
{
    if (!f)
        return;
    state *st = init(f, listener, ACCEPT, EDO_READABLE, edo__sock_accept_op(listener));
    st->accept = (edo__accept){peer, -1, listener};
}

void edo_tcp_accept_future_init(edo_socket_future *f, edo_tcp_listener *l, edo_sockaddr *peer)
{
    accept_init(f, (edo_io *)l, peer);
}

void edo_unix_accept_future_init(edo_socket_future *f, edo_unix_listener *l)
{
    accept_init(f, (edo_io *)l, NULL);
}

/* ---- readiness ------------------------------------------------------------------------------ */

/* A readiness wait: no operation, the ready bits are the result. */
static void ready_init(edo_socket_future *f, edo_io *io, uint32_t interest)
{
    if (!f)
        return;
    state *st = init(f, io, READY, interest, NULL);
    if (!edo__interest_valid(interest))
        st->error = -EINVAL;
}

void edo_tcp_ready_future_init(edo_socket_future *f, edo_tcp *c, uint32_t interest)
{
    ready_init(f, (edo_io *)c, interest);
}

void edo_unix_ready_future_init(edo_socket_future *f, edo_unix *c, uint32_t interest)
{
    ready_init(f, (edo_io *)c, interest);
}

void edo_udp_ready_future_init(edo_socket_future *f, edo_udp *u, uint32_t interest)
{
    ready_init(f, (edo_io *)u, interest);
}

void edo_tcp_connect_with_future_init(edo_socket_future *f, const edo_sockaddr *addr,
                                     const edo_tcp_connect_options *options)
{
    if (!f)
        return;
    state *st = init(f, NULL, CONNECT, EDO_WRITABLE, edo__sock_connect_result);
    if (edo__sockaddr_check(addr, EDO__FAMILY_INET) < 0) {
        st->error = -EINVAL;
        return;
    }
    st->addr = *addr;
    st->has_addr = true;
    st->connect_options = options;
    st->error = edo__connect_options_check(addr, options);
}

void edo_tcp_connect_future_init(edo_socket_future *f, const edo_sockaddr *addr)
{
    edo_tcp_connect_with_future_init(f, addr, NULL);
}

void edo_unix_connect_future_init(edo_socket_future *f, const char *path)
{
    if (!f)
        return;
    state *st = init(f, NULL, CONNECT, EDO_WRITABLE, edo__sock_connect_result);
    st->error = path ? edo_sockaddr_unix(path, &st->addr) : -EINVAL;
    st->has_addr = st->error == 0;
}
