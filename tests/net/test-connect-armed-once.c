/* A stream socket edo connects is added to the backend once (io/driver.h,
 * edo__io_register_connecting): while it connects it is watched as a stream whose receive by
 * completion is not armed yet (it would take the connect's error, SO_ERROR), and once connected
 * its receive is armed in place; before, it was registered for readiness, then deregistered and
 * registered again as a stream (on io_uring one poll armed and cancelled more per connection).
 * On the environment's backend, on io_uring, and on io_uring without receive buffers:
 *  - a connection: one fd added to io_uring's backend for it (edo__io_uring_polls_added), its
 *    bytes received (by completion where the runtime can), both ways;
 *  - a refused connection: -ECONNREFUSED, one add, nothing left behind;
 *  - bytes the server sends at once, before the client's first read: none lost.
 * The peer is a plain socket that edo does not watch, so that only the client is added. */
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edo/stream_util.h"
#include "io/registration.h"
#include "net/stream_sockets.h"

/* Fds added to the runtime's io_uring backend so far (0 elsewhere). */
static uint64_t polls_added(void)
{
    edo_runtime *rt = edo_runtime_current();
    if (strcmp(edo_runtime_io_backend(rt), "io_uring") != 0 || !rt->io.backend)
        return 0;
    return edo__io_uring_polls_added(rt->io.backend);
}

/* A plain listening socket on 127.0.0.1 (its address in *addr). */
static int plain_listener(edo_sockaddr *addr)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    CHECK_EQ(bind(fd, (struct sockaddr *)&in, sizeof in), 0);
    CHECK_EQ(listen(fd, 8), 0);
    addr->len = sizeof addr->u;
    CHECK_EQ(getsockname(fd, &addr->u.sa, &addr->len), 0);
    return fd;
}

/* Connects to `addr` (accepted on `lfd`), the peer greeting first; checks the bytes both ways.
 * Returns how many fds the connection added to io_uring's backend. */
static uint64_t connect_and_talk(int lfd, const edo_sockaddr *addr)
{
    uint64_t before = polls_added();
    edo_tcp *c;
    CHECK_EQ(edo_tcp_connect_addr(addr, &c), 0);
    uint64_t added = polls_added() - before;
    CHECK(((edo_io *)c)->recv_mode || !must_receive);
    CHECK(!((edo_io *)c)->recv_mode || !must_not_receive);
    int peer = accept(lfd, NULL, NULL); /* the listen queue has it: no wait */
    CHECK(peer >= 0);
    CHECK_EQ(write(peer, "hello", 5), 5); /* before the client reads at all */
    char buf[8];
    CHECK_EQ(edo_stream_read_exact(edo_tcp_stream(c), buf, 5, NULL), 0);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(edo_tcp_write_all(c, "back", 4), 0);
    CHECK_EQ(recv(peer, buf, 4, MSG_WAITALL), 4);
    CHECK(memcmp(buf, "back", 4) == 0);
    edo_tcp_close(c);
    CHECK_EQ(recv(peer, buf, 1, 0), 0); /* its end */
    close(peer);
    return added;
}

static void *armed_once_body(void *arg)
{
    backend which = (backend)(intptr_t)arg;
    edo_sockaddr addr;
    int lfd = plain_listener(&addr);
    (void)connect_and_talk(lfd, &addr); /* the first one also makes the worker's rings */
    uint64_t added = connect_and_talk(lfd, &addr);
    if (which != ENV_BACKEND || polls_added())
        CHECK_EQ(added, 1); /* once: not registered again once connected */
    close(lfd);
    /* Refused: the port has no listener now. */
    uint64_t before = polls_added();
    edo_tcp *c;
    CHECK_EQ(edo_tcp_connect_addr(&addr, &c), -ECONNREFUSED);
    CHECK(polls_added() - before <= 1);
    return NULL;
}

TEST(a_connected_socket_is_added_once) { run_both(1, armed_once_body); }
