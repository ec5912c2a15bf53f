/* What the tests of stream sockets on io_uring share (tests/net): the backends a body runs on,
 * the environment's (epoll by default; CI runs the suite again with EDO_IO_BACKEND=uring),
 * io_uring, and io_uring whose workers have no receive buffers (stream sockets on readiness
 * and sent directly there, as on a kernel without multishot receive: the fallback); a byte
 * pattern written and checked in uneven pieces; tasks spawned and joined. For one test file
 * each (static state). */
#ifndef EDO_TESTS_NET_STREAM_SOCKETS_H
#define EDO_TESTS_NET_STREAM_SOCKETS_H

#include <stdlib.h>

#include "core/runtime.h"
#include "harness.h"
#include "io/backend.h"
#include "io/uring/ring.h"
#include "uring_util.h"
#include "util.h"

/* The environment's backend; io_uring; io_uring with no buffers for its workers (stream sockets
 * on readiness there, as on a kernel without multishot receive: the fallback). */
typedef enum { ENV_BACKEND, URING, URING_NO_RECV } backend;

/* A multi-thread runtime of `workers` on `which` backend; NULL where io_uring is missing. */
static inline edo_runtime *rt_on(backend which, unsigned workers)
{
    if (which != ENV_BACKEND && !have_uring())
        return NULL;
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_MULTI_THREAD, .worker_threads = workers,
                              .io_backend = which != ENV_BACKEND ? EDO_IO_BACKEND_IO_URING : 0};
    edo_runtime *rt;
    if (which == URING_NO_RECV)
        edo__io_uring_set_recv_buffers(EDO__IO_URING_NO_RECV, 0);
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    edo__io_uring_set_recv_buffers(0, 0); /* its workers' lanes keep what they were made with */
    return rt;
}

static bool must_receive; /* the runtime the body runs on is io_uring on such a kernel */
static bool must_not_receive; /* the runtime the body runs on has no buffers for it */

static inline void run_both(unsigned workers, void *(*fn)(void *))
{
    for (int which = ENV_BACKEND; which <= URING_NO_RECV; which++) {
        edo_runtime *rt = rt_on((backend)which, workers);
        if (!rt)
            return;
        must_receive = which == URING && uring_receives();
        must_not_receive = which == URING_NO_RECV;
        run_on(rt, fn, (void *)(intptr_t)which);
        edo_runtime_free(rt);
    }
}

static inline uint8_t byte_at(size_t i, unsigned seed) { return (uint8_t)(i * 131 + seed + (i >> 12)); }

/* Checks that the `n` bytes of `buf` are the pattern's from offset `at`. */
static inline void check_bytes(const uint8_t *buf, ssize_t n, size_t at, unsigned seed)
{
    for (ssize_t i = 0; i < n; i++)
        CHECK_EQ(buf[i], byte_at(at + (size_t)i, seed));
}

typedef struct pattern {
    edo_tcp *c;
    size_t total;
    unsigned seed;
} pattern;

static inline void *write_pattern(void *arg)
{
    pattern *p = arg;
    enum { SIZE = 24000 };
    uint8_t *buf = malloc(SIZE); /* off the coroutine's small stack */
    CHECK(buf);
    for (size_t done = 0; done < p->total;) {
        size_t n = p->total - done < SIZE ? p->total - done : SIZE;
        if (n > 7)
            n -= done % 7; /* uneven writes */
        for (size_t i = 0; i < n; i++)
            buf[i] = byte_at(done + i, p->seed);
        CHECK_EQ(edo_tcp_write_all(p->c, buf, n), 0);
        done += n;
    }
    free(buf);
    return NULL;
}

/* Reads p->total bytes in reads of uneven sizes and checks each; returns how many matched. */
static inline void *read_pattern(void *arg)
{
    pattern *p = arg;
    enum { SIZE = 10007 };
    uint8_t *buf = malloc(SIZE);
    CHECK(buf);
    size_t done = 0;
    while (done < p->total) {
        ssize_t n = edo_tcp_read(p->c, buf, 1 + done % SIZE);
        CHECK(n > 0);
        check_bytes(buf, n, done, p->seed);
        done += (size_t)n;
    }
    free(buf);
    return (void *)(uintptr_t)done;
}

static inline edo_task *spawn(void *(*fn)(void *), void *arg)
{
    edo_task *t;
    CHECK_EQ(edo_spawn(fn, arg, &t), 0);
    return t;
}

static inline void *join(edo_task *t)
{
    void *out = NULL;
    CHECK_EQ(edo_task_join(t, &out), 0);
    edo_task_free(t);
    return out;
}

#endif
