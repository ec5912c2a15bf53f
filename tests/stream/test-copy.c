/* edo/stream_copy.h: copy, copy_bidirectional and split on in-memory duplex pairs and on test
 * streams that count what a copy asks of them (the buffer path); the splice path is in
 * test-copy-splice.c. */
#include <limits.h>
#include <string.h>

#include "edo/duplex.h"
#include "stream/copy_test.h"
#include "stream/stream_test.h"

/* ---- test streams ------------------------------------------------------------------------
 * A source gives `limit` pattern bytes (byte k is k % 251) in reads of at most `chunk`, then the
 * end of stream or `error`; a sink takes every write (checking the pattern), counting bytes,
 * flushes and shutdowns, or fails every write with `error`. Neither ever waits. */

typedef struct test_stream {
    edo_stream base;
    uint64_t limit, given, taken;
    size_t chunk;
    int error;
    int flushes, shutdowns;
} test_stream;

static edo_poll source_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                            size_t len, ssize_t *result)
{
    (void)w, (void)cx;
    test_stream *t = (test_stream *)s;
    if (t->given == t->limit) {
        *result = t->error;
        return EDO_READY;
    }
    size_t n = len < t->chunk ? len : t->chunk;
    if (n > t->limit - t->given)
        n = (size_t)(t->limit - t->given);
    for (size_t i = 0; i < n; i++)
        ((uint8_t *)buf)[i] = (uint8_t)((t->given + i) % 251);
    t->given += n;
    *result = (ssize_t)n;
    return EDO_READY;
}

static edo_poll sink_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                           const struct iovec *iov, int iovcnt, ssize_t *result)
{
    (void)w, (void)cx;
    test_stream *t = (test_stream *)s;
    if (t->error) {
        *result = t->error;
        return EDO_READY;
    }
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++)
        for (size_t j = 0; j < iov[i].iov_len; j++, n++)
            CHECK_EQ(((uint8_t *)iov[i].iov_base)[j], (t->taken + n) % 251);
    t->taken += n;
    *result = (ssize_t)n;
    return EDO_READY;
}

static edo_poll sink_flush(edo_stream *s, edo_stream_waiter *w, edo_context *cx, ssize_t *result)
{
    (void)w, (void)cx;
    ((test_stream *)s)->flushes++;
    *result = 0;
    return EDO_READY;
}

static edo_poll sink_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx, ssize_t *result)
{
    (void)w, (void)cx;
    ((test_stream *)s)->shutdowns++;
    *result = 0;
    return EDO_READY;
}

static edo_poll refuse_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                            size_t len, ssize_t *result)
{
    (void)s, (void)w, (void)cx, (void)buf, (void)len;
    *result = -EBADF;
    return EDO_READY;
}

static edo_poll refuse_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                             const struct iovec *iov, int iovcnt, ssize_t *result)
{
    (void)s, (void)w, (void)cx, (void)iov, (void)iovcnt;
    *result = -EBADF;
    return EDO_READY;
}

static int test_close(edo_stream *s)
{
    (void)s;
    return 0;
}

static const edo_stream_vtable source_vtable = {
    .poll_read = source_read, .poll_write = refuse_write, .close = test_close};
static const edo_stream_vtable sink_vtable = {.poll_read = refuse_read,
                                              .poll_write = sink_write,
                                              .poll_flush = sink_flush,
                                              .poll_shutdown = sink_shutdown,
                                              .close = test_close};

static test_stream source_new(uint64_t limit, size_t chunk, int error)
{
    return (test_stream){.base = {&source_vtable}, .limit = limit, .chunk = chunk, .error = error};
}

static test_stream sink_new(int error)
{
    return (test_stream){.base = {&sink_vtable}, .error = error};
}

/* ---- bad input ------------------------------------------------------------------------------- */

static void *bad_input_body(void *arg)
{
    (void)arg;
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(64, &a, &b), 0);
    edo_stream none = {NULL};
    uint64_t n = 7, m = 7;
    CHECK_EQ(edo_stream_copy(NULL, b, &n), -EINVAL);
    CHECK_EQ(n, 0);
    CHECK_EQ(edo_stream_copy(a, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_stream_copy(&none, b, NULL), -EINVAL);
    CHECK_EQ(edo_stream_copy_bidirectional(a, a, &n, &m), -EINVAL); /* two reads of a at once */
    CHECK_EQ(edo_stream_copy_bidirectional(NULL, a, &n, &m), -EINVAL);
    CHECK_EQ(edo_stream_copy_bidirectional(a, &none, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_stream_close(a), 0);
    CHECK_EQ(edo_stream_close(b), 0);
    return NULL;
}

TEST(bad_input)
{
    run_paused(bad_input_body, NULL);
    /* Futures: -EINVAL at the first poll; dropping them is safe. */
    edo_stream_copy_future f;
    edo_stream_copy_future_init(&f, NULL, NULL);
    CHECK_EQ(poll_future(&f.base), EDO_READY);
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    edo_stream_copy_future_init(NULL, NULL, NULL); /* no-op */
    test_stream src = source_new(10, 10, 0);
    edo_stream_copy_bidirectional_future g;
    edo_stream_copy_bidirectional_future_init(&g, &src.base, &src.base);
    CHECK_EQ(poll_future(&g.base), EDO_READY);
    CHECK_EQ(g.result, -EINVAL);
    CHECK_EQ(src.given, 0);
    edo_future_drop(&g.base);
    edo_stream_copy_bidirectional_future_init(NULL, NULL, NULL);
    /* Outside a coroutine. */
    test_stream sink = sink_new(0);
    uint64_t n = 1;
    CHECK_EQ(edo_stream_copy(&src.base, &sink.base, &n), -EPERM);
    CHECK_EQ(n, 0);
    CHECK_EQ(src.given, 0);
    /* split */
    edo_stream *r, *w;
    edo_stream none = {NULL};
    CHECK_EQ(edo_stream_split(NULL, &r, &w), -EINVAL);
    CHECK_EQ(edo_stream_split(&none, &r, &w), -EINVAL);
    CHECK_EQ(edo_stream_split(&src.base, NULL, &w), -EINVAL);
    CHECK_EQ(edo_stream_split(&src.base, &r, NULL), -EINVAL);
    CHECK_EQ(edo_stream_split(&src.base, &r, &r), -EINVAL);
}

/* ---- the buffer path, by hand ---------------------------------------------------------------- */

/* Everything arrives, in order, in reads of odd sizes; the count is exact; the writer is flushed
 * once at the end and not shut down; nothing was spliced. */
TEST(copies_everything_then_flushes)
{
    uint64_t total = 3 * EDO_STREAM_COPY_BUFFER + 12345;
    test_stream src = source_new(total, 1000, 0), sink = sink_new(0);
    uint64_t spliced = edo__copy_spliced_bytes();
    edo_stream_copy_future f;
    edo_stream_copy_future_init(&f, &src.base, &sink.base);
    edo_poll p;
    while ((p = poll_future(&f.base)) == EDO_PENDING) /* the cooperative budget ran out */
        ;
    CHECK_EQ(f.result, 0);
    CHECK_EQ(f.copied, total);
    CHECK_EQ(sink.taken, total);
    CHECK_EQ(sink.flushes, 1);
    CHECK_EQ(sink.shutdowns, 0);
    CHECK_EQ(edo__copy_spliced_bytes(), spliced);
    edo_future_drop(&f.base);
}

/* A read error ends the copy with it; what was written is counted. */
TEST(read_error_is_returned)
{
    test_stream src = source_new(5000, 5000, -ECONNRESET), sink = sink_new(0);
    edo_stream_copy_future f;
    edo_stream_copy_future_init(&f, &src.base, &sink.base);
    while (poll_future(&f.base) == EDO_PENDING)
        ;
    CHECK_EQ(f.result, -ECONNRESET);
    CHECK_EQ(f.copied, 5000);
    CHECK_EQ(sink.flushes, 0);
    edo_future_drop(&f.base);
    /* A write error likewise; nothing counted as written. */
    src = source_new(5000, 5000, 0);
    sink = sink_new(-EPIPE);
    edo_stream_copy_future_init(&f, &src.base, &sink.base);
    while (poll_future(&f.base) == EDO_PENDING)
        ;
    CHECK_EQ(f.result, -EPIPE);
    CHECK_EQ(f.copied, 0);
    edo_future_drop(&f.base);
}

/* A copy waiting for its reader holds no buffer. Backpressure: a writer that takes nothing more
 * makes the copy wait, holding at most one buffer of bytes read and not written, however often
 * it is polled; each byte the peer reads lets the copy move one more. */
TEST(backpressure_bounds_what_is_read)
{
    test_stream src = source_new(UINT64_MAX, 100000, 0);
    edo_stream *in, *peer;
    const size_t cap = 4096;
    CHECK_EQ(edo_duplex_new(cap, &in, &peer), 0);
    edo_stream_copy_future f;
    edo_stream_copy_future_init(&f, peer, in); /* the peer has written nothing: the copy waits */
    CHECK_EQ(poll_future(&f.base), EDO_PENDING);
    CHECK(edo__copy_of(&f.state_)->buf == NULL); /* ... holding no buffer */
    edo_future_drop(&f.base);
    edo_stream_copy_future_init(&f, &src.base, in);
    for (int i = 0; i < 5; i++) {
        CHECK_EQ(poll_future(&f.base), EDO_PENDING);
        CHECK_EQ(f.copied, cap); /* the duplex is full */
        CHECK(src.given <= cap + EDO_STREAM_COPY_BUFFER);
    }
    uint64_t given = src.given;
    char buf[1000];
    edo_stream_future r;
    edo_stream_read_future_init(&r, peer, buf, sizeof buf);
    CHECK_EQ(poll_once(&r), EDO_READY);
    CHECK_EQ(r.result, (ssize_t)sizeof buf);
    edo_future_drop(&r.base);
    CHECK_EQ(poll_future(&f.base), EDO_PENDING);
    CHECK_EQ(f.copied, cap + sizeof buf);
    CHECK(src.given <= cap + sizeof buf + EDO_STREAM_COPY_BUFFER);
    CHECK(src.given >= given);
    edo_future_drop(&f.base); /* cancelled: the buffered bytes are lost, nothing leaks */
    CHECK_EQ(edo_stream_close(in), 0);
    CHECK_EQ(edo_stream_close(peer), 0);
}

/* ---- the buffer path in a runtime: duplex pairs ---------------------------------------------- */

/* The buffer path across worker threads, through small duplex buffers. */
static void *copy_between_duplexes(void *arg)
{
    (void)arg;
    edo_stream *a, *a2, *b, *b2;
    CHECK_EQ(edo_duplex_new(1000, &a, &a2), 0);
    CHECK_EQ(edo_duplex_new(3000, &b, &b2), 0);
    copy_through(a2, a, b2, b, SCALE(4 << 20, 1 << 20, 256 << 10), false);
    return NULL;
}

TEST(copy_over_duplex)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, copy_between_duplexes, NULL);
}

/* A deadline ends a copy with -ETIMEDOUT; the count says what was written. */
static void *copy_with_deadline(void *arg)
{
    (void)arg;
    edo_stream *a, *a2;
    CHECK_EQ(edo_duplex_new(100, &a, &a2), 0);
    test_stream sink = sink_new(0);
    const uint8_t first[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9}; /* the sink checks the pattern */
    CHECK_EQ(edo_stream_write_all(a, first, sizeof first), 0);
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    uint64_t copied = 0;
    CHECK_EQ(edo_stream_copy(a2, &sink.base, &copied), -ETIMEDOUT); /* a never ends */
    CHECK_EQ(edo_deadline_pop(saved), 0);
    CHECK_EQ(copied, 10);
    CHECK_EQ(sink.taken, 10);
    CHECK_EQ(edo_stream_close(a), 0);
    CHECK_EQ(edo_stream_close(a2), 0);
    return NULL;
}

TEST(deadline)
{
    run_paused(copy_with_deadline, NULL);
}

/* ---- copy_bidirectional ---------------------------------------------------------------------- */

/* The half-close passes through the relay, over duplex pairs (the buffer path). */
static void *half_close_body(void *arg)
{
    (void)arg;
    edo_stream *client, *a, *b, *server;
    CHECK_EQ(edo_duplex_new(512, &client, &a), 0);
    CHECK_EQ(edo_duplex_new(512, &b, &server), 0);
    relay_half_close(client, a, b, server, SCALE(300000, 100000, 30000),
                     SCALE(200000, 70000, 20000));
    return NULL;
}

TEST(half_close_propagates)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, half_close_body, NULL);
}

/* An error in one direction ends both at once, though the other direction still waits for its
 * reader; the waiting read is released (another reader may read that stream now). */
static void *error_ends_both_body(void *arg)
{
    (void)arg;
    edo_stream *client, *a;
    CHECK_EQ(edo_duplex_new(512, &client, &a), 0);
    test_stream failing = source_new(100, 100, -ECONNRESET); /* b: gives 100 bytes, then fails */
    relay r = {a, &failing.base, 0, 0, 1};
    run_relay(&r); /* a -> b waits for the silent client; b -> a: 100 bytes, then the reset */
    CHECK_EQ(r.rc, -ECONNRESET);
    CHECK_EQ(r.a_to_b, 0);
    CHECK_EQ(r.b_to_a, 100);
    char buf[200];
    CHECK_EQ(edo_stream_read(client, buf, sizeof buf), 100);
    CHECK_EQ(edo_stream_write_all(client, "k", 1), 0);
    CHECK_EQ(edo_stream_read(a, buf, sizeof buf), 1); /* not -EBUSY: the copy's read is gone */
    CHECK_EQ(edo_stream_close(client), 0);
    CHECK_EQ(edo_stream_close(a), 0);
    return NULL;
}

TEST(error_ends_both)
{
    run_paused(error_ends_both_body, NULL);
}

/* Only an error on one side, while the other direction waits on a silent peer. */
static void *error_while_other_waits_body(void *arg)
{
    (void)arg;
    edo_stream *client, *a, *b, *server;
    CHECK_EQ(edo_duplex_new(512, &client, &a), 0);
    CHECK_EQ(edo_duplex_new(512, &b, &server), 0);
    relay r = {a, b, 0, 0, 1};
    edo_task *t = spawn(run_relay, &r);
    CHECK_EQ(edo_stream_close(server), 0); /* b's writes now fail with -EPIPE */
    CHECK_EQ(edo_stream_write_all(client, "ping", 4), 0);
    join(t); /* the client never ends its side: the relay ends by the error alone */
    CHECK_EQ(r.rc, -EPIPE);
    CHECK_EQ(r.a_to_b, 0);
    CHECK_EQ(r.b_to_a, 0);
    close_all((edo_stream *[]){client, a, b}, 3);
    return NULL;
}

TEST(error_while_other_direction_waits)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, error_while_other_waits_body, NULL);
}

/* ---- split ----------------------------------------------------------------------------------- */

static void *split_rules_body(void *arg)
{
    (void)arg;
    edo_stream *x, *y, *r, *w;
    CHECK_EQ(edo_duplex_new(64, &x, &y), 0);
    CHECK_EQ(edo_stream_split(x, &r, &w), 0);
    char c;
    CHECK_EQ(edo_stream_write(r, "a", 1), -EBADF);
    CHECK_EQ(edo_stream_read(w, &c, 1), -EBADF);
    CHECK_EQ(edo_stream_ready(r, EDO_WRITABLE), -EBADF);
    CHECK_EQ(edo_stream_ready(w, EDO_READABLE), -EBADF);
    CHECK_EQ(edo_stream_shutdown(r), -ENOTSUP);
    CHECK_EQ(edo_stream_raw_fd(r, true), -ENOTSUP);  /* a read half has no write side */
    CHECK_EQ(edo_stream_raw_fd(r, false), -ENOTSUP); /* the duplex's own answer */
    CHECK_EQ(edo_stream_write_all(w, "hi", 2), 0);
    CHECK_EQ(edo_stream_ready(w, EDO_WRITABLE | EDO_READABLE), EDO_WRITABLE);
    CHECK_EQ(edo_stream_flush(w), 0);
    CHECK_EQ(edo_stream_read(y, &c, 1), 1);
    CHECK_EQ(c, 'h');
    CHECK_EQ(edo_stream_write_all(y, "z", 1), 0);
    CHECK_EQ(edo_stream_ready(r, EDO_READABLE), EDO_READABLE);
    CHECK_EQ(edo_stream_read(r, &c, 1), 1);
    CHECK_EQ(c, 'z');
    CHECK_EQ(edo_stream_shutdown(w), 0);
    CHECK_EQ(edo_stream_read(y, &c, 1), 1); /* 'i', then the end */
    CHECK_EQ(edo_stream_read(y, &c, 1), 0);
    CHECK_EQ(edo_stream_close(r), 0);
    CHECK_EQ(edo_stream_write_all(y, "q", 1), 0); /* x is still open: the write half is */
    CHECK_EQ(edo_stream_close(w), 0);             /* now x is closed */
    CHECK_EQ(edo_stream_write(y, "q", 1), -EPIPE);
    CHECK_EQ(edo_stream_close(y), 0);
    return NULL;
}

TEST(split_halves_keep_to_their_direction)
{
    run_paused(split_rules_body, NULL);
}

/* The halves used at once by two tasks on two workers, against an echo that is itself a copy of
 * a stream into itself: every byte comes back in order (run under TSan too). */
static void *split_concurrent_body(void *arg)
{
    (void)arg;
    edo_stream *x, *y, *r, *w;
    CHECK_EQ(edo_duplex_new(777, &x, &y), 0);
    CHECK_EQ(edo_stream_split(x, &r, &w), 0);
    size_t total = SCALE(2 << 20, 512 << 10, 128 << 10);
    edo_task *echo = spawn(echo_copy, y);
    pattern pw = {w, total, 5, true}, pr = {r, total, 5, false};
    edo_task *tw = spawn(write_pattern, &pw), *tr = spawn(read_pattern, &pr);
    join(tw);
    CHECK_EQ((size_t)join(tr), total);
    CHECK_EQ((size_t)join(echo), total);
    close_all((edo_stream *[]){w, r, y}, 3);
    return NULL;
}

TEST(split_halves_in_two_tasks)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 4, split_concurrent_body, NULL);
}

/* ---- cancellation ---------------------------------------------------------------------------- */

/* Aborting the task in a copy ends the copy with -ECANCELED; what was written is counted. */
typedef struct copy_job {
    edo_stream *from, *to;
    uint64_t copied;
    int rc;
} copy_job;

static void *run_copy(void *arg)
{
    copy_job *j = arg;
    j->rc = edo_stream_copy(j->from, j->to, &j->copied);
    return NULL;
}

static void *abort_body(void *arg)
{
    (void)arg;
    edo_stream *a, *a2;
    CHECK_EQ(edo_duplex_new(100, &a, &a2), 0);
    test_stream sink = sink_new(0);
    copy_job j = {a2, &sink.base, 0, 1};
    edo_task *t = spawn(run_copy, &j);
    const uint8_t first[5] = {0, 1, 2, 3, 4};
    CHECK_EQ(edo_stream_write_all(a, first, sizeof first), 0);
    while (sink.taken < 5) /* one thread: the copy runs while this one yields */
        CHECK_EQ(edo_yield(), 0);
    edo_task_abort(t);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
    CHECK_EQ(j.rc, -ECANCELED);
    CHECK_EQ(j.copied, 5);
    CHECK_EQ(edo_stream_write_all(a, first, 1), 0);
    char c;
    CHECK_EQ(edo_stream_read(a2, &c, 1), 1); /* the copy's read is gone: a new reader reads */
    CHECK_EQ(edo_stream_close(a), 0);
    CHECK_EQ(edo_stream_close(a2), 0);
    return NULL;
}

TEST(abort_ends_a_copy)
{
    run_paused(abort_body, NULL);
}
