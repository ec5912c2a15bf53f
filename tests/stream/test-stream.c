/* The stream interface itself (src/stream/stream.c), on a scripted stream of the test's own:
 * argument checks, zero-length operations, the entries a stream may leave NULL, write_all over
 * short writes, the future forms and their drop. */
#include <limits.h>
#include <string.h>

#include "edo/stream.h"
#include "harness.h"
#include "stream/stream_test.h"
#include "util.h"

/* A stream that reads from a fixed text and accepts at most `chunk` bytes per write, ready at
 * once; with `stall` set, every operation is pending (and counts its waiter drops). Optional
 * entries are NULL. */
typedef struct scripted {
    edo_stream base;
    const char *text;
    size_t pos;
    char written[256];
    size_t nwritten, chunk;
    bool stall, closed;
    int drops;
} scripted;

static edo_poll scripted_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                              size_t len, ssize_t *result)
{
    (void)w;
    (void)cx;
    scripted *t = (scripted *)s;
    if (t->stall)
        return EDO_PENDING;
    size_t left = strlen(t->text) - t->pos;
    size_t n = len < left ? len : left;
    memcpy(buf, t->text + t->pos, n);
    t->pos += n;
    *result = (ssize_t)n;
    return EDO_READY;
}

static edo_poll scripted_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                               const struct iovec *iov, int iovcnt, ssize_t *result)
{
    (void)w;
    (void)cx;
    scripted *t = (scripted *)s;
    if (t->stall)
        return EDO_PENDING;
    size_t n = 0;
    for (int i = 0; i < iovcnt && n < t->chunk; i++) {
        size_t take = iov[i].iov_len < t->chunk - n ? iov[i].iov_len : t->chunk - n;
        CHECK(t->nwritten + take <= sizeof t->written);
        if (take > 0)
            memcpy(t->written + t->nwritten, iov[i].iov_base, take);
        t->nwritten += take;
        n += take;
    }
    *result = (ssize_t)n;
    return EDO_READY;
}

static void scripted_drop_waiter(edo_stream *s, edo_stream_waiter *w)
{
    (void)w;
    ((scripted *)s)->drops++;
}

static int scripted_close(edo_stream *s)
{
    ((scripted *)s)->closed = true;
    return 0;
}

static const edo_stream_vtable scripted_vtable = {
    .poll_read = scripted_read,
    .poll_write = scripted_write,
    .drop_waiter = scripted_drop_waiter,
    .close = scripted_close,
};

static scripted scripted_new(const char *text, size_t chunk)
{
    scripted t = {.base = {&scripted_vtable}, .text = text, .chunk = chunk};
    return t;
}

static void *calls(void *arg)
{
    (void)arg;
    scripted t = scripted_new("hello", 3);
    char buf[8];
    CHECK_EQ(edo_stream_read(&t.base, buf, sizeof buf), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(edo_stream_read(&t.base, buf, sizeof buf), 0);
    CHECK_EQ(edo_stream_write(&t.base, "abcdef", 6), 3); /* some of it */
    CHECK_EQ(edo_stream_write_all(&t.base, "ghijklmnop", 10), 0); /* four short writes */
    struct iovec iov[3] = {{"qr", 2}, {NULL, 0}, {"s", 1}};
    CHECK_EQ(edo_stream_writev(&t.base, iov, 3), 3);
    CHECK_EQ(t.nwritten, 16);
    CHECK(memcmp(t.written, "abcghijklmnopqrs", 16) == 0);
    /* Entries left NULL. */
    CHECK_EQ(edo_stream_flush(&t.base), 0);
    CHECK_EQ(edo_stream_shutdown(&t.base), -ENOTSUP);
    CHECK_EQ(edo_stream_ready(&t.base, EDO_READABLE), -ENOTSUP);
    CHECK_EQ(edo_stream_raw_fd(&t.base, false), -ENOTSUP);
    /* A stream that accepts nothing: write_all cannot finish. */
    t.chunk = 0;
    CHECK_EQ(edo_stream_write_all(&t.base, "x", 1), -EIO);
    CHECK_EQ(edo_stream_close(&t.base), 0);
    CHECK(t.closed);
    return NULL;
}

TEST(coroutine_calls_over_the_vtable) { run_coro(EDO_RUNTIME_CURRENT_THREAD, 1, calls, NULL); }

static void *bad_input(void *arg)
{
    (void)arg;
    scripted t = scripted_new("x", 1);
    edo_stream no_vtable = {NULL};
    char buf[4];
    CHECK_EQ(edo_stream_read(NULL, buf, 1), -EINVAL);
    CHECK_EQ(edo_stream_read(&no_vtable, buf, 1), -EINVAL);
    CHECK_EQ(edo_stream_read(&t.base, NULL, 1), -EINVAL);
    CHECK_EQ(edo_stream_read(&t.base, buf, (size_t)SSIZE_MAX + 1), -EINVAL);
    CHECK_EQ(edo_stream_write(&t.base, NULL, 1), -EINVAL);
    CHECK_EQ(edo_stream_write_all(NULL, "x", 1), -EINVAL);
    CHECK_EQ(edo_stream_write_all(&t.base, NULL, 2), -EINVAL);
    CHECK_EQ(edo_stream_writev(&t.base, NULL, 1), -EINVAL);
    struct iovec iov[2] = {{buf, 1}, {NULL, 1}};
    CHECK_EQ(edo_stream_writev(&t.base, iov, 0), -EINVAL);
    CHECK_EQ(edo_stream_writev(&t.base, iov, IOV_MAX + 1), -EINVAL);
    CHECK_EQ(edo_stream_writev(&t.base, iov, 2), -EINVAL); /* a NULL buffer */
    struct iovec huge[2] = {{buf, SSIZE_MAX}, {buf, 2}};
    CHECK_EQ(edo_stream_writev(&t.base, huge, 2), -EINVAL); /* the total overflows */
    CHECK_EQ(edo_stream_ready(&t.base, 0), -EINVAL);
    CHECK_EQ(edo_stream_ready(&t.base, EDO_READABLE | 0x100), -EINVAL);
    CHECK_EQ(edo_stream_flush(NULL), -EINVAL);
    CHECK_EQ(edo_stream_shutdown(NULL), -EINVAL);
    CHECK_EQ(edo_stream_close(NULL), -EINVAL);
    CHECK_EQ(edo_stream_raw_fd(NULL, true), -EINVAL);
    CHECK_EQ(edo_stream_try_read(NULL, buf, 1), -EINVAL);
    CHECK_EQ(edo_stream_try_write(&t.base, NULL, 1), -EINVAL);
    CHECK_EQ(t.nwritten, 0); /* nothing reached the stream */
    CHECK_EQ(t.pos, 0);
    /* Zero-length operations complete at once, touching nothing. */
    CHECK_EQ(edo_stream_read(&t.base, NULL, 0), 0);
    CHECK_EQ(edo_stream_write(&t.base, NULL, 0), 0);
    CHECK_EQ(edo_stream_write_all(&t.base, NULL, 0), 0);
    struct iovec empty = {NULL, 0};
    CHECK_EQ(edo_stream_writev(&t.base, &empty, 1), 0);
    CHECK_EQ(t.pos, 0);
    return NULL;
}

TEST(bad_input) { run_coro(EDO_RUNTIME_CURRENT_THREAD, 1, bad_input, NULL); }

TEST(outside_a_coroutine)
{
    scripted t = scripted_new("x", 1);
    char c;
    CHECK_EQ(edo_stream_read(&t.base, &c, 1), -EPERM);
    CHECK_EQ(edo_stream_write_all(&t.base, "x", 1), -EPERM);
    CHECK_EQ(edo_stream_read(&t.base, &c, 0), 0); /* nothing to do: no coroutine needed */
    CHECK_EQ(edo_stream_read(NULL, &c, 1), -EINVAL); /* arguments first */
    CHECK_EQ(t.pos, 0);
    edo_stream_waiter_init(NULL);       /* no-ops */
    edo_stream_waiter_drop(NULL, NULL);
    edo_stream_read_future_init(NULL, &t.base, &c, 1);
}

TEST(future_forms)
{
    scripted t = scripted_new("abc", 2);
    char buf[4];
    edo_stream_future f;
    edo_stream_read_future_init(&f, &t.base, buf, sizeof buf);
    CHECK_EQ(poll_once(&f), EDO_READY);
    CHECK_EQ(f.result, 3);
    edo_future_drop(&f.base);
    edo_stream_write_all_future_init(&f, &t.base, "12345", 5);
    CHECK_EQ(poll_once(&f), EDO_READY);
    CHECK_EQ(f.result, 0);
    edo_future_drop(&f.base);
    CHECK_EQ(t.nwritten, 5);
    edo_stream_shutdown_future_init(&f, &t.base);
    CHECK_EQ(poll_once(&f), EDO_READY);
    CHECK_EQ(f.result, -ENOTSUP);
    edo_future_drop(&f.base);
    edo_stream_ready_future_init(&f, &t.base, 0);
    CHECK_EQ(poll_once(&f), EDO_READY); /* bad arguments: at the first poll */
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    edo_stream_write_future_init(&f, NULL, "x", 1);
    CHECK_EQ(poll_once(&f), EDO_READY);
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    /* A pending operation dropped releases its waiter through the stream. */
    t.stall = true;
    int drops = t.drops;
    edo_stream_read_future_init(&f, &t.base, buf, sizeof buf);
    CHECK_EQ(poll_once(&f), EDO_PENDING);
    edo_future_drop(&f.base);
    CHECK_EQ(t.drops, drops + 1);
    CHECK_EQ(t.pos, 3);
}
