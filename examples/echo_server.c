/* An echo server: a task per connection, written in one of three styles, each against edo_stream
 * (edo/stream.h), so the same code would serve a Unix connection, a pipe or a TLS session.
 *
 *   echo_server [--port P] [--workers W] [--style read|ready|future]
 *       (defaults: 7878, one worker per CPU, read)
 *
 *   read    a coroutine per connection, straight-line code: read into a stack buffer, write
 *           it back. The simplest; an idle connection keeps the stack pages it touched (two,
 *           with the 4 KiB buffer).
 *   ready   a coroutine that waits for readiness holding no buffer, then reads into a buffer
 *           taken for that burst: an idle connection holds one stack page.
 *   future  the same loop as a future task (a poll function and a small struct): an idle
 *           connection holds a few hundred bytes.
 *
 * Runs until killed. The benchmarks drive it with an external load generator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edo.h"

#define BUF_SIZE 4096

/* ---- style "read" ---- */

static void *serve(void *arg)
{
    edo_stream *s = arg;
    char buf[BUF_SIZE];
    ssize_t n;
    while ((n = edo_stream_read(s, buf, sizeof buf)) > 0)
        if (edo_stream_write_all(s, buf, (size_t)n) < 0)
            break;
    edo_stream_close(s);
    return NULL;
}

/* ---- style "ready" ---- */

static void *serve_ready(void *arg)
{
    edo_stream *s = arg;
    while (edo_stream_ready(s, EDO_READABLE) >= 0) {
        char *buf = malloc(BUF_SIZE);
        if (!buf)
            break;
        ssize_t n = edo_stream_try_read(s, buf, BUF_SIZE);
        int rc = n > 0 ? edo_stream_write_all(s, buf, (size_t)n) : n == -EAGAIN ? 0 : -1;
        free(buf);
        if (rc < 0)
            break;
    }
    edo_stream_close(s);
    return NULL;
}

/* ---- style "future" ---- */

typedef struct echo_task {
    edo_future base;
    edo_stream *conn;
    edo_stream_future op; /* the wait or write in progress */
    bool writing;
    char *buf;            /* while writing: the bytes read, from `done` to `len` still to go */
    size_t done, len;
} echo_task;

/* Starts the next step: a write of what is left, or a wait for readability. */
static void next_step(echo_task *e)
{
    if (e->writing)
        edo_stream_write_future_init(&e->op, e->conn, e->buf + e->done, e->len - e->done);
    else
        edo_stream_ready_future_init(&e->op, e->conn, EDO_READABLE);
}

static edo_poll echo_poll(edo_future *self, edo_context *cx, void **out)
{
    echo_task *e = (echo_task *)self;
    for (;;) {
        if (edo_future_poll(&e->op.base, cx, NULL) == EDO_PENDING)
            return EDO_PENDING;
        ssize_t result = e->op.result;
        edo_future_drop(&e->op.base);
        if (result < 0)
            break; /* the peer is gone, or the task was cancelled */
        if (e->writing) {
            e->done += (size_t)result;
            if (e->done == e->len) {
                free(e->buf);
                e->buf = NULL;
                e->writing = false;
            }
        } else {
            if (!e->buf && !(e->buf = malloc(BUF_SIZE)))
                break;
            ssize_t n = edo_stream_try_read(e->conn, e->buf, BUF_SIZE);
            if (n == 0 || (n < 0 && n != -EAGAIN))
                break;
            if (n > 0) {
                e->writing = true;
                e->done = 0;
                e->len = (size_t)n;
            } else {
                free(e->buf); /* stale readiness: wait again, holding nothing */
                e->buf = NULL;
            }
        }
        next_step(e);
    }
    *out = NULL;
    free(e->buf);
    e->buf = NULL;
    edo_stream_close(e->conn);
    e->conn = NULL;
    return EDO_READY;
}

/* Dropped before it finished (runtime shutdown): release what it holds. */
static void echo_drop(edo_future *self)
{
    echo_task *e = (echo_task *)self;
    if (!e->conn)
        return;
    edo_future_drop(&e->op.base);
    free(e->buf);
    edo_stream_close(e->conn);
}

static const edo_future_vtable echo_vtable = {echo_poll, echo_drop};

static int spawn_echo_task(edo_stream *conn)
{
    echo_task e = {.base = {&echo_vtable}, .conn = conn};
    next_step(&e); /* a wait for readability: not polled yet, so it may move with the struct */
    return edo_spawn_future(&e.base, sizeof e, NULL);
}

/* Starts the task that serves `conn` in the chosen style. */
typedef enum { STYLE_READ, STYLE_READY, STYLE_FUTURE } style;

static int serve_in_style(style st, edo_tcp *conn)
{
    edo_tcp_set_nodelay(conn, true);
    edo_stream *s = edo_tcp_stream(conn); /* the same connection, as a byte stream */
    switch (st) {
    case STYLE_READY:
        return edo_spawn_detached(serve_ready, s);
    case STYLE_FUTURE:
        return spawn_echo_task(s);
    default:
        return edo_spawn_detached(serve, s);
    }
}

typedef struct server {
    char addr[32];
    style style;
} server;

/* Listens and accepts forever, a task for each connection. */
static void *accept_loop(void *arg)
{
    server *srv = arg;
    edo_tcp_listener *lis;
    int rc = edo_tcp_listen(srv->addr, NULL, &lis);
    if (rc < 0) {
        fprintf(stderr, "echo_server: listen on %s: %s\n", srv->addr, edo_strerror(rc));
        return NULL;
    }
    fprintf(stderr, "echo_server: listening on %s\n", srv->addr);
    for (;;) {
        edo_tcp *conn;
        rc = edo_tcp_accept(lis, &conn, NULL);
        if (rc == -EMFILE || rc == -ENFILE) {
            edo_sleep(EDO_MSEC(10)); /* out of fds: let some connections finish */
            continue;
        }
        if (rc < 0)
            break;
        if (serve_in_style(srv->style, conn) < 0)
            edo_tcp_close(conn);
    }
    fprintf(stderr, "echo_server: accept: %s\n", edo_strerror(rc));
    edo_tcp_listener_close(lis);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = 7878;
    unsigned workers = 0;
    server srv = {.style = STYLE_READ};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) {
            port = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--workers") == 0) {
            workers = (unsigned)atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--style") == 0) {
            const char *v = argv[i + 1];
            if (strcmp(v, "read") == 0) {
                srv.style = STYLE_READ;
            } else if (strcmp(v, "ready") == 0) {
                srv.style = STYLE_READY;
            } else if (strcmp(v, "future") == 0) {
                srv.style = STYLE_FUTURE;
            } else {
                fprintf(stderr, "echo_server: --style is read, ready or future\n");
                return 2;
            }
        }
    }
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = workers};
    int rc = edo_runtime_new(&cfg, &rt);
    if (rc < 0) {
        fprintf(stderr, "echo_server: %s\n", edo_strerror(rc));
        return 1;
    }
    snprintf(srv.addr, sizeof srv.addr, "0.0.0.0:%d", port);
    edo_task *t;
    if (edo_spawn_with(rt, NULL, accept_loop, &srv, &t) == 0) {
        edo_task_join(t, NULL);
        edo_task_free(t);
    }
    edo_runtime_free(rt);
    return 1;
}
