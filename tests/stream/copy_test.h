/* What the copy tests share (test-copy.c, test-copy-splice.c): polling by hand, a writer and a
 * reader of a checked byte pattern, tasks, a copy checked end to end, a relay task, an echo. */
#ifndef EDO_TEST_STREAM_COPY_TEST_H
#define EDO_TEST_STREAM_COPY_TEST_H

#include <string.h>

#include "edo.h"
#include "edo/stream_copy.h"
#include "harness.h"
#include "stream/copy.h"
#include "util.h"

/* Polls a copy future once by hand, with a waker that does nothing. */
static inline edo_poll poll_future(edo_future *f)
{
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    return edo_future_poll(f, &cx, NULL);
}

typedef struct pattern {
    edo_stream *s;
    size_t total;
    uint8_t seed;
    bool shut_down; /* the writer shuts down its stream after the last byte */
} pattern;

static inline void *write_pattern(void *arg)
{
    pattern *p = arg;
    uint8_t buf[1531];
    uint8_t v = p->seed;
    for (size_t sent = 0; sent < p->total;) {
        size_t n = p->total - sent < sizeof buf ? p->total - sent : sizeof buf;
        for (size_t i = 0; i < n; i++)
            buf[i] = v++;
        CHECK_EQ(edo_stream_write_all(p->s, buf, n), 0);
        sent += n;
    }
    if (p->shut_down) CHECK_EQ(edo_stream_shutdown(p->s), 0);
    return NULL;
}

/* Reads until the end of stream, checking the pattern; returns the count. */
static inline void *read_pattern(void *arg)
{
    pattern *p = arg;
    uint8_t buf[2039];
    uint8_t v = p->seed;
    size_t got = 0;
    ssize_t n;
    while ((n = edo_stream_read(p->s, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            CHECK_EQ(buf[i], v++);
        got += (size_t)n;
    }
    CHECK_EQ(n, 0);
    CHECK_EQ(got, p->total);
    return (void *)got;
}

static inline edo_task *spawn(void *(*fn)(void *), void *arg)
{
    edo_task *t;
    CHECK_EQ(edo_spawn(fn, arg, &t), 0);
    return t;
}

static inline void *join(edo_task *t)
{
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    edo_task_free(t);
    return out;
}

/* Closes the `n` streams, each without error. */
static inline void close_all(edo_stream *const *s, int n)
{
    for (int i = 0; i < n; i++)
        CHECK_EQ(edo_stream_close(s[i]), 0);
}

/* writer -> in_w ~ in_r -copy-> out_w ~ out_r -> reader: everything arrives in order, the count
 * is exact, and the copy spliced every byte or none (`splices`). Closes the four streams. */
static inline void copy_through(edo_stream *in_r, edo_stream *in_w, edo_stream *out_r,
                                edo_stream *out_w, size_t total, bool splices)
{
    pattern w = {in_w, total, 11, true}, r = {out_r, total, 11, false};
    edo_task *tw = spawn(write_pattern, &w), *tr = spawn(read_pattern, &r);
    uint64_t spliced = edo__copy_spliced_bytes(), copied = 0;
    CHECK_EQ(edo_stream_copy(in_r, out_w, &copied), 0);
    CHECK_EQ(copied, total);
    CHECK_EQ(edo__copy_spliced_bytes() - spliced, splices ? total : 0);
    CHECK_EQ(edo_stream_shutdown(out_w), 0); /* copy does not pass the end on by itself */
    join(tw);
    CHECK_EQ((size_t)join(tr), total);
    close_all((edo_stream *[]){in_r, in_w, out_r, out_w}, 4);
}

typedef struct relay {
    edo_stream *a, *b;
    uint64_t a_to_b, b_to_a;
    int rc;
} relay;

static inline void *run_relay(void *arg)
{
    relay *r = arg;
    r->rc = edo_stream_copy_bidirectional(r->a, r->b, &r->a_to_b, &r->b_to_a);
    return NULL;
}

/* client ~ a <-relay-> b ~ server. The client sends `up` bytes and shuts down: the server reads
 * them and the end while the relay still runs the other way; only after the server has sent
 * `down` bytes and shut down too does the relay end, with 0 and each side's count exact. Closes
 * the four streams. */
static inline void relay_half_close(edo_stream *client, edo_stream *a, edo_stream *b,
                                    edo_stream *server, size_t up, size_t down)
{
    relay r = {a, b, 0, 0, 1};
    edo_task *t = spawn(run_relay, &r);
    pattern cw = {client, up, 1, true}, sr = {server, up, 1, false};
    edo_task *tw = spawn(write_pattern, &cw);
    CHECK_EQ((size_t)read_pattern(&sr), up); /* ... then the end of stream: half-closed */
    join(tw);
    CHECK(!edo_task_is_finished(t)); /* still relaying the other way */
    pattern sw = {server, down, 9, true}, cr = {client, down, 9, false};
    tw = spawn(write_pattern, &sw);
    CHECK_EQ((size_t)read_pattern(&cr), down);
    join(tw);
    join(t);
    CHECK_EQ(r.rc, 0);
    CHECK_EQ(r.a_to_b, up);
    CHECK_EQ(r.b_to_a, down);
    close_all((edo_stream *[]){client, a, b, server}, 4);
}

/* Echoes a stream into itself with a copy (one read and one write at once), then passes the
 * end on. */
static inline void *echo_copy(void *arg)
{
    edo_stream *s = arg;
    uint64_t copied = 0;
    CHECK_EQ(edo_stream_copy(s, s, &copied), 0);
    CHECK_EQ(edo_stream_shutdown(s), 0);
    return (void *)(uintptr_t)copied;
}

#endif
