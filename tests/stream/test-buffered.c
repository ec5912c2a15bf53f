/* The buffered reader and writer (edo/buffered.h): over a scripted stream, whose reads split
 * exactly where a test says (lines across reads, a delimiter at a read boundary, a line over the
 * limit, the end mid-line, cancellation mid-line), and between two tasks over a duplex pair,
 * TCP, a Unix socket pair and a pipe. */
#include <string.h>

#include "harness.h"
#include "script_stream.h"
#include "util.h"

/* Two ends of a TCP connection on the loopback, as streams. */
static void tcp_streams(edo_stream **a, edo_stream **b)
{
    edo_tcp *client, *server;
    tcp_pair(&client, &server);
    *a = edo_tcp_stream(server);
    *b = edo_tcp_stream(client);
}

static edo_buf_reader *reader_over(script_stream *ss, size_t capacity)
{
    edo_buf_reader *r;
    CHECK_EQ(edo_buf_reader_new(&ss->base, capacity, &r), 0);
    return r;
}

/* Frees the reader; inner (the script) must have been left where expected. */
static void reader_free(edo_buf_reader *r, script_stream *ss)
{
    CHECK(edo_buf_reader_into_inner(r, NULL) == &ss->base);
    CHECK_EQ(ss->pending_waiters, 0);
    script_drop(ss);
}

/* The next line must be `want` (NULL: the end). */
static void next_line_is(edo_buf_reader *r, size_t limit, const char *want)
{
    const char *line;
    size_t len;
    int rc = edo_buf_reader_next_line(r, limit, &line, &len);
    if (!want) {
        CHECK_EQ(rc, 0);
        CHECK_EQ(len, 0);
        return;
    }
    CHECK_EQ(rc, 1);
    CHECK_EQ(len, strlen(want));
    CHECK(memcmp(line, want, len) == 0);
}

static void lines_split_across_reads(void)
{
    /* pauses, lines over two and three reads, "\r\n", an empty line */
    const char *chunks[] = {"hel", "", "lo\nwor", "ld\r\n", "\n", "a", "b", "c\n", NULL};
    for (size_t cap = 1; cap <= 16; cap++) { /* windows smaller than a line, too */
        script_stream ss = script(chunks);
        edo_buf_reader *r = reader_over(&ss, cap);
        next_line_is(r, 100, "hello");
        next_line_is(r, 100, "world");
        next_line_is(r, 100, "");
        next_line_is(r, 100, "abc");
        next_line_is(r, 100, NULL);
        next_line_is(r, 100, NULL); /* the end stays the end */
        reader_free(r, &ss);
    }
}
TEST(lines_split_across_reads) { in_coroutine(lines_split_across_reads); }

static void delimiter_at_read_boundary(void)
{
    const char *chunks[] = {"abc", "\n", "def\n", "ghi\nj", "kl\n", NULL};
    script_stream ss = script(chunks);
    edo_buf_reader *r = reader_over(&ss, 4); /* "def\n" fills the window exactly */
    edo_bytes out = EDO_BYTES_INIT;
    CHECK_EQ(edo_buf_reader_read_line(r, &out, 100), 4);
    CHECK(bytes_are(&out, "abc\n"));
    CHECK_EQ(edo_buf_reader_read_line(r, &out, 100), 4);
    CHECK(bytes_are(&out, "abc\ndef\n")); /* read_line appends, and keeps the "\n" */
    edo_bytes_clear(&out);
    CHECK_EQ(edo_buf_reader_read_until(r, 'j', &out, 100), 5);
    CHECK(bytes_are(&out, "ghi\nj"));
    edo_bytes_clear(&out);
    CHECK_EQ(edo_buf_reader_read_line(r, &out, 100), 3);
    CHECK(bytes_are(&out, "kl\n"));
    CHECK_EQ(edo_buf_reader_read_line(r, &out, 100), 0);
    CHECK(bytes_are(&out, "kl\n"));
    edo_bytes_drop(&out);
    reader_free(r, &ss);
}
TEST(delimiter_at_read_boundary) { in_coroutine(delimiter_at_read_boundary); }

static void line_over_the_limit(void)
{
    const char *chunks[] = {"short\n", "0123456789", "abcdef\nnext\n", NULL};
    script_stream ss = script(chunks);
    edo_buf_reader *r = reader_over(&ss, 4);
    edo_bytes out = EDO_BYTES_INIT;
    CHECK_EQ(edo_buf_reader_read_line(r, &out, 6), 6); /* "short\n" is exactly the limit */
    edo_bytes_clear(&out);
    CHECK_EQ(edo_buf_reader_read_line(r, &out, 8), -EMSGSIZE);
    CHECK_EQ(edo_bytes_len(&out), 0);
    /* nothing consumed: the buffer holds at least the limit's worth, not the whole stream */
    size_t have;
    const uint8_t *p = edo_buf_reader_buffer(r, &have);
    CHECK(have >= 8 && have <= 16);
    CHECK(memcmp(p, "01234567", 8) == 0);
    const char *line;
    size_t len;
    CHECK_EQ(edo_buf_reader_next_line(r, 8, &line, &len), -EMSGSIZE);
    /* with a larger limit the same line is read whole */
    CHECK_EQ(edo_buf_reader_read_line(r, &out, 17), 17);
    CHECK(bytes_are(&out, "0123456789abcdef\n"));
    next_line_is(r, 5, "next");
    next_line_is(r, 5, NULL);
    edo_bytes_drop(&out);
    reader_free(r, &ss);
}
TEST(line_over_the_limit) { in_coroutine(line_over_the_limit); }

static void end_of_stream_mid_line(void)
{
    const char *chunks[] = {"one\ntw", "o", NULL};
    script_stream ss = script(chunks);
    edo_buf_reader *r = reader_over(&ss, 0);
    next_line_is(r, 100, "one");
    next_line_is(r, 100, "two"); /* the partial last line */
    next_line_is(r, 100, NULL);
    reader_free(r, &ss);
    /* read_line: the partial line without "\n", then 0 */
    ss = script(chunks);
    r = reader_over(&ss, 0);
    edo_bytes out = EDO_BYTES_INIT;
    CHECK_EQ(edo_buf_reader_read_line(r, &out, 100), 4);
    edo_bytes_clear(&out);
    CHECK_EQ(edo_buf_reader_read_line(r, &out, 100), 3);
    CHECK(bytes_are(&out, "two"));
    CHECK_EQ(edo_buf_reader_read_line(r, &out, 100), 0);
    edo_bytes_drop(&out);
    reader_free(r, &ss);
}
TEST(end_of_stream_mid_line) { in_coroutine(end_of_stream_mid_line); }

/* A read_line future dropped while it waits for the rest of a line: the part read stays in the
 * reader, `out` is untouched, and the next read_line returns the whole line. */
TEST(cancelled_read_line_loses_nothing)
{
    const char *chunks[] = {"first\npar", "", "tial", "", " line\nlast\n", NULL};
    script_stream ss = script(chunks);
    edo_buf_reader *r = reader_over(&ss, 0);
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    edo_bytes out = EDO_BYTES_INIT;
    edo_buf_reader_future f;
    edo_buf_reader_read_line_future_init(&f, r, &out, 100);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, 6);
    edo_future_drop(&f.base);
    edo_bytes_clear(&out);
    for (int round = 0; round < 2; round++) { /* cancelled twice, at each pause */
        edo_buf_reader_read_line_future_init(&f, r, &out, 100);
        CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
        edo_future_drop(&f.base);
        CHECK_EQ(edo_bytes_len(&out), 0);
        CHECK_EQ(ss.pending_waiters, 0);
    }
    size_t have;
    const uint8_t *p = edo_buf_reader_buffer(r, &have);
    CHECK_EQ(have, 7);
    CHECK(memcmp(p, "partial", 7) == 0);
    edo_buf_reader_read_line_future_init(&f, r, &out, 100);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, 13);
    CHECK(bytes_are(&out, "partial line\n"));
    edo_future_drop(&f.base);
    /* next_line as a future */
    edo_buf_reader_next_line_future_init(&f, r, 100);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, 1);
    CHECK(f.len == 4 && memcmp(f.data, "last", 4) == 0);
    edo_future_drop(&f.base);
    edo_bytes_drop(&out);
    reader_free(r, &ss);
}

/* The same with a coroutine aborted inside read_line on a duplex pair: the task ends with
 * -ECANCELED, and the bytes it had read are read by the next read_line. */
typedef struct abort_case {
    edo_buf_reader *r;
    edo_bytes out;
} abort_case;

static void *read_one_line(void *arg)
{
    abort_case *c = arg;
    edo_buf_reader_read_line(c->r, &c->out, 100);
    return NULL;
}

static void aborted_read_line(void)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(64, &a, &b), 0);
    abort_case c = {NULL, EDO_BYTES_INIT};
    CHECK_EQ(edo_buf_reader_new(a, 0, &c.r), 0);
    CHECK_EQ(edo_stream_write_all(b, "par", 3), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn(read_one_line, &c, &t), 0);
    /* One runtime thread: the reader runs (reads "par", waits for more) before this yield
     * returns, since it was queued first. */
    CHECK_EQ(edo_yield(), 0);
    edo_task_abort(t);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
    size_t have;
    edo_buf_reader_buffer(c.r, &have);
    CHECK_EQ(have, 3);
    CHECK_EQ(edo_bytes_len(&c.out), 0);
    CHECK_EQ(edo_stream_write_all(b, "tial\n", 5), 0);
    CHECK_EQ(edo_buf_reader_read_line(c.r, &c.out, 100), 8);
    CHECK(bytes_are(&c.out, "partial\n"));
    edo_bytes_drop(&c.out);
    CHECK_EQ(edo_stream_close(edo_buf_reader_stream(c.r)), 0);
    CHECK_EQ(edo_stream_close(b), 0);
}
TEST(aborted_read_line_loses_nothing) { in_coroutine(aborted_read_line); }

/* A deadline that passes while next_line waits for the rest of a line: -ETIMEDOUT, and the
 * part read is still there for the next call. Over a duplex pair and over TCP. */
static void deadline_mid_line(edo_stream *a, edo_stream *b)
{
    edo_buf_reader *r;
    CHECK_EQ(edo_buf_reader_new(a, 0, &r), 0);
    CHECK_EQ(edo_stream_write_all(b, "half a", 6), 0);
    const char *line;
    size_t len;
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(10)), &saved), 0);
    CHECK_EQ(edo_buf_reader_next_line(r, 100, &line, &len), -ETIMEDOUT);
    CHECK_EQ(edo_deadline_pop(saved), 0);
    CHECK(line == NULL && len == 0);
    CHECK_EQ(edo_stream_write_all(b, " line\n", 6), 0);
    CHECK_EQ(edo_buf_reader_next_line(r, 100, &line, &len), 1);
    CHECK(len == 11 && memcmp(line, "half a line", 11) == 0);
    CHECK_EQ(edo_stream_close(edo_buf_reader_stream(r)), 0);
    CHECK_EQ(edo_stream_close(b), 0);
}

static void deadline_over_duplex(void)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(64, &a, &b), 0);
    deadline_mid_line(a, b); /* the clock is paused: no real wait */
}
TEST(deadline_mid_line_over_duplex) { in_coroutine(deadline_over_duplex); }

static void *deadline_over_tcp(void *arg)
{
    (void)arg;
    edo_stream *a, *b;
    tcp_streams(&a, &b);
    deadline_mid_line(a, b); /* 10 ms of real time */
    return NULL;
}
TEST(deadline_mid_line_over_tcp) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, deadline_over_tcp, NULL); }

static void reader_as_a_stream(void)
{
    const char *chunks[] = {"0123456789", "abcdefghijklmnopqrstuvwxyz", "tail", NULL};
    script_stream ss = script(chunks);
    edo_buf_reader *r = reader_over(&ss, 8);
    edo_stream *s = edo_buf_reader_stream(r);
    const uint8_t *data;
    CHECK_EQ(edo_buf_reader_fill_buf(r, &data), 8); /* one fill: the capacity */
    CHECK(memcmp(data, "01234567", 8) == 0);
    CHECK_EQ(edo_buf_reader_consume(r, 2), 0);
    CHECK_EQ(edo_buf_reader_consume(r, 7), -EINVAL);
    char buf[32];
    /* the buffer drains first, even for a large read */
    CHECK_EQ(edo_stream_read(s, buf, sizeof buf), 6);
    CHECK(memcmp(buf, "234567", 6) == 0);
    CHECK_EQ(edo_stream_read(s, buf, 1), 1); /* a small read fills the window */
    CHECK_EQ(buf[0], '8');
    CHECK_EQ(edo_stream_read(s, buf, sizeof buf), 1);
    /* empty buffer, a read of at least the capacity: straight from inner */
    size_t reads = ss.reads;
    CHECK_EQ(edo_stream_read(s, buf, 20), 20);
    CHECK_EQ(ss.reads, reads + 1);
    CHECK(memcmp(buf, "abcdefghijklmnopqrst", 20) == 0);
    /* readiness: buffered bytes make it readable, whatever inner says (the script: -ENOTSUP) */
    CHECK_EQ(edo_buf_reader_fill_buf(r, &data), 6);
    CHECK_EQ(edo_stream_ready(s, EDO_READABLE), EDO_READABLE);
    CHECK_EQ(edo_buf_reader_consume(r, 6), 0);
    CHECK_EQ(edo_stream_ready(s, EDO_READABLE), -ENOTSUP);
    /* writes go through; raw_fd: none for reading */
    CHECK_EQ(edo_stream_write_all(s, "w", 1), 0);
    CHECK(bytes_are(&ss.written, "w"));
    CHECK_EQ(edo_stream_raw_fd(s, false), -ENOTSUP);
    CHECK_EQ(edo_stream_flush(s), 0);
    CHECK_EQ(edo_stream_shutdown(s), 0);
    CHECK(ss.flushes == 1 && ss.shutdowns == 1);
    /* into_inner hands over what is buffered */
    CHECK_EQ(edo_buf_reader_fill_buf(r, &data), 4);
    CHECK_EQ(edo_buf_reader_consume(r, 1), 0);
    edo_bytes rest;
    CHECK(edo_buf_reader_into_inner(r, &rest) == &ss.base);
    CHECK(bytes_are(&rest, "ail"));
    edo_bytes_drop(&rest);
    /* closing the reader's stream closes inner */
    r = reader_over(&ss, 0);
    CHECK_EQ(edo_stream_close(edo_buf_reader_stream(r)), 0);
    CHECK_EQ(ss.closes, 1);
    script_drop(&ss);
}
TEST(reader_as_a_stream) { in_coroutine(reader_as_a_stream); }

static void writer_buffers_and_flushes(void)
{
    const char *none[] = {NULL};
    script_stream ss = script(none);
    edo_buf_writer *w;
    CHECK_EQ(edo_buf_writer_new(&ss.base, 8, &w), 0);
    edo_stream *s = edo_buf_writer_stream(w);
    CHECK_EQ(edo_stream_write_all(s, "abc", 3), 0);
    CHECK_EQ(edo_stream_write_all(s, "def", 3), 0);
    CHECK_EQ(edo_bytes_len(&ss.written), 0); /* all buffered */
    CHECK_EQ(edo_buf_writer_buffered(w), 6);
    CHECK_EQ(edo_stream_write_all(s, "gh", 2), 0); /* fits exactly */
    CHECK_EQ(edo_bytes_len(&ss.written), 0);
    CHECK_EQ(edo_stream_write_all(s, "i", 1), 0); /* does not fit: the 8 go first */
    CHECK(bytes_are(&ss.written, "abcdefgh"));
    CHECK_EQ(edo_buf_writer_buffered(w), 1);
    /* a write of at least the capacity goes straight through, after what waits */
    CHECK_EQ(edo_stream_write_all(s, "0123456789", 10), 0);
    CHECK(bytes_are(&ss.written, "abcdefghi0123456789"));
    CHECK_EQ(edo_buf_writer_buffered(w), 0);
    struct iovec iov[2] = {{"x", 1}, {"yz", 2}};
    CHECK_EQ(edo_stream_writev(s, iov, 2), 3);
    CHECK_EQ(edo_stream_flush(s), 0);
    CHECK(bytes_are(&ss.written, "abcdefghi0123456789xyz"));
    CHECK_EQ(ss.flushes, 1);
    /* shutdown flushes first; inner's writes may be short */
    ss.write_max = 1;
    CHECK_EQ(edo_stream_write_all(s, "end", 3), 0);
    CHECK_EQ(edo_stream_shutdown(s), 0);
    CHECK(bytes_are(&ss.written, "abcdefghi0123456789xyzend"));
    CHECK_EQ(ss.shutdowns, 1);
    CHECK_EQ(edo_stream_raw_fd(s, true), -ENOTSUP);
    /* readiness: room in the buffer makes it writable, whatever inner says (-ENOTSUP) */
    CHECK_EQ(edo_stream_ready(s, EDO_WRITABLE), EDO_WRITABLE);
    CHECK_EQ(edo_stream_write_all(s, "12345678", 8), 0); /* written through: the buffer is empty */
    CHECK_EQ(edo_stream_write_all(s, "1234567", 7), 0);
    CHECK_EQ(edo_stream_ready(s, EDO_WRITABLE), EDO_WRITABLE);
    CHECK_EQ(edo_stream_write_all(s, "8", 1), 0); /* now full */
    CHECK_EQ(edo_stream_ready(s, EDO_WRITABLE), -ENOTSUP);
    CHECK_EQ(edo_stream_flush(s), 0);
    /* into_inner hands over what was not written */
    CHECK_EQ(edo_stream_write_all(s, "left", 4), 0);
    edo_bytes rest;
    CHECK(edo_buf_writer_into_inner(w, &rest) == &ss.base);
    CHECK(bytes_are(&rest, "left"));
    edo_bytes_drop(&rest);
    CHECK_EQ(edo_buf_writer_new(&ss.base, 0, &w), 0);
    CHECK_EQ(edo_stream_close(edo_buf_writer_stream(w)), 0);
    CHECK_EQ(ss.closes, 1);
    script_drop(&ss);
}
TEST(writer_buffers_and_flushes) { in_coroutine(writer_buffers_and_flushes); }

/* A write that is pending while the buffer drains has taken none of the caller's bytes. */
TEST(pending_buffered_write_takes_nothing)
{
    const char *none[] = {NULL};
    script_stream ss = script(none);
    edo_buf_writer *w;
    CHECK_EQ(edo_buf_writer_new(&ss.base, 4, &w), 0);
    edo_stream *s = edo_buf_writer_stream(w);
    edo_stream_future f;
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    edo_stream_write_future_init(&f, s, "abcd", 3);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, 3);
    edo_future_drop(&f.base);
    ss.write_pending = 1;
    edo_stream_write_future_init(&f, s, "XY", 2);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
    edo_future_drop(&f.base);
    CHECK_EQ(edo_buf_writer_buffered(w), 3); /* "abc" still waits; "XY" was not taken */
    CHECK_EQ(ss.pending_waiters, 0);
    edo_stream_flush_future_init(&f, s);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, 0);
    edo_future_drop(&f.base);
    CHECK(bytes_are(&ss.written, "abc"));
    edo_buf_writer_into_inner(w, NULL);
    script_drop(&ss);
}

/* Lines of every length from 0 to 299, 20,000 of them, from a buffered writer in one task to a
 * buffered reader in another, on four workers, over each kind of stream: a small duplex pair,
 * TCP, a Unix socket pair, a pipe. */
#define PAIR_LINES 20000

static void make_line(unsigned i, char *buf, size_t *len)
{
    size_t n = i % 300;
    for (size_t k = 0; k < n; k++)
        buf[k] = (char)('a' + (i + k) % 26);
    *len = n;
}

static void *write_lines(void *arg)
{
    edo_buf_writer *w;
    CHECK_EQ(edo_buf_writer_new(arg, 512, &w), 0);
    edo_stream *s = edo_buf_writer_stream(w);
    char line[301];
    for (unsigned i = 0; i < PAIR_LINES; i++) {
        size_t n;
        make_line(i, line, &n);
        line[n++] = '\n';
        CHECK_EQ(edo_stream_write_all(s, line, n), 0);
    }
    CHECK_EQ(edo_stream_shutdown(s), 0); /* flushes, then the reader reads the end */
    CHECK_EQ(edo_stream_close(s), 0);
    return NULL;
}

/* Reads the lines write_lines writes, from `in`, in a buffered reader of 256 bytes. */
static void read_lines(edo_stream *in, edo_stream *out)
{
    edo_task *t;
    CHECK_EQ(edo_spawn(write_lines, out, &t), 0);
    edo_buf_reader *r;
    CHECK_EQ(edo_buf_reader_new(in, 256, &r), 0);
    char want[300];
    const char *line;
    size_t len;
    unsigned i = 0;
    int rc;
    while ((rc = edo_buf_reader_next_line(r, 301, &line, &len)) == 1) {
        size_t n;
        make_line(i++, want, &n);
        CHECK_EQ(len, n);
        CHECK(memcmp(line, want, n) == 0);
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(i, PAIR_LINES);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    CHECK_EQ(edo_stream_close(edo_buf_reader_stream(r)), 0);
}

static void *lines_over_duplex(void *arg)
{
    (void)arg;
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(1000, &a, &b), 0);
    read_lines(a, b);
    return NULL;
}
TEST(lines_over_duplex) { run_coro(EDO_RUNTIME_MULTI_THREAD, 4, lines_over_duplex, NULL); }

static void *lines_over_tcp(void *arg)
{
    (void)arg;
    edo_stream *a, *b;
    tcp_streams(&a, &b);
    read_lines(a, b);
    return NULL;
}
TEST(lines_over_tcp) { run_coro(EDO_RUNTIME_MULTI_THREAD, 4, lines_over_tcp, NULL); }

static void *lines_over_unix(void *arg)
{
    (void)arg;
    edo_unix *x, *y;
    CHECK_EQ(edo_unix_pair(&x, &y), 0);
    read_lines(edo_unix_stream(x), edo_unix_stream(y));
    return NULL;
}
TEST(lines_over_unix) { run_coro(EDO_RUNTIME_MULTI_THREAD, 4, lines_over_unix, NULL); }

static void *lines_over_pipe(void *arg)
{
    (void)arg;
    edo_stream *r, *w;
    CHECK_EQ(edo_pipe_new(&r, &w), 0);
    read_lines(r, w);
    return NULL;
}
TEST(lines_over_pipe) { run_coro(EDO_RUNTIME_MULTI_THREAD, 4, lines_over_pipe, NULL); }

/* The future form in a future task: it counts the lines write_lines sends through a duplex
 * pair, waiting through real wake-ups (the duplex wakes the task when the writer wrote). */
typedef struct count_lines {
    edo_future base;
    edo_buf_reader *r;
    edo_buf_reader_future next; /* the line being waited for, when `waiting` */
    bool waiting;
    long lines, bad;
} count_lines;

static edo_poll count_lines_poll(edo_future *self, edo_context *cx, void **out)
{
    count_lines *c = (count_lines *)self;
    char want[300];
    for (;;) {
        if (!c->waiting) {
            edo_buf_reader_next_line_future_init(&c->next, c->r, 301);
            c->waiting = true;
        }
        if (edo_future_poll(&c->next.base, cx, NULL) == EDO_PENDING)
            return EDO_PENDING;
        ssize_t rc = c->next.result;
        size_t n;
        make_line((unsigned)c->lines, want, &n);
        if (rc == 1 && (c->next.len != n || memcmp(c->next.data, want, n) != 0))
            c->bad++;
        edo_future_drop(&c->next.base);
        c->waiting = false;
        if (rc != 1) { /* the end (0) or an error: the count, or what went wrong */
            *out = (void *)(intptr_t)(rc < 0 ? rc : c->bad ? -1000 : c->lines);
            return EDO_READY;
        }
        c->lines++;
    }
}

static void count_lines_drop(edo_future *self)
{
    count_lines *c = (count_lines *)self;
    if (c->waiting)
        edo_future_drop(&c->next.base);
    /* the reader is the test's, closed by it */
}

static const edo_future_vtable count_lines_vtable = {count_lines_poll, count_lines_drop};

static void *lines_in_future_task(void *arg)
{
    (void)arg;
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(1000, &a, &b), 0);
    edo_buf_reader *r;
    CHECK_EQ(edo_buf_reader_new(a, 256, &r), 0);
    count_lines c = {.base = {&count_lines_vtable}, .r = r}; /* moved into the task */
    edo_task *reader, *writer;
    CHECK_EQ(edo_spawn_future(&c.base, sizeof c, &reader), 0);
    CHECK_EQ(edo_spawn(write_lines, b, &writer), 0);
    void *lines = NULL;
    CHECK_EQ(edo_task_join(reader, &lines), 0);
    CHECK_EQ((intptr_t)lines, PAIR_LINES);
    CHECK_EQ(edo_task_join(writer, NULL), 0);
    edo_task_free(reader);
    edo_task_free(writer);
    CHECK_EQ(edo_stream_close(edo_buf_reader_stream(r)), 0);
    return NULL;
}
TEST(lines_in_a_future_task) { run_coro(EDO_RUNTIME_MULTI_THREAD, 4, lines_in_future_task, NULL); }

static void bad_input(void)
{
    const char *chunks[] = {"abc\n", NULL};
    script_stream ss = script(chunks);
    edo_stream broken = {NULL};
    edo_buf_reader *r;
    edo_buf_writer *w;
    CHECK_EQ(edo_buf_reader_new(NULL, 0, &r), -EINVAL);
    CHECK_EQ(edo_buf_reader_new(&broken, 0, &r), -EINVAL);
    CHECK_EQ(edo_buf_reader_new(&ss.base, 0, NULL), -EINVAL);
    CHECK_EQ(edo_buf_reader_new(&ss.base, EDO_BUF_MAX_CAPACITY + 1, &r), -EINVAL);
    CHECK_EQ(edo_buf_reader_new(&ss.base, SIZE_MAX, &r), -EINVAL);
    CHECK_EQ(edo_buf_writer_new(NULL, 0, &w), -EINVAL);
    CHECK_EQ(edo_buf_writer_new(&broken, 0, &w), -EINVAL);
    CHECK_EQ(edo_buf_writer_new(&ss.base, 0, NULL), -EINVAL);
    CHECK_EQ(edo_buf_writer_new(&ss.base, SIZE_MAX, &w), -EINVAL);
    CHECK(edo_buf_reader_stream(NULL) == NULL);
    CHECK(edo_buf_writer_stream(NULL) == NULL);
    CHECK(edo_buf_reader_into_inner(NULL, NULL) == NULL);
    CHECK(edo_buf_writer_into_inner(NULL, NULL) == NULL);
    CHECK_EQ(edo_buf_writer_buffered(NULL), 0);
    size_t len = 5;
    CHECK(edo_buf_reader_buffer(NULL, &len) == NULL);
    CHECK_EQ(len, 0);
    CHECK_EQ(edo_buf_reader_consume(NULL, 0), -EINVAL);
    const uint8_t *data;
    const char *line;
    edo_bytes out = EDO_BYTES_INIT;
    CHECK_EQ(edo_buf_reader_fill_buf(NULL, &data), -EINVAL);
    CHECK_EQ(edo_buf_reader_read_until(NULL, '\n', &out, 1), -EINVAL);
    CHECK_EQ(edo_buf_reader_read_line(NULL, &out, 1), -EINVAL);
    CHECK_EQ(edo_buf_reader_next_line(NULL, 1, &line, &len), -EINVAL);
    r = reader_over(&ss, 0);
    CHECK(edo_buf_reader_buffer(r, NULL) == NULL);
    CHECK_EQ(edo_buf_reader_consume(r, 1), -EINVAL);
    CHECK_EQ(edo_buf_reader_fill_buf(r, NULL), -EINVAL);
    CHECK_EQ(edo_buf_reader_read_until(r, '\n', NULL, 1), -EINVAL);
    CHECK_EQ(edo_buf_reader_read_until(r, '\n', &out, 0), -EINVAL);
    CHECK_EQ(edo_buf_reader_next_line(r, 0, &line, &len), -EINVAL);
    CHECK_EQ(edo_buf_reader_next_line(r, 1, NULL, &len), -EINVAL);
    CHECK_EQ(edo_buf_reader_next_line(r, 1, &line, NULL), -EINVAL);
    edo_buf_reader_fill_buf_future_init(NULL, r);
    edo_buf_reader_read_until_future_init(NULL, r, '\n', &out, 1);
    edo_buf_reader_read_line_future_init(NULL, r, &out, 1);
    edo_buf_reader_next_line_future_init(NULL, r, 1);
    edo_buf_reader_future f;
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    edo_buf_reader_next_line_future_init(&f, NULL, 1);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    edo_buf_reader_read_line_future_init(&f, r, NULL, 1);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    /* nothing was read */
    CHECK_EQ(ss.reads, 0);
    next_line_is(r, 10, "abc");
    reader_free(r, &ss);
}
TEST(bad_input) { in_coroutine(bad_input); }
