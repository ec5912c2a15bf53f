/* read_exact, read_to_end and take (edo/stream_util.h) over a scripted stream, whose reads split
 * exactly where the test says, and over a duplex pair. */
#include <limits.h>
#include <string.h>

#include "harness.h"
#include "script_stream.h"
#include "util.h"

/* Polls `f` with a no-op waker until ready (a script stream's pauses are pending once each). */
static void poll_until_ready(edo_future *f)
{
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    for (int i = 0; i < 100; i++)
        if (edo_future_poll(f, &cx, NULL) == EDO_READY)
            return;
    CHECK(!"the future never became ready");
}

static void read_exact_across_reads(void)
{
    const char *chunks[] = {"he", "", "llo w", "orld", NULL};
    script_stream ss = script(chunks);
    char buf[16] = {0};
    size_t n = 99;
    CHECK_EQ(edo_stream_read_exact(&ss.base, buf, 5, &n), 0);
    CHECK_EQ(n, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(edo_stream_read_exact(&ss.base, buf, 0, &n), 0);
    CHECK_EQ(n, 0);
    /* 7 wanted, 6 left: -ENODATA, and the 6 are in buf and counted */
    CHECK_EQ(edo_stream_read_exact(&ss.base, buf, 7, &n), -ENODATA);
    CHECK_EQ(n, 6);
    CHECK(memcmp(buf, " world", 6) == 0);
    CHECK_EQ(edo_stream_read_exact(&ss.base, buf, 1, NULL), -ENODATA);
    CHECK_EQ(ss.pending_waiters, 0);
    script_drop(&ss);
}
TEST(read_exact_across_reads) { in_coroutine(read_exact_across_reads); }

static void read_to_end_limits(void)
{
    const char *chunks[] = {"0123", "", "4567", "89", NULL};
    /* exactly at the limit: fine */
    script_stream ss = script(chunks);
    edo_bytes out = EDO_BYTES_INIT;
    size_t n;
    CHECK_EQ(edo_stream_read_to_end(&ss.base, &out, 10, &n), 0);
    CHECK_EQ(n, 10);
    CHECK(bytes_are(&out, "0123456789"));
    /* appending: what out held stays in front */
    ss = script(chunks);
    CHECK_EQ(edo_stream_read_to_end(&ss.base, &out, SIZE_MAX, &n), 0);
    CHECK(bytes_are(&out, "01234567890123456789"));
    edo_bytes_clear(&out);
    /* one byte over: -EMSGSIZE, limit + 1 bytes kept, the rest unread */
    ss = script(chunks);
    CHECK_EQ(edo_stream_read_to_end(&ss.base, &out, 6, &n), -EMSGSIZE);
    CHECK_EQ(n, 7);
    CHECK(bytes_are(&out, "0123456"));
    char rest[4];
    CHECK_EQ(edo_stream_read(&ss.base, rest, sizeof rest), 1);
    CHECK_EQ(rest[0], '7');
    /* an empty stream */
    const char *none[] = {NULL};
    ss = script(none);
    edo_bytes_clear(&out);
    CHECK_EQ(edo_stream_read_to_end(&ss.base, &out, 1, &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(edo_bytes_len(&out), 0);
    edo_bytes_drop(&out);
    script_drop(&ss);
}
TEST(read_to_end_limits) { in_coroutine(read_to_end_limits); }

/* A large body through a duplex pair (another task writes it): read_to_end grows its buffer. */
static void *write_body(void *arg)
{
    edo_stream *s = arg;
    uint8_t chunk[1000];
    for (int i = 0; i < 1000; i++) {
        memset(chunk, 'a' + i % 26, sizeof chunk);
        CHECK_EQ(edo_stream_write_all(s, chunk, sizeof chunk), 0);
    }
    CHECK_EQ(edo_stream_close(s), 0);
    return NULL;
}

static void *read_body(void *arg)
{
    (void)arg;
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(4096, &a, &b), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn(write_body, b, &t), 0);
    edo_bytes out = EDO_BYTES_INIT;
    size_t n;
    CHECK_EQ(edo_stream_read_to_end(a, &out, 1000000, &n), 0);
    CHECK_EQ(n, 1000000);
    for (size_t i = 0; i < 1000000; i += 997)
        CHECK_EQ(edo_bytes_data(&out)[i], 'a' + (int)(i / 1000) % 26);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    edo_bytes_drop(&out);
    CHECK_EQ(edo_stream_close(a), 0);
    return NULL;
}
TEST(read_to_end_over_duplex) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, read_body, NULL); }

TEST(future_forms)
{
    const char *chunks[] = {"ab", "", "cdef", NULL};
    script_stream ss = script(chunks);
    char buf[8];
    edo_stream_message_future fe;
    edo_stream_read_exact_future_init(&fe, &ss.base, buf, 3);
    poll_until_ready(&fe.base);
    CHECK_EQ(fe.result, 0);
    CHECK_EQ(fe.nread, 3);
    edo_future_drop(&fe.base);
    edo_bytes out = EDO_BYTES_INIT;
    edo_stream_message_future ft;
    edo_stream_read_to_end_future_init(&ft, &ss.base, &out, 100);
    poll_until_ready(&ft.base);
    CHECK_EQ(ft.result, 0);
    CHECK_EQ(ft.nread, 3);
    CHECK(bytes_are(&out, "def"));
    edo_future_drop(&ft.base);
    /* dropped while pending: the bytes read so far are in buf and counted */
    const char *slow[] = {"xy", "", "z", NULL};
    script_stream s2 = script(slow);
    edo_stream_read_exact_future_init(&fe, &s2.base, buf, 3);
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    CHECK_EQ(edo_future_poll(&fe.base, &cx, NULL), EDO_PENDING);
    CHECK_EQ(fe.nread, 2);
    edo_future_drop(&fe.base);
    CHECK_EQ(s2.pending_waiters, 0); /* the drop released the stream's waiter */
    CHECK(memcmp(buf, "xy", 2) == 0);
    edo_bytes_drop(&out);
    script_drop(&ss);
    script_drop(&s2);
}

static void take_limits_reads(void)
{
    const char *chunks[] = {"header", "body-", "", "rest", NULL};
    script_stream ss = script(chunks);
    edo_stream_take *t;
    CHECK_EQ(edo_stream_take_new(&ss.base, 8, &t), 0);
    edo_stream *ts = edo_stream_take_stream(t);
    CHECK_EQ(edo_stream_take_remaining(t), 8);
    edo_bytes out = EDO_BYTES_INIT;
    CHECK_EQ(edo_stream_read_to_end(ts, &out, 100, NULL), 0);
    CHECK(bytes_are(&out, "headerbo"));
    CHECK_EQ(edo_stream_take_remaining(t), 0);
    CHECK_EQ(edo_stream_ready(ts, EDO_READABLE), EDO_READABLE);
    /* writes go through */
    CHECK_EQ(edo_stream_write_all(ts, "ok", 2), 0);
    CHECK(bytes_are(&ss.written, "ok"));
    CHECK_EQ(edo_stream_raw_fd(ts, false), -ENOTSUP);
    /* a new limit: the next bytes */
    edo_stream_take_set_limit(t, 3);
    edo_bytes_clear(&out);
    CHECK_EQ(edo_stream_read_to_end(ts, &out, 100, NULL), 0);
    CHECK(bytes_are(&out, "dy-"));
    /* inner, back: positioned after what the take read */
    CHECK(edo_stream_take_into_inner(t) == &ss.base);
    edo_bytes_clear(&out);
    CHECK_EQ(edo_stream_read_to_end(&ss.base, &out, 100, NULL), 0);
    CHECK(bytes_are(&out, "rest"));
    /* closing a take closes inner */
    CHECK_EQ(edo_stream_take_new(&ss.base, 0, &t), 0);
    char c;
    CHECK_EQ(edo_stream_read(edo_stream_take_stream(t), &c, 1), 0);
    CHECK_EQ(edo_stream_close(edo_stream_take_stream(t)), 0);
    CHECK_EQ(ss.closes, 1);
    edo_bytes_drop(&out);
    script_drop(&ss);
}
TEST(take_limits_reads) { in_coroutine(take_limits_reads); }

static void bad_input(void)
{
    const char *chunks[] = {"abc", NULL};
    script_stream ss = script(chunks);
    edo_stream broken = {NULL};
    char buf[4];
    size_t n = 7;
    edo_bytes out = EDO_BYTES_INIT;
    CHECK_EQ(edo_stream_read_exact(NULL, buf, 1, &n), -EINVAL);
    CHECK_EQ(n, 0);
    CHECK_EQ(edo_stream_read_exact(&broken, buf, 1, NULL), -EINVAL);
    CHECK_EQ(edo_stream_read_exact(&ss.base, NULL, 1, NULL), -EINVAL);
    CHECK_EQ(edo_stream_read_exact(&ss.base, buf, (size_t)SSIZE_MAX + 1, NULL), -EINVAL);
    CHECK_EQ(edo_stream_read_to_end(NULL, &out, 1, NULL), -EINVAL);
    CHECK_EQ(edo_stream_read_to_end(&ss.base, NULL, 1, NULL), -EINVAL);
    CHECK_EQ(edo_stream_read_to_end(&ss.base, &out, 0, NULL), -EINVAL);
    edo_stream_read_exact_future_init(NULL, &ss.base, buf, 1);
    edo_stream_read_to_end_future_init(NULL, &ss.base, &out, 1);
    edo_stream_message_future fe;
    edo_stream_read_exact_future_init(&fe, NULL, buf, 1);
    poll_until_ready(&fe.base);
    CHECK_EQ(fe.result, -EINVAL);
    edo_future_drop(&fe.base);
    edo_stream_message_future ft;
    edo_stream_read_to_end_future_init(&ft, &ss.base, NULL, 1);
    poll_until_ready(&ft.base);
    CHECK_EQ(ft.result, -EINVAL);
    edo_future_drop(&ft.base);
    edo_stream_take *t = (edo_stream_take *)&n;
    CHECK_EQ(edo_stream_take_new(NULL, 1, &t), -EINVAL);
    CHECK_EQ(edo_stream_take_new(&broken, 1, &t), -EINVAL);
    CHECK_EQ(edo_stream_take_new(&ss.base, 1, NULL), -EINVAL);
    CHECK(edo_stream_take_stream(NULL) == NULL);
    CHECK_EQ(edo_stream_take_remaining(NULL), 0);
    edo_stream_take_set_limit(NULL, 1);
    CHECK(edo_stream_take_into_inner(NULL) == NULL);
    /* nothing was read by any of them */
    CHECK_EQ(edo_stream_read_exact(&ss.base, buf, 3, NULL), 0);
    CHECK(memcmp(buf, "abc", 3) == 0);
    script_drop(&ss);
}
TEST(bad_input) { in_coroutine(bad_input); }

TEST(outside_a_coroutine)
{
    const char *chunks[] = {"abc", NULL};
    script_stream ss = script(chunks);
    char buf[4];
    size_t n = 7;
    edo_bytes out = EDO_BYTES_INIT;
    CHECK_EQ(edo_stream_read_exact(&ss.base, buf, 3, &n), -EPERM);
    CHECK_EQ(n, 0);
    CHECK_EQ(edo_stream_read_to_end(&ss.base, &out, 10, &n), -EPERM);
    CHECK_EQ(ss.reads, 0);
    script_drop(&ss);
}
