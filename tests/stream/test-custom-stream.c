/* The stream of docs/io.md's "Writing your own stream", as written there (keep the two the
 * same): a byte counter around another stream, checked through the coroutine calls, a try and
 * the future forms, over a duplex pair. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edo/duplex.h"
#include "harness.h"
#include "stream/stream_test.h"
#include "util.h"

/* ---- from docs/io.md ---- */

typedef struct counted {
    edo_stream base;            /* first: a counted is its stream */
    edo_stream *inner;
    _Atomic uint64_t read, written;
} counted;

static edo_poll counted_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                             size_t len, ssize_t *result) {
    counted *c = (counted *)s;
    edo_poll p = c->inner->vtable->poll_read(c->inner, w, cx, buf, len, result);
    if (p == EDO_READY && *result > 0)
        atomic_fetch_add(&c->read, (uint64_t)*result);
    return p;
}

static edo_poll counted_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                              const struct iovec *iov, int iovcnt, ssize_t *result) {
    counted *c = (counted *)s;
    edo_poll p = c->inner->vtable->poll_write(c->inner, w, cx, iov, iovcnt, result);
    if (p == EDO_READY && *result > 0)
        atomic_fetch_add(&c->written, (uint64_t)*result);
    return p;
}

static edo_poll counted_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                 ssize_t *result) {
    counted *c = (counted *)s;
    if (!c->inner->vtable->poll_shutdown) {
        *result = -ENOTSUP;
        return EDO_READY;
    }
    return c->inner->vtable->poll_shutdown(c->inner, w, cx, result);
}

static void counted_drop_waiter(edo_stream *s, edo_stream_waiter *w) {
    counted *c = (counted *)s;
    if (c->inner->vtable->drop_waiter)
        c->inner->vtable->drop_waiter(c->inner, w);
}

static int counted_close(edo_stream *s) {
    counted *c = (counted *)s;
    int rc = edo_stream_close(c->inner);
    free(c);
    return rc;
}

static const edo_stream_vtable counted_vtable = {
    .poll_read = counted_read,
    .poll_write = counted_write,
    .poll_shutdown = counted_shutdown,
    .drop_waiter = counted_drop_waiter,
    .close = counted_close,
};

/* Wraps `inner` (which it then owns); NULL when out of memory. */
static edo_stream *counted_new(edo_stream *inner) {
    counted *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->base.vtable = &counted_vtable;
    c->inner = inner;
    return &c->base;
}

/* ---- the test ---- */

static void *counts(void *arg)
{
    (void)arg;
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(64, &a, &b), 0);
    edo_stream *c = counted_new(a);
    CHECK(c);
    counted *cc = (counted *)c;
    CHECK_EQ(edo_stream_write_all(c, "hello, world", 12), 0);
    char buf[16];
    read_exact(b, buf, 12);
    CHECK_EQ(edo_stream_try_read(c, buf, sizeof buf), -EAGAIN); /* nothing yet, and no count */
    CHECK_EQ(edo_stream_write_all(b, "back", 4), 0);
    read_exact(c, buf, 4);
    CHECK(memcmp(buf, "back", 4) == 0);
    edo_stream_future f;
    edo_stream_read_future_init(&f, c, buf, sizeof buf);
    CHECK_EQ(poll_once(&f), EDO_PENDING); /* waits in the duplex, through the caller's waiter */
    edo_future_drop(&f.base);
    CHECK_EQ(edo_stream_shutdown(c), 0);
    CHECK_EQ(edo_stream_read(b, buf, sizeof buf), 0);
    CHECK_EQ(edo_stream_ready(c, EDO_READABLE), -ENOTSUP);
    CHECK_EQ(atomic_load(&cc->written), 12);
    CHECK_EQ(atomic_load(&cc->read), 4);
    CHECK_EQ(edo_stream_close(c), 0); /* closes `a` too */
    CHECK_EQ(edo_stream_close(b), 0);
    return NULL;
}

TEST(a_byte_counter) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, counts, NULL); }
