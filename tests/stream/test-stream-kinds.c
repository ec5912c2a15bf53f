/* One test body, run over every kind of stream: TCP, Unix, a pipe pair, the duplex pair, and
 * stdin/stdout on pipes. Each kind gives two connected streams (what `a` writes `b` reads, and
 * back); the body checks an echo round trip, a large transfer under backpressure, half-close,
 * that a read cancelled mid-way (a dropped future, a coroutine cut by its deadline) loses
 * nothing, the future forms, readiness waits (also on an idle stream), and bad input.
 *
 * TLS runs the same body over TCP and over the duplex pair (edo's client and server, the
 * test CA's certificates: tests/tls/tls_test.h).
 *
 * Adding a kind: write its connect function, add an entry to `kinds` below (under its build
 * option) and a TEST line that runs it, as the others. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "edo/duplex.h"
#include "edo/fd_stream.h"
#include "stream/fd.h"
#include "harness.h"
#include "stream/joined.h"
#include "stream/stream_test.h"
#include "tls/tls_test.h"
#include "util.h"

typedef struct kind {
    const char *name;
    /* Two connected streams, made in the calling coroutine: 0 or -errno. */
    int (*connect)(edo_stream **a, edo_stream **b);
    /* Undoes what connect changed in the process, after both streams are closed (may be NULL). */
    void (*cleanup)(void);
} kind;

/* ---- the kinds ----------------------------------------------------------------------------- */

static int tcp_connect(edo_stream **a, edo_stream **b)
{
    edo_tcp_listener *l;
    int rc = edo_tcp_listen("127.0.0.1:0", NULL, &l);
    if (rc < 0)
        return rc;
    edo_sockaddr addr;
    edo_tcp *client = NULL, *server = NULL;
    if ((rc = edo_tcp_listener_local_addr(l, &addr)) == 0 &&
        (rc = edo_tcp_connect_addr(&addr, &client)) == 0 &&
        (rc = edo_tcp_accept(l, &server, NULL)) < 0)
        edo_tcp_close(client);
    edo_tcp_listener_close(l);
    if (rc == 0) {
        *a = edo_tcp_stream(client);
        *b = edo_tcp_stream(server);
    }
    return rc;
}

static int unix_connect(edo_stream **a, edo_stream **b)
{
    edo_unix *x, *y;
    int rc = edo_unix_pair(&x, &y);
    if (rc == 0) {
        *a = edo_unix_stream(x);
        *b = edo_unix_stream(y);
    }
    return rc;
}

static int duplex_connect(edo_stream **a, edo_stream **b)
{
    return edo_duplex_new(4096, a, b); /* small: writes wait for the reader often */
}

/* Two pipes, one each way, joined into two two-way streams. */
static int pipe_connect(edo_stream **a, edo_stream **b)
{
    edo_stream *r1, *w1, *r2, *w2;
    CHECK_EQ(edo_pipe_new(&r1, &w1), 0);
    CHECK_EQ(edo_pipe_new(&r2, &w2), 0);
    *a = joined_new(r2, w1, -1);
    *b = joined_new(r1, w2, -1);
    return 0;
}

/* The process's stdin reads a pipe the test writes, its stdout writes a pipe the test reads:
 * `a` is stdin + stdout (as a filter sees them), `b` the other ends. */
static int saved_stdin = -1, saved_stdout = -1;

static int stdio_connect(edo_stream **a, edo_stream **b)
{
    fflush(stdout);
    int to_stdin[2], from_stdout[2];
    CHECK_EQ(pipe2(to_stdin, O_CLOEXEC), 0);
    CHECK_EQ(pipe2(from_stdout, O_CLOEXEC), 0);
    saved_stdin = dup(STDIN_FILENO);
    saved_stdout = dup(STDOUT_FILENO);
    CHECK(saved_stdin >= 0 && saved_stdout >= 0);
    CHECK_EQ(dup2(to_stdin[0], STDIN_FILENO), STDIN_FILENO);
    CHECK_EQ(dup2(from_stdout[1], STDOUT_FILENO), STDOUT_FILENO);
    close(to_stdin[0]);
    close(from_stdout[1]);
    edo_stream *in, *out, *peer_in, *peer_out;
    CHECK_EQ(edo_stdin_open(&in), 0);
    CHECK_EQ(edo_stdout_open(&out), 0);
    CHECK(edo_stream_raw_fd(in, false) >= 0); /* pipes: the reactor kind, not the pool */
    CHECK(edo_stream_raw_fd(out, true) >= 0);
    CHECK_EQ(edo_stream_from_fd(from_stdout[0], &peer_in), 0);
    CHECK_EQ(edo_stream_from_fd(to_stdin[1], &peer_out), 0);
    /* stdout's shutdown closes its duplicate; the reader sees the end once fd 1 goes too. */
    *a = joined_new(in, out, STDOUT_FILENO);
    *b = joined_new(peer_in, peer_out, -1);
    return 0;
}

static void stdio_cleanup(void)
{
    dup2(saved_stdin, STDIN_FILENO);
    dup2(saved_stdout, STDOUT_FILENO);
    close(saved_stdin);
    close(saved_stdout);
}

/* TLS over two connected streams: edo's client (verifying "localhost") and server. The
 * configurations live until the kind's cleanup. */
static edo_tls_config *tls_client_config, *tls_server_config;

static int tls_over(int (*inner)(edo_stream **a, edo_stream **b), edo_stream **a,
                    edo_stream **b)
{
    edo_stream *x, *y;
    int rc = inner(&x, &y), server_rc;
    if (rc < 0)
        return rc;
    tls_client_config = client_config(NULL);
    tls_server_config = server_config("server", NULL);
    rc = tls_pair(x, tls_client_config, "localhost", y, tls_server_config, a, b, &server_rc);
    CHECK_EQ(server_rc, rc); /* a failure on one side is one on both, here */
    return rc;
}

static int tls_tcp_connect(edo_stream **a, edo_stream **b)
{
    return tls_over(tcp_connect, a, b);
}

static int tls_duplex_connect(edo_stream **a, edo_stream **b)
{
    return tls_over(duplex_connect, a, b);
}

static void tls_cleanup(void)
{
    edo_tls_config_free(tls_client_config);
    edo_tls_config_free(tls_server_config);
}

static const kind kinds[] = {
    {"tcp", tcp_connect, NULL},
    {"unix", unix_connect, NULL},
    {"duplex", duplex_connect, NULL},
    {"pipe", pipe_connect, NULL},
    {"stdio", stdio_connect, stdio_cleanup},
    {"tls", tls_tcp_connect, tls_cleanup},
    {"tls_duplex", tls_duplex_connect, tls_cleanup},
};

static const kind *kind_named(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i].name, name) == 0)
            return &kinds[i];
    abort();
}

/* ---- helpers ------------------------------------------------------------------------------- */

/* Reads until the end of the stream into buf (at most max): the count. */
static size_t read_to_end(edo_stream *s, char *buf, size_t max)
{
    size_t have = 0;
    ssize_t n;
    while ((n = edo_stream_read(s, buf + have, max - have)) > 0)
        have += (size_t)n;
    CHECK_EQ(n, 0);
    return have;
}

/* ---- echo ---------------------------------------------------------------------------------- */

static void *echo_server(void *arg)
{
    edo_stream *s = arg;
    char buf[1000];
    ssize_t n;
    while ((n = edo_stream_read(s, buf, sizeof buf)) > 0)
        CHECK_EQ(edo_stream_write_all(s, buf, (size_t)n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(edo_stream_shutdown(s), 0);
    return NULL;
}

static void echo(edo_stream *a, edo_stream *b)
{
    edo_task *t;
    CHECK_EQ(edo_spawn(echo_server, b, &t), 0);
    static char msg[20000], back[sizeof msg + 1];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (char)('a' + i % 26);
    /* Smaller than any kind's buffers: the whole message fits before it is echoed. */
    CHECK_EQ(edo_stream_write_all(a, msg, 2000), 0);
    read_exact(a, back, 2000);
    CHECK(memcmp(back, msg, 2000) == 0);
    struct iovec iov[2] = {{msg, 3}, {msg + 3, 4}};
    ssize_t n = edo_stream_writev(a, iov, 2);
    CHECK(n > 0 && n <= 7);
    if (n < 7)
        CHECK_EQ(edo_stream_write_all(a, msg + n, (size_t)(7 - n)), 0);
    read_exact(a, back, 7);
    CHECK(memcmp(back, msg, 7) == 0);
    CHECK_EQ(edo_stream_flush(a), 0);
    CHECK_EQ(edo_stream_shutdown(a), 0);
    CHECK_EQ(edo_stream_shutdown(a), 0); /* twice: still 0 */
    CHECK_EQ(edo_stream_write(a, "x", 1), -EPIPE);
    CHECK_EQ(read_to_end(a, back, sizeof back), 0); /* the server's end */
    /* Closed both ways now (a TCP socket has left for TIME_WAIT, where the kernel answers
     * -ENOTCONN): shutting down again still returns 0. */
    CHECK_EQ(edo_stream_shutdown(a), 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
}

/* ---- large transfer under backpressure ---------------------------------------------------- */

typedef struct transfer {
    edo_stream *s;
    size_t total;
} transfer;

static void *send_pattern(void *arg)
{
    transfer *x = arg;
    enum { CHUNK = 65536 };
    char *buf = malloc(CHUNK);
    CHECK(buf);
    size_t sent = 0;
    while (sent < x->total) {
        size_t n = x->total - sent < CHUNK ? x->total - sent : CHUNK;
        for (size_t i = 0; i < n; i++)
            buf[i] = (char)((sent + i) * 7 % 251);
        CHECK_EQ(edo_stream_write_all(x->s, buf, n), 0);
        sent += n;
    }
    free(buf);
    CHECK_EQ(edo_stream_shutdown(x->s), 0);
    return NULL;
}

static void large_transfer(edo_stream *a, edo_stream *b)
{
    transfer x = {a, SCALE((size_t)8 << 20, (size_t)2 << 20, (size_t)1 << 20)};
    edo_task *t;
    CHECK_EQ(edo_spawn(send_pattern, &x, &t), 0);
    char buf[7919]; /* a prime: reads straddle the writes */
    size_t got = 0;
    ssize_t n;
    while ((n = edo_stream_read(b, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            CHECK_EQ((unsigned char)buf[i], (got + (size_t)i) * 7 % 251);
        got += (size_t)n;
    }
    CHECK_EQ(n, 0);
    CHECK_EQ(got, x.total);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
}

/* ---- half-close ---------------------------------------------------------------------------- */

static void half_close(edo_stream *a, edo_stream *b)
{
    CHECK_EQ(edo_stream_write_all(a, "last words", 10), 0);
    CHECK_EQ(edo_stream_shutdown(a), 0);
    char buf[32];
    CHECK_EQ(read_to_end(b, buf, sizeof buf), 10);
    CHECK(memcmp(buf, "last words", 10) == 0);
    CHECK_EQ(edo_stream_read(b, buf, sizeof buf), 0); /* the end stays the end */
    CHECK_EQ(edo_stream_write_all(b, "reply", 5), 0); /* the other way still works */
    read_exact(a, buf, 5);
    CHECK(memcmp(buf, "reply", 5) == 0);
}

/* ---- cancellation mid-read ----------------------------------------------------------------- */

static int read_one(void *arg)
{
    char c;
    return (int)edo_stream_read(arg, &c, 1);
}

static void cancelled_reads(edo_stream *a, edo_stream *b)
{
    char buf[16];
    /* A read future polled (pending: nothing written yet) and dropped. */
    edo_stream_future f;
    edo_stream_read_future_init(&f, b, buf, sizeof buf);
    CHECK_EQ(poll_once(&f), EDO_PENDING);
    edo_future_drop(&f.base);
    CHECK_EQ(edo_stream_write_all(a, "abc", 3), 0);
    edo_stream_read_future_init(&f, b, buf, sizeof buf);
    edo_future_drop(&f.base); /* never polled: dropping it touches nothing */
    read_exact(b, buf, 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    /* A coroutine read cut by its deadline: nothing to read, so it times out for sure. */
    CHECK_EQ(edo_timeout(EDO_MSEC(5), read_one, b), -ETIMEDOUT);
    CHECK_EQ(edo_stream_write_all(a, "def", 3), 0);
    read_exact(b, buf, 3);
    CHECK(memcmp(buf, "def", 3) == 0);
}

/* ---- future forms and readiness ------------------------------------------------------------ */

static void futures_and_readiness(edo_stream *a, edo_stream *b)
{
    char buf[8];
    edo_stream_future r, w;
    edo_stream_read_future_init(&r, b, buf, sizeof buf);
    edo_stream_write_all_future_init(&w, a, "futures", 7);
    edo_future *both[] = {&r.base, &w.base};
    CHECK_EQ(edo_join(both, 2, NULL), 0);
    CHECK_EQ(w.result, 0);
    CHECK(r.result > 0 && r.result <= 7);
    CHECK(memcmp(buf, "futures", (size_t)r.result) == 0);
    edo_future_drop(&r.base);
    edo_future_drop(&w.base);
    if (r.result < 7)
        read_exact(b, buf + r.result, (size_t)(7 - r.result));
    /* Readiness: wait with no buffer, then read what is there. */
    edo_stream_future ready;
    edo_stream_ready_future_init(&ready, b, EDO_READABLE);
    int rc = edo_stream_ready(a, EDO_WRITABLE);
    CHECK(rc > 0 && (rc & EDO_WRITABLE));
    edo_stream_write_future_init(&w, a, "!", 1);
    edo_future *two[] = {&ready.base, &w.base};
    CHECK_EQ(edo_join(two, 2, NULL), 0);
    CHECK_EQ(w.result, 1);
    CHECK(ready.result > 0 && (ready.result & EDO_READABLE));
    edo_future_drop(&ready.base);
    edo_future_drop(&w.base);
    CHECK_EQ(edo_stream_read(b, buf, sizeof buf), 1);
    CHECK_EQ(buf[0], '!');
    edo_stream_flush_future_init(&w, a);
    CHECK_EQ(edo_await(&w.base, NULL), 0);
    CHECK_EQ(w.result, 0);
    edo_future_drop(&w.base);
}

/* ---- an idle stream ------------------------------------------------------------------------ */

static int ready_to_read(void *arg) { return edo_stream_ready(arg, EDO_READABLE); }

/* A new stream with nothing to read: a readiness wait waits (so an idle connection holds no
 * buffer), and wakes when bytes come. */
static void idle_wait(edo_stream *a, edo_stream *b)
{
    char buf[4];
    CHECK_EQ(edo_timeout(EDO_MSEC(5), ready_to_read, b), -ETIMEDOUT);
    CHECK_EQ(edo_stream_try_read(b, buf, sizeof buf), -EAGAIN);
    CHECK_EQ(edo_stream_try_write(a, "wake", 4), 4); /* room in every kind's buffer */
    int rc = edo_stream_ready(b, EDO_READABLE);
    CHECK(rc > 0 && (rc & EDO_READABLE) && !(rc & EDO_READ_CLOSED));
    size_t have = 0;
    while (have < 4) { /* a try may still find nothing: wait again, as a server does */
        ssize_t n = edo_stream_try_read(b, buf + have, 4 - have);
        if (n == -EAGAIN)
            CHECK(edo_stream_ready(b, EDO_READABLE) > 0);
        else
            have += (size_t)n;
        CHECK(n > 0 || n == -EAGAIN);
    }
    CHECK(memcmp(buf, "wake", 4) == 0);
    CHECK_EQ(edo_stream_try_read(b, buf, 0), 0);
    CHECK_EQ(edo_stream_try_read(b, NULL, 1), -EINVAL);
}

/* ---- bad input ----------------------------------------------------------------------------- */

static void bad_input(edo_stream *a, edo_stream *b)
{
    char buf[4];
    CHECK_EQ(edo_stream_read(b, NULL, 1), -EINVAL);
    CHECK_EQ(edo_stream_read(b, buf, (size_t)SSIZE_MAX + 1), -EINVAL);
    CHECK_EQ(edo_stream_write(a, NULL, 1), -EINVAL);
    CHECK_EQ(edo_stream_writev(a, NULL, 1), -EINVAL);
    CHECK_EQ(edo_stream_ready(a, 0), -EINVAL);
    CHECK_EQ(edo_stream_read(b, buf, 0), 0);
    CHECK_EQ(edo_stream_write(a, buf, 0), 0);
    /* Nothing moved: the streams still carry a message whole. */
    CHECK_EQ(edo_stream_write_all(a, "ok", 2), 0);
    read_exact(b, buf, 2);
    CHECK(memcmp(buf, "ok", 2) == 0);
}

/* ---- running a kind ------------------------------------------------------------------------ */

typedef void (*body_fn)(edo_stream *a, edo_stream *b);

static void *run_kind(void *arg)
{
    const kind *k = arg;
    const body_fn bodies[] = {echo, large_transfer, half_close, cancelled_reads,
                              futures_and_readiness, idle_wait, bad_input};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        edo_stream *a, *b;
        CHECK_EQ(k->connect(&a, &b), 0);
        bodies[i](a, b);
        CHECK_EQ(edo_stream_close(a), 0);
        CHECK_EQ(edo_stream_close(b), 0);
        if (k->cleanup)
            k->cleanup();
    }
    return NULL;
}

static void test_kind(const char *name)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, run_kind, (void *)kind_named(name));
}

TEST(tcp) { test_kind("tcp"); }
TEST(unix) { test_kind("unix"); }
TEST(duplex) { test_kind("duplex"); }
TEST(pipe) { test_kind("pipe"); }
/* stdio over pipes is the reactor kind where the kernel takes RWF_NOWAIT on a pipe; where it
 * does not (qemu-user, which the AArch64 CI runs on) stdio is served by the blocking pool, whose
 * operations test-fd-stream covers, and whose readiness and tries this body's cases need. */
static bool pipes_take_nowait(void)
{
    int fds[2];
    CHECK_EQ(pipe2(fds, O_CLOEXEC), 0);
    bool works = edo__fd_nowait_works(fds[0], false);
    close(fds[0]);
    close(fds[1]);
    return works;
}

TEST(stdio)
{
    if (!pipes_take_nowait()) {
        printf("SKIPPED: this kernel (or emulator) does not take RWF_NOWAIT on pipes\n");
        return;
    }
    test_kind("stdio");
}

/* A build without TLS (EDO_WITH_TLS=OFF) has no TLS kind: the calls say so. */
static void test_tls_kind(const char *name)
{
    edo_tls_config *cfg;
    if (edo_tls_is_available())
        test_kind(name);
    else
        CHECK_EQ(edo_tls_config_new(&(edo_tls_options){0}, &cfg), -ENOTSUP);
}

TEST(tls) { test_tls_kind("tls"); }
TEST(tls_duplex) { test_tls_kind("tls_duplex"); }
