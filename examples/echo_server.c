/* An echo server: a task per connection, written in one of three styles, each against edo_stream
 * (edo/stream.h), so the same code would serve a Unix connection, a pipe or a TLS session.
 *
 *   echo_server [--port P] [--workers W] [--style read|ready|future] [--grace-ms G]
 *       (defaults: 7878 (0: any free port), one worker per CPU, read, 5000)
 *
 *   read    a coroutine per connection, straight-line code: read into a stack buffer, write
 *           it back. The simplest; an idle connection keeps the stack pages it touched (two,
 *           with the 4 KiB buffer).
 *   ready   a coroutine that waits for readiness holding no buffer, then reads into a buffer
 *           taken for that burst: an idle connection holds one stack page.
 *   future  the same loop as a future task (a poll function and a small struct): an idle
 *           connection holds a few hundred bytes.
 *
 * SIGINT or SIGTERM shuts it down gracefully: it stops accepting (new connections are refused),
 * lets the open connections finish for up to G milliseconds, aborts those still open then, and
 * exits 0. SIGUSR1 prints a status line (live tasks, open connections) on stderr (the soak test,
 * tests/soak.sh, samples it). The benchmarks drive it with an external load generator. */
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

static int spawn_echo_task(edo_stream *conn, edo_join_set *conns)
{
    echo_task e = {.base = {&echo_vtable}, .conn = conn};
    next_step(&e); /* a wait for readability: not polled yet, so it may move with the struct */
    return edo_join_set_spawn_future(conns, &e.base, sizeof e, NULL);
}

/* Starts the task that serves `conn` in the chosen style. */
typedef enum { STYLE_READ, STYLE_READY, STYLE_FUTURE } style;

static int serve_in_style(style st, edo_tcp *conn, edo_join_set *conns)
{
    edo_tcp_set_nodelay(conn, true);
    edo_stream *s = edo_tcp_stream(conn); /* the same connection, as a byte stream */
    switch (st) {
    case STYLE_READY:
        return edo_join_set_spawn(conns, serve_ready, s, NULL);
    case STYLE_FUTURE:
        return spawn_echo_task(s, conns);
    default:
        return edo_join_set_spawn(conns, serve, s, NULL);
    }
}

typedef struct server {
    char addr[32];
    style style;
    uint64_t grace_ns;
    edo_tcp_listener *lis;
    edo_join_set *conns; /* the connections' tasks, to wait for at shutdown */
    edo_signal *sigint, *sigterm, *sigusr1;
} server;

enum { GOT_STOP = 1, GOT_STATUS = 2 };

/* Waits for a connection or for a signal. Returns GOT_STOP (SIGINT, SIGTERM), GOT_STATUS
 * (SIGUSR1), else accept's result (0 with the connection in *conn). */
static int accept_or_signal(server *srv, edo_tcp **conn)
{
    edo_signal_recv_future on_int, on_term, on_usr1;
    edo_socket_future acc;
    edo_signal_recv_future_init(&on_int, srv->sigint);
    edo_signal_recv_future_init(&on_term, srv->sigterm);
    edo_signal_recv_future_init(&on_usr1, srv->sigusr1);
    edo_tcp_accept_future_init(&acc, srv->lis, NULL);
    edo_future *any[] = {&on_int.base, &on_term.base, &on_usr1.base, &acc.base};
    int which = edo_select(any, 4, EDO_SELECT_BIASED, NULL);
    int rc = which < 0 ? which : which < 2 ? GOT_STOP : which == 2 ? GOT_STATUS : (int)acc.result;
    if (which == 3 && rc == 0)
        *conn = acc.socket;
    for (size_t i = 0; i < 4; i++)
        edo_future_drop(any[i]); /* an accept dropped before it was ready takes nothing */
    return rc;
}

/* Stops accepting, gives the open connections the grace period, then aborts the rest. */
static void shut_down(server *srv)
{
    edo_tcp_listener_close(srv->lis);
    srv->lis = NULL;
    fprintf(stderr, "echo_server: shutting down, %zu connections open\n",
            edo_join_set_len(srv->conns));
    edo_instant saved;
    edo_join_result r;
    int rc = edo_deadline_push(edo_now() + srv->grace_ns, &saved);
    while (rc == 0 && (rc = edo_join_set_next(srv->conns, &r)) == 0)
        ;
    edo_deadline_pop(saved);
    size_t left = edo_join_set_len(srv->conns);
    edo_join_set_shutdown(srv->conns);
    fprintf(stderr, "echo_server: done (%zu connections cut at the deadline)\n", left);
}

/* Listens and accepts until SIGINT or SIGTERM, a task for each connection. Outputs NULL after
 * a graceful shutdown, non-NULL on a failure. */
static void *accept_loop(void *arg)
{
    server *srv = arg;
    /* Listening for the signals before the port opens: one that comes after the "listening"
     * line is never missed. */
    int rc = edo_signal_listen(SIGINT, &srv->sigint);
    if (rc == 0 && (rc = edo_signal_listen(SIGTERM, &srv->sigterm)) == 0 &&
        (rc = edo_signal_listen(SIGUSR1, &srv->sigusr1)) == 0 &&
        (rc = edo_join_set_new(NULL, &srv->conns)) == 0)
        rc = edo_tcp_listen(srv->addr, NULL, &srv->lis);
    edo_sockaddr local;
    char name[EDO_SOCKADDR_TEXT] = "?";
    if (rc == 0 && edo_tcp_listener_local_addr(srv->lis, &local) == 0)
        edo_sockaddr_format(&local, name, sizeof name);
    if (rc < 0)
        fprintf(stderr, "echo_server: listen on %s: %s\n", srv->addr, edo_strerror(rc));
    else
        fprintf(stderr, "echo_server: listening on %s\n", name);
    while (rc == 0) {
        edo_tcp *conn = NULL;
        edo_join_result done;
        rc = accept_or_signal(srv, &conn);
        if (rc == -EMFILE || rc == -ENFILE) {
            edo_sleep(EDO_MSEC(10)); /* out of fds: let some connections finish */
            rc = 0;
        } else if (rc == GOT_STATUS) {
            while (edo_join_set_try_next(srv->conns, &done) == 0)
                ; /* count only the connections still open */
            edo_runtime_metrics m = {0};
            edo_runtime_metrics_get(edo_runtime_current(), &m);
            fprintf(stderr, "echo_server: status live_tasks=%zu connections=%zu\n", m.live_tasks,
                    edo_join_set_len(srv->conns));
            rc = 0;
        } else if (rc == 0) {
            if (serve_in_style(srv->style, conn, srv->conns) < 0)
                edo_tcp_close(conn);
            while (edo_join_set_try_next(srv->conns, &done) == 0)
                ; /* forget the connections that ended */
        }
    }
    if (rc == GOT_STOP)
        shut_down(srv);
    else if (srv->lis)
        fprintf(stderr, "echo_server: accept: %s\n", edo_strerror(rc));
    edo_tcp_listener_close(srv->lis);
    edo_join_set_free(srv->conns);
    edo_signal_free(srv->sigint);
    edo_signal_free(srv->sigterm);
    edo_signal_free(srv->sigusr1);
    return rc == GOT_STOP ? NULL : srv;
}

int main(int argc, char **argv)
{
    int port = 7878;
    unsigned workers = 0;
    server srv = {.style = STYLE_READ, .grace_ns = EDO_MSEC(5000)};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) {
            port = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--grace-ms") == 0) {
            srv.grace_ns = EDO_MSEC((uint64_t)atoll(argv[i + 1]));
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
    /* Before any thread starts (they inherit it): SIGINT and SIGTERM then come to the
     * listeners through edo's signalfd, never to a handler in this thread. */
    edo_signal_block_in_this_thread();
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = workers};
    int rc = edo_runtime_new(&cfg, &rt);
    if (rc < 0) {
        fprintf(stderr, "echo_server: %s\n", edo_strerror(rc));
        return 1;
    }
    snprintf(srv.addr, sizeof srv.addr, "0.0.0.0:%d", port);
    edo_task *t;
    void *failed = &srv;
    if (edo_spawn_with(rt, NULL, accept_loop, &srv, &t) == 0) {
        edo_task_join(t, &failed);
        edo_task_free(t);
    }
    edo_runtime_free(rt);
    return failed ? 1 : 0;
}
