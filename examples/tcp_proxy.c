/* A TCP proxy: every connection to --listen is forwarded to --to, both directions at once.
 *
 *   tcp_proxy --listen 127.0.0.1:8081 --to 127.0.0.1:8080 [--workers W]
 *
 * Each connection is one coroutine in edo_stream_copy_bidirectional: the bytes move with
 * splice(2) from one socket to the other without passing through the proxy's memory, and a
 * side that ends (a half close) is passed on to the other side, which may still answer. The
 * proxy of bench=copy (bench/net/copy.sh); tests/examples/proxy_check.c tests it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edo.h"
#include "edo/stream_copy.h"

static const char *target;

static void *proxy(void *arg)
{
    edo_tcp *client = arg, *server;
    if (edo_tcp_connect(target, &server) == 0) {
        edo_tcp_set_nodelay(client, true); /* pass small writes on at once, as they came */
        edo_tcp_set_nodelay(server, true);
        edo_stream_copy_bidirectional(edo_tcp_stream(client), edo_tcp_stream(server), NULL, NULL);
        edo_tcp_close(server);
    }
    edo_tcp_close(client);
    return NULL;
}

/* Out of fds, for the process (-EMFILE) or the system (-ENFILE): not fatal, connections end. */
static bool out_of_fds(int rc) { return rc == -EMFILE || rc == -ENFILE; }

static void *serve(void *arg)
{
    edo_tcp_listener *lis;
    int rc = edo_tcp_listen(arg, NULL, &lis);
    if (rc < 0) {
        fprintf(stderr, "tcp_proxy: listen: %s\n", edo_strerror(rc));
        return NULL;
    }
    edo_sockaddr addr;
    char text[EDO_SOCKADDR_TEXT];
    if (edo_tcp_listener_local_addr(lis, &addr) == 0 &&
        edo_sockaddr_format(&addr, text, sizeof text) >= 0) {
        printf("tcp_proxy: listening on %s\n", text); /* the port, when asked for port 0 */
        fflush(stdout);
    }
    for (edo_tcp *c; (rc = edo_tcp_accept(lis, &c, NULL)) == 0 || out_of_fds(rc);) {
        if (rc == 0 && edo_spawn_detached(proxy, c) < 0)
            edo_tcp_close(c);
        if (rc < 0)
            edo_sleep(EDO_MSEC(10)); /* out of fds: let some connections finish */
    }
    edo_tcp_listener_close(lis);
    return NULL;
}

int main(int argc, char **argv)
{
    const char *listen_on = NULL;
    unsigned workers = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0)
            listen_on = argv[i + 1];
        else if (strcmp(argv[i], "--to") == 0)
            target = argv[i + 1];
        else if (strcmp(argv[i], "--workers") == 0)
            workers = (unsigned)atoi(argv[i + 1]);
    }
    if (!listen_on || !target) {
        fprintf(stderr, "usage: tcp_proxy --listen HOST:PORT --to HOST:PORT [--workers W]\n");
        return 2;
    }
    edo_runtime_config cfg = {.worker_threads = workers};
    edo_runtime *rt;
    int rc = edo_runtime_new(&cfg, &rt);
    if (rc < 0) {
        fprintf(stderr, "tcp_proxy: %s\n", edo_strerror(rc));
        return 1;
    }
    edo_task *t;
    if (edo_spawn_with(rt, NULL, serve, (void *)listen_on, &t) == 0) {
        edo_task_join(t, NULL); /* serve returns only when listening failed */
        edo_task_free(t);
    }
    edo_runtime_free(rt);
    return 1;
}
