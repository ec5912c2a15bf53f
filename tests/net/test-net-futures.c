/* The future forms of the socket calls beyond read/write/accept/connect (which test-tcp covers):
 * write_all, peek, readv/writev, Unix connect and write_all, and name resolution; each driven by
 * edo_await from a coroutine (which polls it like any future task would), plus empty transfers,
 * drops before completion and bad arguments. */
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

/* Awaits `f` and returns its result, dropping it afterwards. */
static ssize_t run_socket_future(edo_socket_future *f)
{
    CHECK_EQ(edo_await(&f->base, NULL), 0);
    ssize_t r = f->result;
    edo_future_drop(&f->base);
    return r;
}

/* Reads until end of stream; outputs how many bytes came, checking the pattern. */
static void *drain_pattern(void *arg)
{
    edo_tcp *c = arg;
    static unsigned char buf[65536];
    size_t got = 0;
    ssize_t n;
    while ((n = edo_tcp_read(c, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < n; i++)
            CHECK_EQ(buf[i], (unsigned char)((got + (size_t)i) % 251));
        got += (size_t)n;
    }
    CHECK_EQ(n, 0);
    return (void *)got;
}

static void *write_all(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    int small = 4096;
    CHECK_EQ(setsockopt(edo_tcp_fd(c), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    enum { LEN = 1 << 20 };
    unsigned char *data = malloc(LEN);
    for (size_t i = 0; i < LEN; i++)
        data[i] = (unsigned char)(i % 251);
    edo_task *reader;
    CHECK_EQ(edo_spawn(drain_pattern, s, &reader), 0);
    edo_socket_future f;
    edo_tcp_write_all_future_init(&f, c, data, LEN); /* many writes, many waits for room */
    CHECK_EQ(run_socket_future(&f), 0);
    edo_tcp_write_all_future_init(&f, c, data, 0); /* nothing to write: done at once */
    CHECK_EQ(run_socket_future(&f), 0);
    CHECK_EQ(edo_tcp_shutdown(c, SHUT_WR), 0);
    void *got;
    CHECK_EQ(edo_task_join(reader, &got), 0);
    edo_task_free(reader);
    CHECK_EQ((size_t)got, LEN);
    /* Bad arguments and a write to a vanished peer. */
    edo_tcp_write_all_future_init(&f, c, NULL, 3);
    CHECK_EQ(run_socket_future(&f), -EINVAL);
    edo_tcp_write_all_future_init(&f, NULL, data, 3);
    CHECK_EQ(run_socket_future(&f), -EINVAL);
    edo_tcp_close(s);
    ssize_t r = 0;
    for (int i = 0; i < 100 && r == 0; i++) { /* the reset arrives with the first write */
        edo_tcp_write_all_future_init(&f, c, data, 1000);
        r = run_socket_future(&f);
    }
    CHECK(r == -EPIPE || r == -ECONNRESET);
    free(data);
    edo_tcp_close(c);
    return NULL;
}

TEST(write_all_future) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, write_all, NULL); }

static void *peek_and_vectors(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    edo_socket_future f;
    /* writev from s, peek then readv on c. */
    struct iovec out[3] = {{"ab", 2}, {"", 0}, {"cdef", 4}};
    edo_tcp_writev_future_init(&f, s, out, 3);
    CHECK_EQ(run_socket_future(&f), 6);
    char peeked[16];
    size_t have = 0;
    while (have < 6) { /* peeks see the queued bytes without taking them */
        edo_tcp_peek_future_init(&f, c, peeked, sizeof peeked);
        ssize_t n = run_socket_future(&f);
        CHECK(n > 0);
        have = (size_t)n;
    }
    CHECK(memcmp(peeked, "abcdef", 6) == 0);
    char x[4], y[4];
    struct iovec in[2] = {{x, sizeof x}, {y, sizeof y}};
    edo_tcp_readv_future_init(&f, c, in, 2);
    CHECK_EQ(run_socket_future(&f), 6);
    CHECK(memcmp(x, "abcd", 4) == 0 && memcmp(y, "ef", 2) == 0);
    edo_tcp_readv_future_init(&f, c, NULL, 2);
    CHECK_EQ(run_socket_future(&f), -EINVAL);
    edo_tcp_writev_future_init(&f, c, out, 0);
    CHECK_EQ(run_socket_future(&f), -EINVAL);
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

/* A transfer of nothing completes at its first poll, even when the socket could not move a
 * byte (its send buffer full, nothing to read). */
static void *empty_transfers(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    static char block[65536];
    while (edo_tcp_try_write(c, block, sizeof block) > 0)
        ;
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    edo_socket_future f;
    edo_tcp_write_all_future_init(&f, c, block, 0);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, 0);
    edo_future_drop(&f.base);
    edo_tcp_write_future_init(&f, c, NULL, 0);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, 0);
    edo_future_drop(&f.base);
    edo_tcp_read_future_init(&f, c, block, 0);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, 0);
    edo_future_drop(&f.base);
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

TEST(empty_transfer_futures) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, empty_transfers, NULL); }

TEST(peek_readv_writev_futures) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, peek_and_vectors, NULL); }

static void *unix_futures(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof path, "@edo-net-futures-%d", (int)getpid());
    edo_unix_listener *l;
    CHECK_EQ(edo_unix_listen(path, 0, &l), 0);
    edo_socket_future f;
    edo_unix_connect_future_init(&f, path);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, 0);
    edo_unix *c = f.socket;
    edo_future_drop(&f.base);
    CHECK(c != NULL);
    edo_unix *s;
    CHECK_EQ(edo_unix_accept(l, &s), 0);
    edo_unix_write_all_future_init(&f, c, "unix!", 5);
    CHECK_EQ(run_socket_future(&f), 0);
    char buf[8];
    CHECK_EQ(edo_unix_read(s, buf, sizeof buf), 5);
    CHECK(memcmp(buf, "unix!", 5) == 0);
    edo_unix_close(c);
    edo_unix_close(s);
    edo_unix_listener_close(l);
    /* Nobody listens there now; a path too long; no path. */
    edo_unix_connect_future_init(&f, path);
    CHECK_EQ(run_socket_future(&f), -ECONNREFUSED);
    char longpath[200];
    memset(longpath, 'x', sizeof longpath - 1);
    longpath[sizeof longpath - 1] = '\0';
    edo_unix_connect_future_init(&f, longpath);
    CHECK_EQ(run_socket_future(&f), -ENAMETOOLONG);
    edo_unix_connect_future_init(&f, NULL);
    CHECK_EQ(run_socket_future(&f), -EINVAL);
    return NULL;
}

TEST(unix_connect_and_write_all_futures)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, unix_futures, NULL);
}

/* ---- name resolution ---------------------------------------------------------------------- */

static int run_resolve(const char *name, edo_sockaddr *out, size_t max)
{
    edo_resolve_future f;
    edo_resolve_future_init(&f, name, out, max);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    int r = f.result;
    edo_future_drop(&f.base);
    return r;
}

static void *resolve_futures(void *arg)
{
    (void)arg;
    edo_sockaddr a[8];
    CHECK_EQ(run_resolve("127.0.0.1:80", a, 8), 1); /* numeric: at once */
    char text[EDO_SOCKADDR_TEXT];
    CHECK(edo_sockaddr_format(&a[0], text, sizeof text) > 0);
    CHECK(strcmp(text, "127.0.0.1:80") == 0);
    int n = run_resolve("localhost:8080", a, 8); /* a name: on the blocking pool */
    CHECK(n >= 1);
    for (int i = 0; i < n; i++)
        CHECK(a[i].u.sa.sa_family == AF_INET || a[i].u.sa.sa_family == AF_INET6);
    CHECK_EQ(run_resolve("no-such-host.invalid:80", a, 8), -ENOENT);
    CHECK_EQ(run_resolve("localhost", a, 8), -EINVAL); /* no port */
    CHECK_EQ(run_resolve("localhost:80", a, 0), -EINVAL);
    CHECK_EQ(run_resolve(NULL, a, 8), -EINVAL);
    char huge[400];
    memset(huge, 'h', sizeof huge - 1);
    huge[sizeof huge - 1] = '\0';
    CHECK_EQ(run_resolve(huge, a, 8), -EINVAL);
    return NULL;
}

TEST(resolve_future) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, resolve_futures, NULL); }

/* A future task resolving a name is aborted at once: the lookup finishes on its own, nothing
 * leaks (ASan), and the runtime shuts down cleanly. */
typedef struct {
    edo_future base;
    edo_resolve_future r;
} resolve_task;

static edo_poll resolve_task_poll(edo_future *f, edo_context *cx, void **out)
{
    resolve_task *t = (resolve_task *)f;
    if (edo_future_poll(&t->r.base, cx, NULL) == EDO_PENDING)
        return EDO_PENDING;
    *out = (void *)(intptr_t)t->r.result;
    return EDO_READY;
}

static void resolve_task_drop(edo_future *f) { edo_future_drop(&((resolve_task *)f)->r.base); }

static const edo_future_vtable resolve_task_vtable = {resolve_task_poll, resolve_task_drop};

static void *abort_resolve(void *arg)
{
    (void)arg;
    edo_sockaddr *out = calloc(4, sizeof *out); /* outlives the futures, as it must */
    for (int i = 0; i < 5; i++) {
        resolve_task t = {.base = {&resolve_task_vtable}};
        edo_resolve_future_init(&t.r, "localhost:80", out, 4); /* not polled yet: may move */
        edo_task *h;
        CHECK_EQ(edo_spawn_future(&t.base, sizeof t, &h), 0);
        edo_task_abort(h);
        int rc = edo_task_join(h, NULL);
        CHECK(rc == -ECANCELED || rc == 0);
        edo_task_free(h);
    }
    free(out);
    return NULL;
}

TEST(resolve_future_dropped_early) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, abort_resolve, NULL); }

TEST(resolve_future_outside_runtime)
{
    edo_sockaddr a;
    edo_resolve_future f;
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    edo_resolve_future_init(&f, "localhost:80", &a, 1);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, -EPERM); /* a name needs the runtime's blocking pool */
    edo_future_drop(&f.base);
    edo_resolve_future_init(&f, "[::1]:443", &a, 1);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, 1); /* numeric: fine anywhere */
    edo_future_drop(&f.base);
}
