/* edo/net.h — networking: addresses and name resolution, TCP, Unix sockets, UDP.
 *
 * Every call that waits suspends the calling coroutine (and honours its deadline and
 * cancellation: see edo/time.h and edo/coro.h); sockets are non-blocking underneath and
 * registered with the runtime's reactor (edo/io.h). Errors are negative errno values; SIGPIPE
 * is never raised (writes use MSG_NOSIGNAL).
 *
 * An echo server:
 *
 *     static void *serve(void *arg) {
 *         edo_tcp *conn = arg;
 *         char buf[4096];
 *         ssize_t n;
 *         while ((n = edo_tcp_read(conn, buf, sizeof buf)) > 0)
 *             if (edo_tcp_write_all(conn, buf, (size_t)n) < 0)
 *                 break;
 *         edo_tcp_close(conn);
 *         return NULL;
 *     }
 *
 *     static int app(void *arg) {
 *         edo_tcp_listener *lis;
 *         int rc = edo_tcp_listen("127.0.0.1:8080", NULL, &lis);
 *         for (edo_tcp *conn; rc == 0 && (rc = edo_tcp_accept(lis, &conn, NULL)) == 0;)
 *             edo_spawn_detached(serve, conn);
 *         return rc;
 *     }
 *
 * A connection may be read by one task while another writes it (the two directions wait
 * independently). Closing a socket while another task still uses it is a bug: end those tasks
 * first (abort them, or shut the socket down so their calls return).
 */
#ifndef EDO_NET_H
#define EDO_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/un.h>

#include "edo/io.h"
#include "edo/runtime.h"
#include "edo/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Addresses
 * ------------------------------------------------------------------------------------------- */

/* Any socket address (IPv4, IPv6, Unix) and its length. */
typedef struct edo_sockaddr {
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
        struct sockaddr_un un;
        struct sockaddr_storage storage;
    } u;
    socklen_t len;
} edo_sockaddr;

/* Longest text edo_sockaddr_format writes, with its NUL. */
#define EDO_SOCKADDR_TEXT 112

/* Parses a numeric "ip:port": "127.0.0.1:80", "[::1]:80", "0.0.0.0:0", "[fe80::1%eth0]:80" (an
 * IPv6 zone: an interface name or index). IPv4 is a plain dotted quad (no brackets, no "127.1",
 * no hex or octal parts, no leading zeros), IPv6 is always bracketed. Returns 0, or -EINVAL
 * (NULL argument, malformed text, a port that is not 1 to 5 decimal digits up to 65535 (no sign,
 * no blanks), an unknown interface, or a host name: use edo_resolve); *out is written only
 * with 0. Never suspends; thread-safe. */
int edo_sockaddr_parse(const char *text, edo_sockaddr *out);
/* Writes `a` as "ip:port" ("[ip6]:port", "[ip6%index]:port" with a zone; a Unix socket's path,
 * with '@' for an abstract name: up to its first NUL byte)
 * into buf (at least EDO_SOCKADDR_TEXT bytes is always enough). Returns the text's length, or
 * -EINVAL (NULL a or buf, a->len larger than the union, unknown family), -ENOSPC (buf too small:
 * len 0 included). Never suspends. */
int edo_sockaddr_format(const edo_sockaddr *a, char *buf, size_t len);

/* Builds a Unix socket address from `path`; a leading '@' names a socket in Linux's abstract
 * namespace (no file; "@name"). Returns 0, or -EINVAL (NULL, empty) or -ENAMETOOLONG (longer than
 * sun_path holds). Never suspends. */
int edo_sockaddr_unix(const char *path, edo_sockaddr *out);

/* Resolves "host:port" ("localhost:80", "example.com:443", "[::1]:80") into at most `max`
 * addresses, IPv4 and IPv6 both, in the order the system's resolver prefers. Numeric addresses
 * return at once; names are looked up on the blocking pool (getaddrinfo), so the coroutine
 * suspends meanwhile. At most 64 addresses are stored whatever `max` is. Returns how many
 * addresses were stored (at least 1), or
 *   -EINVAL     NULL host_port or out, max 0 or above INT_MAX, a host over 255 bytes, no ":port"
 *               or a port as edo_sockaddr_parse refuses;
 *   -ENOENT     no such host (or no address for it);
 *   -EAGAIN     the resolver failed temporarily;
 *   -ENOMEM, -EPERM (a name outside a coroutine), -ECANCELED, -ETIMEDOUT.
 * Suspends (for names). */
int edo_resolve(const char *host_port, edo_sockaddr *out, size_t max);

/* The future form of edo_resolve, for future tasks: poll until EDO_READY, then `result` is what
 * edo_resolve returns (-EPERM when a name must be looked up outside a runtime). A name is looked
 * up on the blocking pool from the first poll; dropping the future early lets that lookup finish
 * on its own (its results are discarded). `out` must outlive the future; host_port is copied
 * (-EINVAL when longer than 271 bytes). Bad arguments complete at the first poll with -EINVAL;
 * a NULL f is a no-op. */
typedef struct edo_resolve_future {
    edo_future base;
    int result;
    uint64_t private_[40];
} edo_resolve_future;
void edo_resolve_future_init(edo_resolve_future *f, const char *host_port, edo_sockaddr *out,
                             size_t max);

/* ---------------------------------------------------------------------------------------------
 * TCP
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_tcp edo_tcp;
typedef struct edo_tcp_listener edo_tcp_listener;

/* Listener options; zero fields mean the default. */
typedef struct edo_tcp_listen_options {
    int backlog;         /* default 1024 */
    bool reuse_port;     /* SO_REUSEPORT: several listeners share the port (one per worker) */
    bool no_reuse_addr;  /* SO_REUSEADDR is on by default */
} edo_tcp_listen_options;

/* Binds and listens on `addr` ("ip:port", or "host:port", resolved with edo_resolve: the first
 * address that binds wins). `options` may be NULL. Returns 0 with the listener in *out, or
 * -EINVAL (NULL addr or out, a negative backlog), -EADDRINUSE, -EACCES, -EMFILE, -EPERM (not in
 * a runtime), -ENOMEM (no memory to register the socket with the reactor), or what edo_resolve
 * returns.
 * Suspends only to resolve a host name. Thread-safe. */
int edo_tcp_listen(const char *addr, const edo_tcp_listen_options *options,
                   edo_tcp_listener **out);
/* Waits for a connection and stores it in *out (and its peer's address in *peer, when not
 * NULL). Returns 0, or -EMFILE/-ENFILE (out of fds: the connection stays queued), -ENOMEM (no
 * memory to register the connection: it was taken and closed, its peer sees the end), -ECANCELED,
 * -ETIMEDOUT, -EBADF (listener closed meanwhile), -EPERM (not in a coroutine). Suspends. */
int edo_tcp_accept(edo_tcp_listener *l, edo_tcp **out, edo_sockaddr *peer);
/* The address the listener is bound to (useful after binding port 0). Returns 0 or -errno. */
int edo_tcp_listener_local_addr(const edo_tcp_listener *l, edo_sockaddr *out);
/* The listening socket's file descriptor (for options edo does not wrap, such as
 * TCP_DEFER_ACCEPT), or -EINVAL for NULL. Do not close it. Never suspends; any thread. */
int edo_tcp_listener_fd(const edo_tcp_listener *l);
/* Closes the listener; tasks waiting in accept get -EBADF. Returns 0, -EINVAL for NULL. */
int edo_tcp_listener_close(edo_tcp_listener *l);
/* Takes over `fd`, a listening TCP socket made elsewhere (inherited through exec, or passed by
 * systemd's socket activation): it is made non-blocking and registered with the current
 * runtime, and edo_tcp_listener_close closes it. Returns 0, or -EINVAL (NULL out, negative fd, not
 * a listening TCP socket), -EBADF, -ENOTSOCK, -EEXIST (registered already), -EPERM (not in a
 * runtime), -ENOMEM; on failure the fd is left as it was, still the caller's. Never suspends.
 * Thread-safe. */
int edo_tcp_listener_from_fd(int fd, edo_tcp_listener **out);

/* Connects to "host:port", trying each resolved address in turn. Returns 0 with the connection
 * in *out, or -ECONNREFUSED, -ENETUNREACH, -EHOSTUNREACH, -ETIMEDOUT (the coroutine's deadline, or
 * the system's), -ECANCELED, -EINVAL, -EPERM (not in a coroutine), -ENOMEM (no memory to register
 * the socket), or what edo_resolve returns. Suspends. */
int edo_tcp_connect(const char *addr, edo_tcp **out);
/* Connects to `addr`. Same results; -EINVAL for NULL, an address that is not IPv4 or IPv6, or
 * one whose len is too short for its family or larger than the union. Suspends. */
int edo_tcp_connect_addr(const edo_sockaddr *addr, edo_tcp **out);

/* What to set on a socket before it connects (Tokio's TcpSocket); zero fields mean the default. */
typedef struct edo_tcp_connect_options {
    /* Bind here first: the source address, and port (0: any), of the connection. NULL: the
     * system picks both. Must be of the family of the address connected to. */
    const edo_sockaddr *local;
    bool reuse_addr;  /* SO_REUSEADDR before binding `local` (its port may be in TIME_WAIT) */
    bool nodelay;     /* TCP_NODELAY from the first segment */
    int send_buffer;  /* SO_SNDBUF in bytes */
    /* SO_RCVBUF in bytes. Set before connecting it also decides the window scale offered in
     * the handshake, which a later change cannot raise. */
    int recv_buffer;
} edo_tcp_connect_options;

/* Connects to `addr` from a socket set up by `options` (may be NULL: as edo_tcp_connect_addr).
 * Returns 0, or -EINVAL (NULL out, an addr edo_tcp_connect_addr refuses, a negative buffer size,
 * a local address of another family), -EADDRINUSE (`local` is taken), -EADDRNOTAVAIL (`local` is not this machine's), and
 * the results of edo_tcp_connect. Suspends. */
int edo_tcp_connect_with(const edo_sockaddr *addr, const edo_tcp_connect_options *options,
                         edo_tcp **out);
/* Takes over `fd`, a connected TCP socket made elsewhere (by another library, or inherited): as
 * edo_tcp_listener_from_fd, and edo_tcp_close closes it. Returns 0, or -EINVAL (not a TCP stream
 * socket, or a listening one), -ENOTCONN (not connected, or still connecting: finish the
 * connect first), and the other errors of edo_tcp_listener_from_fd; on failure the fd is left as
 * it was. Never suspends. Thread-safe. */
int edo_tcp_from_fd(int fd, edo_tcp **out);

/* Reads at most `len` bytes; waits until some are there. Returns how many (0: the peer closed
 * its side, or len was 0), or -ECONNRESET, -ECANCELED, -ETIMEDOUT, -EBADF (closed meanwhile),
 * -EINVAL (NULL socket, NULL buf with len > 0, len above SSIZE_MAX), -EPERM (not in a
 * coroutine), or another -errno from recv. Suspends. */
ssize_t edo_tcp_read(edo_tcp *c, void *buf, size_t len);
/* Like edo_tcp_read, but leaves the bytes queued (MSG_PEEK). Suspends. */
ssize_t edo_tcp_peek(edo_tcp *c, void *buf, size_t len);
/* Scatter read into `iovcnt` buffers. Same results; -EINVAL for a NULL iov or iovcnt outside 1
 * to IOV_MAX (and the kernel's -EINVAL when the lengths add up beyond SSIZE_MAX, -EFAULT for a
 * NULL base with a nonzero length). Suspends. */
ssize_t edo_tcp_readv(edo_tcp *c, const struct iovec *iov, int iovcnt);
/* Writes at most `len` bytes; waits until some fit. Returns how many, or -EPIPE / -ECONNRESET
 * (the peer is gone), -ECANCELED, -ETIMEDOUT, -EBADF, -EINVAL (as for edo_tcp_read), -EPERM.
 * Suspends. A write cancelled or timed out while it waits has sent nothing.
 *
 * The count is the bytes the connection took, as send(2)'s: they may still be on their way.
 * On io_uring, a connection edo made (accepted, connected, a Unix pair) whose writer runs on a
 * worker is written behind through the worker's ring (docs/io-backends.md, "Sending by
 * completion"): the bytes (at most 64 KiB a write) are copied into the connection's outbox and
 * the call returns at once; the next write waits until the kernel took them. They go to the
 * kernel with the worker's next entry into its ring, which batches the writes of its tasks:
 * at once when the worker has no other task queued, else once the queued tasks had their turn
 * (within a maintenance interval); so a task that blocks its thread after a write while others
 * are queued holds its bytes back.
 * Should they fail (the peer reset the connection), the next write, flush (edo_stream_flush)
 * or shutdown returns the error, and later writes -EPIPE. A close or a shutdown lets them go
 * first. */
ssize_t edo_tcp_write(edo_tcp *c, const void *buf, size_t len);
/* Gather write. Same results, and -EINVAL as edo_tcp_readv. Suspends. */
ssize_t edo_tcp_writev(edo_tcp *c, const struct iovec *iov, int iovcnt);
/* Writes all `len` bytes. Returns 0, or -EINVAL as edo_tcp_write (nothing sent), or the first
 * error (bytes before it were sent; on -ECANCELED or -ETIMEDOUT how many is unknown, though a
 * part may have gone: treat the stream as broken; for the count, loop on edo_tcp_write).
 * Suspends. */
int edo_tcp_write_all(edo_tcp *c, const void *buf, size_t len);
/* Readiness waits and tries, for code that wants to hold no buffer while it waits (a server
 * with many idle connections), to wait for either direction at once, or to drain a socket
 * without suspending:
 *
 *     for (;;) {
 *         int rc = edo_tcp_ready(conn, EDO_READABLE);   // suspends; holds nothing
 *         if (rc < 0) break;
 *         char *buf = malloc(4096);
 *         ssize_t n = edo_tcp_try_read(conn, buf, 4096); // never suspends
 *         if (n == -EAGAIN) { free(buf); continue; }     // the readiness was stale
 *         ...
 *     }
 *
 * Waits until `c` is ready for `interest` (EDO_READABLE and/or EDO_WRITABLE) and returns the
 * ready bits (edo/io.h: the asked directions, EDO_READ_CLOSED / EDO_WRITE_CLOSED, EDO_IO_ERROR),
 * or -EINVAL (NULL, no direction or an unknown bit), -ECANCELED, -ETIMEDOUT (the coroutine's
 * deadline), -EBADF (closed meanwhile), -EPERM (not in a coroutine). A new socket's readiness is
 * not taken on trust here: its first wait asks the kernel, so an idle connection waits (holding
 * nothing) rather than waking at once. Readiness may still be stale (another task took the
 * bytes): the try that follows then returns -EAGAIN, and the next wait waits for a new edge. A ready wait takes a unit of the cooperative budget, so a loop of
 * waits and tries on a busy socket still lets other tasks run. Suspends; any number of tasks may
 * wait on one socket at once (all are woken by an edge in their direction). */
int edo_tcp_ready(edo_tcp *c, uint32_t interest);
/* One read (write) without waiting: returns the bytes moved (0 for len 0; a read's 0 otherwise
 * means the peer closed its side), or
 *   -EAGAIN      nothing can move now: the socket's readiness is forgotten, so that
 *                edo_tcp_ready waits for the next edge (no system call is made while the socket
 *                is known not to be ready);
 *   -EINVAL      NULL socket, NULL buffer with len > 0, len above SSIZE_MAX, NULL iov or
 *                iovcnt outside 1 to IOV_MAX;
 *   -EBADF       the socket was closed;
 *   -ECONNRESET, -EPIPE (writes), or another -errno from recv/send.
 * Never suspends; callable from any thread (a coroutine, a future's poll, a plain thread). Two
 * threads may try the same direction at once: each byte goes to exactly one of them. */
ssize_t edo_tcp_try_read(edo_tcp *c, void *buf, size_t len);
ssize_t edo_tcp_try_write(edo_tcp *c, const void *buf, size_t len);
ssize_t edo_tcp_try_readv(edo_tcp *c, const struct iovec *iov, int iovcnt);
ssize_t edo_tcp_try_writev(edo_tcp *c, const struct iovec *iov, int iovcnt);
/* shutdown(2): SHUT_RD, SHUT_WR (the peer reads end-of-stream) or SHUT_RDWR. Returns 0, or
 * -EINVAL (NULL, another `how`), or -errno (-ENOTCONN). Never suspends. While bytes written
 * behind are on their way (edo_tcp_write), a shutdown that writes is done once they went, and
 * returns 0; a write after it fails with -EPIPE either way. */
int edo_tcp_shutdown(edo_tcp *c, int how);
/* Closes the connection and frees `c`. Returns 0, or -EINVAL for NULL. Never suspends. Bytes
 * written behind (edo_tcp_write) still go: the fd is closed once the kernel took them, or, if
 * the peer has not taken them within 60 s, with those still unsent dropped (as the kernel drops
 * an orphaned socket's). */
int edo_tcp_close(edo_tcp *c);

/* Options and addresses: 0 or -errno (-EINVAL for a NULL socket or out); never suspend. */
int edo_tcp_set_nodelay(edo_tcp *c, bool on);
/* SO_KEEPALIVE; with `idle_s` > 0 also the idle time before the first probe (TCP_KEEPIDLE).
 * -EINVAL (and nothing set) for `idle_s` below 0 or above 32767 (Linux's largest). */
int edo_tcp_set_keepalive(edo_tcp *c, bool on, int idle_s);
/* SO_LINGER: `seconds` >= 0 turns it on (0: close resets the connection), < 0 turns it off. */
int edo_tcp_set_linger(edo_tcp *c, int seconds);
int edo_tcp_local_addr(const edo_tcp *c, edo_sockaddr *out);
int edo_tcp_peer_addr(const edo_tcp *c, edo_sockaddr *out);
/* The socket's file descriptor (for options edo does not wrap), or -EINVAL for NULL. Do not
 * close it, and do not read from it: on io_uring, a connection edo made (connected or accepted
 * on a worker) has its bytes received by edo as they arrive (docs/io-backends.md, "Receiving
 * by completion"), so they are in edo's buffer, not the fd's; read with edo_tcp_read. A
 * connection taken over with edo_tcp_from_fd is read from its fd as before. */
int edo_tcp_fd(const edo_tcp *c);
/* The connection as a byte stream (edo/stream.h), for code written once for every stream: the
 * same connection, not a copy. No allocation and the same lifetime: edo_stream_close closes the
 * connection (as edo_tcp_close does; call one of them, once). A stream read or write is one
 * recv or send on the reactor, as edo_tcp_read and edo_tcp_write; edo_stream_ready waits for
 * readiness as edo_tcp_ready; edo_stream_shutdown is shutdown(SHUT_WR); edo_stream_raw_fd
 * gives the socket. Returns NULL for NULL. Never suspends; thread-safe. */
edo_stream *edo_tcp_stream(edo_tcp *c);

/* ---------------------------------------------------------------------------------------------
 * Unix domain sockets (stream)
 *
 * Paths as for edo_sockaddr_unix: a file system path, or "@name" in the abstract namespace.
 * Reading, writing and closing connections use the same semantics as TCP.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_unix edo_unix;
typedef struct edo_unix_listener edo_unix_listener;

/* Listens on `path` (a file is created; it must not exist yet: -EADDRINUSE). `backlog` 0 means
 * 1024. Returns 0, -EINVAL (NULL or empty path, NULL out, a negative backlog), -ENAMETOOLONG, -EADDRINUSE, -EACCES, -EPERM (not in a runtime).
 * Never suspends. */
int edo_unix_listen(const char *path, int backlog, edo_unix_listener **out);
/* Waits for a connection. Same results as edo_tcp_accept. Suspends. */
int edo_unix_accept(edo_unix_listener *l, edo_unix **out);
/* Closes the listener (its file, if any, stays: unlink it when done). Returns 0 or -EINVAL. */
int edo_unix_listener_close(edo_unix_listener *l);
/* The listening socket's file descriptor, or -EINVAL for NULL. Do not close it. Never suspends;
 * any thread. */
int edo_unix_listener_fd(const edo_unix_listener *l);
/* Take over a listening (edo_unix_listener_from_fd) or connected (edo_unix_from_fd: one end of a
 * socketpair, say) Unix stream socket made elsewhere, as the TCP forms do, with the same results
 * (-EINVAL for a socket that is not a Unix stream socket in that role). Never suspend. */
int edo_unix_listener_from_fd(int fd, edo_unix_listener **out);
int edo_unix_from_fd(int fd, edo_unix **out);
/* Two connected Unix stream sockets (socketpair): what one writes the other reads. Returns 0, or
 * -EINVAL (NULL), -EMFILE, -ENFILE, -ENOMEM, -EPERM (not in a runtime). Never suspends. */
int edo_unix_pair(edo_unix **a, edo_unix **b);

/* Who is at the other end of a Unix stream: the process, user and group that connected (or made
 * the pair), as the kernel recorded them then. */
typedef struct edo_unix_cred {
    pid_t pid;
    uid_t uid;
    gid_t gid;
} edo_unix_cred;
/* The peer's credentials (SO_PEERCRED). Returns 0, -EINVAL (NULL), -ENOTSUP (a system without
 * SO_PEERCRED), or -errno. Never suspends; any thread. */
int edo_unix_peer_cred(const edo_unix *c, edo_unix_cred *out);
/* Connects to `path`. Returns 0, -ENOENT (no such socket), -ECONNREFUSED, -EAGAIN (the
 * listener's backlog is full: Unix sockets do not queue the attempt), -ECANCELED, -ETIMEDOUT,
 * -EINVAL, -EPERM (not in a coroutine). Suspends. */
int edo_unix_connect(const char *path, edo_unix **out);
/* As edo_tcp_read, edo_tcp_peek, edo_tcp_readv, edo_tcp_write, edo_tcp_writev,
 * edo_tcp_write_all, edo_tcp_shutdown, edo_tcp_close: the same results (-EINVAL for the same bad
 * arguments), and they suspend. */
ssize_t edo_unix_read(edo_unix *c, void *buf, size_t len);
ssize_t edo_unix_peek(edo_unix *c, void *buf, size_t len);
ssize_t edo_unix_readv(edo_unix *c, const struct iovec *iov, int iovcnt);
ssize_t edo_unix_write(edo_unix *c, const void *buf, size_t len);
ssize_t edo_unix_writev(edo_unix *c, const struct iovec *iov, int iovcnt);
int edo_unix_write_all(edo_unix *c, const void *buf, size_t len);
/* As edo_tcp_ready (suspends), edo_tcp_try_read, edo_tcp_try_write, edo_tcp_try_readv,
 * edo_tcp_try_writev (never suspend). */
int edo_unix_ready(edo_unix *c, uint32_t interest);
ssize_t edo_unix_try_read(edo_unix *c, void *buf, size_t len);
ssize_t edo_unix_try_write(edo_unix *c, const void *buf, size_t len);
ssize_t edo_unix_try_readv(edo_unix *c, const struct iovec *iov, int iovcnt);
ssize_t edo_unix_try_writev(edo_unix *c, const struct iovec *iov, int iovcnt);
int edo_unix_shutdown(edo_unix *c, int how);
int edo_unix_close(edo_unix *c);
/* The socket's file descriptor, or -EINVAL for NULL. Do not close it, nor read from it (see
 * edo_tcp_fd: the same holds for the Unix stream connections edo makes). */
int edo_unix_fd(const edo_unix *c);
/* The connection as a byte stream: as edo_tcp_stream. */
edo_stream *edo_unix_stream(edo_unix *c);

/* ---------------------------------------------------------------------------------------------
 * Datagram sockets: UDP, and Unix datagram sockets
 *
 * One handle type serves both families; addresses are edo_sockaddr (IP or Unix). Each receive
 * takes one datagram (a datagram longer than the buffer is truncated to it); each send sends one
 * whole datagram or fails (-EMSGSIZE when too large).
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_udp edo_udp;

/* A UDP socket bound to `addr` ("ip:port", "0.0.0.0:0" for any port; a host name is resolved).
 * Returns 0, -EINVAL, -EADDRINUSE, -EACCES, -EPERM (not in a runtime; a name outside a
 * coroutine), or what edo_resolve returns. Suspends only to resolve a name. */
int edo_udp_bind(const char *addr, edo_udp **out);
/* A datagram socket bound to `addr` (any family: IPv4, IPv6, Unix). Returns 0, or -EINVAL (NULL
 * out or addr, another family, a len too short for the family or larger than the union), and the
 * results of edo_udp_bind. Never suspends. */
int edo_udp_bind_addr(const edo_sockaddr *addr, edo_udp **out);
/* A Unix datagram socket bound to `path` ("@name": abstract), or unbound when path is NULL
 * (it can send, and receive replies only on an abstract or autobound address). Returns 0, or
 * -EINVAL (NULL out, empty path), -ENAMETOOLONG, and the results of edo_udp_bind_addr. Never
 * suspends. */
int edo_unix_datagram_bind(const char *path, edo_udp **out);
/* Takes over `fd`, a datagram socket (UDP or Unix) made elsewhere: as edo_tcp_listener_from_fd,
 * and edo_udp_close closes it. Returns 0, or -EINVAL (not a UDP or Unix datagram socket), -EBADF,
 * -ENOTSOCK, -EEXIST, -EPERM (not in a runtime), -ENOMEM; on failure the fd is left as it was.
 * Never suspends. Thread-safe. */
int edo_udp_from_fd(int fd, edo_udp **out);
/* Two connected Unix datagram sockets (socketpair): each sends to the other with edo_udp_send.
 * Same results as edo_unix_pair. Never suspends. */
int edo_unix_datagram_pair(edo_udp **a, edo_udp **b);
/* Sets the default peer (send/recv then need no address, and datagrams from others are
 * dropped by the kernel). Returns 0, or -EINVAL (NULL, or a peer edo_udp_bind_addr would refuse
 * as an address), or -errno. Never suspends. */
int edo_udp_connect(edo_udp *u, const edo_sockaddr *peer);
/* Sends one datagram to `to`; waits while the send buffer is full. Returns the bytes sent, or
 * -EMSGSIZE, -ECONNREFUSED (a previous datagram was refused by a connected peer), -ECANCELED,
 * -ETIMEDOUT, -EINVAL (NULL u or to, NULL buf with len > 0, len above SSIZE_MAX; the kernel's for
 * a malformed `to`), -EAFNOSUPPORT (a `to` of another family), -EPERM (not in a coroutine), or
 * another -errno. Suspends. */
ssize_t edo_udp_send_to(edo_udp *u, const void *buf, size_t len, const edo_sockaddr *to);
/* Receives one datagram, storing its sender in *from (may be NULL). Returns its length (0 for
 * an empty datagram), or the errors of edo_udp_send_to. Suspends. */
ssize_t edo_udp_recv_from(edo_udp *u, void *buf, size_t len, edo_sockaddr *from);
/* Like edo_udp_recv_from, but the datagram stays queued (MSG_PEEK): the next receive returns it
 * again. A way to read a header (or the sender) before choosing the buffer. Suspends. */
ssize_t edo_udp_peek_from(edo_udp *u, void *buf, size_t len, edo_sockaddr *from);
/* send_to / recv_from the connected peer. */
ssize_t edo_udp_send(edo_udp *u, const void *buf, size_t len);
ssize_t edo_udp_recv(edo_udp *u, void *buf, size_t len);
/* As edo_tcp_ready (EDO_READABLE: a datagram is waiting; EDO_WRITABLE: one would fit). */
int edo_udp_ready(edo_udp *u, uint32_t interest);
/* One datagram without waiting: as edo_udp_send_to / edo_udp_recv_from, but -EAGAIN instead of
 * waiting (the readiness is then forgotten, as for edo_tcp_try_read). `to` may be NULL: the
 * connected peer; `from` may be NULL. Never suspends. */
ssize_t edo_udp_try_send_to(edo_udp *u, const void *buf, size_t len, const edo_sockaddr *to);
ssize_t edo_udp_try_recv_from(edo_udp *u, void *buf, size_t len, edo_sockaddr *from);
/* SO_BROADCAST. 0 or -errno (-EINVAL for NULL). */
int edo_udp_set_broadcast(edo_udp *u, bool on);
/* Joins (leaves) multicast `group` (an IPv4 or IPv6 address; its port is ignored) on interface
 * `ifindex` (0: the system's choice). Returns 0 or -errno (-EINVAL: not a multicast address).
 * Never suspends. */
int edo_udp_join_multicast(edo_udp *u, const edo_sockaddr *group, unsigned ifindex);
int edo_udp_leave_multicast(edo_udp *u, const edo_sockaddr *group, unsigned ifindex);
/* Whether this host receives its own multicast datagrams (default on), and their TTL / hop
 * limit (default 1; -EINVAL outside 0 to 255). 0 or -errno (-EINVAL for NULL). */
int edo_udp_set_multicast_loop(edo_udp *u, bool on);
int edo_udp_set_multicast_ttl(edo_udp *u, int ttl);
int edo_udp_local_addr(const edo_udp *u, edo_sockaddr *out);
int edo_udp_peer_addr(const edo_udp *u, edo_sockaddr *out);
/* Closes the socket (not the file of a bound Unix socket: unlink it). Returns 0 or -EINVAL. */
int edo_udp_close(edo_udp *u);
/* The socket's file descriptor, or -EINVAL for NULL. Do not close it. */
int edo_udp_fd(const edo_udp *u);

/* ---------------------------------------------------------------------------------------------
 * Future forms (for future tasks)
 *
 * Every socket operation above that waits also exists as a future, for tasks written as poll
 * functions. Initialise an edo_socket_future for one operation, poll it from your poll function
 * until EDO_READY, then read `result` (what the coroutine call returns) and, for accept and
 * connect, `socket` (the new edo_tcp / edo_unix, yours to close). Drop it with edo_future_drop
 * when done, or to cancel it: a cancelled connect closes its half-made socket, a cancelled read
 * or accept leaves the socket as it was. The buffers and sockets given must outlive it; like any
 * future it must not move once polled. The coroutine calls are these futures, awaited.
 *
 *     typedef struct { edo_future base; edo_socket_future read; char buf[512]; } reader;
 *     static edo_poll reader_poll(edo_future *f, edo_context *cx, void **out) {
 *         reader *r = (reader *)f;
 *         if (edo_future_poll(&r->read.base, cx, NULL) == EDO_PENDING)
 *             return EDO_PENDING;
 *         ... r->read.result bytes are in r->buf ...
 *     }
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_socket_future {
    edo_future base;
    ssize_t result; /* when ready: bytes moved (0 for accept and connect), or -errno */
    void *socket;   /* accept and connect: the new socket */
    uint64_t private_[40];
} edo_socket_future;

/* The results and errors are those of the coroutine calls (edo_tcp_read, edo_tcp_peek,
 * edo_tcp_write, ...), less -EPERM, -ECANCELED and -ETIMEDOUT: a future is cancelled by dropping
 * it, and bounded with edo_timeout_future_init. A write future dropped while pending may have
 * sent a part of its bytes (its send through an io_uring worker's ring, see edo_tcp_write, is
 * cancelled, but the kernel may have sent some already; how many is not reported, but a next
 * write of the same bytes is told of that part, a short write, instead of sending it twice);
 * its buffer is the caller's again at once (the ring sends a copy). Bad arguments (those the coroutine calls refuse:
 * a NULL socket, a NULL buffer with len > 0, len above SSIZE_MAX, iovcnt outside 1 to IOV_MAX, an
 * address of the wrong family) complete at the first poll with -EINVAL; a transfer of 0 bytes
 * completes at once with 0. A NULL f is a no-op (for every *_future_init). */
void edo_tcp_read_future_init(edo_socket_future *f, edo_tcp *c, void *buf, size_t len);
/* Like the read future, leaving the bytes queued (MSG_PEEK). */
void edo_tcp_peek_future_init(edo_socket_future *f, edo_tcp *c, void *buf, size_t len);
void edo_tcp_write_future_init(edo_socket_future *f, edo_tcp *c, const void *buf, size_t len);
/* Writes all `len` bytes, as many writes as it takes: `result` is 0, or the first error (how
 * much was sent before it is not reported: treat the stream as broken). Dropped before it is
 * ready, an unknown part of the buffer has been sent. */
void edo_tcp_write_all_future_init(edo_socket_future *f, edo_tcp *c, const void *buf, size_t len);
/* Scatter/gather: -EINVAL for a NULL iov or iovcnt outside 1 to IOV_MAX. `iov` (the array, and the buffers it
 * points to) must outlive the future. */
void edo_tcp_readv_future_init(edo_socket_future *f, edo_tcp *c, const struct iovec *iov,
                               int iovcnt);
void edo_tcp_writev_future_init(edo_socket_future *f, edo_tcp *c, const struct iovec *iov,
                                int iovcnt);
/* `peer` (may be NULL) receives the connecting peer's address. */
void edo_tcp_accept_future_init(edo_socket_future *f, edo_tcp_listener *l, edo_sockaddr *peer);
/* Connects to `addr` (copied). The socket is made at the first poll (which must run inside a
 * runtime: -EPERM otherwise). */
void edo_tcp_connect_future_init(edo_socket_future *f, const edo_sockaddr *addr);
/* As edo_tcp_connect_with. `options` (and its `local`) is not copied: it must stay valid until
 * the future completes or is dropped. Bad options complete with -EINVAL. */
void edo_tcp_connect_with_future_init(edo_socket_future *f, const edo_sockaddr *addr,
                                      const edo_tcp_connect_options *options);
void edo_unix_read_future_init(edo_socket_future *f, edo_unix *c, void *buf, size_t len);
void edo_unix_peek_future_init(edo_socket_future *f, edo_unix *c, void *buf, size_t len);
void edo_unix_write_future_init(edo_socket_future *f, edo_unix *c, const void *buf, size_t len);
/* As the TCP forms: `iov` must outlive the future. */
void edo_unix_readv_future_init(edo_socket_future *f, edo_unix *c, const struct iovec *iov,
                                int iovcnt);
void edo_unix_writev_future_init(edo_socket_future *f, edo_unix *c, const struct iovec *iov,
                                 int iovcnt);
/* As edo_tcp_write_all_future_init. */
void edo_unix_write_all_future_init(edo_socket_future *f, edo_unix *c, const void *buf,
                                    size_t len);
/* Connects to the Unix socket at `path` (made at the first poll, as for TCP); `socket` is the new
 * edo_unix. Bad paths complete with -EINVAL or -ENAMETOOLONG. */
void edo_unix_connect_future_init(edo_socket_future *f, const char *path);
void edo_unix_accept_future_init(edo_socket_future *f, edo_unix_listener *l);
/* `from` (may be NULL) receives the sender's address. */
void edo_udp_recv_from_future_init(edo_socket_future *f, edo_udp *u, void *buf, size_t len,
                                   edo_sockaddr *from);
void edo_udp_peek_from_future_init(edo_socket_future *f, edo_udp *u, void *buf, size_t len,
                                   edo_sockaddr *from);
/* `to` (NULL: the connected peer) is copied. */
void edo_udp_send_to_future_init(edo_socket_future *f, edo_udp *u, const void *buf, size_t len,
                                 const edo_sockaddr *to);
/* Readiness waits (edo_tcp_ready and the like): `result` is the ready bits, or -EINVAL (NULL
 * socket, no direction or an unknown bit in `interest`) or -EBADF (closed meanwhile). */
void edo_tcp_ready_future_init(edo_socket_future *f, edo_tcp *c, uint32_t interest);
void edo_unix_ready_future_init(edo_socket_future *f, edo_unix *c, uint32_t interest);
void edo_udp_ready_future_init(edo_socket_future *f, edo_udp *u, uint32_t interest);

#ifdef __cplusplus
}
#endif

#endif /* EDO_NET_H */
