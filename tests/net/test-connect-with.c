/* Connections from a socket set up before connecting (edo_tcp_connect_with and its future form):
 * a chosen source address and port, TCP_NODELAY and buffer sizes from the start, and the options
 * that must be refused. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>

#include "harness.h"
#include "util.h"

static int int_option(edo_tcp *c, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    CHECK_EQ(getsockopt(edo_tcp_fd(c), level, name, &v, &len), 0);
    return v;
}

static void *chosen_source(void *arg)
{
    (void)arg;
    edo_tcp_listener *l;
    edo_sockaddr addr, local, seen;
    CHECK_EQ(edo_tcp_listen("127.0.0.1:0", NULL, &l), 0);
    CHECK_EQ(edo_tcp_listener_local_addr(l, &addr), 0);
    /* All of 127/8 is this machine's on Linux: a source other than the default one. */
    CHECK_EQ(edo_sockaddr_parse("127.0.0.2:0", &local), 0);
    edo_tcp_connect_options o = {.local = &local, .nodelay = true, .recv_buffer = 256 * 1024,
                                 .send_buffer = 128 * 1024};
    edo_tcp *c, *s;
    CHECK_EQ(edo_tcp_connect_with(&addr, &o, &c), 0);
    CHECK_EQ(edo_tcp_accept(l, &s, &seen), 0);
    CHECK_EQ(seen.u.in.sin_addr.s_addr, htonl(0x7f000002));
    CHECK_EQ(int_option(c, IPPROTO_TCP, TCP_NODELAY), 1);
    CHECK(int_option(c, SOL_SOCKET, SO_RCVBUF) >= 256 * 1024); /* Linux doubles what is asked */
    CHECK(int_option(c, SOL_SOCKET, SO_SNDBUF) >= 128 * 1024);
    CHECK_EQ(edo_tcp_write_all(c, "hi", 2), 0);
    char buf[4];
    CHECK_EQ(edo_tcp_read(s, buf, sizeof buf), 2);

    /* The same source port again, while the first connection holds it: taken. */
    edo_sockaddr bound;
    CHECK_EQ(edo_tcp_local_addr(c, &bound), 0);
    edo_tcp_connect_options same = {.local = &bound};
    edo_tcp *again;
    CHECK_EQ(edo_tcp_connect_with(&addr, &same, &again), -EADDRINUSE);
    edo_tcp_close(c);
    edo_tcp_close(s);
    edo_tcp_listener_close(l);
    return NULL;
}

TEST(connect_from_a_chosen_source) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, chosen_source, NULL); }

static void *bad_options(void *arg)
{
    (void)arg;
    edo_sockaddr addr, v6, elsewhere;
    edo_tcp *c;
    CHECK_EQ(edo_sockaddr_parse("127.0.0.1:9", &addr), 0);
    CHECK_EQ(edo_sockaddr_parse("[::1]:0", &v6), 0);
    CHECK_EQ(edo_sockaddr_parse("192.0.2.1:0", &elsewhere), 0); /* TEST-NET-1: not ours */
    edo_tcp_connect_options negative = {.recv_buffer = -1};
    edo_tcp_connect_options family = {.local = &v6};
    edo_tcp_connect_options foreign = {.local = &elsewhere};
    CHECK_EQ(edo_tcp_connect_with(&addr, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_tcp_connect_with(NULL, NULL, &c), -EINVAL);
    CHECK_EQ(edo_tcp_connect_with(&addr, &negative, &c), -EINVAL);
    CHECK_EQ(edo_tcp_connect_with(&addr, &family, &c), -EINVAL);
    CHECK_EQ(edo_tcp_connect_with(&addr, &foreign, &c), -EADDRNOTAVAIL);

    edo_socket_future f;
    edo_tcp_connect_with_future_init(&f, &addr, &family);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    edo_tcp_connect_with_future_init(&f, &addr, &foreign);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, -EADDRNOTAVAIL);
    CHECK(f.socket == NULL);
    edo_future_drop(&f.base);
    return NULL;
}

TEST(bad_options_are_refused) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, bad_options, NULL); }

TEST(outside_a_coroutine)
{
    edo_sockaddr addr;
    CHECK_EQ(edo_sockaddr_parse("127.0.0.1:9", &addr), 0);
    edo_tcp *c;
    edo_tcp_connect_options negative = {.send_buffer = -5};
    CHECK_EQ(edo_tcp_connect_with(&addr, NULL, &c), -EPERM);
    CHECK_EQ(edo_tcp_connect_with(&addr, &negative, &c), -EINVAL); /* checked first */
}

/* The future form (awaited here; a future task polls it the same way). */
static void *future_form(void *arg)
{
    (void)arg;
    edo_tcp_listener *l;
    edo_sockaddr addr, local, seen;
    CHECK_EQ(edo_tcp_listen("127.0.0.1:0", NULL, &l), 0);
    CHECK_EQ(edo_tcp_listener_local_addr(l, &addr), 0);
    CHECK_EQ(edo_sockaddr_parse("127.0.0.3:0", &local), 0);
    edo_tcp_connect_options o = {.local = &local, .nodelay = true};
    edo_socket_future f;
    edo_tcp_connect_with_future_init(&f, &addr, &o);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, 0);
    edo_tcp *c = f.socket, *s;
    edo_future_drop(&f.base);
    CHECK_EQ(edo_tcp_accept(l, &s, &seen), 0);
    CHECK_EQ(seen.u.in.sin_addr.s_addr, htonl(0x7f000003));
    CHECK_EQ(int_option(c, IPPROTO_TCP, TCP_NODELAY), 1);
    edo_tcp_close(c);
    edo_tcp_close(s);
    edo_tcp_listener_close(l);
    return NULL;
}

TEST(future_form) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, future_form, NULL); }
