/* bench=tls_transfer: bulk bytes through one TLS connection on loopback (edo's client writes,
 * edo's server reads), against the same transfer on plain TCP streams in the same run. Prints
 * throughput and the process's CPU time per GiB for each, and the ratio of TLS's CPU per GiB
 * to plain TCP's (the certificate: tls_bench.h).
 *
 *   tls_transfer [MiB]        (default 1024)
 */
#include <edo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "tls_bench.h"

enum { CHUNK = 64 * 1024 };

typedef struct run {
    bool tls;
    size_t total;
    edo_tls_config *client, *server;
    int rc;
} run;

static double cpu_seconds(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec +
           ((double)u.ru_utime.tv_usec + (double)u.ru_stime.tv_usec) / 1e6;
}

static double wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

typedef struct side {
    run *r;
    edo_stream *s;
} side;

/* The server: the TLS handshake if any, then reads to the end. */
static void *sink(void *arg)
{
    side *sd = arg;
    edo_stream *s = sd->s;
    if (sd->r->tls && edo_tls_accept(sd->s, sd->r->server, &s) < 0) {
        edo_stream_close(sd->s);
        return (void *)1;
    }
    char *buf = malloc(CHUNK);
    size_t got = 0;
    ssize_t n;
    while ((n = edo_stream_read(s, buf, CHUNK)) > 0)
        got += (size_t)n;
    free(buf);
    edo_stream_close(s);
    return (void *)(uintptr_t)(n < 0 || got != sd->r->total);
}

static void *transfer(void *arg)
{
    run *r = arg;
    edo_tcp_listener *l;
    edo_sockaddr addr;
    edo_tcp *client, *server;
    if (edo_tcp_listen("127.0.0.1:0", NULL, &l) < 0 || edo_tcp_listener_local_addr(l, &addr) < 0 ||
        edo_tcp_connect_addr(&addr, &client) < 0 || edo_tcp_accept(l, &server, NULL) < 0) {
        r->rc = 1;
        return NULL;
    }
    edo_tcp_listener_close(l);
    side sd = {r, edo_tcp_stream(server)};
    edo_task *t;
    edo_spawn(sink, &sd, &t);
    edo_stream *raw = edo_tcp_stream(client), *s = raw;
    if (r->tls && edo_tls_connect(raw, r->client, "localhost", &s) < 0) {
        edo_stream_close(raw);
        s = NULL;
    }
    char *buf = calloc(1, CHUNK);
    for (size_t sent = 0; s && sent < r->total; sent += CHUNK)
        if (edo_stream_write_all(s, buf, CHUNK) < 0)
            break;
    if (s) {
        edo_stream_shutdown(s);
        edo_stream_close(s);
    }
    free(buf);
    void *out;
    edo_task_join(t, &out);
    edo_task_free(t);
    r->rc = s && !out ? 0 : 1;
    return NULL;
}

/* One transfer on a fresh two-worker runtime: seconds of wall and CPU time. */
static int measure(run *r, double *wall, double *cpu)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 2};
    if (edo_runtime_new(&cfg, &rt) < 0)
        return 1;
    double w0 = wall_seconds(), c0 = cpu_seconds();
    edo_task *t;
    edo_spawn_with(rt, NULL, transfer, r, &t);
    edo_task_join(t, NULL);
    edo_task_free(t);
    *wall = wall_seconds() - w0;
    *cpu = cpu_seconds() - c0;
    edo_runtime_free(rt);
    return r->rc;
}

int main(int argc, char **argv)
{
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 1024;
    run tls = {.tls = true, .total = mib << 20}, plain = {.total = mib << 20};
    int rc = tls_bench_configs(&tls.client, &tls.server);
    double tls_wall = 0, tls_cpu = 0, plain_wall = 0, plain_cpu = 0;
    rc = rc || measure(&plain, &plain_wall, &plain_cpu) || measure(&tls, &tls_wall, &tls_cpu);
    if (rc) {
        fprintf(stderr, "tls_transfer: failed\n");
        return 1;
    }
    double gib = (double)mib / 1024;
    printf("bench=tls_transfer mib=%zu plain_mib_per_s=%.0f plain_cpu_s_per_gib=%.2f "
           "tls_mib_per_s=%.0f tls_cpu_s_per_gib=%.2f cpu_ratio=%.2f\n",
           mib, (double)mib / plain_wall, plain_cpu / gib, (double)mib / tls_wall,
           tls_cpu / gib, tls_cpu / plain_cpu);
    edo_tls_config_free(tls.client);
    edo_tls_config_free(tls.server);
    return 0;
}
