/* The demo: an echo server and a load generator, both written with edo, in one process.
 *
 *   echo_demo [--seconds S] [--connections C] [--workers W]   (defaults: 3, 50, CPUs)
 *
 * The server runs a coroutine per connection (read, write back); each client coroutine sends a
 * 64-byte message, waits for the echo, and records the round trip's latency. At the end: the
 * requests per second and the latency percentiles, and a clean shutdown. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edo.h"

#define MESSAGE 64

/* A latency histogram: 32 buckets per power of two of nanoseconds (about 3% wide). */
#define SUB_BITS 5
#define BUCKETS (64 << SUB_BITS)

static unsigned bucket_of(uint64_t ns)
{
    if (ns < (1u << SUB_BITS))
        return (unsigned)ns;
    unsigned exp = 63u - (unsigned)__builtin_clzll(ns) - SUB_BITS;
    return ((exp + 1) << SUB_BITS) + (unsigned)((ns >> exp) & ((1u << SUB_BITS) - 1));
}

static uint64_t bucket_value(unsigned b) /* the bucket's lower bound */
{
    if (b < (2u << SUB_BITS))
        return b; /* exact below 64 ns */
    unsigned exp = (b >> SUB_BITS) - 1;
    return ((uint64_t)(1u << SUB_BITS) + (b & ((1u << SUB_BITS) - 1))) << exp;
}

typedef struct {
    edo_sockaddr server;
    edo_instant stop;
} load;

typedef struct {
    load *l;
    size_t count;
    uint64_t hist[BUCKETS];
} client;

static void *serve(void *arg)
{
    edo_tcp *conn = arg;
    char buf[4096];
    ssize_t n;
    edo_tcp_set_nodelay(conn, true);
    while ((n = edo_tcp_read(conn, buf, sizeof buf)) > 0)
        if (edo_tcp_write_all(conn, buf, (size_t)n) < 0)
            break;
    edo_tcp_close(conn);
    return NULL;
}

static void *accept_all(void *arg)
{
    edo_tcp_listener *lis = arg;
    edo_tcp *conn;
    while (edo_tcp_accept(lis, &conn, NULL) == 0)
        if (edo_spawn_detached(serve, conn) < 0)
            edo_tcp_close(conn);
    return NULL; /* the listener was closed, or the task aborted */
}

static void *run_client(void *arg)
{
    client *c = arg;
    load *l = c->l;
    edo_tcp *conn;
    if (edo_tcp_connect_addr(&l->server, &conn) < 0)
        return NULL;
    edo_tcp_set_nodelay(conn, true);
    char msg[MESSAGE], got[MESSAGE];
    memset(msg, 'e', sizeof msg);
    for (;;) {
        edo_instant start = edo_now();
        if (start >= l->stop || edo_tcp_write_all(conn, msg, sizeof msg) < 0)
            break;
        size_t have = 0;
        while (have < sizeof got) {
            ssize_t n = edo_tcp_read(conn, got + have, sizeof got - have);
            if (n <= 0)
                goto done;
            have += (size_t)n;
        }
        c->hist[bucket_of(edo_now() - start)]++;
        c->count++;
    }
done:
    edo_tcp_close(conn);
    return NULL;
}

/* The latency below which a fraction q of the requests fall, from the summed histogram. */
static double percentile_us(const uint64_t *hist, size_t total, double q)
{
    uint64_t want = (uint64_t)(q * (double)(total - 1)) + 1, seen = 0;
    for (unsigned b = 0; b < BUCKETS; b++)
        if ((seen += hist[b]) >= want)
            return (double)bucket_value(b) / 1e3;
    return 0;
}

typedef struct {
    int seconds, connections;
} options;

static void *demo(void *arg)
{
    options *o = arg;
    edo_tcp_listener *lis;
    int rc = edo_tcp_listen("127.0.0.1:0", NULL, &lis);
    if (rc < 0) {
        fprintf(stderr, "echo_demo: listen: %s\n", edo_strerror(rc));
        return NULL;
    }
    load l = {0};
    edo_tcp_listener_local_addr(lis, &l.server);
    char where[EDO_SOCKADDR_TEXT];
    edo_sockaddr_format(&l.server, where, sizeof where);
    printf("echo server on %s; %d connections, %d-byte messages, %d s\n", where,
           o->connections, MESSAGE, o->seconds);
    edo_task *server;
    edo_spawn(accept_all, lis, &server);

    client *clients = calloc((size_t)o->connections, sizeof *clients);
    edo_task **tasks = calloc((size_t)o->connections, sizeof *tasks);
    if (!clients || !tasks) {
        fprintf(stderr, "echo_demo: out of memory\n");
        exit(1);
    }
    edo_instant start = edo_now();
    l.stop = start + EDO_SEC((uint64_t)o->seconds);
    for (int i = 0; i < o->connections; i++) {
        clients[i].l = &l;
        edo_spawn(run_client, &clients[i], &tasks[i]);
    }
    size_t total = 0;
    for (int i = 0; i < o->connections; i++) {
        edo_task_join(tasks[i], NULL);
        edo_task_free(tasks[i]);
        total += clients[i].count;
    }
    double elapsed = (double)(edo_now() - start) / 1e9;
    /* Shut the server down: closing the listener ends the accept loop. */
    edo_task_abort(server);
    edo_task_join(server, NULL);
    edo_task_free(server);
    edo_tcp_listener_close(lis);

    static uint64_t hist[BUCKETS];
    for (int i = 0; i < o->connections; i++)
        for (unsigned b = 0; b < BUCKETS; b++)
            hist[b] += clients[i].hist[b];
    if (total) {
        printf("requests: %zu in %.2f s = %.0f requests/s\n", total, elapsed,
               (double)total / elapsed);
        printf("latency: p50 %.0f us, p99 %.0f us, p99.9 %.0f us\n",
               percentile_us(hist, total, 0.50), percentile_us(hist, total, 0.99),
               percentile_us(hist, total, 0.999));
    } else {
        printf("no requests completed\n");
    }
    free(clients);
    free(tasks);
    return NULL;
}

int main(int argc, char **argv)
{
    options o = {3, 50};
    unsigned workers = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--seconds") == 0)
            o.seconds = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--connections") == 0)
            o.connections = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--workers") == 0)
            workers = (unsigned)atoi(argv[i + 1]);
    }
    if (o.seconds < 1 || o.connections < 1) {
        fprintf(stderr, "usage: echo_demo [--seconds S] [--connections C] [--workers W]\n");
        return 2;
    }
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = workers};
    if (edo_runtime_new(&cfg, &rt) < 0)
        return 1;
    edo_task *t;
    int rc = edo_spawn_with(rt, NULL, demo, &o, &t);
    if (rc == 0) {
        edo_task_join(t, NULL);
        edo_task_free(t);
    }
    edo_runtime_free(rt);
    return rc < 0;
}
