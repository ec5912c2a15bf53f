/* mini_redis: a Redis server on edo.
 *
 *   mini_redis [--port P] [--workers W] [--bind ADDR]
 *       (defaults: 6379 (0: any free port, told on the "ready on" line), one worker per CPU,
 *       127.0.0.1)
 *
 * Commands: PING, ECHO, GET, SET (EX, PX, NX, XX, KEEPTTL), DEL, EXISTS, INCR, DECR, INCRBY,
 * DECRBY, EXPIRE, PEXPIRE, TTL, PTTL, MGET, MSET, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, QUIT (and
 * CONFIG GET, which answers an empty list). README.md's mini_redis section says more.
 * SIGINT or SIGTERM shuts it down: it stops accepting, closes every connection (a command in
 * progress finishes first), frees everything and exits 0. SIGUSR1 prints a status line (live
 * tasks, open connections, keys) on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mini_redis.h"

#define SHARDS 64
#define SWEEP_PERIOD_MS 100
#define SWEEP_BUCKETS 64 /* per shard and period */

typedef struct options {
    int port;
    unsigned workers;
    const char *bind;
} options;

/* Removes expired keys nobody asks for (those asked for go at once). */
static void *sweeper(void *arg)
{
    store *st = arg;
    while (edo_sleep(EDO_MSEC(SWEEP_PERIOD_MS)) == 0)
        for (size_t i = 0; i < store_shard_count(st); i++)
            store_sweep_shard(st, i, SWEEP_BUCKETS);
    return NULL;
}

/* The signals the accept loop answers: SIGINT and SIGTERM shut the server down, SIGUSR1 asks
 * for a status line on stderr (the soak test samples it). */
typedef struct signals {
    edo_signal *intr, *term, *usr1;
} signals;

static void signals_free(signals *sig)
{
    edo_signal_free(sig->intr);
    edo_signal_free(sig->term);
    edo_signal_free(sig->usr1);
}

enum { GOT_CONN, GOT_STOP, GOT_STATUS };

/* Waits for a connection (GOT_CONN, in *tcp) or a signal (GOT_STOP, GOT_STATUS), or an error. */
static int accept_or_signal(edo_tcp_listener *lis, const signals *sig, edo_tcp **tcp)
{
    edo_signal_recv_future on_int, on_term, on_usr1;
    edo_socket_future acc;
    edo_signal_recv_future_init(&on_int, sig->intr);
    edo_signal_recv_future_init(&on_term, sig->term);
    edo_signal_recv_future_init(&on_usr1, sig->usr1);
    edo_tcp_accept_future_init(&acc, lis, NULL);
    edo_future *any[] = {&on_int.base, &on_term.base, &on_usr1.base, &acc.base};
    int which = edo_select(any, 4, EDO_SELECT_BIASED, NULL);
    int rc = which < 0 ? which : which < 2 ? GOT_STOP : which == 2 ? GOT_STATUS : (int)acc.result;
    if (which == 3 && rc == 0)
        *tcp = acc.socket;
    for (size_t i = 0; i < 4; i++)
        edo_future_drop(any[i]); /* an accept dropped before it was ready takes nothing */
    return rc;
}

/* Forgets the connections that ended: the set then counts only those still open. */
static void forget_ended(edo_join_set *conns)
{
    edo_join_result done;
    while (edo_join_set_try_next(conns, &done) == 0)
        ;
}

static void print_status(const server *srv, edo_join_set *conns)
{
    forget_ended(conns);
    edo_runtime_metrics m = {0};
    edo_runtime_metrics_get(edo_runtime_current(), &m);
    fprintf(stderr, "mini_redis: status live_tasks=%zu connections=%zu keys=%zu\n",
            m.live_tasks, edo_join_set_len(conns), store_key_count(srv->store));
}

/* Accepts until a signal stops it, then closes every connection (each stops at its next wait:
 * a command is never cut in half) and frees everything. Outputs NULL after a clean shutdown,
 * non-NULL on a failure. */
static void *accept_loop(void *arg)
{
    const options *opt = arg;
    server srv = {0};
    signals sig = {0};
    edo_join_set *conns = NULL;
    edo_task *sweep = NULL;
    edo_tcp_listener *lis = NULL;
    char addr[300];
    snprintf(addr, sizeof addr, "%s:%d", opt->bind, opt->port);
    /* Listening for the signals before the port opens: one sent after "ready" is not missed. */
    int rc = store_new(SHARDS, &srv.store);
    if (rc == 0)
        rc = pubsub_new(&srv.pubsub);
    if (rc == 0 && (rc = edo_signal_listen(SIGINT, &sig.intr)) == 0 &&
        (rc = edo_signal_listen(SIGTERM, &sig.term)) == 0 &&
        (rc = edo_signal_listen(SIGUSR1, &sig.usr1)) == 0 &&
        (rc = edo_join_set_new(NULL, &conns)) == 0 &&
        (rc = edo_spawn(sweeper, srv.store, &sweep)) == 0) {
        rc = edo_tcp_listen(addr, &(edo_tcp_listen_options){.backlog = 4096}, &lis);
        if (rc < 0)
            fprintf(stderr, "mini_redis: listen on %s: %s\n", addr, edo_strerror(rc));
    } else if (rc < 0) {
        fprintf(stderr, "mini_redis: %s\n", edo_strerror(rc));
    }
    edo_sockaddr local;
    if (rc == 0 && edo_tcp_listener_local_addr(lis, &local) == 0) /* the port, when 0 asked */
        edo_sockaddr_format(&local, addr, sizeof addr);
    if (rc == 0)
        fprintf(stderr, "mini_redis: ready on %s with %u workers\n", addr,
                (unsigned)edo_runtime_worker_count(edo_runtime_current()));
    while (rc == 0) {
        edo_tcp *tcp = NULL;
        rc = accept_or_signal(lis, &sig, &tcp);
        if (rc == -EMFILE || rc == -ENFILE) {
            edo_sleep(EDO_MSEC(10)); /* out of fds: the connection waits in the backlog */
            rc = 0;
        } else if (rc == GOT_STATUS) {
            print_status(&srv, conns);
            rc = 0;
        } else if (rc == GOT_CONN) {
            conn_start *start = malloc(sizeof *start);
            if (start)
                *start = (conn_start){&srv, tcp};
            if (!start || edo_join_set_spawn(conns, conn_serve, start, NULL) < 0) {
                free(start);
                edo_tcp_close(tcp);
            }
            forget_ended(conns);
        }
    }
    if (rc == GOT_STOP) {
        forget_ended(conns);
        fprintf(stderr, "mini_redis: shutting down, %zu connections open\n",
                edo_join_set_len(conns));
    }
    else if (lis)
        fprintf(stderr, "mini_redis: accept: %s\n", edo_strerror(rc));
    edo_tcp_listener_close(lis);
    if (conns)
        edo_join_set_shutdown(conns); /* their subscriptions end before pubsub goes */
    edo_join_set_free(conns);
    if (sweep) {
        edo_task_abort(sweep);
        edo_task_join(sweep, NULL);
        edo_task_free(sweep);
    }
    signals_free(&sig);
    pubsub_free(srv.pubsub);
    store_free(srv.store);
    if (rc == GOT_STOP)
        fprintf(stderr, "mini_redis: stopped\n");
    return rc == GOT_STOP ? NULL : arg; /* non-NULL: failed */
}

int main(int argc, char **argv)
{
    options opt = {.port = 6379, .workers = 0, .bind = "127.0.0.1"};
    for (int i = 1; i < argc; i += 2) { /* options come in pairs: --name value */
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--port") == 0 && v) {
            opt.port = atoi(v);
        } else if (strcmp(argv[i], "--workers") == 0 && v) {
            opt.workers = (unsigned)atoi(v);
        } else if (strcmp(argv[i], "--bind") == 0 && v) {
            opt.bind = v;
        } else {
            fprintf(stderr, "usage: mini_redis [--port P] [--workers W] [--bind ADDR]\n");
            return 2;
        }
    }
    if (opt.port < 0 || opt.port > 65535) {
        fprintf(stderr, "mini_redis: --port must be 0 (any free port) to 65535\n");
        return 2;
    }
    /* Before any thread starts (they inherit it): the signals come to the listeners through
     * edo's signalfd, never to a handler in this thread. */
    edo_signal_block_in_this_thread();
    edo_runtime *rt;
    int rc = edo_runtime_new(&(edo_runtime_config){.worker_threads = opt.workers}, &rt);
    if (rc < 0) {
        fprintf(stderr, "mini_redis: %s\n", edo_strerror(rc));
        return 1;
    }
    edo_task *t;
    void *failed = &opt;
    if (edo_spawn_with(rt, NULL, accept_loop, &opt, &t) == 0) {
        edo_task_join(t, &failed);
        edo_task_free(t);
    }
    edo_runtime_free(rt);
    return failed ? 1 : 0;
}
