/* bench=tls_idle_memory: what an idle TLS connection costs. Opens N connections on loopback to
 * an echo server in the same process, each echoing one byte once (so every buffer that a
 * working connection allocates has been allocated), then leaves them idle (the server's
 * coroutines parked in a read) and reads the process's resident memory. The same with plain
 * TCP streams in the same run; both printed per connection, both ends together (the
 * certificate: tls_bench.h).
 *
 *   tls_idle [N]        (default 1000)
 */
#include <edo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tls_bench.h"

typedef struct setup {
    bool tls;
    size_t n;
    edo_tls_config *client, *server;
    edo_stream **conns;
    long rss_before, rss_after;
    int rc;
} setup;

static long rss_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    if (f)
        fclose(f);
    return resident * sysconf(_SC_PAGESIZE);
}

typedef struct conn {
    setup *s;
    edo_stream *raw;
} conn;

/* One server connection: the handshake, one echoed byte, then a read that waits until the
 * client closes. */
static void *serve(void *arg)
{
    conn *c = arg;
    edo_stream *s = c->raw;
    if (c->s->tls && edo_tls_accept(c->raw, c->s->server, &s) < 0) {
        edo_stream_close(c->raw);
        free(c);
        return NULL;
    }
    char byte;
    if (edo_stream_read(s, &byte, 1) == 1 && edo_stream_write_all(s, &byte, 1) == 0)
        edo_stream_flush(s);
    while (edo_stream_read(s, &byte, 1) > 0) {
    }
    edo_stream_close(s);
    free(c);
    return NULL;
}

static void *accept_loop(void *arg)
{
    conn proto = *(conn *)arg;
    edo_tcp_listener *l = (edo_tcp_listener *)proto.raw;
    for (edo_tcp *tcp; edo_tcp_accept(l, &tcp, NULL) == 0;) {
        conn *c = malloc(sizeof *c);
        *c = (conn){proto.s, edo_tcp_stream(tcp)};
        edo_spawn_detached(serve, c);
    }
    return NULL;
}

static void *run(void *arg)
{
    setup *s = arg;
    edo_tcp_listener *l;
    edo_sockaddr addr;
    if (edo_tcp_listen("127.0.0.1:0", NULL, &l) < 0 || edo_tcp_listener_local_addr(l, &addr) < 0)
        return NULL;
    conn proto = {s, (edo_stream *)l};
    edo_task *acceptor;
    edo_spawn(accept_loop, &proto, &acceptor);
    s->rss_before = rss_bytes();
    for (size_t i = 0; i < s->n; i++) {
        edo_tcp *tcp;
        char byte = 'x';
        if (edo_tcp_connect_addr(&addr, &tcp) < 0)
            break;
        edo_stream *raw = edo_tcp_stream(tcp), *st = raw;
        if (s->tls && edo_tls_connect(raw, s->client, "localhost", &st) < 0) {
            edo_stream_close(raw);
            break;
        }
        s->conns[i] = st;
        if (edo_stream_write_all(st, &byte, 1) < 0 || edo_stream_flush(st) < 0 ||
            edo_stream_read(st, &byte, 1) != 1)
            break;
    }
    s->rss_after = rss_bytes();
    s->rc = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!s->conns[i]) {
            s->rc = 1;
            continue;
        }
        edo_stream_shutdown(s->conns[i]);
        edo_stream_close(s->conns[i]);
    }
    edo_task_abort(acceptor);
    edo_task_join(acceptor, NULL);
    edo_task_free(acceptor);
    edo_tcp_listener_close(l);
    return NULL;
}

/* Bytes of resident memory per connection (both ends), or -1. */
static double measure(setup *s)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 2};
    s->conns = calloc(s->n, sizeof *s->conns);
    s->rc = 1;
    if (!s->conns || edo_runtime_new(&cfg, &rt) < 0)
        return -1;
    edo_task *t;
    edo_spawn_with(rt, NULL, run, s, &t);
    edo_task_join(t, NULL);
    edo_task_free(t);
    edo_runtime_free(rt);
    free(s->conns);
    return s->rc ? -1 : (double)(s->rss_after - s->rss_before) / (double)s->n;
}

int main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    if (n == 0) {
        fprintf(stderr, "tls_idle: N must be above 0\n");
        return 1;
    }
    setup tls = {.tls = true, .n = n}, plain = {.n = n};
    int rc = tls_bench_configs(&tls.client, &tls.server);
    double plain_bytes = rc ? -1 : measure(&plain), tls_bytes = rc ? -1 : measure(&tls);
    if (plain_bytes < 0 || tls_bytes < 0) {
        fprintf(stderr, "tls_idle: failed\n");
        return 1;
    }
    printf("bench=tls_idle_memory connections=%zu plain_bytes_per_conn=%.0f "
           "tls_bytes_per_conn=%.0f\n",
           n, plain_bytes, tls_bytes);
    edo_tls_config_free(tls.client);
    edo_tls_config_free(tls.server);
    return 0;
}
