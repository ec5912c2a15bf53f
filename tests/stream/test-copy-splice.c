/* edo/stream_copy.h on kernel fds, the splice path: TCP, Unix, pipes; what the splice path
 * promises besides the bytes (a counter says every byte was spliced, no SIGPIPE, pipes
 * reused and held only while the reader has bytes). */
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "edo/duplex.h"
#include "edo/fd_stream.h"
#include "stream/copy_test.h"
#include "stream/stream_test.h"

/* Two connected streams of a kind. */
typedef enum { TCP, UNIX_STREAM, PIPE } fd_kind;

static void connect_kind(fd_kind kind, edo_stream **a, edo_stream **b)
{
    if (kind == PIPE) { /* a reads what b writes */
        CHECK_EQ(edo_pipe_new(a, b), 0);
    } else if (kind == UNIX_STREAM) {
        edo_unix *x, *y;
        CHECK_EQ(edo_unix_pair(&x, &y), 0);
        *a = edo_unix_stream(x);
        *b = edo_unix_stream(y);
    } else {
        edo_tcp_listener *l;
        CHECK_EQ(edo_tcp_listen("127.0.0.1:0", NULL, &l), 0);
        edo_sockaddr addr;
        edo_tcp *client, *server;
        CHECK_EQ(edo_tcp_listener_local_addr(l, &addr), 0);
        CHECK_EQ(edo_tcp_connect_addr(&addr, &client), 0);
        CHECK_EQ(edo_tcp_accept(l, &server, NULL), 0);
        CHECK_EQ(edo_tcp_listener_close(l), 0);
        *a = edo_tcp_stream(client);
        *b = edo_tcp_stream(server);
    }
}

/* Whether a copy from `s` can splice: it hands out an fd to read. A socket whose bytes edo
 * receives by completion (io_uring, registered on a worker: io/inbox.h) has none, its bytes
 * being in its inbox, and a copy from it takes the buffered path. */
static bool reads_raw(edo_stream *s) { return edo_stream_raw_fd(s, false) >= 0; }

/* On kernel fds every byte goes by splice (from a socket received by completion, none). */
static void *splice_copy_body(void *arg)
{
    fd_kind kind = (fd_kind)(intptr_t)arg;
    edo_stream *in_r, *in_w, *out_r, *out_w;
    connect_kind(kind, &in_r, &in_w);
    connect_kind(kind, &out_r, &out_w);
    copy_through(in_r, in_w, out_r, out_w, SCALE(16 << 20, 4 << 20, 1 << 20), reads_raw(in_r));
    return NULL;
}

TEST(splice_tcp)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, splice_copy_body, (void *)TCP);
}
TEST(splice_unix)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, splice_copy_body, (void *)UNIX_STREAM);
}
TEST(splice_pipe)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, splice_copy_body, (void *)PIPE);
}

/* A proxy between two TCP connections: the half-close passes through by splice. */
static void *splice_proxy_body(void *arg)
{
    (void)arg;
    edo_stream *client, *a, *b, *server;
    connect_kind(TCP, &client, &a);
    connect_kind(TCP, &b, &server);
    uint64_t spliced = edo__copy_spliced_bytes();
    size_t up = SCALE(8 << 20, 2 << 20, 512 << 10), down = SCALE(3 << 20, 1 << 20, 256 << 10);
    bool up_raw = reads_raw(a), down_raw = reads_raw(b);
    relay_half_close(client, a, b, server, up, down);
    CHECK_EQ(edo__copy_spliced_bytes() - spliced, (up_raw ? up : 0) + (down_raw ? down : 0));
    return NULL;
}

TEST(splice_proxy_half_close)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, splice_proxy_body, NULL);
}

/* A reset on one side ends the proxy at once, though the other side is idle. */
static void *splice_reset_body(void *arg)
{
    (void)arg;
    edo_stream *client, *a, *b, *server;
    connect_kind(TCP, &client, &a);
    connect_kind(TCP, &b, &server);
    relay rl = {a, b, 0, 0, 1};
    edo_task *t = spawn(run_relay, &rl);
    CHECK_EQ(edo_stream_write_all(client, "abc", 3), 0);
    char buf[3];
    read_exact(server, buf, 3);
    struct linger now = {.l_onoff = 1, .l_linger = 0}; /* close with a reset */
    int fd = edo_stream_raw_fd(server, true);
    CHECK_EQ(setsockopt(fd, SOL_SOCKET, SO_LINGER, &now, sizeof now), 0);
    CHECK_EQ(edo_stream_close(server), 0);
    join(t); /* the client stays silent: only the reset ends the relay */
    CHECK_EQ(rl.rc, -ECONNRESET);
    CHECK_EQ(rl.a_to_b, 3);
    close_all((edo_stream *[]){client, a, b}, 3);
    return NULL;
}

TEST(splice_reset_ends_both)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, splice_reset_body, NULL);
}

/* A copy from a socket to a duplex cannot splice: the buffer path, the same bytes. */
static void *mixed_body(void *arg)
{
    (void)arg;
    edo_stream *in_r, *in_w, *d, *d2;
    connect_kind(TCP, &in_r, &in_w);
    CHECK_EQ(edo_duplex_new(4096, &d, &d2), 0);
    copy_through(in_r, in_w, d2, d, SCALE(1 << 20, 256 << 10, 64 << 10), false);
    return NULL;
}

TEST(socket_to_duplex_uses_the_buffer)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, mixed_body, NULL);
}

/* Split halves of a TCP connection in two tasks against a splice echo (copy of a stream into
 * itself): the halves pass raw_fd and poll_raw_io through, so even the echo splices. */
static void *split_tcp_body(void *arg)
{
    (void)arg;
    edo_stream *x, *y, *r, *w;
    connect_kind(TCP, &x, &y);
    CHECK_EQ(edo_stream_split(x, &r, &w), 0);
    size_t total = SCALE(4 << 20, 1 << 20, 256 << 10);
    bool raw = reads_raw(y);
    uint64_t spliced = edo__copy_spliced_bytes();
    edo_task *echo = spawn(echo_copy, y);
    pattern pw = {w, total, 6, true}, pr = {r, total, 6, false};
    edo_task *tw = spawn(write_pattern, &pw), *tr = spawn(read_pattern, &pr);
    join(tw);
    CHECK_EQ((size_t)join(tr), total);
    CHECK_EQ((size_t)join(echo), total);
    CHECK_EQ(edo__copy_spliced_bytes() - spliced, raw ? total : 0);
    close_all((edo_stream *[]){r, w, y}, 3);
    return NULL;
}

TEST(split_tcp_halves_in_two_tasks)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 4, split_tcp_body, NULL);
}

/* Splicing into a socket whose peer has gone: -EPIPE (or the peer's reset), not a SIGPIPE that
 * kills the process (splice has no MSG_NOSIGNAL). */
static void *feed(void *arg)
{
    edo_stream *s = arg;
    static const char block[4096];
    while (edo_stream_write_all(s, block, sizeof block) == 0)
        ;
    return NULL; /* the copy ended and its reader closed: -EPIPE */
}

static void *splice_to_gone_peer_body(void *arg)
{
    (void)arg;
    edo_stream *in_r, *in_w, *out_r, *out_w;
    connect_kind(PIPE, &in_r, &in_w);
    connect_kind(TCP, &out_r, &out_w);
    CHECK_EQ(edo_stream_close(out_r), 0); /* the peer has gone */
    edo_task *t = spawn(feed, in_w);
    uint64_t copied;
    int rc = edo_stream_copy(in_r, out_w, &copied);
    CHECK(rc == -EPIPE || rc == -ECONNRESET);
    CHECK_EQ(edo_stream_close(in_r), 0); /* ends the feeder */
    join(t);
    close_all((edo_stream *[]){in_w, out_w}, 2);
    return NULL;
}

TEST(splice_to_a_gone_peer_is_epipe)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, splice_to_gone_peer_body, NULL);
}

/* The splice path's pipes are reused: one given back empty comes out again; one given back
 * holding bytes is closed (its bytes must not reach the next copy). */
TEST(pipe_pool)
{
    int p[2], q[2];
    CHECK_EQ(edo__pipe_take(p), 0);
    edo__pipe_give_back(p, true);
    CHECK_EQ(edo__pipe_take(q), 0);
    CHECK_EQ(q[0], p[0]);
    CHECK_EQ(q[1], p[1]);
    CHECK_EQ(write(q[1], "x", 1), 1);
    edo__pipe_give_back(q, false);
    CHECK_EQ(fcntl(q[0], F_GETFD), -1); /* closed */
    CHECK_EQ(fcntl(q[1], F_GETFD), -1);
}

/* A splice copy whose reader has nothing holds no pipe (an idle proxied connection costs no
 * fds beyond its sockets); once bytes come it takes one again and moves them. */
static void *idle_copy_body(void *arg)
{
    (void)arg;
    edo_stream *in_r, *in_w, *out_r, *out_w;
    connect_kind(TCP, &in_r, &in_w);
    connect_kind(TCP, &out_r, &out_w);
    edo_stream_copy_future f;
    edo_stream_copy_future_init(&f, in_r, out_w);
    CHECK_EQ(poll_future(&f.base), EDO_PENDING); /* nothing to read yet */
    edo__copy *c = edo__copy_of(&f.state_);
    CHECK(c->splicing);
    CHECK_EQ(c->pipe_in, -1);
    CHECK_EQ(edo_stream_write_all(in_w, "hello", 5), 0);
    CHECK_EQ(edo_stream_shutdown(in_w), 0);
    uint64_t spliced = edo__copy_spliced_bytes();
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, 0);
    CHECK_EQ(f.copied, 5);
    edo_future_drop(&f.base);
    CHECK_EQ(edo__copy_spliced_bytes() - spliced, 5);
    char buf[5];
    read_exact(out_r, buf, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    close_all((edo_stream *[]){in_r, in_w, out_r, out_w}, 4);
    return NULL;
}

TEST(idle_splice_copy_holds_no_pipe)
{
    run_paused(idle_copy_body, NULL);
}

/* The same on io_uring, on 30 fresh runtimes: the pipe's read end, closed right after the
 * copy, must let go of its file though its poll was busy with an event (the feeder writes on).
 * Its removal was an IORING_OP_POLL_REMOVE, which could leave the poll armed: the feeder then
 * waited for room in a pipe nobody read (1 run in 4 of the test above on io_uring). */
TEST(splice_to_a_gone_peer_on_io_uring)
{
    for (int i = 0; i < 30; i++) {
        edo_runtime *rt;
        edo_runtime_config cfg = {.worker_threads = 2, .io_backend = EDO_IO_BACKEND_IO_URING};
        int rc = edo_runtime_new(&cfg, &rt);
        if (rc == -ENOSYS) {
            fprintf(stderr, "no io_uring here: skipped\n");
            return;
        }
        CHECK_EQ(rc, 0);
        run_on(rt, splice_to_gone_peer_body, NULL);
        edo_runtime_free(rt);
    }
}
