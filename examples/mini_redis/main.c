/* mini_redis: a Redis server on edo.
 *
 *   mini_redis [--port P] [--workers W] [--bind ADDR]
 *       (defaults: 6379, one worker per CPU, 127.0.0.1)
 *
 * Commands: PING, ECHO, GET, SET (EX, PX, NX, XX, KEEPTTL), DEL, EXISTS, INCR, DECR, INCRBY,
 * DECRBY, EXPIRE, PEXPIRE, TTL, PTTL, MGET, MSET, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, QUIT (and
 * CONFIG GET, which answers an empty list). README.md's mini_redis section says more.
 * Runs until killed. */
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

static void *accept_loop(void *arg)
{
    const options *opt = arg;
    server srv;
    if (store_new(SHARDS, &srv.store) < 0 || pubsub_new(&srv.pubsub) < 0) {
        fprintf(stderr, "mini_redis: out of memory\n");
        return NULL;
    }
    char addr[300];
    snprintf(addr, sizeof addr, "%s:%d", opt->bind, opt->port);
    edo_tcp_listener *lis;
    int rc = edo_tcp_listen(addr, &(edo_tcp_listen_options){.backlog = 4096}, &lis);
    if (rc < 0) {
        fprintf(stderr, "mini_redis: listen on %s: %s\n", addr, edo_strerror(rc));
        return NULL;
    }
    fprintf(stderr, "mini_redis: ready on %s with %u workers\n", addr,
            (unsigned)edo_runtime_worker_count(edo_runtime_current()));
    edo_spawn_detached(sweeper, srv.store);
    for (;;) {
        edo_tcp *tcp;
        rc = edo_tcp_accept(lis, &tcp, NULL);
        if (rc == -EMFILE || rc == -ENFILE) {
            edo_sleep(EDO_MSEC(10)); /* out of fds: the connection waits in the backlog */
            continue;
        }
        if (rc < 0)
            break;
        conn_start *start = malloc(sizeof *start);
        if (start)
            *start = (conn_start){&srv, tcp};
        if (!start || edo_spawn_detached(conn_serve, start) < 0) {
            free(start);
            edo_tcp_close(tcp);
        }
    }
    fprintf(stderr, "mini_redis: accept: %s\n", edo_strerror(rc));
    edo_tcp_listener_close(lis);
    return NULL;
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
    if (opt.port <= 0 || opt.port > 65535) {
        fprintf(stderr, "mini_redis: --port must be 1 to 65535\n");
        return 2;
    }
    edo_runtime *rt;
    int rc = edo_runtime_new(&(edo_runtime_config){.worker_threads = opt.workers}, &rt);
    if (rc < 0) {
        fprintf(stderr, "mini_redis: %s\n", edo_strerror(rc));
        return 1;
    }
    edo_task *t;
    if (edo_spawn_with(rt, NULL, accept_loop, &opt, &t) == 0) {
        edo_task_join(t, NULL);
        edo_task_free(t);
    }
    edo_runtime_free(rt);
    return 1;
}
