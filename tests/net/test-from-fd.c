/* Sockets made elsewhere and taken over by edo (edo_*_from_fd): a plain connected TCP socket, a
 * plain listener, both ends of a socketpair, a Unix listener, a UDP socket; and every kind of
 * descriptor that must be refused, left as it was. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

static bool nonblocking(int fd) { return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0; }

/* A plain blocking socket of `type` bound to 127.0.0.1 on any port; its address in *addr. */
static int plain_inet(int type, edo_sockaddr *addr)
{
    int fd = socket(AF_INET, type, 0);
    CHECK(fd >= 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(bind(fd, (struct sockaddr *)&in, sizeof in), 0);
    addr->len = sizeof addr->u;
    CHECK_EQ(getsockname(fd, &addr->u.sa, &addr->len), 0);
    return fd;
}

/* Writes `msg` on one end and reads it whole on the other. */
static void tcp_say(edo_tcp *from, edo_tcp *to, const char *msg)
{
    size_t len = strlen(msg), have = 0;
    char buf[64];
    CHECK_EQ(edo_tcp_write_all(from, msg, len), 0);
    while (have < len) {
        ssize_t n = edo_tcp_read(to, buf + have, sizeof buf - have);
        CHECK(n > 0);
        have += (size_t)n;
    }
    CHECK(memcmp(buf, msg, len) == 0);
}

static void *tcp_connection(void *arg)
{
    (void)arg;
    edo_tcp_listener *l;
    edo_sockaddr addr;
    CHECK_EQ(edo_tcp_listen("127.0.0.1:0", NULL, &l), 0);
    CHECK_EQ(edo_tcp_listener_local_addr(l, &addr), 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0); /* blocking, as another library would make it */
    CHECK(fd >= 0);
    CHECK_EQ(connect(fd, &addr.u.sa, addr.len), 0); /* loopback: the handshake is immediate */
    edo_tcp *server, *client;
    CHECK_EQ(edo_tcp_accept(l, &server, NULL), 0);
    CHECK_EQ(edo_tcp_from_fd(fd, &client), 0);
    CHECK(nonblocking(fd));
    CHECK_EQ(edo_tcp_fd(client), fd);
    tcp_say(client, server, "from a plain socket");
    tcp_say(server, client, "and back");
    edo_tcp *twice;
    CHECK_EQ(edo_tcp_from_fd(fd, &twice), -EEXIST);
    edo_tcp_close(client);
    edo_tcp_close(server);
    edo_tcp_listener_close(l);
    return NULL;
}

TEST(tcp_connection_from_fd) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, tcp_connection, NULL); }

static void *tcp_listener(void *arg)
{
    (void)arg;
    edo_sockaddr addr;
    int fd = plain_inet(SOCK_STREAM, &addr);
    CHECK_EQ(listen(fd, 16), 0);
    edo_tcp_listener *l;
    CHECK_EQ(edo_tcp_listener_from_fd(fd, &l), 0);
    CHECK_EQ(edo_tcp_listener_fd(l), fd);
    CHECK(nonblocking(fd));
    edo_tcp *client, *server;
    CHECK_EQ(edo_tcp_connect_addr(&addr, &client), 0);
    CHECK_EQ(edo_tcp_accept(l, &server, NULL), 0);
    tcp_say(client, server, "through an inherited listener");
    edo_tcp_close(client);
    edo_tcp_close(server);
    edo_tcp_listener_close(l);
    return NULL;
}

TEST(tcp_listener_from_fd) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, tcp_listener, NULL); }

static void *unix_pair_and_listener(void *arg)
{
    (void)arg;
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    edo_unix *a, *b;
    CHECK_EQ(edo_unix_from_fd(sv[0], &a), 0);
    CHECK_EQ(edo_unix_from_fd(sv[1], &b), 0);
    CHECK_EQ(edo_unix_write_all(a, "pair", 4), 0);
    char buf[8];
    CHECK_EQ(edo_unix_read(b, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "pair", 4) == 0);
    edo_unix_close(a);
    edo_unix_close(b);

    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK(fd >= 0);
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    char name[64];
    snprintf(name, sizeof name, "@edo-from-fd-%d", (int)getpid());
    memcpy(un.sun_path + 1, name + 1, strlen(name) - 1); /* abstract: no file to clean up */
    socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(name));
    CHECK_EQ(bind(fd, (struct sockaddr *)&un, len), 0);
    CHECK_EQ(listen(fd, 4), 0);
    edo_unix_listener *l;
    CHECK_EQ(edo_unix_listener_from_fd(fd, &l), 0);
    CHECK_EQ(edo_unix_connect(name, &a), 0);
    CHECK_EQ(edo_unix_accept(l, &b), 0);
    CHECK_EQ(edo_unix_write_all(b, "listener", 8), 0);
    CHECK_EQ(edo_unix_read(a, buf, sizeof buf), 8);
    edo_unix_close(a);
    edo_unix_close(b);
    edo_unix_listener_close(l);
    return NULL;
}

TEST(unix_from_fd) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, unix_pair_and_listener, NULL); }

static void *udp(void *arg)
{
    (void)arg;
    edo_sockaddr a_addr, b_addr;
    edo_udp *a, *b;
    CHECK_EQ(edo_udp_from_fd(plain_inet(SOCK_DGRAM, &a_addr), &a), 0);
    CHECK_EQ(edo_udp_bind("127.0.0.1:0", &b), 0);
    CHECK_EQ(edo_udp_local_addr(b, &b_addr), 0);
    char buf[8];
    ssize_t n;
    DELIVER(n, CHECK_EQ(edo_udp_send_to(b, "dgram", 5, &a_addr), 5), edo_udp_recv(a, buf, sizeof buf));
    CHECK_EQ(n, 5);
    edo_udp_close(a);
    edo_udp_close(b);

    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv), 0);
    CHECK_EQ(edo_udp_from_fd(sv[0], &a), 0);
    CHECK_EQ(edo_udp_from_fd(sv[1], &b), 0);
    CHECK_EQ(edo_udp_send(a, "unix", 4), 4); /* Unix datagrams are not dropped */
    CHECK_EQ(edo_udp_recv(b, buf, sizeof buf), 4);
    edo_udp_close(a);
    edo_udp_close(b);
    return NULL;
}

TEST(udp_from_fd) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, udp, NULL); }

/* Every refusal leaves the descriptor as it was: still blocking, still the caller's. */
static void *refusals(void *arg)
{
    (void)arg;
    edo_tcp *c;
    edo_tcp_listener *l;
    edo_unix *u;
    edo_unix_listener *ul;
    edo_udp *d;
    edo_sockaddr addr;
    CHECK_EQ(edo_tcp_from_fd(0, NULL), -EINVAL);
    CHECK_EQ(edo_tcp_from_fd(-1, &c), -EINVAL);

    int dgram = plain_inet(SOCK_DGRAM, &addr);
    CHECK_EQ(edo_tcp_from_fd(dgram, &c), -EINVAL);
    CHECK_EQ(edo_tcp_listener_from_fd(dgram, &l), -EINVAL);
    CHECK_EQ(edo_unix_from_fd(dgram, &u), -EINVAL);
    CHECK(!nonblocking(dgram));

    int stream = plain_inet(SOCK_STREAM, &addr);
    CHECK_EQ(edo_tcp_from_fd(stream, &c), -ENOTCONN); /* bound, never connected */
    CHECK_EQ(edo_tcp_listener_from_fd(stream, &l), -EINVAL); /* not listening */
    CHECK_EQ(edo_udp_from_fd(stream, &d), -EINVAL);
    CHECK_EQ(listen(stream, 1), 0);
    CHECK_EQ(edo_tcp_from_fd(stream, &c), -EINVAL); /* a listener is not a connection */
    CHECK_EQ(edo_unix_listener_from_fd(stream, &ul), -EINVAL); /* TCP, not Unix */
    CHECK(!nonblocking(stream));

    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    CHECK_EQ(edo_tcp_from_fd(sv[0], &c), -EINVAL); /* Unix, not TCP */
    CHECK_EQ(edo_unix_listener_from_fd(sv[0], &ul), -EINVAL);

    int pipe_fds[2];
    CHECK_EQ(pipe(pipe_fds), 0);
    CHECK_EQ(edo_tcp_from_fd(pipe_fds[0], &c), -ENOTSOCK);
    CHECK_EQ(edo_udp_from_fd(pipe_fds[0], &d), -ENOTSOCK);
    CHECK(!nonblocking(pipe_fds[0]));
    int unused = 1000; /* far above what this test opens */
    CHECK(fcntl(unused, F_GETFD) < 0);
    CHECK_EQ(edo_tcp_from_fd(unused, &c), -EBADF);

    /* All still usable by their owner. */
    CHECK_EQ(write(sv[0], "x", 1), 1);
    char ch;
    CHECK_EQ(read(sv[1], &ch, 1), 1);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    close(sv[0]);
    close(sv[1]);
    close(stream);
    close(dgram);
    return NULL;
}

TEST(refusals_leave_the_fd_alone) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, refusals, NULL); }

TEST(outside_a_runtime)
{
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    edo_unix *u;
    edo_udp *d;
    CHECK_EQ(edo_unix_from_fd(sv[0], &u), -EPERM);
    CHECK_EQ(edo_udp_from_fd(sv[0], &d), -EPERM);
    CHECK(!nonblocking(sv[0]));
    close(sv[0]);
    close(sv[1]);
}
