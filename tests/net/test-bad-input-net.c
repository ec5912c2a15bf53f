/* Bad input (issue 13), networking and fd readiness: every function of edo/net.h and edo/io.h
 * called with each kind of nonsense it can be handed (NULL handles, out-pointers and buffers
 * with a length, lengths above SSIZE_MAX, iovec counts outside 1 to IOV_MAX, addresses of the
 * wrong family or length, malformed address text, bad interest masks, negative or wrong fds),
 * checking the documented result; after the bad calls a real transfer checks that nothing was
 * lost. Run under ASan and UBSan, a crash, a leak or undefined behaviour fails the test too. One
 * test per area; each calls from a plain thread and from inside a coroutine on a runtime. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

static edo_context noop_cx(edo_waker *w)
{
    *w = edo_waker_noop();
    return (edo_context){w, NULL};
}

/* Runs fn() as a coroutine on a fresh multi-thread runtime of two workers. */
static void in_multi(void (*fn)(void))
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, call_void_fn, (void *)fn);
}

/* The three places every area is called from. */
static void everywhere(void (*fn)(void))
{
    fn();
    in_coroutine(fn);
    in_multi(fn);
}

static const size_t huge = (size_t)SSIZE_MAX + 1;

/* A path longer than sun_path holds. */
static const char *long_path(void)
{
    static char path[200];
    memset(path, 'x', sizeof path - 1);
    return path;
}

/* An IPv4 address with the given family and length (both may be nonsense). */
static edo_sockaddr addr_with(sa_family_t family, socklen_t len)
{
    edo_sockaddr a;
    CHECK_EQ(edo_sockaddr_parse("127.0.0.1:9", &a), 0);
    a.u.sa.sa_family = family;
    a.len = len;
    return a;
}

/* ---- addresses -------------------------------------------------------------------------------- */

static void address_calls(void)
{
    edo_sockaddr a;
    char text[EDO_SOCKADDR_TEXT];
    CHECK_EQ(edo_sockaddr_parse(NULL, &a), -EINVAL);
    CHECK_EQ(edo_sockaddr_parse("127.0.0.1:80", NULL), -EINVAL);
    static const char *bad[] = {"",           "127.0.0.1",       "127.0.0.1:",
                                "127.0.0.1:+80", "127.0.0.1: 80", "127.0.0.1:-1",
                                "127.0.0.1:65536", "127.0.0.1:000080", "127.0.0.1:80x",
                                "::1:80",     "[::1:80",         "[::1]80",
                                ":80",        "example.com:80",  "1.2.3.4.5:80"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(edo_sockaddr_parse(bad[i], &a), -EINVAL);
    char longer[1024];
    memset(longer, '1', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    CHECK_EQ(edo_sockaddr_parse(longer, &a), -EINVAL);
    CHECK_EQ(edo_sockaddr_parse("[::1]:65535", &a), 0);
    CHECK_EQ(edo_sockaddr_parse("127.0.0.1:00080", &a), 0); /* five digits */

    /* Formatting. */
    a = addr_with(AF_INET, sizeof a.u.in);
    CHECK_EQ(edo_sockaddr_format(NULL, text, sizeof text), -EINVAL);
    CHECK_EQ(edo_sockaddr_format(&a, NULL, sizeof text), -EINVAL);
    CHECK_EQ(edo_sockaddr_format(&a, text, 0), -ENOSPC);
    CHECK_EQ(edo_sockaddr_format(&a, text, 3), -ENOSPC);
    CHECK_EQ(edo_sockaddr_format(&a, text, sizeof text), 11);
    CHECK(strcmp(text, "127.0.0.1:9") == 0);
    edo_sockaddr odd = addr_with(12345, sizeof a.u.in);
    CHECK_EQ(edo_sockaddr_format(&odd, text, sizeof text), -EINVAL);
    odd = addr_with(AF_INET, (socklen_t)sizeof a.u + 1);
    CHECK_EQ(edo_sockaddr_format(&odd, text, sizeof text), -EINVAL);
    odd = addr_with(AF_INET, (socklen_t)-1);
    CHECK_EQ(edo_sockaddr_format(&odd, text, sizeof text), -EINVAL);
    /* A Unix path with no NUL and the longest length: the path ends with sun_path. */
    memset(&odd, 'p', sizeof odd);
    odd.u.un.sun_family = AF_UNIX;
    odd.len = sizeof odd.u;
    CHECK_EQ(edo_sockaddr_format(&odd, text, sizeof text), (int)sizeof odd.u.un.sun_path);
    odd.u.un.sun_path[0] = '\0'; /* abstract */
    CHECK_EQ(edo_sockaddr_format(&odd, text, sizeof text), (int)sizeof odd.u.un.sun_path);
    CHECK_EQ(text[0], '@');

    /* Unix addresses (the empty and long paths are in test-unix). */
    CHECK_EQ(edo_sockaddr_unix(NULL, &a), -EINVAL);

    /* Resolving: the numeric forms answer anywhere, names need a coroutine. */
    edo_sockaddr out[2];
    CHECK_EQ(edo_resolve(NULL, out, 2), -EINVAL);
    CHECK_EQ(edo_resolve("127.0.0.1:80", NULL, 2), -EINVAL);
    CHECK_EQ(edo_resolve("127.0.0.1:80", out, 0), -EINVAL);
    CHECK_EQ(edo_resolve("127.0.0.1:80", out, (size_t)INT_MAX + 1), -EINVAL);
    CHECK_EQ(edo_resolve("127.0.0.1:80", out, SIZE_MAX), -EINVAL);
    CHECK_EQ(edo_resolve("127.0.0.1", out, 2), -EINVAL);
    CHECK_EQ(edo_resolve("localhost:+80", out, 2), -EINVAL);
    CHECK_EQ(edo_resolve(longer, out, 2), -EINVAL);
    CHECK_EQ(edo_resolve("127.0.0.1:80", out, 2), 1);
    int rc = edo_resolve("localhost:80", out, 2);
    if (edo_in_coroutine())
        CHECK(rc > 0 || rc == -ENOENT);
    else
        CHECK_EQ(rc, -EPERM);

    /* The future form: a NULL future is a no-op; bad arguments answer at the first poll. */
    edo_resolve_future_init(NULL, "127.0.0.1:80", out, 2);
    edo_waker w;
    edo_context cx = noop_cx(&w);
    edo_resolve_future f;
    const struct {
        const char *text;
        edo_sockaddr *out;
        size_t max;
    } futures[] = {{NULL, out, 2},           {"127.0.0.1:80", NULL, 2},
                   {"127.0.0.1:80", out, 0}, {"127.0.0.1:80", out, SIZE_MAX},
                   {longer, out, 2},         {"127.0.0.1:x", out, 2}};
    for (size_t i = 0; i < sizeof futures / sizeof futures[0]; i++) {
        edo_resolve_future_init(&f, futures[i].text, futures[i].out, futures[i].max);
        CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
        CHECK_EQ(f.result, -EINVAL);
        edo_future_drop(&f.base);
    }
}

TEST(net_addresses_bad_input) { everywhere(address_calls); }

/* ---- streams: the calls TCP and Unix share ------------------------------------------------------ */

/* `call` (a read or write of one buffer) refuses a NULL socket, a NULL buffer with a length and
 * lengths above SSIZE_MAX, and moves nothing at once for a NULL buffer of length 0. */
#define BAD_BUFFERS(call, c, buf)                                                              \
    do {                                                                                       \
        CHECK_EQ(call(NULL, buf, 1), -EINVAL);                                                 \
        CHECK_EQ(call(c, NULL, 1), -EINVAL);                                                   \
        CHECK_EQ(call(c, buf, huge), -EINVAL);                                                 \
        CHECK_EQ(call(c, buf, SIZE_MAX), -EINVAL);                                             \
        CHECK_EQ(call(c, NULL, 0), 0);                                                         \
    } while (0)

/* Every read, write, vector, try, ready, shutdown and option call of prefix `P` (edo_tcp or
 * edo_unix) on connection `c` (and NULL) with bad arguments, then one byte from c to `peer` to
 * show nothing was lost or left half done. */
#define STREAM_BAD_CALLS(P, c, peer)                                                           \
    do {                                                                                       \
        char buf[8] = "x";                                                                     \
        struct iovec iov[2] = {{buf, 1}, {buf + 1, 1}};                                        \
        BAD_BUFFERS(P##_read, c, buf);                                                         \
        BAD_BUFFERS(P##_peek, c, buf);                                                         \
        BAD_BUFFERS(P##_write, c, buf);                                                        \
        BAD_BUFFERS(P##_write_all, c, buf);                                                    \
        BAD_BUFFERS(P##_try_read, c, buf);                                                     \
        BAD_BUFFERS(P##_try_write, c, buf);                                                    \
        const int counts[] = {0, -1, INT_MIN, IOV_MAX + 1, INT_MAX};                           \
        for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {                        \
            CHECK_EQ(P##_readv(c, iov, counts[i]), -EINVAL);                                   \
            CHECK_EQ(P##_writev(c, iov, counts[i]), -EINVAL);                                  \
            CHECK_EQ(P##_try_readv(c, iov, counts[i]), -EINVAL);                               \
            CHECK_EQ(P##_try_writev(c, iov, counts[i]), -EINVAL);                              \
        }                                                                                      \
        CHECK_EQ(P##_readv(NULL, iov, 1), -EINVAL);                                            \
        CHECK_EQ(P##_readv(c, NULL, 1), -EINVAL);                                              \
        CHECK_EQ(P##_writev(NULL, iov, 1), -EINVAL);                                           \
        CHECK_EQ(P##_writev(c, NULL, 1), -EINVAL);                                             \
        CHECK_EQ(P##_try_readv(NULL, iov, 1), -EINVAL);                                        \
        CHECK_EQ(P##_try_readv(c, NULL, 1), -EINVAL);                                          \
        CHECK_EQ(P##_try_writev(NULL, iov, 1), -EINVAL);                                       \
        CHECK_EQ(P##_try_writev(c, NULL, 1), -EINVAL);                                         \
        const uint32_t interests[] = {0, EDO_READ_CLOSED, EDO_IO_ERROR,                        \
                                      EDO_READABLE | EDO_IO_ERROR, EDO_WRITABLE | 0x100u,      \
                                      0xffffffffu};                                            \
        for (size_t i = 0; i < sizeof interests / sizeof interests[0]; i++)                   \
            CHECK_EQ(P##_ready(c, interests[i]), -EINVAL);                                     \
        CHECK_EQ(P##_ready(NULL, EDO_READABLE), -EINVAL);                                      \
        CHECK_EQ(P##_shutdown(NULL, SHUT_WR), -EINVAL);                                        \
        CHECK_EQ(P##_shutdown(c, -1), -EINVAL);                                                \
        CHECK_EQ(P##_shutdown(c, 3), -EINVAL);                                                 \
        CHECK_EQ(P##_close(NULL), -EINVAL);                                                    \
        CHECK_EQ(P##_fd(NULL), -EINVAL);                                                       \
        CHECK(P##_fd(c) >= 0);                                                                 \
        /* Nothing was lost: a byte still goes through, in order. */                          \
        CHECK_EQ(P##_write(c, "a", 1), 1);                                                     \
        CHECK_EQ(P##_writev(c, iov, 0), -EINVAL);                                              \
        CHECK_EQ(P##_write_all(c, "b", 1), 0);                                                 \
        size_t got = 0;                                                                        \
        while (got < 2) {                                                                      \
            ssize_t n = P##_read(peer, buf + got, sizeof buf - got);                           \
            CHECK(n > 0);                                                                      \
            got += (size_t)n;                                                                  \
        }                                                                                      \
        CHECK(memcmp(buf, "ab", 2) == 0);                                                      \
    } while (0)

/* ---- tcp -------------------------------------------------------------------------------------- */

static void tcp_calls(void)
{
    edo_tcp_listener *l = (edo_tcp_listener *)&l; /* untouched on failure */
    edo_tcp *c = (edo_tcp *)&c;
    edo_tcp_listener *const l0 = l;
    edo_tcp *const c0 = c;
    edo_sockaddr a;
    edo_tcp_listen_options negative = {.backlog = -1};
    CHECK_EQ(edo_tcp_listen(NULL, NULL, &l), -EINVAL);
    CHECK_EQ(edo_tcp_listen("127.0.0.1:0", NULL, NULL), -EINVAL);
    CHECK_EQ(edo_tcp_listen("127.0.0.1:0", &negative, &l), -EINVAL);
    CHECK_EQ(edo_tcp_accept(NULL, &c, NULL), -EINVAL);
    CHECK_EQ(edo_tcp_listener_local_addr(NULL, &a), -EINVAL);
    CHECK_EQ(edo_tcp_listener_fd(NULL), -EINVAL);
    CHECK_EQ(edo_tcp_listener_close(NULL), -EINVAL);
    CHECK_EQ(edo_tcp_listener_from_fd(-1, &l), -EINVAL);
    CHECK_EQ(edo_tcp_listener_from_fd(INT_MIN, &l), -EINVAL);
    CHECK_EQ(edo_tcp_listener_from_fd(0, NULL), -EINVAL);
    CHECK_EQ(edo_tcp_from_fd(-1, &c), -EINVAL);
    CHECK_EQ(edo_tcp_from_fd(0, NULL), -EINVAL);
    CHECK_EQ(edo_tcp_connect(NULL, &c), -EINVAL);
    CHECK_EQ(edo_tcp_connect("127.0.0.1:9", NULL), -EINVAL);
    CHECK_EQ(edo_tcp_connect_addr(NULL, &c), -EINVAL);
    edo_sockaddr ok = addr_with(AF_INET, sizeof a.u.in);
    CHECK_EQ(edo_tcp_connect_addr(&ok, NULL), -EINVAL);
    /* Addresses a TCP connect cannot use, refused before any socket is made. */
    edo_sockaddr unix_addr;
    CHECK_EQ(edo_sockaddr_unix("@edo-bad-input", &unix_addr), 0);
    const edo_sockaddr bad_addrs[] = {
        unix_addr, addr_with(AF_UNSPEC, sizeof a.u.in), addr_with(12345, sizeof a.u.in),
        addr_with(AF_INET, 4), addr_with(AF_INET, 0), addr_with(AF_INET6, sizeof a.u.in),
        addr_with(AF_INET, (socklen_t)sizeof a.u + 1), addr_with(AF_INET, (socklen_t)-1)};
    for (size_t i = 0; i < sizeof bad_addrs / sizeof bad_addrs[0]; i++) {
        CHECK_EQ(edo_tcp_connect_addr(&bad_addrs[i], &c), -EINVAL);
        CHECK_EQ(edo_tcp_connect_with(&bad_addrs[i], NULL, &c), -EINVAL);
    }
    edo_tcp_connect_options o = {.send_buffer = -1};
    CHECK_EQ(edo_tcp_connect_with(&ok, &o, &c), -EINVAL);
    o = (edo_tcp_connect_options){.recv_buffer = INT_MIN};
    CHECK_EQ(edo_tcp_connect_with(&ok, &o, &c), -EINVAL);
    o = (edo_tcp_connect_options){.local = &unix_addr};
    CHECK_EQ(edo_tcp_connect_with(&ok, &o, &c), -EINVAL);
    CHECK_EQ(edo_tcp_connect_with(NULL, NULL, &c), -EINVAL);
    CHECK_EQ(edo_tcp_set_nodelay(NULL, true), -EINVAL);
    CHECK_EQ(edo_tcp_set_keepalive(NULL, true, 10), -EINVAL);
    CHECK_EQ(edo_tcp_set_linger(NULL, 1), -EINVAL);
    CHECK_EQ(edo_tcp_local_addr(NULL, &a), -EINVAL);
    CHECK_EQ(edo_tcp_peer_addr(NULL, &a), -EINVAL);
    CHECK_EQ(edo_tcp_fd(NULL), -EINVAL);
    CHECK(l == l0 && c == c0);

    if (!edo_runtime_current()) {
        CHECK_EQ(edo_tcp_listen("127.0.0.1:0", NULL, &l), -EPERM);
        CHECK_EQ(edo_tcp_connect_addr(&ok, &c), -EPERM);
        CHECK_EQ(edo_tcp_listener_from_fd(0, &l), -EPERM);
        CHECK(l == l0 && c == c0);
        return;
    }
    /* Fds that are not what the call takes over: left as they were. */
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(edo_tcp_listener_from_fd(p[0], &l), -ENOTSOCK);
    CHECK_EQ(edo_tcp_from_fd(p[1], &c), -ENOTSOCK);
    CHECK_EQ(fcntl(p[0], F_GETFL) & O_NONBLOCK, 0);
    close(p[0]);
    close(p[1]);
    CHECK_EQ(edo_tcp_from_fd(p[0], &c), -EBADF);
    CHECK(l == l0 && c == c0);

    CHECK_EQ(edo_tcp_listen("127.0.0.1:0", NULL, &l), 0);
    CHECK_EQ(edo_tcp_accept(l, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_tcp_listener_local_addr(l, NULL), -EINVAL);
    CHECK_EQ(edo_tcp_listener_local_addr(l, &a), 0);
    CHECK_EQ(edo_tcp_from_fd(edo_tcp_listener_fd(l), &c), -EINVAL); /* listening */
    CHECK_EQ(edo_tcp_listener_from_fd(edo_tcp_listener_fd(l), &l), -EEXIST);
    CHECK_EQ(edo_tcp_connect_addr(&a, &c), 0);
    edo_tcp *s;
    CHECK_EQ(edo_tcp_accept(l, &s, NULL), 0);
    CHECK_EQ(edo_tcp_listener_from_fd(edo_tcp_fd(c), &l), -EINVAL); /* connected */
    CHECK_EQ(edo_tcp_set_keepalive(c, true, -1), -EINVAL);
    CHECK_EQ(edo_tcp_set_keepalive(c, true, 32768), -EINVAL);
    CHECK_EQ(edo_tcp_set_keepalive(c, true, INT_MAX), -EINVAL);
    CHECK_EQ(edo_tcp_set_keepalive(c, true, 0), 0);
    CHECK_EQ(edo_tcp_local_addr(c, NULL), -EINVAL);
    CHECK_EQ(edo_tcp_peer_addr(c, NULL), -EINVAL);
    STREAM_BAD_CALLS(edo_tcp, c, s);
    CHECK_EQ(edo_tcp_close(s), 0);
    CHECK_EQ(edo_tcp_close(c), 0);
    CHECK_EQ(edo_tcp_listener_close(l), 0);
}

TEST(net_tcp_bad_input) { everywhere(tcp_calls); }

/* ---- unix ------------------------------------------------------------------------------------- */

static void unix_calls(void)
{
    edo_unix_listener *l = (edo_unix_listener *)&l;
    edo_unix *c = (edo_unix *)&c, *d = (edo_unix *)&d;
    edo_unix_listener *const l0 = l;
    edo_unix *const c0 = c;
    edo_unix_cred cred;
    const char *path = long_path();
    CHECK_EQ(edo_unix_listen(NULL, 0, &l), -EINVAL);
    CHECK_EQ(edo_unix_listen("", 0, &l), -EINVAL);
    CHECK_EQ(edo_unix_listen("@edo-bad", -1, &l), -EINVAL);
    CHECK_EQ(edo_unix_listen("@edo-bad", INT_MIN, &l), -EINVAL);
    CHECK_EQ(edo_unix_listen("@edo-bad", 0, NULL), -EINVAL);
    CHECK_EQ(edo_unix_listen(path, 0, &l), -ENAMETOOLONG);
    CHECK_EQ(edo_unix_accept(NULL, &c), -EINVAL);
    CHECK_EQ(edo_unix_listener_close(NULL), -EINVAL);
    CHECK_EQ(edo_unix_listener_fd(NULL), -EINVAL);
    CHECK_EQ(edo_unix_listener_from_fd(-1, &l), -EINVAL);
    CHECK_EQ(edo_unix_listener_from_fd(0, NULL), -EINVAL);
    CHECK_EQ(edo_unix_from_fd(-1, &c), -EINVAL);
    CHECK_EQ(edo_unix_from_fd(0, NULL), -EINVAL);
    CHECK_EQ(edo_unix_pair(NULL, &d), -EINVAL);
    CHECK_EQ(edo_unix_pair(&c, NULL), -EINVAL);
    CHECK_EQ(edo_unix_peer_cred(NULL, &cred), -EINVAL);
    CHECK_EQ(edo_unix_connect(NULL, &c), -EINVAL);
    CHECK_EQ(edo_unix_connect("", &c), -EINVAL);
    CHECK_EQ(edo_unix_connect("@edo-bad", NULL), -EINVAL);
    CHECK_EQ(edo_unix_connect(path, &c), -ENAMETOOLONG);
    CHECK(l == l0 && c == c0);

    if (!edo_runtime_current()) {
        CHECK_EQ(edo_unix_pair(&c, &d), -EPERM);
        CHECK_EQ(edo_unix_listen("@edo-bad", 0, &l), -EPERM);
        CHECK(l == l0 && c == c0);
        return;
    }
    /* A TCP socket is no Unix socket. */
    edo_tcp_listener *tl;
    CHECK_EQ(edo_tcp_listen("127.0.0.1:0", NULL, &tl), 0);
    CHECK_EQ(edo_unix_listener_from_fd(edo_tcp_listener_fd(tl), &l), -EINVAL);
    CHECK_EQ(edo_tcp_listener_close(tl), 0);
    CHECK(l == l0);

    CHECK_EQ(edo_unix_pair(&c, &d), 0);
    CHECK_EQ(edo_unix_peer_cred(c, NULL), -EINVAL);
    CHECK_EQ(edo_unix_peer_cred(c, &cred), 0);
    CHECK_EQ(edo_unix_accept((edo_unix_listener *)NULL, NULL), -EINVAL);
    STREAM_BAD_CALLS(edo_unix, c, d);
    CHECK_EQ(edo_unix_close(c), 0);
    CHECK_EQ(edo_unix_close(d), 0);
}

TEST(net_unix_bad_input) { everywhere(unix_calls); }

/* ---- udp -------------------------------------------------------------------------------------- */

static void udp_calls(void)
{
    edo_udp *u = (edo_udp *)&u, *v = (edo_udp *)&v;
    edo_udp *const u0 = u;
    edo_sockaddr a, ok = addr_with(AF_INET, sizeof a.u.in);
    const edo_sockaddr bad_addrs[] = {
        addr_with(AF_UNSPEC, sizeof a.u.in), addr_with(12345, sizeof a.u.in),
        addr_with(AF_INET, 4), addr_with(AF_INET6, sizeof a.u.in), addr_with(AF_UNIX, 1),
        addr_with(AF_INET, (socklen_t)sizeof a.u + 1), addr_with(AF_INET, (socklen_t)-1)};
    char buf[8] = "x";
    CHECK_EQ(edo_udp_bind(NULL, &u), -EINVAL);
    CHECK_EQ(edo_udp_bind("127.0.0.1:0", NULL), -EINVAL);
    CHECK_EQ(edo_udp_bind("127.0.0.1:x", &u), -EINVAL);
    CHECK_EQ(edo_udp_bind_addr(NULL, &u), -EINVAL);
    CHECK_EQ(edo_udp_bind_addr(&ok, NULL), -EINVAL);
    for (size_t i = 0; i < sizeof bad_addrs / sizeof bad_addrs[0]; i++)
        CHECK_EQ(edo_udp_bind_addr(&bad_addrs[i], &u), -EINVAL);
    CHECK_EQ(edo_unix_datagram_bind("@edo-bad", NULL), -EINVAL);
    CHECK_EQ(edo_unix_datagram_bind("", &u), -EINVAL);
    CHECK_EQ(edo_udp_from_fd(-1, &u), -EINVAL);
    CHECK_EQ(edo_udp_from_fd(0, NULL), -EINVAL);
    CHECK_EQ(edo_unix_datagram_pair(NULL, &v), -EINVAL);
    CHECK_EQ(edo_unix_datagram_pair(&u, NULL), -EINVAL);
    CHECK_EQ(edo_udp_connect(NULL, &ok), -EINVAL);
    CHECK_EQ(edo_udp_send_to(NULL, buf, 1, &ok), -EINVAL);
    CHECK_EQ(edo_udp_recv_from(NULL, buf, 1, NULL), -EINVAL);
    CHECK_EQ(edo_udp_peek_from(NULL, buf, 1, NULL), -EINVAL);
    CHECK_EQ(edo_udp_send(NULL, buf, 1), -EINVAL);
    CHECK_EQ(edo_udp_recv(NULL, buf, 1), -EINVAL);
    CHECK_EQ(edo_udp_ready(NULL, EDO_READABLE), -EINVAL);
    CHECK_EQ(edo_udp_try_send_to(NULL, buf, 1, &ok), -EINVAL);
    CHECK_EQ(edo_udp_try_recv_from(NULL, buf, 1, NULL), -EINVAL);
    CHECK_EQ(edo_udp_set_broadcast(NULL, true), -EINVAL);
    CHECK_EQ(edo_udp_join_multicast(NULL, &ok, 0), -EINVAL);
    CHECK_EQ(edo_udp_leave_multicast(NULL, &ok, 0), -EINVAL);
    CHECK_EQ(edo_udp_set_multicast_loop(NULL, true), -EINVAL);
    CHECK_EQ(edo_udp_set_multicast_ttl(NULL, 1), -EINVAL);
    CHECK_EQ(edo_udp_local_addr(NULL, &a), -EINVAL);
    CHECK_EQ(edo_udp_peer_addr(NULL, &a), -EINVAL);
    CHECK_EQ(edo_udp_close(NULL), -EINVAL);
    CHECK_EQ(edo_udp_fd(NULL), -EINVAL);
    CHECK(u == u0);

    if (!edo_runtime_current()) {
        CHECK_EQ(edo_udp_bind_addr(&ok, &u), -EPERM);
        CHECK_EQ(edo_unix_datagram_pair(&u, &v), -EPERM);
        CHECK(u == u0);
        return;
    }
    int p[2];
    CHECK_EQ(pipe(p), 0);
    CHECK_EQ(edo_udp_from_fd(p[0], &u), -ENOTSOCK);
    close(p[0]);
    close(p[1]);
    edo_unix *sc, *sd;
    CHECK_EQ(edo_unix_pair(&sc, &sd), 0);
    CHECK_EQ(edo_udp_from_fd(edo_unix_fd(sc), &u), -EINVAL); /* a stream */
    edo_unix_close(sc);
    edo_unix_close(sd);
    CHECK(u == u0);

    CHECK_EQ(edo_udp_bind("127.0.0.1:0", &u), 0);
    CHECK_EQ(edo_udp_local_addr(u, NULL), -EINVAL);
    CHECK_EQ(edo_udp_local_addr(u, &a), 0);
    CHECK_EQ(edo_udp_peer_addr(u, NULL), -EINVAL);
    CHECK_EQ(edo_udp_connect(u, NULL), -EINVAL);
    for (size_t i = 0; i < sizeof bad_addrs / sizeof bad_addrs[0]; i++)
        CHECK_EQ(edo_udp_connect(u, &bad_addrs[i]), -EINVAL);
    CHECK_EQ(edo_udp_send_to(u, buf, 1, NULL), -EINVAL);
    CHECK_EQ(edo_udp_send_to(u, NULL, 1, &a), -EINVAL);
    CHECK_EQ(edo_udp_send_to(u, buf, huge, &a), -EINVAL);
    CHECK_EQ(edo_udp_send_to(u, buf, SIZE_MAX, &a), -EINVAL);
    CHECK_EQ(edo_udp_try_send_to(u, NULL, 1, &a), -EINVAL);
    CHECK_EQ(edo_udp_try_send_to(u, buf, huge, &a), -EINVAL);
    CHECK_EQ(edo_udp_recv_from(u, NULL, 1, NULL), -EINVAL);
    CHECK_EQ(edo_udp_recv_from(u, buf, huge, NULL), -EINVAL);
    CHECK_EQ(edo_udp_peek_from(u, NULL, 1, NULL), -EINVAL);
    CHECK_EQ(edo_udp_peek_from(u, buf, huge, NULL), -EINVAL);
    CHECK_EQ(edo_udp_try_recv_from(u, NULL, 1, NULL), -EINVAL);
    CHECK_EQ(edo_udp_try_recv_from(u, buf, huge, NULL), -EINVAL);
    CHECK_EQ(edo_udp_send(u, NULL, 1), -EINVAL);
    CHECK_EQ(edo_udp_recv(u, buf, huge), -EINVAL);
    CHECK_EQ(edo_udp_ready(u, 0), -EINVAL);
    CHECK_EQ(edo_udp_ready(u, EDO_READABLE | 0x100u), -EINVAL);
    CHECK_EQ(edo_udp_join_multicast(u, NULL, 0), -EINVAL);
    CHECK_EQ(edo_udp_join_multicast(u, &a, 0), -EINVAL); /* not a group */
    CHECK_EQ(edo_udp_leave_multicast(u, &bad_addrs[1], 0), -EINVAL);
    CHECK_EQ(edo_udp_set_multicast_ttl(u, -1), -EINVAL);
    CHECK_EQ(edo_udp_set_multicast_ttl(u, 256), -EINVAL);
    /* Nothing was lost: a datagram to itself still arrives whole. */
    CHECK_EQ(edo_udp_send_to(u, "ab", 2, &a), 2);
    edo_sockaddr from;
    CHECK_EQ(edo_udp_recv_from(u, buf, sizeof buf, &from), 2);
    CHECK(memcmp(buf, "ab", 2) == 0);
    CHECK_EQ(edo_udp_close(u), 0);
}

TEST(net_udp_bad_input) { everywhere(udp_calls); }

/* ---- io registration and readiness ----------------------------------------------------------- */

static void io_calls(void)
{
    edo_io *io = (edo_io *)&io;
    edo_io *const io0 = io;
    edo_io_event ev = {EDO_READABLE, 1};
    edo_io_waiter waiter;
    edo_waker w;
    edo_context cx = noop_cx(&w);
    int rc = 1;
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    CHECK_EQ(edo_io_register(-1, &io), -EINVAL);
    CHECK_EQ(edo_io_register(INT_MIN, &io), -EINVAL);
    CHECK_EQ(edo_io_register(p[0], NULL), -EINVAL);
    CHECK_EQ(edo_io_register_on(NULL, p[0], &io), -EINVAL);
    edo_io_deregister(NULL);
    CHECK_EQ(edo_io_fd(NULL), -EINVAL);
    CHECK_EQ(edo_io_ready(NULL, EDO_READABLE, &ev), -EINVAL);
    CHECK_EQ(edo_io_try_ready(NULL, EDO_READABLE, &ev), -EINVAL);
    edo_io_clear_ready(NULL, ev);
    edo_io_waiter_init(NULL);
    edo_io_waiter_init(&waiter);
    edo_io_waiter_drop(NULL, &waiter);
    edo_io_waiter_drop(NULL, NULL);
    CHECK_EQ(edo_io_poll_ready(NULL, EDO_READABLE, &waiter, &cx, &ev, &rc), EDO_READY);
    CHECK_EQ(rc, -EINVAL);
    CHECK_EQ(ev.ready, 0);
    CHECK_EQ(edo_io_poll_ready(NULL, EDO_READABLE, NULL, NULL, NULL, NULL), EDO_READY);
    CHECK(io == io0);

    edo_runtime *rt = edo_runtime_current(), *own = NULL;
    if (!rt) {
        CHECK_EQ(edo_io_register(p[0], &io), -EPERM);
        CHECK(io == io0);
        rt = own = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0); /* the rest through register_on */
    }
    /* A regular file, which epoll cannot watch, and a closed fd. */
    char name[] = "/tmp/edo-bad-input-XXXXXX";
    int file = mkstemp(name);
    CHECK(file >= 0);
    unlink(name);
    CHECK_EQ(edo_io_register_on(rt, file, &io), -EPERM);
    close(file);
    CHECK_EQ(edo_io_register_on(rt, file, &io), -EBADF);
    CHECK(io == io0);

    CHECK_EQ(edo_io_register_on(rt, p[0], &io), 0);
    edo_io *again = io0;
    CHECK_EQ(edo_io_register_on(rt, p[0], &again), -EEXIST);
    CHECK(again == io0);
    CHECK_EQ(edo_io_fd(io), p[0]);
    /* Interest masks with no direction; a wait with one would never end. */
    const uint32_t none[] = {0, EDO_READ_CLOSED, EDO_WRITE_CLOSED | EDO_IO_ERROR, 0x100u};
    for (size_t i = 0; i < sizeof none / sizeof none[0]; i++) {
        CHECK_EQ(edo_io_ready(io, none[i], &ev), -EINVAL);
        CHECK_EQ(edo_io_try_ready(io, none[i], &ev), -EINVAL);
        rc = 1;
        CHECK_EQ(edo_io_poll_ready(io, none[i], &waiter, &cx, &ev, &rc), EDO_READY);
        CHECK_EQ(rc, -EINVAL);
    }
    CHECK_EQ(edo_io_ready(io, EDO_READABLE, NULL), -EINVAL);
    CHECK_EQ(edo_io_try_ready(io, EDO_READABLE, NULL), -EINVAL);
    CHECK_EQ(edo_io_poll_ready(io, EDO_READABLE, NULL, &cx, &ev, &rc), EDO_READY);
    CHECK_EQ(edo_io_poll_ready(io, EDO_READABLE, &waiter, NULL, &ev, &rc), EDO_READY);
    CHECK_EQ(edo_io_poll_ready(io, EDO_READABLE, &waiter, &cx, NULL, &rc), EDO_READY);
    CHECK_EQ(edo_io_poll_ready(io, EDO_READABLE, &waiter, &cx, &ev, NULL), EDO_READY);
    edo_io_waiter_drop(io, NULL);
    /* Unknown bits beside a direction are ignored (documented): a fresh registration is ready. */
    CHECK(edo_io_try_ready(io, EDO_READABLE | 0x100u, &ev) & EDO_READABLE);
    if (edo_in_coroutine()) {
        CHECK_EQ(edo_io_ready(io, EDO_READABLE, &ev), 0);
        CHECK(ev.ready & EDO_READABLE);
    } else {
        CHECK_EQ(edo_io_ready(io, EDO_READABLE, &ev), -EPERM);
    }
    /* Readiness still works after all that: drain, clear, write, and it comes back. */
    char c;
    CHECK_EQ(read(p[0], &c, 1), -1);
    CHECK(edo_io_try_ready(io, EDO_READABLE, &ev) > 0);
    edo_io_clear_ready(io, ev);
    CHECK_EQ(edo_io_try_ready(io, EDO_READABLE, &ev), 0);
    CHECK_EQ(write(p[1], "z", 1), 1);
    if (edo_in_coroutine()) {
        CHECK_EQ(edo_io_ready(io, EDO_READABLE, &ev), 0);
        CHECK(ev.ready & EDO_READABLE);
    }
    CHECK_EQ(read(p[0], &c, 1), 1);
    CHECK_EQ(c, 'z');
    edo_io_deregister(io);
    close(p[0]);
    close(p[1]);
    if (own)
        edo_runtime_free(own);
}

TEST(io_registration_bad_input) { everywhere(io_calls); }

/* ---- future inits ----------------------------------------------------------------------------- */

/* Polls `f` once: it must be ready at once with `want`, and is dropped. */
static void expect_ready(edo_socket_future *f, ssize_t want)
{
    edo_waker w;
    edo_context cx = noop_cx(&w);
    CHECK_EQ(edo_future_poll(&f->base, &cx, NULL), EDO_READY);
    CHECK_EQ(f->result, want);
    CHECK(f->socket == NULL);
    edo_future_drop(&f->base);
}

static void future_calls(void)
{
    char buf[8];
    struct iovec iov[1] = {{buf, 1}};
    edo_sockaddr ok = addr_with(AF_INET, sizeof ok.u.in), unix_addr;
    CHECK_EQ(edo_sockaddr_unix("@edo-bad", &unix_addr), 0);
    edo_tcp_connect_options neg = {.send_buffer = -1};
    const char *path = long_path();

    /* A NULL future: no-ops. */
#define NULL_STREAM_FUTURES(P)                                                                 \
    do {                                                                                       \
        P##_read_future_init(NULL, NULL, buf, 1);                                              \
        P##_peek_future_init(NULL, NULL, buf, 1);                                              \
        P##_write_future_init(NULL, NULL, buf, 1);                                             \
        P##_write_all_future_init(NULL, NULL, buf, 1);                                         \
        P##_readv_future_init(NULL, NULL, iov, 1);                                             \
        P##_writev_future_init(NULL, NULL, iov, 1);                                            \
    } while (0)
    NULL_STREAM_FUTURES(edo_tcp);
    NULL_STREAM_FUTURES(edo_unix);
    edo_tcp_accept_future_init(NULL, NULL, NULL);
    edo_tcp_connect_future_init(NULL, &ok);
    edo_tcp_connect_with_future_init(NULL, &ok, NULL);
    edo_unix_connect_future_init(NULL, "@edo-bad");
    edo_unix_accept_future_init(NULL, NULL);
    edo_udp_recv_from_future_init(NULL, NULL, buf, 1, NULL);
    edo_udp_peek_from_future_init(NULL, NULL, buf, 1, NULL);
    edo_udp_send_to_future_init(NULL, NULL, buf, 1, &ok);
    edo_tcp_ready_future_init(NULL, NULL, EDO_READABLE);
    edo_unix_ready_future_init(NULL, NULL, EDO_READABLE);
    edo_udp_ready_future_init(NULL, NULL, EDO_READABLE);

    /* NULL sockets, and the connects' bad addresses: -EINVAL at the first poll, anywhere. */
    edo_socket_future f;
    edo_tcp_read_future_init(&f, NULL, buf, 1);
    expect_ready(&f, -EINVAL);
    edo_tcp_write_all_future_init(&f, NULL, buf, 1);
    expect_ready(&f, -EINVAL);
    edo_tcp_readv_future_init(&f, NULL, iov, 1);
    expect_ready(&f, -EINVAL);
    edo_tcp_accept_future_init(&f, NULL, NULL);
    expect_ready(&f, -EINVAL);
    edo_unix_accept_future_init(&f, NULL);
    expect_ready(&f, -EINVAL);
    edo_udp_recv_from_future_init(&f, NULL, buf, 1, NULL);
    expect_ready(&f, -EINVAL);
    edo_udp_send_to_future_init(&f, NULL, buf, 1, &ok);
    expect_ready(&f, -EINVAL);
    edo_tcp_ready_future_init(&f, NULL, EDO_READABLE);
    expect_ready(&f, -EINVAL);
    edo_tcp_connect_future_init(&f, NULL);
    expect_ready(&f, -EINVAL);
    edo_tcp_connect_future_init(&f, &unix_addr);
    expect_ready(&f, -EINVAL);
    edo_sockaddr short_in = addr_with(AF_INET, 4);
    edo_tcp_connect_future_init(&f, &short_in);
    expect_ready(&f, -EINVAL);
    edo_tcp_connect_with_future_init(&f, &ok, &neg);
    expect_ready(&f, -EINVAL);
    edo_unix_connect_future_init(&f, NULL);
    expect_ready(&f, -EINVAL);
    edo_unix_connect_future_init(&f, "");
    expect_ready(&f, -EINVAL);
    edo_unix_connect_future_init(&f, path);
    expect_ready(&f, -ENAMETOOLONG);
    if (!edo_runtime_current()) {
        edo_tcp_connect_future_init(&f, &ok);
        expect_ready(&f, -EPERM);
        return;
    }

    /* A real socket with bad buffers, lengths, counts and masks. */
    edo_unix *c, *d;
    CHECK_EQ(edo_unix_pair(&c, &d), 0);
    edo_udp *u;
    CHECK_EQ(edo_udp_bind("127.0.0.1:0", &u), 0);
    edo_unix_read_future_init(&f, c, NULL, 1);
    expect_ready(&f, -EINVAL);
    edo_unix_read_future_init(&f, c, buf, huge);
    expect_ready(&f, -EINVAL);
    edo_unix_peek_future_init(&f, c, buf, SIZE_MAX);
    expect_ready(&f, -EINVAL);
    edo_unix_write_future_init(&f, c, NULL, 1);
    expect_ready(&f, -EINVAL);
    edo_unix_write_all_future_init(&f, c, buf, huge);
    expect_ready(&f, -EINVAL);
    edo_unix_readv_future_init(&f, c, NULL, 1);
    expect_ready(&f, -EINVAL);
    const int counts[] = {0, -1, IOV_MAX + 1, INT_MAX};
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        edo_unix_readv_future_init(&f, c, iov, counts[i]);
        expect_ready(&f, -EINVAL);
        edo_unix_writev_future_init(&f, c, iov, counts[i]);
        expect_ready(&f, -EINVAL);
    }
    const uint32_t masks[] = {0, EDO_IO_ERROR, EDO_READABLE | 0x100u};
    for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
        edo_unix_ready_future_init(&f, c, masks[i]);
        expect_ready(&f, -EINVAL);
        edo_udp_ready_future_init(&f, u, masks[i]);
        expect_ready(&f, -EINVAL);
    }
    edo_udp_send_to_future_init(&f, u, buf, huge, &ok);
    expect_ready(&f, -EINVAL);
    edo_udp_recv_from_future_init(&f, u, NULL, 1, NULL);
    expect_ready(&f, -EINVAL);
    edo_udp_peek_from_future_init(&f, u, buf, huge, NULL);
    expect_ready(&f, -EINVAL);
    /* Zero bytes: done at once with 0, nothing waited for. */
    edo_unix_read_future_init(&f, c, NULL, 0);
    expect_ready(&f, 0);
    /* The socket still works: what is written arrives. */
    CHECK_EQ(edo_unix_write_all(d, "q", 1), 0);
    CHECK_EQ(edo_unix_read(c, buf, sizeof buf), 1);
    CHECK_EQ(buf[0], 'q');
    edo_udp_close(u);
    edo_unix_close(c);
    edo_unix_close(d);
}

TEST(net_futures_bad_input) { everywhere(future_calls); }
