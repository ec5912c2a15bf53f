/* The in-memory duplex pair: what only it promises (its bound, -EPIPE to a waiting writer when
 * the reader closes, -EBUSY for a second reader, readiness bits, a pair used by futures outside
 * any runtime, many threads). The behaviour every stream shares is in test-stream-kinds.c. */
#include <limits.h>
#include <string.h>

#include "edo/duplex.h"
#include "harness.h"
#include "stream/stream_test.h"
#include "util.h"

TEST(bad_input)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(0, &a, &b), -EINVAL);
    CHECK_EQ(edo_duplex_new(16, NULL, &b), -EINVAL);
    CHECK_EQ(edo_duplex_new(16, &a, NULL), -EINVAL);
    CHECK_EQ(edo_duplex_new((size_t)SSIZE_MAX + 1, &a, &b), -EINVAL);
    CHECK_EQ(edo_duplex_new(16, &a, &b), 0);
    CHECK_EQ(edo_stream_raw_fd(a, false), -ENOTSUP);
    CHECK_EQ(edo_stream_close(a), 0);
    CHECK_EQ(edo_stream_close(b), 0);
}

/* Futures polled by hand: no runtime needed; the bound holds; a pending read and write. */
TEST(bounded_without_a_runtime)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(4, &a, &b), 0);
    edo_stream_future w, r;
    edo_stream_write_future_init(&w, a, "abcdef", 6);
    CHECK_EQ(poll_once(&w), EDO_READY);
    CHECK_EQ(w.result, 4); /* the bound */
    edo_future_drop(&w.base);
    edo_stream_write_future_init(&w, a, "ef", 2);
    CHECK_EQ(poll_once(&w), EDO_PENDING); /* full: waits */
    char buf[8];
    edo_stream_read_future_init(&r, b, buf, 3);
    CHECK_EQ(poll_once(&r), EDO_READY);
    CHECK_EQ(r.result, 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    edo_future_drop(&r.base);
    CHECK_EQ(poll_once(&w), EDO_READY); /* room again; the ring wraps */
    CHECK_EQ(w.result, 2);
    edo_future_drop(&w.base);
    edo_stream_read_future_init(&r, b, buf, sizeof buf);
    CHECK_EQ(poll_once(&r), EDO_READY);
    CHECK_EQ(r.result, 3);
    CHECK(memcmp(buf, "def", 3) == 0);
    edo_future_drop(&r.base);
    /* A read waiting when the writer closes: it sees the end. */
    edo_stream_read_future_init(&r, b, buf, sizeof buf);
    CHECK_EQ(poll_once(&r), EDO_PENDING);
    CHECK_EQ(edo_stream_close(a), 0);
    CHECK_EQ(poll_once(&r), EDO_READY);
    CHECK_EQ(r.result, 0);
    edo_future_drop(&r.base);
    CHECK_EQ(edo_stream_close(b), 0);
}

TEST(tries)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(3, &a, &b), 0);
    char buf[4];
    CHECK_EQ(edo_stream_try_read(b, buf, sizeof buf), -EAGAIN);
    CHECK_EQ(edo_stream_try_write(a, "abcd", 4), 3);
    CHECK_EQ(edo_stream_try_write(a, "d", 1), -EAGAIN); /* full */
    CHECK_EQ(edo_stream_try_read(b, buf, sizeof buf), 3);
    CHECK(memcmp(buf, "abc", 3) == 0);
    CHECK_EQ(edo_stream_close(a), 0);
    CHECK_EQ(edo_stream_try_read(b, buf, sizeof buf), 0); /* the end */
    CHECK_EQ(edo_stream_try_write(b, "x", 1), -EPIPE);
    CHECK_EQ(edo_stream_close(b), 0);
}

TEST(second_reader_is_busy)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(4, &a, &b), 0);
    char x, y;
    edo_stream_future r1, r2;
    edo_stream_read_future_init(&r1, b, &x, 1);
    edo_stream_read_future_init(&r2, b, &y, 1);
    CHECK_EQ(poll_once(&r1), EDO_PENDING);
    CHECK_EQ(poll_once(&r2), EDO_READY);
    CHECK_EQ(r2.result, -EBUSY);
    edo_future_drop(&r2.base);
    CHECK_EQ(poll_once(&r1), EDO_PENDING); /* still the reader */
    edo_future_drop(&r1.base);
    edo_stream_read_future_init(&r2, b, &y, 1); /* the slot is free again */
    CHECK_EQ(poll_once(&r2), EDO_PENDING);
    edo_future_drop(&r2.base);
    CHECK_EQ(edo_stream_close(a), 0);
    CHECK_EQ(edo_stream_close(b), 0);
}

TEST(readiness_bits)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(2, &a, &b), 0);
    edo_stream_future f;
    edo_stream_ready_future_init(&f, b, EDO_READABLE);
    CHECK_EQ(poll_once(&f), EDO_PENDING);
    edo_stream_future w;
    edo_stream_write_future_init(&w, a, "xy", 2);
    CHECK_EQ(poll_once(&w), EDO_READY);
    edo_future_drop(&w.base);
    CHECK_EQ(poll_once(&f), EDO_READY);
    CHECK_EQ(f.result, EDO_READABLE);
    edo_future_drop(&f.base);
    edo_stream_ready_future_init(&f, a, EDO_READABLE | EDO_WRITABLE);
    CHECK_EQ(poll_once(&f), EDO_PENDING); /* a's out is full, its in empty: waits on both */
    edo_stream_write_future_init(&w, b, "z", 1);
    CHECK_EQ(poll_once(&w), EDO_READY);
    edo_future_drop(&w.base);
    CHECK_EQ(poll_once(&f), EDO_READY);
    CHECK_EQ(f.result, EDO_READABLE);
    edo_future_drop(&f.base);
    CHECK_EQ(edo_stream_close(b), 0);
    edo_stream_ready_future_init(&f, a, EDO_READABLE | EDO_WRITABLE);
    CHECK_EQ(poll_once(&f), EDO_READY);
    /* "z" waits, then the end; a write would fail (no reader) */
    CHECK_EQ(f.result, EDO_READABLE | EDO_READ_CLOSED | EDO_WRITABLE | EDO_WRITE_CLOSED);
    edo_future_drop(&f.base);
    CHECK_EQ(edo_stream_close(a), 0);
}

/* A writer waiting on a full pipe when the reader closes: -EPIPE, not a hang. */
static void *writer_blocked(void *arg)
{
    edo_stream *a = arg;
    char big[64] = {0};
    return (void *)(intptr_t)edo_stream_write_all(a, big, sizeof big);
}

static void *epipe_to_waiting_writer(void *arg)
{
    (void)arg;
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(8, &a, &b), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn(writer_blocked, a, &t), 0);
    CHECK_EQ(edo_stream_ready(b, EDO_READABLE), EDO_READABLE); /* the writer filled it */
    CHECK_EQ(edo_stream_close(b), 0);
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    edo_task_free(t);
    CHECK_EQ((intptr_t)out, -EPIPE);
    CHECK_EQ(edo_stream_write(a, "x", 1), -EPIPE);
    CHECK_EQ(edo_stream_close(a), 0);
    return NULL;
}

TEST(close_gives_epipe_to_a_waiting_writer)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, epipe_to_waiting_writer, NULL);
}

/* Both directions at once across worker threads, through a small buffer: every byte arrives,
 * in order. */
typedef struct pump {
    edo_stream *s;
    size_t total;
    uint8_t seed;
} pump;

static void *pump_out(void *arg)
{
    pump *p = arg;
    uint8_t buf[97];
    size_t sent = 0;
    uint8_t v = p->seed;
    while (sent < p->total) {
        size_t n = p->total - sent < sizeof buf ? p->total - sent : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = v++;
        CHECK_EQ(edo_stream_write_all(p->s, buf, n), 0);
        sent += n;
    }
    CHECK_EQ(edo_stream_shutdown(p->s), 0);
    return NULL;
}

static void *pump_in(void *arg)
{
    pump *p = arg;
    uint8_t buf[61];
    size_t got = 0;
    uint8_t v = p->seed;
    ssize_t n;
    while ((n = edo_stream_read(p->s, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            CHECK_EQ(buf[i], v++);
        got += (size_t)n;
    }
    CHECK_EQ(n, 0);
    CHECK_EQ(got, p->total);
    return NULL;
}

static void *both_ways(void *arg)
{
    (void)arg;
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(32, &a, &b), 0);
    size_t total = SCALE(1 << 20, 1 << 18, 1 << 16);
    pump pumps[4] = {{a, total, 1}, {b, total, 1}, {b, total, 7}, {a, total, 7}};
    void *(*fns[4])(void *) = {pump_out, pump_in, pump_out, pump_in};
    edo_task *t[4];
    for (int i = 0; i < 4; i++)
        CHECK_EQ(edo_spawn(fns[i], &pumps[i], &t[i]), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    CHECK_EQ(edo_stream_close(a), 0);
    CHECK_EQ(edo_stream_close(b), 0);
    return NULL;
}

TEST(both_directions_across_threads) { run_coro(EDO_RUNTIME_MULTI_THREAD, 4, both_ways, NULL); }
