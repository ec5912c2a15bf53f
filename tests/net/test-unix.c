/* Unix domain sockets: stream echo on a path and on an abstract name, address errors, datagrams
 * between bound and unbound sockets, socket pairs and peer credentials, peek and vectored
 * transfers. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

static void *echo_one(void *arg)
{
    edo_unix_listener *l = arg;
    edo_unix *c;
    CHECK_EQ(edo_unix_accept(l, &c), 0);
    char buf[64];
    ssize_t n;
    while ((n = edo_unix_read(c, buf, sizeof buf)) > 0)
        CHECK_EQ(edo_unix_write_all(c, buf, (size_t)n), 0);
    CHECK_EQ(n, 0);
    edo_unix_close(c);
    return NULL;
}

static void *stream_echo(void *arg)
{
    const char *path = arg;
    edo_unix_listener *l;
    CHECK_EQ(edo_unix_listen(path, 0, &l), 0);
    int type = 0;
    socklen_t len = sizeof type;
    CHECK_EQ(getsockopt(edo_unix_listener_fd(l), SOL_SOCKET, SO_TYPE, &type, &len), 0);
    CHECK_EQ(type, SOCK_STREAM);
    edo_task *server;
    CHECK_EQ(edo_spawn(echo_one, l, &server), 0);
    edo_unix *c;
    CHECK_EQ(edo_unix_connect(path, &c), 0);
    CHECK_EQ(edo_unix_write_all(c, "over unix", 9), 0);
    char buf[16];
    size_t have = 0;
    while (have < 9) {
        ssize_t n = edo_unix_read(c, buf + have, sizeof buf - have);
        CHECK(n > 0);
        have += (size_t)n;
    }
    CHECK(memcmp(buf, "over unix", 9) == 0);
    CHECK_EQ(edo_unix_shutdown(c, SHUT_WR), 0);
    CHECK_EQ(edo_task_join(server, NULL), 0);
    edo_task_free(server);
    CHECK_EQ(edo_unix_read(c, buf, sizeof buf), 0);
    edo_unix_close(c);
    edo_unix_listener *again;
    if (path[0] != '@')
        CHECK_EQ(edo_unix_listen(path, 0, &again), -EADDRINUSE); /* the file is still there */
    edo_unix_listener_close(l);
    return NULL;
}

TEST(stream_on_a_path)
{
    char path[64];
    snprintf(path, sizeof path, "/tmp/edo-test-%d.sock", (int)getpid());
    unlink(path);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, stream_echo, path);
    CHECK_EQ(unlink(path), 0);
}

TEST(stream_on_an_abstract_name)
{
    char name[64];
    snprintf(name, sizeof name, "@edo-test-%d", (int)getpid());
    run_coro(EDO_RUNTIME_CURRENT_THREAD, 0, stream_echo, name);
}

static void *connect_errors(void *arg)
{
    (void)arg;
    edo_unix *c;
    CHECK_EQ(edo_unix_connect("/tmp/edo-no-such-socket", &c), -ENOENT);
    char name[64];
    snprintf(name, sizeof name, "@edo-nobody-%d", (int)getpid());
    CHECK_EQ(edo_unix_connect(name, &c), -ECONNREFUSED);
    return NULL;
}

TEST(connect_errors) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, connect_errors, NULL); }

static void *datagrams(void *arg)
{
    (void)arg;
    char a_name[64], b_name[64];
    snprintf(a_name, sizeof a_name, "@edo-dg-a-%d", (int)getpid());
    snprintf(b_name, sizeof b_name, "@edo-dg-b-%d", (int)getpid());
    edo_udp *a, *b, *anon;
    CHECK_EQ(edo_unix_datagram_bind(a_name, &a), 0);
    CHECK_EQ(edo_unix_datagram_bind(b_name, &b), 0);
    CHECK_EQ(edo_unix_datagram_bind(NULL, &anon), 0);
    edo_sockaddr b_addr, from;
    CHECK_EQ(edo_sockaddr_unix(b_name, &b_addr), 0);
    CHECK_EQ(edo_udp_send_to(a, "hi b", 4, &b_addr), 4);
    char buf[16];
    CHECK_EQ(edo_udp_recv_from(b, buf, sizeof buf, &from), 4);
    char text[EDO_SOCKADDR_TEXT];
    CHECK(edo_sockaddr_format(&from, text, sizeof text) > 0);
    CHECK(strcmp(text, a_name) == 0); /* abstract names print with '@' */
    CHECK_EQ(edo_udp_send_to(b, "hi a", 4, &from), 4);
    CHECK_EQ(edo_udp_recv(a, buf, sizeof buf), 4);
    CHECK_EQ(edo_udp_send_to(anon, "anon", 4, &b_addr), 4); /* an unbound sender */
    CHECK_EQ(edo_udp_recv(b, buf, sizeof buf), 4);
    edo_udp_close(a);
    edo_udp_close(b);
    edo_udp_close(anon);
    return NULL;
}

TEST(datagrams_between_abstract_names) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, datagrams, NULL); }

/* A stream pair and a datagram pair; each end knows who holds the other (this process). */
static void *pairs(void *arg)
{
    (void)arg;
    edo_unix *a, *b;
    CHECK_EQ(edo_unix_pair(&a, &b), 0);
    CHECK_EQ(edo_unix_write_all(a, "one", 3), 0);
    char buf[8];
    CHECK_EQ(edo_unix_read(b, buf, sizeof buf), 3);
    CHECK_EQ(edo_unix_shutdown(b, SHUT_WR), 0);
    CHECK_EQ(edo_unix_read(a, buf, sizeof buf), 0); /* the other end's end-of-stream */
    edo_unix_cred cred;
    CHECK_EQ(edo_unix_peer_cred(a, &cred), 0);
    CHECK_EQ(cred.pid, getpid());
    CHECK_EQ(cred.uid, getuid());
    CHECK_EQ(cred.gid, getgid());
    CHECK_EQ(edo_unix_peer_cred(a, NULL), -EINVAL);
    CHECK_EQ(edo_unix_peer_cred(NULL, &cred), -EINVAL);
    edo_unix_close(a);
    edo_unix_close(b);

    edo_udp *x, *y;
    CHECK_EQ(edo_unix_datagram_pair(&x, &y), 0);
    CHECK_EQ(edo_udp_send(x, "dg", 2), 2);
    CHECK_EQ(edo_udp_send(y, "back", 4), 4);
    CHECK_EQ(edo_udp_recv(y, buf, sizeof buf), 2);
    CHECK_EQ(edo_udp_recv(x, buf, sizeof buf), 4);
    edo_udp_close(x);
    edo_udp_close(y);
    CHECK_EQ(edo_unix_pair(NULL, &b), -EINVAL);
    CHECK_EQ(edo_unix_datagram_pair(&x, NULL), -EINVAL);
    return NULL;
}

TEST(socket_pairs) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, pairs, NULL); }

/* Peek, scatter and gather on a Unix stream, as calls, tries and futures. */
static void *vectored(void *arg)
{
    (void)arg;
    edo_unix *a, *b;
    CHECK_EQ(edo_unix_pair(&a, &b), 0);
    char head[3] = "hdr", body[5] = "body!", in1[4], in2[8];
    struct iovec out[2] = {{head, 3}, {body, 5}};
    CHECK_EQ(edo_unix_writev(a, out, 2), 8);
    CHECK_EQ(edo_unix_peek(b, in1, 3), 3); /* still queued */
    CHECK(memcmp(in1, "hdr", 3) == 0);
    struct iovec in[2] = {{in1, 4}, {in2, 8}};
    CHECK_EQ(edo_unix_readv(b, in, 2), 8);
    CHECK(memcmp(in1, "hdrb", 4) == 0 && memcmp(in2, "ody!", 4) == 0);
    CHECK_EQ(edo_unix_try_readv(b, in, 2), -EAGAIN);
    CHECK_EQ(edo_unix_try_writev(b, out, 2), 8);
    CHECK_EQ(edo_unix_readv(a, NULL, 1), -EINVAL);

    edo_socket_future f;
    edo_unix_peek_future_init(&f, a, in1, 3);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, 3);
    edo_future_drop(&f.base);
    edo_unix_readv_future_init(&f, a, in, 2);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, 8);
    edo_future_drop(&f.base);
    edo_unix_writev_future_init(&f, a, out, 2);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, 8);
    edo_future_drop(&f.base);
    CHECK_EQ(edo_unix_readv(b, in, 2), 8); /* a try could still see the readiness cleared */
    CHECK(memcmp(in1, "hdrb", 4) == 0);
    edo_unix_writev_future_init(&f, a, NULL, 2);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    edo_unix_close(a);
    edo_unix_close(b);
    return NULL;
}

TEST(peek_and_vectored) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, vectored, NULL); }

TEST(unix_address_errors)
{
    edo_sockaddr a;
    char long_path[200];
    memset(long_path, 'x', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = '\0';
    CHECK_EQ(edo_sockaddr_unix(long_path, &a), -ENAMETOOLONG);
    CHECK_EQ(edo_sockaddr_unix("", &a), -EINVAL);
    CHECK_EQ(edo_sockaddr_unix("/tmp/x", NULL), -EINVAL);
    CHECK_EQ(edo_sockaddr_unix("/tmp/x.sock", &a), 0);
    char text[EDO_SOCKADDR_TEXT];
    CHECK(edo_sockaddr_format(&a, text, sizeof text) > 0);
    CHECK(strcmp(text, "/tmp/x.sock") == 0);
    edo_unix_listener *l;
    edo_unix *c;
    CHECK_EQ(edo_unix_listen("/tmp/x.sock", 0, &l), -EPERM); /* not in a runtime */
    CHECK_EQ(edo_unix_listen("/tmp/x.sock", 0, NULL), -EINVAL);
    CHECK_EQ(edo_unix_connect("/tmp/x.sock", &c), -EPERM);
    CHECK_EQ(edo_unix_close(NULL), -EINVAL);
    CHECK_EQ(edo_unix_listener_close(NULL), -EINVAL);
    CHECK_EQ(edo_unix_listener_fd(NULL), -EINVAL);
    edo_unix *p1, *p2;
    CHECK_EQ(edo_unix_pair(&p1, &p2), -EPERM); /* not in a runtime */
    CHECK_EQ(edo_unix_fd(NULL), -EINVAL);
    CHECK_EQ(edo_unix_read(NULL, text, 1), -EINVAL);
}
