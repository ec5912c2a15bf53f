/* Where sockets come from: made and registered, connected with the options that must precede
 * the handshake, listening, accepted, taken over from elsewhere, made in pairs, and closed. Above
 * net/sock.h (it waits for connects and accepts with the operation loop), below the socket
 * types (tcp.c, unix.c, udp.c) and the future forms (future.c). */
#ifndef EDO_NET_OPEN_H
#define EDO_NET_OPEN_H

#include <stdbool.h>
#include <sys/types.h>

#include "edo/net.h"
#include "net/sock.h"

/* The operations, for edo__sock_wait (the future forms run them too): an accept (ctx:
 * edo__accept; edo__sock_accept_op says which), and the outcome of a connect in progress (no
 * ctx). */
ssize_t edo__sock_connect_result(int fd, void *ctx, bool *drained);
typedef struct edo__accept {
    edo_sockaddr *peer; /* may be NULL */
    int fd;             /* the accepted socket */
    edo_io *listener;
} edo__accept;
/* The accept of listener `lio` (may be NULL): accept(2) on readiness, or, where the backend
 * accepts its connections by completion (lio->recv_mode EDO__IO_RECV_ACCEPTS), a take from
 * its registration's queue (edo__io_accept_take), the peer's address asked of the socket. */
edo__sock_op_fn edo__sock_accept_op(const edo_io *lio);

/* A connected stream socket's vtable as an edo_stream (net/socket_stream.c): every socket's
 * registration carries it, and edo_tcp_stream hands the registration out as the stream. */
extern const edo_stream_vtable edo__socket_stream_vtable;

/* Registers an fd the caller made (closing it on failure), watched for readiness. */
int edo__sock_adopt(edo_runtime *rt, edo_io **out, int fd);
/* The same for a connected stream socket that edo made (an accepted one): the backend may
 * receive its bytes by completion (edo__io_register_stream), so nothing but edo reads it. */
int edo__sock_adopt_stream(edo_runtime *rt, edo_io **out, int fd);
/* Takes over a socket made elsewhere: checks it is of `type` (SOCK_STREAM, SOCK_DGRAM), of one
 * of `families` and in `role`, makes it non-blocking and registers it with the current runtime.
 * On failure the fd is left as it was. Returns 0, -EINVAL (NULL out, negative fd, another kind of
 * socket), -EBADF, -ENOTSOCK, -ENOTCONN (a stream not connected yet), -EEXIST (registered
 * already), -EPERM (not in a runtime), -ENOMEM. */
typedef enum { EDO__SOCK_ANY, EDO__SOCK_LISTENING, EDO__SOCK_CONNECTED } edo__sock_role;
int edo__sock_from_fd(edo_io **out, int fd, int type, unsigned families, edo__sock_role role);
/* Two connected Unix sockets of `type`, registered with the current runtime: 0, -EINVAL,
 * -EPERM (not in a runtime), -EMFILE, -ENFILE, -ENOMEM. */
int edo__sock_pair(int type, edo_io **a, edo_io **b);
/* Deregisters and closes: 0, or -EINVAL for NULL (what every *_close returns). */
int edo__sock_close(edo_io *io);
/* A listener's close: the listen queue is shut down first, so no connection is taken after it
 * returns, whichever backend watches the fd. Returns as edo__sock_close. */
int edo__sock_close_listener(edo_io *io);
/* -EINVAL when `addr` is not an IPv4 or IPv6 address (edo__sockaddr_check) or `options` (may be
 * NULL) cannot serve a connect to it, else 0. */
int edo__connect_options_check(const edo_sockaddr *addr, const edo_tcp_connect_options *options);
/* A new socket of `type` for addr's family, set up by `options` (may be NULL; checked already),
 * connecting to `addr` and registered with `rt`: the outcome comes with its first writable edge
 * (edo__sock_connect_result). */
int edo__sock_start_connect(edo_runtime *rt, const edo_sockaddr *addr, int type,
                            const edo_tcp_connect_options *options, edo_io **out);
/* A stream socket whose connect succeeded (*io, from edo__sock_start_connect) becomes edo's own
 * stream: registered as one while connecting (edo__io_register_connecting), its receive by
 * completion is armed in place (edo__io_stream_connected); registered for readiness (a thread
 * without receive buffers started it) where the driver now receives by completion
 * (edo__io_receives), it is registered again (edo__io_register_stream; *io changes, no wait is
 * left on the old one); else left as it is. 0, or the registration's error (the socket is
 * closed then). */
int edo__sock_connected(edo_io **io);
/* The same, waiting for the outcome in the calling coroutine. */
int edo__sock_connect(edo_io **out, int type, const edo_sockaddr *addr,
                      const edo_tcp_connect_options *options);
/* A listening stream socket on `addr`, registered with `rt`. */
int edo__sock_listen(edo_runtime *rt, const edo_sockaddr *addr, int backlog, bool reuse_addr,
                     bool reuse_port, edo_io **out);
/* Waits for a connection on listener `lio`; the new socket is registered with lio's runtime. */
int edo__sock_accept(edo_io *lio, edo_io **out, edo_sockaddr *peer);

#endif
