/* Readiness waits and tries on sockets (edo_tcp_ready, edo_tcp_try_read and the like, their
 * Unix and UDP forms, the future form) and edo_io_try_ready for any registered fd: stale
 * readiness, both directions, end of stream, deadlines, abort, the cooperative budget, bad
 * input. Deadlines run on a paused clock: no test sleeps. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

/* edo_tcp_ready under a deadline `ms` from now (virtual time on a paused clock). */
static int ready_within(edo_tcp *c, uint32_t interest, uint64_t ms)
{
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(ms)), &saved), 0);
    int rc = edo_tcp_ready(c, interest);
    edo_deadline_pop(saved);
    return rc;
}

static void *read_side(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    char buf[64];
    /* A fresh socket is assumed ready (a first read is simply tried), but a readiness wait
     * reports only what is true: nothing to read, so it waits (it holds no buffer meanwhile);
     * the try knows it is not ready without a system call. */
    CHECK_EQ(ready_within(c, EDO_READABLE, 100), -ETIMEDOUT);
    CHECK_EQ(edo_tcp_try_read(c, buf, sizeof buf), -EAGAIN);
    CHECK_EQ(edo_tcp_try_read(c, buf, sizeof buf), -EAGAIN);
    /* Data arrives: the wait reports it and the try takes it; a short read drains. */
    CHECK_EQ(edo_tcp_write_all(s, "hello", 5), 0);
    int rc = ready_within(c, EDO_READABLE, 5000);
    CHECK(rc > 0 && (rc & EDO_READABLE) && !(rc & EDO_WRITABLE));
    CHECK_EQ(edo_tcp_try_read(c, buf, sizeof buf), 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_EQ(edo_tcp_try_read(c, buf, sizeof buf), -EAGAIN);
    /* Vectored tries. */
    CHECK_EQ(edo_tcp_write_all(s, "abcdef", 6), 0);
    CHECK(ready_within(c, EDO_READABLE, 5000) & EDO_READABLE);
    char x[2], y[8];
    struct iovec iov[2] = {{x, sizeof x}, {y, sizeof y}};
    CHECK_EQ(edo_tcp_try_readv(c, iov, 2), 6);
    CHECK(memcmp(x, "ab", 2) == 0 && memcmp(y, "cdef", 4) == 0);
    struct iovec out[2] = {{"12", 2}, {"345", 3}};
    CHECK_EQ(edo_tcp_try_writev(c, out, 2), 5);
    CHECK_EQ(edo_tcp_read(s, buf, sizeof buf), 5);
    CHECK(memcmp(buf, "12345", 5) == 0);
    /* End of stream: the wait reports the closed side and the try returns 0. */
    edo_tcp_close(s);
    rc = ready_within(c, EDO_READABLE, 5000);
    CHECK(rc > 0 && (rc & EDO_READ_CLOSED));
    CHECK_EQ(edo_tcp_try_read(c, buf, sizeof buf), 0);
    CHECK(ready_within(c, EDO_READABLE, 100) & EDO_READ_CLOSED); /* stays: no edge comes again */
    edo_tcp_close(c);
    return NULL;
}

TEST(tcp_ready_read_side) { run_paused(read_side, NULL); }
TEST(tcp_ready_read_side_multi_thread) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, read_side, NULL); }

static void *write_side(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    CHECK(ready_within(c, EDO_WRITABLE, 100) & EDO_WRITABLE);
    /* Fill the buffers with tries until one would block; then writability is gone. */
    static char block[65536];
    size_t sent = 0;
    ssize_t n;
    while ((n = edo_tcp_try_write(c, block, sizeof block)) > 0)
        sent += (size_t)n;
    CHECK_EQ(n, -EAGAIN);
    CHECK(sent > 0);
    CHECK_EQ(ready_within(c, EDO_WRITABLE, 100), -ETIMEDOUT);
    /* Both directions at once: nothing to read, nothing fits, until the peer answers. */
    char none[4];
    CHECK_EQ(edo_tcp_try_read(c, none, sizeof none), -EAGAIN); /* the optimistic start */
    CHECK_EQ(ready_within(c, EDO_READABLE | EDO_WRITABLE, 100), -ETIMEDOUT);
    CHECK_EQ(edo_tcp_write_all(s, "x", 1), 0);
    int rc = ready_within(c, EDO_READABLE | EDO_WRITABLE, 5000);
    CHECK(rc > 0 && (rc & EDO_READABLE));
    /* The peer drains: writable again. */
    static char sink[65536];
    size_t got = 0;
    while (got < sent) {
        n = edo_tcp_read(s, sink, sizeof sink);
        CHECK(n > 0);
        got += (size_t)n;
    }
    rc = ready_within(c, EDO_WRITABLE, 5000);
    CHECK(rc > 0 && (rc & EDO_WRITABLE));
    CHECK_EQ(edo_tcp_try_write(c, "y", 1), 1);
    edo_tcp_close(s);
    edo_tcp_close(c);
    return NULL;
}

TEST(tcp_ready_write_side_and_both) { run_paused(write_side, NULL); }

/* A task waiting for readiness is aborted: -ECANCELED, and the socket stays usable. */
static void *wait_readable(void *arg)
{
    edo_tcp *c = arg;
    char buf[8];
    int rc;
    while ((rc = edo_tcp_ready(c, EDO_READABLE)) >= 0 && edo_tcp_try_read(c, buf, sizeof buf) < 0)
        ;
    return (void *)(intptr_t)rc;
}

static void *abort_ready(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    edo_task *t;
    CHECK_EQ(edo_spawn(wait_readable, c, &t), 0);
    CHECK_EQ(edo_sleep(EDO_MSEC(10)), 0);
    edo_task_abort(t);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
    CHECK_EQ(edo_tcp_write_all(s, "after", 5), 0);
    char buf[8];
    CHECK_EQ(edo_tcp_read(c, buf, sizeof buf), 5);
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

TEST(tcp_ready_abort) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, abort_ready, NULL); }

/* A socket that stays readable (its data never taken): a loop of waits on it must still let
 * another task run, since each ready wait takes a unit of the cooperative budget. */
static void *set_flag(void *arg)
{
    atomic_store((_Atomic int *)arg, 1);
    return NULL;
}

static void *budget(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    CHECK_EQ(edo_tcp_write_all(s, "z", 1), 0);
    char b;
    CHECK_EQ(edo_tcp_peek(c, &b, 1), 1); /* the byte is there */
    _Atomic int ran = 0;
    edo_task *t;
    CHECK_EQ(edo_spawn(set_flag, &ran, &t), 0); /* same thread: it runs only if we yield */
    for (int i = 0; i < 10000 && !atomic_load(&ran); i++)
        CHECK(edo_tcp_ready(c, EDO_READABLE) & EDO_READABLE);
    CHECK_EQ(atomic_load(&ran), 1);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

TEST(tcp_ready_takes_budget) { run_coro(EDO_RUNTIME_CURRENT_THREAD, 1, budget, NULL); }

static void *unix_ready(void *arg)
{
    (void)arg;
    char path[64];
    snprintf(path, sizeof path, "@edo-ready-%d", (int)getpid());
    edo_unix_listener *l;
    CHECK_EQ(edo_unix_listen(path, 0, &l), 0);
    edo_unix *c, *s;
    CHECK_EQ(edo_unix_connect(path, &c), 0);
    CHECK_EQ(edo_unix_accept(l, &s), 0);
    edo_unix_listener_close(l);
    char buf[16];
    CHECK_EQ(edo_unix_try_read(c, buf, sizeof buf), -EAGAIN); /* optimistic, then forgotten */
    CHECK(edo_unix_ready(s, EDO_WRITABLE) & EDO_WRITABLE);
    CHECK_EQ(edo_unix_try_write(s, "unix", 4), 4);
    CHECK(edo_unix_ready(c, EDO_READABLE) & EDO_READABLE);
    CHECK_EQ(edo_unix_try_read(c, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "unix", 4) == 0);
    CHECK_EQ(edo_unix_ready(c, 0), -EINVAL);
    edo_unix_close(c);
    edo_unix_close(s);
    return NULL;
}

TEST(unix_ready_and_try) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, unix_ready, NULL); }

static void *udp_ready(void *arg)
{
    (void)arg;
    edo_udp *a, *b;
    edo_sockaddr aa, ba, from;
    CHECK_EQ(edo_udp_bind("127.0.0.1:0", &a), 0);
    CHECK_EQ(edo_udp_bind("127.0.0.1:0", &b), 0);
    CHECK_EQ(edo_udp_local_addr(a, &aa), 0);
    CHECK_EQ(edo_udp_local_addr(b, &ba), 0);
    char buf[32];
    CHECK_EQ(edo_udp_try_recv_from(b, buf, sizeof buf, &from), -EAGAIN);
    CHECK_EQ(edo_udp_try_send_to(a, "dgram", 5, NULL), -EDESTADDRREQ); /* not connected */
    CHECK(edo_udp_ready(a, EDO_WRITABLE) & EDO_WRITABLE);
    int ready;
    DELIVER(ready, CHECK_EQ(edo_udp_try_send_to(a, "dgram", 5, &ba), 5),
            edo_udp_ready(b, EDO_READABLE));
    CHECK(ready > 0 && (ready & EDO_READABLE));
    CHECK_EQ(edo_udp_try_recv_from(b, buf, sizeof buf, &from), 5);
    CHECK(memcmp(buf, "dgram", 5) == 0);
    char want[EDO_SOCKADDR_TEXT], got[EDO_SOCKADDR_TEXT];
    CHECK(edo_sockaddr_format(&aa, want, sizeof want) > 0);
    CHECK(edo_sockaddr_format(&from, got, sizeof got) > 0);
    CHECK(strcmp(want, got) == 0);
    /* Connected: the NULL target is the peer. An empty datagram is a datagram. */
    CHECK_EQ(edo_udp_connect(a, &ba), 0);
    DELIVER(ready, CHECK_EQ(edo_udp_try_send_to(a, "", 0, NULL), 0),
            edo_udp_ready(b, EDO_READABLE));
    CHECK(ready > 0 && (ready & EDO_READABLE));
    CHECK_EQ(edo_udp_try_recv_from(b, buf, sizeof buf, NULL), 0);
    CHECK_EQ(edo_udp_try_recv_from(b, buf, sizeof buf, NULL), -EAGAIN);
    edo_udp_close(a);
    edo_udp_close(b);
    return NULL;
}

TEST(udp_ready_and_try) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, udp_ready, NULL); }

/* A future task that waits until its connection is readable and outputs the ready bits. */
typedef struct {
    edo_future base;
    edo_socket_future ready;
    bool started;
    edo_tcp *c;
} ready_task;

static edo_poll ready_task_poll(edo_future *f, edo_context *cx, void **out)
{
    ready_task *r = (ready_task *)f;
    if (!r->started) {
        edo_tcp_ready_future_init(&r->ready, r->c, EDO_READABLE);
        r->started = true;
    }
    if (edo_future_poll(&r->ready.base, cx, NULL) == EDO_PENDING)
        return EDO_PENDING;
    *out = (void *)(intptr_t)r->ready.result;
    return EDO_READY;
}

static void ready_task_drop(edo_future *f)
{
    ready_task *r = (ready_task *)f;
    if (r->started)
        edo_future_drop(&r->ready.base);
}

static const edo_future_vtable ready_task_vtable = {ready_task_poll, ready_task_drop};

static void *future_ready(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    char buf[8];
    ready_task r;
    edo_task *t;
    /* Nothing to read yet, so the wait must not end. A registration starts out readable (the
     * first read is simply tried); the failed try below forgets that, unless an event for the
     * socket (its first, "writable") lands between its look and its clear: then the clear is
     * skipped so as never to lose an edge, and the wait sees a spurious "readable", which the
     * API allows (a read then finds nothing). That race is rare; try again when it happens. */
    for (int attempt = 0;; attempt++) {
        CHECK(attempt < 10);
        CHECK_EQ(edo_tcp_try_read(c, buf, sizeof buf), -EAGAIN);
        r = (ready_task){.base = {&ready_task_vtable}, .c = c};
        CHECK_EQ(edo_spawn_future(&r.base, sizeof r, &t), 0);
        CHECK_EQ(edo_sleep(EDO_MSEC(10)), 0);
        if (!edo_task_is_finished(t))
            break;
        void *spurious;
        CHECK_EQ(edo_task_join(t, &spurious), 0);
        edo_task_free(t);
        CHECK((intptr_t)spurious & EDO_READABLE);
        fprintf(stderr, "  a spurious readable (attempt %d): again\n", attempt);
    }
    CHECK_EQ(edo_tcp_write_all(s, "f", 1), 0);
    void *bits;
    CHECK_EQ(edo_task_join(t, &bits), 0);
    edo_task_free(t);
    CHECK((intptr_t)bits & EDO_READABLE);
    CHECK_EQ(edo_tcp_try_read(c, buf, sizeof buf), 1);
    /* Bad interest: ready at once with -EINVAL. */
    edo_socket_future bad;
    edo_tcp_ready_future_init(&bad, c, 0x40);
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    CHECK_EQ(edo_future_poll(&bad.base, &cx, NULL), EDO_READY);
    CHECK_EQ(bad.result, -EINVAL);
    edo_future_drop(&bad.base);
    edo_udp *u;
    CHECK_EQ(edo_udp_bind("127.0.0.1:0", &u), 0);
    edo_udp_ready_future_init(&bad, u, EDO_WRITABLE);
    CHECK_EQ(edo_future_poll(&bad.base, &cx, NULL), EDO_READY);
    CHECK(bad.result & EDO_WRITABLE);
    edo_future_drop(&bad.base);
    edo_udp_close(u);
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

TEST(ready_future_form) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, future_ready, NULL); }

/* edo_io_try_ready on a foreign fd (a pipe): ready bits without waiting, cleared by a stale
 * event, -EBADF after deregistration. */
static void *io_try_ready(void *arg)
{
    (void)arg;
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    edo_io *io;
    CHECK_EQ(edo_io_register(p[0], &io), 0);
    edo_io_event ev;
    CHECK_EQ(edo_io_try_ready(io, EDO_READABLE, &ev), (int)EDO_READABLE); /* optimistic */
    CHECK_EQ(ev.ready, EDO_READABLE);
    char c;
    CHECK(read(p[0], &c, 1) < 0); /* would block */
    edo_io_clear_ready(io, ev);
    CHECK_EQ(edo_io_try_ready(io, EDO_READABLE, &ev), 0);
    CHECK_EQ(write(p[1], "!", 1), 1);
    CHECK_EQ(edo_io_ready(io, EDO_READABLE, &ev), 0);
    CHECK(ev.ready & EDO_READABLE);
    CHECK(edo_io_try_ready(io, EDO_READABLE, &ev) & EDO_READABLE);
    CHECK_EQ(edo_io_try_ready(io, 0, &ev), -EINVAL);
    CHECK_EQ(edo_io_try_ready(NULL, EDO_READABLE, &ev), -EINVAL);
    CHECK_EQ(edo_io_try_ready(io, EDO_READABLE, NULL), -EINVAL);
    edo_io_deregister(io);
    CHECK_EQ(edo_io_try_ready(io, EDO_READABLE, &ev), -EBADF);
    close(p[0]);
    close(p[1]);
    return NULL;
}

TEST(io_try_ready_foreign_fd) { run_coro(EDO_RUNTIME_CURRENT_THREAD, 1, io_try_ready, NULL); }

static void *bad_input(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    char buf[4];
    CHECK_EQ(edo_tcp_ready(NULL, EDO_READABLE), -EINVAL);
    CHECK_EQ(edo_tcp_ready(c, 0), -EINVAL);
    CHECK_EQ(edo_tcp_ready(c, EDO_READABLE | 0x100), -EINVAL);
    CHECK_EQ(edo_tcp_try_read(NULL, buf, sizeof buf), -EINVAL);
    CHECK_EQ(edo_tcp_try_write(NULL, buf, sizeof buf), -EINVAL);
    CHECK_EQ(edo_tcp_try_read(c, NULL, 4), -EINVAL);
    CHECK_EQ(edo_tcp_try_read(c, buf, 0), 0);
    CHECK_EQ(edo_tcp_try_readv(c, NULL, 1), -EINVAL);
    CHECK_EQ(edo_tcp_try_writev(c, NULL, 0), -EINVAL);
    CHECK_EQ(edo_tcp_readv(c, NULL, 1), -EINVAL);
    CHECK_EQ(edo_tcp_writev(c, NULL, 1), -EINVAL);
    CHECK_EQ(edo_udp_ready(NULL, EDO_WRITABLE), -EINVAL);
    CHECK_EQ(edo_udp_try_recv_from(NULL, buf, 4, NULL), -EINVAL);
    CHECK_EQ(edo_unix_try_write(NULL, buf, 4), -EINVAL);
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

TEST(ready_and_try_bad_input) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, bad_input, NULL); }

/* Outside a coroutine: a wait cannot suspend (-EPERM); a try needs no coroutine. */
static void *outside(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    CHECK_EQ(edo_tcp_write_all(s, "t", 1), 0);
    edo_tcp **pair = malloc(2 * sizeof *pair);
    pair[0] = c, pair[1] = s;
    return pair;
}

TEST(ready_outside_coroutine)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    edo_tcp **pair = run_on(rt, outside, NULL);
    CHECK_EQ(edo_tcp_ready(pair[0], EDO_READABLE), -EPERM);
    char buf[4];
    ssize_t n;
    for (int i = 0; i < 5000 && (n = edo_tcp_try_read(pair[0], buf, sizeof buf)) == -EAGAIN; i++)
        usleep(1000); /* a plain thread polls: the byte is on its way over loopback */
    CHECK_EQ(n, 1);
    edo_tcp_close(pair[0]);
    edo_tcp_close(pair[1]);
    free(pair);
    edo_runtime_free(rt);
}
