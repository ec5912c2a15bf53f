/* The framed adapter over streams: frames in and out over a duplex pair, backpressure, a
 * cancelled next losing nothing, the end of a stream (clean, and inside a frame), pipelined
 * replies in one write, the future forms. */
#include <errno.h>
#include <string.h>

#include "edo/codec.h"
#include "edo/duplex.h"
#include "edo/resp.h"
#include "harness.h"
#include "util.h"

static edo_poll poll_framed(edo_framed_future *f)
{
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    return edo_future_poll(&f->base, &cx, NULL);
}

/* Writes all of `data` to `s` at once, by hand (the duplex has room), or the test fails. */
static void write_now(edo_stream *s, const void *data, size_t len)
{
    edo_stream_future w;
    edo_stream_write_all_future_init(&w, s, data, len);
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    CHECK_EQ(edo_future_poll(&w.base, &cx, NULL), EDO_READY);
    CHECK_EQ(w.result, 0);
    edo_future_drop(&w.base);
}

static void check_frame(const edo_bytes *f, const char *s)
{
    CHECK_EQ(edo_bytes_len(f), strlen(s));
    CHECK(strlen(s) == 0 || memcmp(edo_bytes_data(f), s, strlen(s)) == 0);
}

/* A stream over another that counts its writes (to see how many writes replies took). */
typedef struct counting {
    edo_stream base;
    edo_stream *inner;
    int writes;
} counting;

static edo_poll counting_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                              size_t len, ssize_t *result)
{
    edo_stream *in = ((counting *)s)->inner;
    return in->vtable->poll_read(in, w, cx, buf, len, result);
}

static edo_poll counting_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                               const struct iovec *iov, int iovcnt, ssize_t *result)
{
    counting *c = (counting *)s;
    edo_poll p = c->inner->vtable->poll_write(c->inner, w, cx, iov, iovcnt, result);
    if (p == EDO_READY)
        c->writes++;
    return p;
}

static void counting_drop_waiter(edo_stream *s, edo_stream_waiter *w)
{
    edo_stream_waiter_drop(((counting *)s)->inner, w);
}

static int counting_close(edo_stream *s) { return edo_stream_close(((counting *)s)->inner); }

static const edo_stream_vtable counting_vtable = {
    .poll_read = counting_read,
    .poll_write = counting_write,
    .drop_waiter = counting_drop_waiter,
    .close = counting_close,
};

TEST(bad_input)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(64, &a, &b), 0);
    edo_lines_codec lines;
    CHECK_EQ(edo_lines_codec_init(&lines, 0), 0);
    edo_framed fr;
    CHECK_EQ(edo_framed_init(NULL, a, &lines.base, NULL), -EINVAL);
    CHECK_EQ(edo_framed_init(&fr, NULL, &lines.base, NULL), -EINVAL);
    CHECK_EQ(edo_framed_init(&fr, a, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_framed_init(&fr, a, &lines.base,
                             &(edo_framed_config){.read_size = SIZE_MAX}),
             -EINVAL);
    CHECK_EQ(edo_framed_init(&fr, a, &lines.base, NULL), 0);
    edo_bytes frame = EDO_BYTES_INIT;
    /* Outside a coroutine: -EPERM, after the argument checks; nothing buffered. */
    CHECK_EQ(edo_framed_next(NULL, &frame), -EINVAL);
    CHECK_EQ(edo_framed_next(&fr, NULL), -EINVAL);
    CHECK_EQ(edo_framed_send(&fr, NULL), -EINVAL);
    CHECK_EQ(edo_framed_flush(NULL), -EINVAL);
    CHECK_EQ(edo_framed_close(NULL), -EINVAL);
    CHECK_EQ(edo_framed_next(&fr, &frame), -EPERM);
    CHECK_EQ(edo_framed_send(&fr, &(edo_codec_buf){"x", 1}), -EPERM);
    CHECK_EQ(edo_bytes_len(edo_framed_write_buffer(&fr)), 0);
    CHECK(edo_framed_read_buffer(NULL) == NULL && edo_framed_write_buffer(NULL) == NULL);
    edo_framed_future fut;
    edo_framed_next_future_init(&fut, &fr, NULL);
    CHECK_EQ(poll_framed(&fut), EDO_READY);
    CHECK_EQ(fut.result, -EINVAL);
    edo_future_drop(&fut.base);
    edo_framed_flush_future_init(&fut, NULL);
    CHECK_EQ(poll_framed(&fut), EDO_READY);
    CHECK_EQ(fut.result, -EINVAL);
    edo_future_drop(&fut.base);
    edo_framed_next_future_init(NULL, &fr, &frame); /* no-op */
    edo_framed_drop(&fr);
    edo_framed_drop(NULL);
    edo_stream_close(a);
    edo_stream_close(b);
}

/* Futures polled by hand, no runtime: a next dropped while it waits loses nothing. */
TEST(cancelled_next_loses_nothing)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(64, &a, &b), 0);
    edo_length_delimited_codec ld;
    CHECK_EQ(edo_length_delimited_codec_init(&ld, NULL), 0);
    edo_framed fr;
    CHECK_EQ(edo_framed_init(&fr, b, &ld.base, NULL), 0);
    edo_bytes frame = EDO_BYTES_INIT;
    edo_framed_future next;
    write_now(a, "\0\0\0\5he", 6);
    for (int round = 0; round < 3; round++) {
        edo_framed_next_future_init(&next, &fr, &frame);
        CHECK_EQ(poll_framed(&next), EDO_PENDING); /* read "he" of 5 bytes, waits */
        edo_future_drop(&next.base);               /* cancelled */
    }
    write_now(a, "llo\0\0\0\1!", 8);
    edo_framed_next_future_init(&next, &fr, &frame);
    CHECK_EQ(poll_framed(&next), EDO_READY);
    CHECK_EQ(next.result, 1);
    check_frame(&frame, "hello");
    edo_future_drop(&next.base);
    edo_framed_next_future_init(&next, &fr, &frame);
    CHECK_EQ(poll_framed(&next), EDO_READY);
    CHECK_EQ(next.result, 1);
    check_frame(&frame, "!");
    edo_future_drop(&next.base);
    /* The writer closes inside a frame: an error, not a quiet end. */
    write_now(a, "\0\0", 2);
    edo_stream_close(a);
    edo_framed_next_future_init(&next, &fr, &frame);
    CHECK_EQ(poll_framed(&next), EDO_READY);
    CHECK_EQ(next.result, -EPROTO);
    edo_future_drop(&next.base);
    edo_bytes_drop(&frame);
    edo_framed_drop(&fr);
    edo_stream_close(b);
}

/* A coroutine's next cut by its deadline (paused clock): nothing read is lost. */
static void next_under_deadline(void)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(64, &a, &b), 0);
    edo_lines_codec lines;
    CHECK_EQ(edo_lines_codec_init(&lines, 0), 0);
    edo_framed fr;
    CHECK_EQ(edo_framed_init(&fr, b, &lines.base, NULL), 0);
    edo_bytes line = EDO_BYTES_INIT;
    CHECK_EQ(edo_stream_write_all(a, "hel", 3), 0);
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(10)), &saved), 0);
    CHECK_EQ(edo_framed_next(&fr, &line), -ETIMEDOUT);
    CHECK_EQ(edo_deadline_pop(saved), 0);
    CHECK_EQ(edo_stream_write_all(a, "lo\n", 3), 0);
    CHECK_EQ(edo_framed_next(&fr, &line), 1);
    check_frame(&line, "hello");
    edo_bytes_drop(&line);
    edo_framed_drop(&fr);
    edo_stream_close(a);
    edo_stream_close(b);
}

TEST(next_cut_by_deadline_loses_nothing) { in_coroutine(next_under_deadline); }

/* A send above the high-water mark waits until the peer has read enough; the frame is not
 * lost while it waits. */
TEST(send_backpressure)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(16, &a, &b), 0);
    edo_lines_codec lines;
    CHECK_EQ(edo_lines_codec_init(&lines, 0), 0);
    edo_framed fr;
    CHECK_EQ(edo_framed_init(&fr, a, &lines.base, &(edo_framed_config){.high_water = 32}), 0);
    char line[40];
    memset(line, 'x', sizeof line);
    edo_framed_future send;
    /* 20 bytes: under the mark, buffered, nothing written. */
    edo_framed_send_future_init(&send, &fr, &(edo_codec_buf){line, 19});
    CHECK_EQ(poll_framed(&send), EDO_READY);
    CHECK_EQ(send.result, 0);
    edo_future_drop(&send.base);
    CHECK_EQ(edo_bytes_len(edo_framed_write_buffer(&fr)), 20);
    /* 41 more: over it: writes what the pipe takes (16), then waits. */
    edo_codec_buf big = {line, sizeof line};
    edo_framed_send_future_init(&send, &fr, &big);
    CHECK_EQ(poll_framed(&send), EDO_PENDING);
    CHECK_EQ(edo_bytes_len(edo_framed_write_buffer(&fr)), 61 - 16);
    /* The peer reads; the send makes progress and completes once all is written. */
    edo_framed peer;
    edo_lines_codec peer_lines;
    CHECK_EQ(edo_lines_codec_init(&peer_lines, 0), 0);
    CHECK_EQ(edo_framed_init(&peer, b, &peer_lines.base, NULL), 0);
    edo_bytes got = EDO_BYTES_INIT;
    int lines_seen = 0;
    while (lines_seen < 2) {
        edo_framed_future next;
        edo_framed_next_future_init(&next, &peer, &got);
        edo_poll p = poll_framed(&next);
        if (p == EDO_READY) {
            CHECK_EQ(next.result, 1);
            CHECK_EQ(edo_bytes_len(&got), lines_seen == 0 ? 19 : 40);
            lines_seen++;
        }
        edo_future_drop(&next.base);
        if (poll_framed(&send) == EDO_READY)
            CHECK_EQ(send.result, 0);
    }
    CHECK_EQ(edo_bytes_len(edo_framed_write_buffer(&fr)), 0);
    edo_future_drop(&send.base);
    /* close: the peer reads the end. */
    edo_framed_future close;
    edo_framed_close_future_init(&close, &fr);
    CHECK_EQ(poll_framed(&close), EDO_READY);
    CHECK_EQ(close.result, 0);
    edo_future_drop(&close.base);
    edo_framed_future next;
    edo_framed_next_future_init(&next, &peer, &got);
    CHECK_EQ(poll_framed(&next), EDO_READY);
    CHECK_EQ(next.result, 0);
    edo_future_drop(&next.base);
    edo_bytes_drop(&got);
    edo_framed_drop(&peer);
    edo_framed_drop(&fr);
    edo_stream_close(a);
    edo_stream_close(b);
}

/* A RESP server loop with flush_before_read: three pipelined requests, three replies, one
 * write. */
static void pipelined(void)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(4096, &a, &b), 0);
    counting server_end = {{&counting_vtable}, b, 0};
    static const char reqs[] = "*1\r\n$4\r\nPING\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n";
    CHECK_EQ(edo_stream_write_all(a, reqs, sizeof reqs - 1), 0);
    CHECK_EQ(edo_stream_shutdown(a), 0);
    edo_resp_codec resp;
    CHECK_EQ(edo_resp_codec_init(&resp, &(edo_resp_config){.inline_commands = true}), 0);
    edo_framed fr;
    CHECK_EQ(edo_framed_init(&fr, &server_end.base, &resp.base,
                             &(edo_framed_config){.flush_before_read = true}),
             0);
    edo_resp_frame req;
    edo_resp_frame_init(&req);
    int rc, n = 0;
    while ((rc = edo_framed_next(&fr, &req)) == 1) {
        edo_bytes *out = edo_framed_write_buffer(&fr);
        if (req.value.len == 2)
            CHECK_EQ(edo_resp_append_bulk(out, req.value.items[1].str, req.value.items[1].len), 0);
        else
            CHECK_EQ(edo_resp_append_simple(out, "PONG", 4), 0);
        n++;
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(n, 3);
    CHECK_EQ(server_end.writes, 1);
    char buf[64];
    static const char want[] = "+PONG\r\n+PONG\r\n$2\r\nhi\r\n";
    size_t got = 0;
    ssize_t r;
    while (got < sizeof want - 1 && (r = edo_stream_read(a, buf + got, sizeof buf - got)) > 0)
        got += (size_t)r;
    CHECK_EQ(got, sizeof want - 1);
    CHECK(memcmp(buf, want, got) == 0);
    edo_resp_frame_drop(&req);
    edo_framed_drop(&fr);
    edo_stream_close(a);
    edo_stream_close(b);
}

TEST(pipelined_replies_in_one_write) { in_coroutine(pipelined); }

/* Two tasks on a multi-thread runtime: a line server (upper-cases) and its client, both framed. */
static void *upper_server(void *arg)
{
    edo_stream *s = arg;
    edo_lines_codec lines;
    CHECK_EQ(edo_lines_codec_init(&lines, 128), 0);
    edo_framed fr;
    CHECK_EQ(edo_framed_init(&fr, s, &lines.base, NULL), 0);
    edo_bytes line = EDO_BYTES_INIT;
    int rc;
    while ((rc = edo_framed_next(&fr, &line)) == 1) {
        char out[128];
        size_t n = edo_bytes_len(&line);
        for (size_t i = 0; i < n; i++) {
            char c = (char)edo_bytes_data(&line)[i];
            out[i] = c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
        }
        CHECK_EQ(edo_framed_send(&fr, &(edo_codec_buf){out, n}), 0);
        if (edo_bytes_len(edo_framed_read_buffer(&fr)) == 0)
            CHECK_EQ(edo_framed_flush(&fr), 0);
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(edo_framed_close(&fr), 0);
    edo_bytes_drop(&line);
    edo_framed_drop(&fr);
    edo_stream_close(s);
    return NULL;
}

#define LINES 2000

/* The two ends of a connection of the kind the test runs on. */
typedef void (*make_pair)(edo_stream **client, edo_stream **server);

static void duplex_streams(edo_stream **client, edo_stream **server)
{
    CHECK_EQ(edo_duplex_new(1024, client, server), 0);
}

static void tcp_streams(edo_stream **client, edo_stream **server)
{
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    *client = edo_tcp_stream(c);
    *server = edo_tcp_stream(s);
}

static void *line_client(void *arg)
{
    edo_stream *a, *b;
    (*(const make_pair *)arg)(&a, &b);
    edo_task *server;
    CHECK_EQ(edo_spawn(upper_server, b, &server), 0);
    edo_lines_codec lines;
    CHECK_EQ(edo_lines_codec_init(&lines, 128), 0);
    edo_framed fr;
    CHECK_EQ(edo_framed_init(&fr, a, &lines.base, &(edo_framed_config){.high_water = 512}), 0);
    edo_bytes line = EDO_BYTES_INIT;
    int sent = 0, received = 0;
    while (received < LINES) {
        /* Keep up to 50 lines in flight: both sides wait on each other's buffers. */
        while (sent < LINES && sent - received < 50) {
            char text[32];
            int n = snprintf(text, sizeof text, "line %d\r", sent++);
            CHECK_EQ(edo_framed_send(&fr, &(edo_codec_buf){text, (size_t)n}), 0);
        }
        CHECK_EQ(edo_framed_flush(&fr), 0);
        CHECK_EQ(edo_framed_next(&fr, &line), 1);
        char want[32];
        snprintf(want, sizeof want, "LINE %d", received++);
        check_frame(&line, want);
    }
    CHECK_EQ(edo_framed_close(&fr), 0);
    CHECK_EQ(edo_framed_next(&fr, &line), 0); /* the server ended too */
    CHECK_EQ(edo_task_join(server, NULL), 0);
    edo_task_free(server);
    edo_bytes_drop(&line);
    edo_framed_drop(&fr);
    edo_stream_close(a);
    return NULL;
}

TEST(line_server_over_duplex)
{
    static const make_pair kind = duplex_streams;
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, line_client, (void *)&kind);
}

TEST(line_server_over_tcp)
{
    static const make_pair kind = tcp_streams;
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, line_client, (void *)&kind);
}
