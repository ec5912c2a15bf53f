/* Stream sockets spread over the workers' rings (io_uring: src/io/uring/watches.c, pick_lane):
 * a socket received by completion goes to the lane with the fewest live watches, and when that
 * is not the registering worker's own, its arming is mail to the lane's owner. On the backend
 * the environment chooses (epoll by default; CI runs the suite again with EDO_IO_BACKEND=uring)
 * and on io_uring, so the promises hold on both:
 *  - 64 connections accepted by one task, echoed byte-exact by tasks on 2 workers; on io_uring
 *    (where the kernel receives by completion) the accepted sockets are in both lanes, and some
 *    were armed by mail;
 *  - a read right after the registration (before the arming may have been served) waits for
 *    the bytes, and gets them;
 *  - a close racing with the arming mail, from the registering worker and from a thread that
 *    is not a worker: the peer sees its end of file (no receive is left armed, holding the
 *    socket);
 *  - a runtime freed while arming mail is still in its lanes' mailboxes: no hang, no leak.
 * The io_uring cases skip where the kernel has no io_uring. */
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/runtime.h"
#include "harness.h"
#include "io/backend.h"
#include "io/driver.h"
#include "io/registration.h"
#include "io/uring/ring.h"
#include "uring_util.h"
#include "util.h"

#define CONNS 64
#define ROUNDS SCALE(300, 150, 60)

typedef enum { ENV_BACKEND, URING } backend;

/* A multi-thread runtime of 2 workers on `which` backend; NULL where io_uring is missing. */
static edo_runtime *rt_on(backend which)
{
    if (which == URING && !have_uring())
        return NULL;
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_MULTI_THREAD, .worker_threads = 2,
                              .io_backend = which == URING ? EDO_IO_BACKEND_IO_URING : 0};
    edo_runtime *rt;
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    return rt;
}

/* Whether `rt` runs io_uring on a kernel that receives by completion: then stream sockets
 * must be spread, and these tests check that they were. */
static bool spreads(edo_runtime *rt)
{
    return rt->io.kind == &edo__io_uring && uring_receives();
}

/* Runs `fn` in a task of a fresh runtime on each backend, with the runtime as its argument. */
static void run_both(void *(*fn)(void *))
{
    for (int which = ENV_BACKEND; which <= URING; which++) {
        edo_runtime *rt = rt_on((backend)which);
        if (!rt)
            return;
        run_on(rt, fn, rt);
        edo_runtime_free(rt);
    }
}

static uint8_t byte_at(size_t i, unsigned seed) { return (uint8_t)(i * 131 + seed + (i >> 9)); }

#define MESSAGE 3000 /* bytes each client sends, in pieces */

static void *echo(void *arg)
{
    edo_tcp *c = arg;
    char buf[512];
    ssize_t n;
    while ((n = edo_tcp_read(c, buf, sizeof buf)) > 0)
        CHECK_EQ(edo_tcp_write_all(c, buf, (size_t)n), 0);
    CHECK_EQ(n, 0);
    edo_tcp_close(c);
    return NULL;
}

typedef struct client {
    edo_sockaddr addr;
    unsigned seed;
} client;

/* Sends MESSAGE bytes in pieces of a varying size and reads the echo back, byte-exact. */
static void *run_client(void *arg)
{
    client *cl = arg;
    edo_tcp *c;
    CHECK_EQ(edo_tcp_connect_addr(&cl->addr, &c), 0);
    uint8_t out[MESSAGE], in[MESSAGE];
    for (size_t i = 0; i < MESSAGE; i++)
        out[i] = byte_at(i, cl->seed);
    size_t sent = 0, got = 0;
    while (got < MESSAGE) {
        if (sent < MESSAGE) {
            size_t piece = 1 + (sent * 7 + cl->seed) % 700;
            piece = piece < MESSAGE - sent ? piece : MESSAGE - sent;
            CHECK_EQ(edo_tcp_write_all(c, out + sent, piece), 0);
            sent += piece;
        }
        ssize_t n = edo_tcp_read(c, in + got, MESSAGE - got);
        CHECK(n > 0);
        got += (size_t)n;
    }
    for (size_t i = 0; i < MESSAGE; i++)
        CHECK_EQ(in[i], out[i]);
    edo_tcp_close(c);
    return NULL;
}

static void *echo_across_lanes_body(void *arg)
{
    edo_runtime *rt = arg;
    edo_tcp_listener *l;
    CHECK_EQ(edo_tcp_listen("127.0.0.1:0", NULL, &l), 0);
    client clients[CONNS];
    edo_task *tasks[CONNS];
    for (unsigned i = 0; i < CONNS; i++) {
        clients[i].seed = i;
        CHECK_EQ(edo_tcp_listener_local_addr(l, &clients[i].addr), 0);
        CHECK_EQ(edo_spawn(run_client, &clients[i], &tasks[i]), 0);
    }
    /* One task accepts them all: without spreading, all would be in its worker's lane. */
    unsigned in_lane[3] = {0};
    edo_task *servers[CONNS];
    for (unsigned i = 0; i < CONNS; i++) {
        edo_tcp *s;
        CHECK_EQ(edo_tcp_accept(l, &s, NULL), 0);
        if (spreads(rt)) {
            CHECK(((edo_io *)s)->recv_mode);
            int at = edo__io_uring_lane_of(rt->io.backend, edo_tcp_fd(s));
            CHECK(at >= 1 && at <= 2);
            in_lane[at]++;
        }
        CHECK_EQ(edo_spawn(echo, s, &servers[i]), 0);
    }
    for (unsigned i = 0; i < CONNS; i++) {
        CHECK_EQ(edo_task_join(tasks[i], NULL), 0);
        CHECK_EQ(edo_task_join(servers[i], NULL), 0);
        edo_task_free(tasks[i]);
        edo_task_free(servers[i]);
    }
    edo_tcp_listener_close(l);
    if (spreads(rt)) {
        CHECK(in_lane[1] > 0 && in_lane[2] > 0);
        CHECK(edo__io_uring_arms_mailed(rt->io.backend) > 0);
    }
    return NULL;
}

TEST(accepted_on_one_task_echoed_on_both_lanes) { run_both(echo_across_lanes_body); }

/* A Unix pair, both ends received by completion (spread: one of them is mailed on a runtime
 * whose lanes are equally loaded), read from at once: the read waits for its bytes, which the
 * peer writes after it began. */
static void *writer(void *arg)
{
    edo_unix *u = arg;
    CHECK_EQ(edo_unix_write_all(u, "ping", 4), 0);
    return NULL;
}

static void *read_before_armed_body(void *arg)
{
    edo_runtime *rt = arg;
    for (int round = 0; round < ROUNDS; round++) {
        edo_unix *a, *b;
        CHECK_EQ(edo_unix_pair(&a, &b), 0);
        edo_task *t;
        CHECK_EQ(edo_spawn(writer, b, &t), 0);
        char buf[4];
        size_t got = 0;
        while (got < 4) {
            ssize_t n = edo_unix_read(a, buf + got, 4 - got);
            CHECK(n > 0);
            got += (size_t)n;
        }
        CHECK(memcmp(buf, "ping", 4) == 0);
        CHECK_EQ(edo_task_join(t, NULL), 0);
        edo_task_free(t);
        edo_unix_close(a);
        edo_unix_close(b);
    }
    if (spreads(rt))
        CHECK(edo__io_uring_arms_mailed(rt->io.backend) > 0);
    return NULL;
}

TEST(read_right_after_registration_waits_for_the_arming) { run_both(read_before_armed_body); }

/* Two stream sockets registered one after the other by one task: the lanes tie for the first
 * (it stays in the task's worker's lane), so the second goes to the other lane, by mail. */
#define PAIRS 2

typedef struct registered {
    edo_runtime *rt;
    int fds[PAIRS][2];
    edo_io *io[PAIRS];
} registered;

/* Registers each pair's first end as a stream received by completion, from a task. */
static void *register_streams_here(void *arg)
{
    registered *r = arg;
    for (int i = 0; i < PAIRS; i++) {
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, r->fds[i]),
                 0);
        CHECK_EQ(edo__runtime_register_stream(r->rt, r->fds[i][0], &r->io[i]), 0);
    }
    return NULL;
}

static void close_all(registered *r)
{
    for (int i = 0; i < PAIRS; i++) {
        edo_io_deregister(r->io[i]);
        close(r->fds[i][0]);
    }
}

/* Registered and closed by the same task, at once: the close races with the arming mail. */
static void *register_and_close(void *arg)
{
    register_streams_here(arg);
    close_all(arg);
    return NULL;
}

static void close_racing_body(edo_runtime *rt)
{
    uint64_t mailed_before = spreads(rt) ? edo__io_uring_arms_mailed(rt->io.backend) : 0;
    for (int round = 0; round < ROUNDS; round++) {
        registered r = {.rt = rt};
        if (round % 2) { /* from the worker that registered them */
            run_on(rt, register_and_close, &r);
        } else { /* from this thread, which is not a worker */
            run_on(rt, register_streams_here, &r);
            close_all(&r);
        }
        for (int i = 0; i < PAIRS; i++)
            expect_peer_eof(r.fds[i][1]);
    }
    if (spreads(rt))
        CHECK(edo__io_uring_arms_mailed(rt->io.backend) > mailed_before);
}

TEST(close_racing_with_the_arming_mail)
{
    for (int which = ENV_BACKEND; which <= URING; which++) {
        edo_runtime *rt = rt_on((backend)which);
        if (!rt)
            return;
        close_racing_body(rt);
        edo_runtime_free(rt);
    }
}

#define LEFT 16

typedef struct left_open {
    edo_runtime *rt;
    registered r[LEFT];
} left_open;

/* Registers LEFT * PAIRS streams and deregisters none: their arming mail may still be on its
 * way when the runtime is freed. */
static void *register_many(void *arg)
{
    left_open *lo = arg;
    for (int i = 0; i < LEFT; i++) {
        lo->r[i].rt = lo->rt;
        register_streams_here(&lo->r[i]);
    }
    return NULL;
}

TEST(runtime_freed_with_arming_mail_in_flight)
{
    for (int round = 0; round < SCALE(40, 20, 10); round++) {
        edo_runtime *rt = rt_on(URING);
        if (!rt)
            return;
        left_open lo = {.rt = rt};
        run_on(rt, register_many, &lo);
        edo_runtime_free(rt); /* the workers stop with mail unread: no arming after that */
        for (int i = 0; i < LEFT; i++) {
            for (int j = 0; j < PAIRS; j++) {
                close(lo.r[i].fds[j][0]);
                expect_peer_eof(lo.r[i].fds[j][1]);
            }
        }
    }
}
