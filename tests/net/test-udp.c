/* UDP: datagrams between sockets, connected sockets, truncation, empty datagrams, many
 * datagrams to a waiting task, deadlines and aborts, refused peers, broadcast and multicast
 * options, bad input. */
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

static edo_udp *bind_any(edo_sockaddr *addr)
{
    edo_udp *u;
    CHECK_EQ(edo_udp_bind("127.0.0.1:0", &u), 0);
    CHECK_EQ(edo_udp_local_addr(u, addr), 0);
    return u;
}

static void *ping_pong(void *arg)
{
    (void)arg;
    edo_sockaddr a_addr, b_addr, from;
    edo_udp *a = bind_any(&a_addr), *b = bind_any(&b_addr);
    char buf[64];
    ssize_t n;
    DELIVER(n, CHECK_EQ(edo_udp_send_to(a, "ping", 4, &b_addr), 4),
            edo_udp_peek_from(b, buf, 2, &from)); /* a look at it, cut to 2 bytes */
    CHECK_EQ(n, 2);
    CHECK_EQ(from.u.in.sin_port, a_addr.u.in.sin_port);
    CHECK_EQ(edo_udp_recv_from(b, buf, sizeof buf, &from), 4); /* still there, whole */
    CHECK(memcmp(buf, "ping", 4) == 0);
    CHECK_EQ(from.u.in.sin_port, a_addr.u.in.sin_port);
    DELIVER(n, CHECK_EQ(edo_udp_send_to(b, "pong!", 5, &from), 5),
            edo_udp_recv_from(a, buf, sizeof buf, NULL));
    CHECK_EQ(n, 5);
    /* A datagram longer than the buffer is cut to it; an empty one reads as 0. */
    DELIVER(n, CHECK_EQ(edo_udp_send_to(a, "0123456789", 10, &b_addr), 10),
            edo_udp_recv(b, buf, 4));
    CHECK_EQ(n, 4);
    DELIVER(n, CHECK_EQ(edo_udp_send_to(a, "", 0, &b_addr), 0), edo_udp_recv(b, buf, sizeof buf));
    CHECK_EQ(n, 0);
    edo_udp_close(a);
    edo_udp_close(b);
    return NULL;
}

TEST(ping_pong_multi_thread) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, ping_pong, NULL); }
TEST(ping_pong_current_thread) { run_coro(EDO_RUNTIME_CURRENT_THREAD, 0, ping_pong, NULL); }

static void *connected(void *arg)
{
    (void)arg;
    edo_sockaddr a_addr, b_addr, c_addr;
    edo_udp *a = bind_any(&a_addr), *b = bind_any(&b_addr), *c = bind_any(&c_addr);
    CHECK_EQ(edo_udp_connect(b, &a_addr), 0);
    edo_sockaddr peer;
    CHECK_EQ(edo_udp_peer_addr(b, &peer), 0);
    CHECK_EQ(peer.u.in.sin_port, a_addr.u.in.sin_port);
    /* Datagrams from anyone but the connected peer are dropped by the kernel. */
    CHECK_EQ(edo_udp_send_to(c, "stranger", 8, &b_addr), 8);
    char buf[16];
    ssize_t n;
    DELIVER(n, CHECK_EQ(edo_udp_send_to(a, "friend", 6, &b_addr), 6),
            edo_udp_recv(b, buf, sizeof buf));
    CHECK_EQ(n, 6);
    CHECK(memcmp(buf, "friend", 6) == 0);
    DELIVER(n, CHECK_EQ(edo_udp_send(b, "back", 4), 4), edo_udp_recv(a, buf, sizeof buf));
    CHECK_EQ(n, 4);
    edo_udp_close(a);
    edo_udp_close(b);
    edo_udp_close(c);
    return NULL;
}

TEST(connected_socket) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, connected, NULL); }

/* A receiver task waits; the sender sends many datagrams, at most WINDOW ahead of what has been
 * received, and every one it sends is received. Loopback is not lossless: when other programs
 * flood it, its per-CPU backlog overflows and drops packets before they reach any socket
 * (column 2 of /proc/net/softnet_stat). So when the count stops moving and nothing waits in the
 * receiver's socket, the datagrams in flight were lost and the sender sends as many again. What
 * must never happen, a receiver asleep while a datagram waits in its socket, fails the test. */
enum { WINDOW = 64 };

typedef struct {
    edo_udp *u;
    _Atomic long got;
    long want;
} receiver;

static void *receive_all(void *arg)
{
    receiver *r = arg;
    char buf[32];
    while (atomic_load(&r->got) < r->want) {
        ssize_t n = edo_udp_recv(r->u, buf, sizeof buf);
        CHECK_EQ(n, 8);
        atomic_fetch_add(&r->got, 1);
    }
    return NULL;
}

/* Bytes of the next datagram waiting in `u`'s receive queue (0: none; ours are never empty). */
static int queued(edo_udp *u)
{
    int n = 0;
    CHECK_EQ(ioctl(edo_udp_fd(u), FIONREAD, &n), 0);
    return n;
}

static void *many_datagrams(void *arg)
{
    (void)arg;
    edo_sockaddr r_addr, s_addr;
    receiver r = {.want = SCALE(20000, 5000, 2000)};
    r.u = bind_any(&r_addr);
    edo_udp *s = bind_any(&s_addr);
    edo_task *t;
    CHECK_EQ(edo_spawn(receive_all, &r, &t), 0);
    long sent = 0, seen = 0, lost = 0;
    double still_since = now_s();
    for (long got; (got = atomic_load(&r.got)) < r.want;) {
        if (sent < r.want && sent - got < WINDOW) {
            CHECK_EQ(edo_udp_send_to(s, "datagram", 8, &r_addr), 8);
            sent++;
            continue;
        }
        if (got != seen) {
            seen = got;
            still_since = now_s();
        } else if (now_s() - still_since > 0.2) {
            if (queued(r.u) == 0) { /* nothing arrived: the ones in flight were dropped */
                lost += sent - got;
                sent = got;
                still_since = now_s();
            } else {
                CHECK(now_s() - still_since < 30.0); /* a datagram waits; the receiver sleeps */
            }
        }
        CHECK_EQ(edo_yield(), 0);
    }
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    CHECK_EQ(atomic_load(&r.got), r.want);
    CHECK(lost < r.want / 10); /* a rare drop, not a broken path */
    edo_udp_close(r.u);
    edo_udp_close(s);
    return NULL;
}

TEST(many_datagrams_to_a_waiting_task) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, many_datagrams, NULL); }

static void *recv_deadline(void *arg)
{
    (void)arg;
    edo_sockaddr addr;
    edo_udp *u = bind_any(&addr);
    char buf[8];
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(20)), &saved), 0);
    CHECK_EQ(edo_udp_recv(u, buf, sizeof buf), -ETIMEDOUT);
    edo_deadline_pop(saved);
    edo_udp_close(u);
    return NULL;
}

TEST(recv_honours_deadline) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, recv_deadline, NULL); }

static void *recv_forever(void *arg)
{
    char buf[8];
    return (void *)(intptr_t)edo_udp_recv(arg, buf, sizeof buf);
}

static void *abort_recv(void *arg)
{
    (void)arg;
    edo_sockaddr addr;
    edo_udp *u = bind_any(&addr);
    edo_task *t;
    CHECK_EQ(edo_spawn(recv_forever, u, &t), 0);
    CHECK_EQ(edo_sleep(EDO_MSEC(10)), 0);
    edo_task_abort(t);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
    edo_udp_close(u);
    return NULL;
}

TEST(abort_mid_recv) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, abort_recv, NULL); }

static void *refused(void *arg)
{
    (void)arg;
    edo_sockaddr gone_addr, addr;
    edo_udp *gone = bind_any(&gone_addr);
    edo_udp_close(gone); /* nobody there now */
    edo_udp *u = bind_any(&addr);
    CHECK_EQ(edo_udp_connect(u, &gone_addr), 0);
    char buf[4];
    ssize_t n;
    DELIVER(n, CHECK_EQ(edo_udp_send(u, "x", 1), 1), edo_udp_recv(u, buf, sizeof buf));
    CHECK_EQ(n, -ECONNREFUSED); /* the ICMP came back */
    edo_udp_close(u);
    return NULL;
}

TEST(connected_peer_refuses) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, refused, NULL); }

static void *multicast(void *arg)
{
    (void)arg;
    edo_udp *u;
    CHECK_EQ(edo_udp_bind("0.0.0.0:0", &u), 0);
    CHECK_EQ(edo_udp_set_broadcast(u, true), 0);
    CHECK_EQ(edo_udp_set_multicast_loop(u, true), 0);
    CHECK_EQ(edo_udp_set_multicast_ttl(u, 1), 0);
    CHECK_EQ(edo_udp_set_multicast_ttl(u, 256), -EINVAL);
    edo_sockaddr group, unicast;
    CHECK_EQ(edo_sockaddr_parse("239.255.42.99:0", &group), 0);
    CHECK_EQ(edo_sockaddr_parse("10.0.0.1:0", &unicast), 0);
    CHECK_EQ(edo_udp_join_multicast(u, &unicast, 0), -EINVAL);
    int rc = edo_udp_join_multicast(u, &group, 0);
    if (rc == -ENODEV) { /* no multicast route on this machine */
        edo_udp_close(u);
        return NULL;
    }
    CHECK_EQ(rc, 0);
    edo_sockaddr self;
    CHECK_EQ(edo_udp_local_addr(u, &self), 0);
    group.u.in.sin_port = self.u.in.sin_port;
    char buf[8];
    ssize_t n;
    DELIVER(n, CHECK_EQ(edo_udp_send_to(u, "all", 3, &group), 3), edo_udp_recv(u, buf, sizeof buf));
    CHECK_EQ(n, 3); /* looped back to ourselves */
    CHECK_EQ(edo_udp_leave_multicast(u, &group, 0), 0);
    edo_udp_close(u);
    return NULL;
}

TEST(broadcast_and_multicast) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, multicast, NULL); }

TEST(udp_bad_input)
{
    edo_udp *u;
    edo_sockaddr a;
    char buf[4];
    CHECK_EQ(edo_udp_bind("127.0.0.1:0", &u), -EPERM); /* not in a runtime */
    CHECK_EQ(edo_udp_bind("127.0.0.1:0", NULL), -EINVAL);
    CHECK_EQ(edo_udp_bind_addr(NULL, &u), -EINVAL);
    CHECK_EQ(edo_udp_send_to(NULL, buf, 1, &a), -EINVAL);
    CHECK_EQ(edo_udp_recv(NULL, buf, 1), -EINVAL);
    CHECK_EQ(edo_udp_connect(NULL, &a), -EINVAL);
    CHECK_EQ(edo_udp_close(NULL), -EINVAL);
    CHECK_EQ(edo_udp_join_multicast(NULL, &a, 0), -EINVAL);
    CHECK_EQ(edo_udp_fd(NULL), -EINVAL);
}

/* The future forms: a send_to future and a recv_from future, awaited in a coroutine. */
static void send_by_future(edo_udp *u, const char *msg, size_t len, const edo_sockaddr *to)
{
    edo_socket_future send;
    edo_udp_send_to_future_init(&send, u, msg, len, to);
    CHECK_EQ(edo_await(&send.base, NULL), 0);
    CHECK_EQ(send.result, (ssize_t)len);
    edo_future_drop(&send.base);
}

/* The future's result, or the await's error (-ETIMEDOUT past the deadline): a peek, then the
 * receive of the same datagram. */
static ssize_t recv_by_future(edo_udp *u, char *buf, size_t cap, edo_sockaddr *from)
{
    edo_socket_future peek, recv;
    edo_udp_peek_from_future_init(&peek, u, buf, cap, from);
    int rc = edo_await(&peek.base, NULL);
    edo_future_drop(&peek.base);
    if (rc < 0)
        return rc;
    edo_udp_recv_from_future_init(&recv, u, buf, cap, from);
    CHECK_EQ(edo_await(&recv.base, NULL), 0); /* queued already: no wait */
    edo_future_drop(&recv.base);
    CHECK_EQ(recv.result, peek.result);
    return recv.result;
}

static void *udp_futures(void *arg)
{
    (void)arg;
    edo_sockaddr a_addr, b_addr, from;
    edo_udp *a = bind_any(&a_addr), *b = bind_any(&b_addr);
    char buf[16];
    ssize_t n;
    DELIVER(n, send_by_future(a, "fut", 3, &b_addr), recv_by_future(b, buf, sizeof buf, &from));
    CHECK_EQ(n, 3);
    CHECK_EQ(from.u.in.sin_port, a_addr.u.in.sin_port);
    edo_udp_close(a);
    edo_udp_close(b);
    return NULL;
}

TEST(future_forms) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, udp_futures, NULL); }
