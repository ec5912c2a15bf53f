/* Stream sockets received by completion (io_uring's multishot receive into each worker's
 * provided buffers, copied into the registration's inbox: io/inbox.h), and the same bodies on
 * the backend the environment chooses (epoll by default; CI runs the suite again with
 * EDO_IO_BACKEND=uring) and on io_uring whose workers have no buffers (the fallback to
 * readiness, as on a kernel without multishot receive), so every promise holds on all three:
 *  - large transfers in both directions at once arrive byte-exact;
 *  - a reader slower than its sender: the inbox stops at its cap, the sender is pushed back by
 *    TCP's flow control, and nothing is lost once the reader catches up;
 *  - a read dropped or timed out half-way loses no bytes: the next read gets them;
 *  - end of file and a reset after data: the data first, then 0 or the error;
 *  - a copy from a socket after reads through the inbox: the rest, byte-exact;
 *  - a lane with two tiny buffers (the receive runs out, -ENOBUFS, and is armed again) and an
 *    inbox cap of one buffer: many connections at once, byte-exact; the buffers consumed in
 *    parts (where the kernel can) and whole; and with every re-arm refused (the reader asks);
 *  - a re-arm refused in the resync after lost completions: the worker asks for it itself;
 *  - close while the receive is armed and bytes wait in the inbox, from the owner and from a
 *    thread that is not a worker: the peer sees its end of file;
 *  - a Unix pair's stream: vectors, and tries from a thread that is not a worker;
 *  - the peer's end seen by the poll while the receive is armed restarts the receive (once per
 *    registration, a workaround for a kernel that kept such an end back): bytes and end arrive.
 * The io_uring cases skip where the kernel has no io_uring. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/runtime.h"
#include "edo/stream_copy.h"
#include "harness.h"
#include "io/backend.h"
#include "io/driver.h"
#include "io/registration.h"
#include "io/uring/ring.h"
#include "net/stream_sockets.h"
#include "util.h"

/* Whether the runtime running us receives stream sockets by completion (io_uring, and the
 * kernel has multishot receive and buffer rings): then every socket made on a worker must be. */
static bool receives(edo_tcp *c)
{
    return edo__io_receives(((edo_io *)c)->driver);
}

/* A connected pair (util.h's): `c` connected, `s` accepted, both on this worker. On a worker
 * that receives by completion both are received so (the connected one registered again once
 * its connect completed). */
static void pair(edo_tcp **c, edo_tcp **s)
{
    tcp_pair(c, s);
    bool completion = receives(*c);
    CHECK(completion || !must_receive);
    CHECK(!completion || !must_not_receive);
    CHECK_EQ(((edo_io *)*c)->recv_mode, completion);
    CHECK_EQ(((edo_io *)*s)->recv_mode, completion);
}

/* ---- large transfers ------------------------------------------------------------------------ */

static void *both_ways_body(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    pair(&c, &s);
    size_t total = SCALE(32 << 20, 8 << 20, 2 << 20);
    pattern up_w = {c, total, 1}, up_r = {s, total, 1};
    pattern down_w = {s, total / 2, 2}, down_r = {c, total / 2, 2};
    edo_task *t[4] = {spawn(write_pattern, &up_w), spawn(write_pattern, &down_w),
                      spawn(read_pattern, &up_r), spawn(read_pattern, &down_r)};
    join(t[0]);
    join(t[1]);
    CHECK_EQ((size_t)(uintptr_t)join(t[2]), total);
    CHECK_EQ((size_t)(uintptr_t)join(t[3]), total / 2);
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

TEST(large_transfers_both_ways_byte_exact) { run_both(2, both_ways_body); }

/* ---- a slow reader ----------------------------------------------------------------------- */

static int wait_writable(void *c)
{
    int rc = edo_tcp_ready(c, EDO_WRITABLE);
    return rc < 0 ? rc : 0;
}

/* Writes until the writer is pushed back: a wait for writability that 300 ms do not answer
 * (on a slow machine it may come sooner: fewer bytes, the same checks). Returns the bytes
 * written, which must stay bounded: without the inbox's cap the receive would take all. */
static void *write_until_pushed_back(void *arg)
{
    pattern *p = arg;
    enum { SIZE = 16384 };
    uint8_t *buf = malloc(SIZE);
    CHECK(buf);
    size_t done = 0;
    for (;;) {
        for (size_t i = 0; i < SIZE; i++)
            buf[i] = byte_at(done + i, p->seed);
        ssize_t n = edo_tcp_try_write(p->c, buf, SIZE);
        if (n > 0) {
            done += (size_t)n;
            CHECK(done < ((size_t)64 << 20));
            continue;
        }
        CHECK_EQ(n, -EAGAIN);
        if (edo_timeout(EDO_MSEC(300), wait_writable, p->c) == -ETIMEDOUT)
            break;
    }
    free(buf);
    return (void *)(uintptr_t)done;
}

static void *slow_reader_body(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    pair(&c, &s);
    pattern w = {c, 0, 3};
    size_t written = (size_t)(uintptr_t)join(spawn(write_until_pushed_back, &w));
    edo_io *sio = (edo_io *)s;
    if (sio->recv_mode) { /* the inbox held at its cap, plus what was in flight when it stopped */
        edo__spin_lock(&sio->inbox->lock);
        size_t held = sio->inbox->len;
        uint8_t state = sio->inbox->state;
        edo__spin_unlock(&sio->inbox->lock);
        CHECK(held >= EDO__INBOX_CAP);
        CHECK(held <= EDO__INBOX_CAP + 256 * 4096);
        CHECK(state == EDO__INBOX_STOPPED || state == EDO__INBOX_STOPPING);
    }
    pattern r = {s, written, 3};
    CHECK_EQ((size_t)(uintptr_t)read_pattern(&r), written); /* then the rest, all of it */
    /* Reading on: the receive was armed again, and a second round passes too. */
    pattern w2 = {c, 3 << 20, 4}, r2 = {s, 3 << 20, 4};
    edo_task *tw = spawn(write_pattern, &w2);
    CHECK_EQ((size_t)(uintptr_t)read_pattern(&r2), (size_t)3 << 20);
    join(tw);
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

TEST(slow_reader_pushes_the_sender_back) { run_both(2, slow_reader_body); }

/* ---- reads given up half-way ----------------------------------------------------------------- */

static void *dropped_read_body(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    pair(&c, &s);
    char buf[64];
    /* A read future polled while nothing has come, then dropped once the bytes are there. */
    edo_socket_future f;
    edo_tcp_read_future_init(&f, s, buf, sizeof buf);
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
    CHECK_EQ(edo_tcp_write_all(c, "first", 5), 0);
    CHECK_EQ(edo_tcp_ready(s, EDO_READABLE) & EDO_READABLE, EDO_READABLE);
    edo_future_drop(&f.base);
    CHECK_EQ(edo_tcp_read(s, buf, sizeof buf), 5);
    CHECK(memcmp(buf, "first", 5) == 0);
    /* Reads that time out while a writer trickles bytes in: none is lost. */
    size_t total = SCALE(2 << 20, 512 << 10, 128 << 10);
    pattern w = {c, total, 5};
    edo_task *tw = spawn(write_pattern, &w);
    enum { BIG = 3000 };
    uint8_t *big = malloc(BIG);
    CHECK(big);
    size_t done = 0;
    unsigned timeouts = 0;
    while (done < total) {
        edo_socket_future rf;
        edo_tcp_read_future_init(&rf, s, big, BIG);
        edo_timeout_future t;
        CHECK_EQ(edo_timeout_future_init(&t, &rf.base, EDO_USEC(done % 3 ? 1 : 50)), 0);
        void *out;
        CHECK_EQ(edo_await(&t.base, &out), 0);
        if (t.result == -ETIMEDOUT) {
            timeouts++;
        } else {
            CHECK(rf.result > 0);
            check_bytes(big, rf.result, done, 5);
            done += (size_t)rf.result;
        }
        edo_future_drop(&t.base);
    }
    join(tw);
    free(big);
    (void)timeouts; /* how many depends on the machine; that none lost a byte does not */
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

TEST(dropped_or_timed_out_read_loses_no_bytes) { run_both(2, dropped_read_body); }

/* ---- the end of the stream ----------------------------------------------------------------- */

static void *end_after_data_body(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    char buf[16];
    /* End of file after data: the data, then 0, and 0 again. */
    pair(&c, &s);
    CHECK_EQ(edo_tcp_write_all(c, "hello", 5), 0);
    CHECK_EQ(edo_tcp_shutdown(c, SHUT_WR), 0);
    CHECK_EQ(edo_tcp_ready(s, EDO_READABLE) & EDO_READABLE, EDO_READABLE);
    CHECK_EQ(edo_tcp_peek(s, buf, sizeof buf), 5);
    CHECK_EQ(edo_tcp_read(s, buf, 2), 2);
    CHECK_EQ(edo_tcp_read(s, buf + 2, sizeof buf), 3);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(edo_tcp_read(s, buf, sizeof buf), 0);
    CHECK_EQ(edo_tcp_read(s, buf, sizeof buf), 0);
    edo_tcp_close(c);
    edo_tcp_close(s);
    /* A reset after data: the data, then the reset. */
    pair(&c, &s);
    CHECK_EQ(edo_tcp_write_all(c, "data", 4), 0);
    CHECK_EQ(edo_tcp_ready(s, EDO_READABLE) & EDO_READABLE, EDO_READABLE);
    CHECK_EQ(edo_tcp_set_linger(c, 0), 0);
    edo_tcp_close(c); /* sends a reset */
    CHECK_EQ(edo_tcp_read(s, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "data", 4) == 0);
    CHECK_EQ(edo_tcp_read(s, buf, sizeof buf), -ECONNRESET);
    edo_tcp_close(s);
    return NULL;
}

TEST(end_of_file_and_reset_after_data) { run_both(2, end_after_data_body); }

/* ---- a copy after reads --------------------------------------------------------------------- */

static void *write_then_shut(void *arg)
{
    pattern *p = arg;
    write_pattern(p);
    CHECK_EQ(edo_tcp_shutdown(p->c, SHUT_WR), 0);
    return NULL;
}

/* Reads to end of file, checking the pattern from offset p->total on; returns where it ended. */
static void *read_to_end(void *arg)
{
    pattern *p = arg;
    enum { SIZE = 8192 };
    uint8_t *buf = malloc(SIZE);
    CHECK(buf);
    size_t done = p->total;
    for (;;) {
        ssize_t n = edo_tcp_read(p->c, buf, SIZE);
        CHECK(n >= 0);
        if (n == 0)
            break;
        check_bytes(buf, n, done, p->seed);
        done += (size_t)n;
    }
    free(buf);
    return (void *)(uintptr_t)done;
}

static void *copy_after_reads_body(void *arg)
{
    (void)arg;
    edo_tcp *c, *s, *c2, *s2;
    pair(&c, &s);
    pair(&c2, &s2);
    size_t total = SCALE(8 << 20, 2 << 20, 512 << 10);
    pattern w = {c, total, 6};
    edo_task *tw = spawn(write_then_shut, &w);
    uint8_t head[1000];
    size_t got = 0;
    while (got < sizeof head) { /* the first bytes by reads (through the inbox where it is) */
        ssize_t n = edo_tcp_read(s, head + got, sizeof head - got);
        CHECK(n > 0);
        got += (size_t)n;
    }
    check_bytes(head, (ssize_t)got, 0, 6);
    /* The rest by a copy into another connection (splice where the socket has an fd to read),
     * read on the other side in order. */
    pattern r = {s2, got, 6};
    edo_task *tr = spawn(read_to_end, &r);
    uint64_t copied = 0;
    CHECK_EQ(edo_stream_copy(edo_tcp_stream(s), edo_tcp_stream(c2), &copied), 0);
    CHECK_EQ(copied, total - got);
    CHECK_EQ(edo_tcp_shutdown(c2, SHUT_WR), 0);
    join(tw);
    CHECK_EQ((size_t)(uintptr_t)join(tr), total);
    edo_tcp *all[] = {c, s, c2, s2};
    for (int i = 0; i < 4; i++)
        edo_tcp_close(all[i]);
    return NULL;
}

TEST(copy_after_reads_is_byte_exact) { run_both(2, copy_after_reads_body); }

/* ---- a tiny buffer ring ---------------------------------------------------------------------- */

#define TINY_CONNS 6

static void *tiny_buffers_body(void *arg)
{
    (void)arg;
    edo_tcp *c[TINY_CONNS], *s[TINY_CONNS];
    pattern w[TINY_CONNS], r[TINY_CONNS], w2[TINY_CONNS], r2[TINY_CONNS];
    edo_task *t[4 * TINY_CONNS];
    size_t total = SCALE(1 << 20, 256 << 10, 64 << 10);
    for (int i = 0; i < TINY_CONNS; i++) {
        pair(&c[i], &s[i]);
        w[i] = (pattern){c[i], total, 10u + (unsigned)i};
        r[i] = (pattern){s[i], total, 10u + (unsigned)i};
        w2[i] = (pattern){s[i], total / 4, 20u + (unsigned)i};
        r2[i] = (pattern){c[i], total / 4, 20u + (unsigned)i};
    }
    for (int i = 0; i < TINY_CONNS; i++) {
        t[4 * i] = spawn(write_pattern, &w[i]);
        t[4 * i + 1] = spawn(read_pattern, &r[i]);
        t[4 * i + 2] = spawn(write_pattern, &w2[i]);
        t[4 * i + 3] = spawn(read_pattern, &r2[i]);
    }
    for (int i = 0; i < TINY_CONNS; i++) {
        join(t[4 * i]);
        CHECK_EQ((size_t)(uintptr_t)join(t[4 * i + 1]), total);
        join(t[4 * i + 2]);
        CHECK_EQ((size_t)(uintptr_t)join(t[4 * i + 3]), total / 4);
        edo_tcp_close(c[i]);
        edo_tcp_close(s[i]);
    }
    return NULL;
}

static bool must_use_parts; /* the body's worker consumes its buffers in parts */

static void *in_parts_or_whole(void *arg)
{
    CHECK_EQ(edo__io_uring_recv_in_parts(((edo_runtime *)arg)->io.backend), must_use_parts);
    return tiny_buffers_body(NULL);
}

/* Two buffers of 64 bytes per lane, and an inbox cap of 256 bytes: the receive runs out of
 * buffers at every burst and stops at the cap all the time; the buffers consumed in parts
 * (where the kernel can), then whole (as on a kernel that cannot). */
static void tiny_buffer_ring(bool parts)
{
    edo__io_uring_set_recv_buffers(2, 64);
    edo__io_uring_set_recv_parts(parts);
    edo__inbox_set_cap(256);
    edo_runtime *rt = rt_on(URING, 2);
    edo__io_uring_set_recv_parts(true);
    if (rt) {
        must_receive = uring_receives();
        must_not_receive = false;
        must_use_parts = must_receive && parts && uring_buffers_in_parts();
        fprintf(stderr, "  buffers consumed %s\n", must_use_parts ? "in parts" : "whole");
        run_on(rt, in_parts_or_whole, rt);
        if (must_receive) /* the receives did run out of buffers, and went on */
            CHECK(edo__io_uring_recv_rearms(rt->io.backend) > 0);
        edo_runtime_free(rt);
    }
    edo__inbox_set_cap(0);
}

TEST(tiny_buffer_ring_runs_out_and_rearms) { tiny_buffer_ring(true); }
TEST(tiny_whole_buffers_run_out_and_rearm) { tiny_buffer_ring(false); }

/* Every re-arm of a receive that ran out of buffers refused, as when the kernel takes no SQE:
 * each inbox stops instead, its reader is told to look, asks for the receive, and the owner
 * arms it; the transfers still complete byte-exact (they hung before: "receiving" with
 * nothing armed). */
TEST(refused_rearm_stops_and_the_reader_asks)
{
    edo__io_uring_set_recv_buffers(2, 64);
    edo_runtime *rt = rt_on(URING, 2);
    if (rt) {
        edo__io_uring_refuse_recv_rearms(rt->io.backend, ~0u);
        must_receive = uring_receives();
        must_not_receive = false;
        run_on(rt, tiny_buffers_body, NULL);
        CHECK_EQ(edo__io_uring_recv_rearms(rt->io.backend), 0); /* each one refused */
        edo_runtime_free(rt);
    }
}

/* After completions the kernel dropped (-EBADR, forced here), every receive is armed afresh;
 * with both of a pair's re-arms refused there, the inboxes stop with no completion to tell
 * their readers. A reader already waiting (not reading again) must still get what comes next:
 * its worker asks for the receive itself. It waited for good before. One worker, so that the
 * reader is parked before the resync and the resync is that worker's. */
static void *parked_reader(void *arg)
{
    char buf[8];
    edo_instant saved;
    edo_deadline_push(edo_after(EDO_SEC(10)), &saved); /* a hang fails, not stalls the suite */
    ssize_t n = edo_tcp_read(arg, buf, sizeof buf);
    edo_deadline_pop(saved);
    CHECK_EQ(n, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    return NULL;
}

static void *resync_body(void *arg)
{
    edo__io_backend *b = arg;
    edo_tcp *c, *s;
    pair(&c, &s);
    edo_task *t = spawn(parked_reader, s);
    for (int i = 0; i < 4; i++) /* it runs, finds nothing, and waits */
        CHECK_EQ(edo_yield(), 0);
    edo__io_uring_refuse_recv_rearms(b, 2); /* both of the pair's */
    edo__io_uring_force_resync(b);
    CHECK_EQ(edo_sleep(EDO_MSEC(20)), 0); /* the worker looks at its ring, and resyncs */
    CHECK_EQ(edo__io_uring_refuse_recv_rearms(b, 0), 0u); /* both re-arms were refused */
    CHECK_EQ(edo_tcp_write_all(c, "hello", 5), 0);
    join(t);
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

TEST(a_rearm_refused_in_a_resync_is_asked_for)
{
    edo_runtime *rt = rt_on(URING, 1);
    if (!rt)
        return;
    must_receive = uring_receives();
    must_not_receive = false;
    if (must_receive)
        run_on(rt, resync_body, rt->io.backend);
    edo_runtime_free(rt);
}

/* ---- close while the receive is armed -------------------------------------------------------- */

static void *close_elsewhere(void *arg)
{
    CHECK_EQ(edo_tcp_close(arg), 0);
    return NULL;
}

static void *close_armed_body(void *arg)
{
    (void)arg;
    for (int remote = 0; remote <= 1; remote++) {
        edo_tcp *c, *s;
        pair(&c, &s);
        CHECK_EQ(edo_tcp_write_all(c, "unread", 6), 0); /* bytes left in the inbox */
        CHECK_EQ(edo_tcp_ready(s, EDO_READABLE) & EDO_READABLE, EDO_READABLE);
        if (remote) { /* from a thread that is not a worker: the owner gets it by mail */
            edo_task *t;
            CHECK_EQ(edo_spawn_blocking(close_elsewhere, s, &t), 0);
            join(t);
        } else {
            CHECK_EQ(edo_tcp_close(s), 0);
        }
        char buf[8];
        ssize_t n = edo_tcp_read(c, buf, sizeof buf); /* the file was let go: the peer sees it */
        CHECK(n == 0 || n == -ECONNRESET); /* unread bytes at close make it a reset */
        edo_tcp_close(c);
    }
    return NULL;
}

TEST(close_while_the_receive_is_armed) { run_both(2, close_armed_body); }

/* ---- a Unix pair, vectors, tries, and a reader that is not a worker --------------------------- */

static void *try_read_elsewhere(void *arg)
{
    char buf[8];
    ssize_t n = edo_unix_try_read(arg, buf, sizeof buf);
    CHECK_EQ(n, 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    CHECK_EQ(edo_unix_try_read(arg, buf, sizeof buf), -EAGAIN); /* nothing more yet */
    return NULL;
}

static void *unix_pair_body(void *arg)
{
    (void)arg;
    edo_unix *a, *b;
    CHECK_EQ(edo_unix_pair(&a, &b), 0);
    CHECK(((edo_io *)b)->recv_mode || !must_receive);
    CHECK(!((edo_io *)b)->recv_mode || !must_not_receive);
    char x[4], y[6];
    struct iovec v[2] = {{x, sizeof x}, {y, sizeof y}};
    CHECK_EQ(edo_unix_write_all(a, "0123456789", 10), 0);
    CHECK_EQ(edo_unix_readv(b, v, 2), 10);
    CHECK(memcmp(x, "0123", 4) == 0 && memcmp(y, "456789", 6) == 0);
    /* Bytes the worker received, read by a thread of the blocking pool. */
    CHECK_EQ(edo_unix_write_all(a, "abc", 3), 0);
    CHECK_EQ(edo_unix_ready(b, EDO_READABLE) & EDO_READABLE, EDO_READABLE);
    edo_task *t;
    CHECK_EQ(edo_spawn_blocking(try_read_elsewhere, b, &t), 0);
    join(t);
    CHECK_EQ(edo_unix_close(a), 0);
    char buf[4];
    CHECK_EQ(edo_unix_read(b, buf, sizeof buf), 0);
    CHECK_EQ(edo_unix_close(b), 0);
    return NULL;
}

TEST(unix_pair_vectors_and_a_reader_elsewhere) { run_both(2, unix_pair_body); }

/* ---- the peer's end restarts an armed receive ------------------------------------------------ */

enum { END_ROUNDS = 200, END_BYTES = 3000 };

typedef struct {
    edo_unix *c;
    unsigned seed;
} end_reader;

/* Reads to the end of the stream, checking the pattern; returns how many bytes came. */
static void *read_unix_to_end(void *arg)
{
    end_reader *r = arg;
    uint8_t buf[512];
    size_t done = 0;
    ssize_t n;
    while ((n = edo_unix_read(r->c, buf, 1 + done % sizeof buf)) > 0) {
        check_bytes(buf, n, done, r->seed);
        done += (size_t)n;
    }
    CHECK_EQ(n, 0);
    return (void *)(uintptr_t)done;
}

/* Round after round, a reader waits in its receive while its peer writes and closes at once:
 * the poll often sees the end before the receive has posted it, and restarts the receive. */
static void *end_restarts_body(void *arg)
{
    (void)arg;
    uint8_t out[END_BYTES];
    for (unsigned round = 0; round < SCALE(END_ROUNDS, 60, 30); round++) {
        edo_unix *a, *b;
        CHECK_EQ(edo_unix_pair(&a, &b), 0);
        end_reader r = {b, round};
        edo_task *t = spawn(read_unix_to_end, &r);
        for (size_t i = 0; i < sizeof out; i++)
            out[i] = byte_at(i, round);
        edo_yield(); /* the reader waits in its receive by now, most rounds */
        CHECK_EQ(edo_unix_write_all(a, out, sizeof out), 0);
        CHECK_EQ(edo_unix_close(a), 0);
        CHECK_EQ((size_t)(uintptr_t)join(t), sizeof out);
        CHECK_EQ(edo_unix_close(b), 0);
    }
    return NULL;
}

TEST(peer_end_restarts_the_receive_and_loses_nothing)
{
    run_both(2, end_restarts_body);
    edo_runtime *rt = rt_on(URING, 1);
    if (rt) {
        must_receive = uring_receives();
        must_not_receive = false;
        run_on(rt, end_restarts_body, NULL);
        uint64_t probes = edo__io_uring_end_probes(rt->io.backend);
        fprintf(stderr, "  %llu receives restarted by the poll\n", (unsigned long long)probes);
        CHECK(probes <= 2 * SCALE(END_ROUNDS, 60, 30)); /* once per registration at most */
        CHECK(probes > 0 || !must_receive); /* the poll sees the end first, nearly always */
        edo_runtime_free(rt);
    }
}
