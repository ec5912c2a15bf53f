/* An echo server: one coroutine per connection, straight-line code.
 *
 *   echo_server [--port P] [--workers W]     (defaults: 7878, one worker per CPU)
 *
 * Runs until killed. The benchmarks drive it with an external load generator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edo.h"

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

/* Listens and accepts forever, a coroutine for each connection. */
static void *accept_loop(void *arg)
{
    const char *addr = arg;
    edo_tcp_listener *lis;
    int rc = edo_tcp_listen(&lis, addr, NULL);
    if (rc < 0) {
        fprintf(stderr, "echo_server: listen on %s: %s\n", addr, edo_strerror(rc));
        return NULL;
    }
    fprintf(stderr, "echo_server: listening on %s\n", addr);
    for (;;) {
        edo_tcp *conn;
        rc = edo_tcp_accept(lis, &conn, NULL);
        if (rc == -EMFILE || rc == -ENFILE) {
            edo_sleep(EDO_MSEC(10)); /* out of fds: let some connections finish */
            continue;
        }
        if (rc < 0)
            break;
        if (edo_spawn_detached(serve, conn) < 0)
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
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--workers") == 0)
            workers = (unsigned)atoi(argv[i + 1]);
    }
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = workers};
    int rc = edo_runtime_new(&rt, &cfg);
    if (rc < 0) {
        fprintf(stderr, "echo_server: %s\n", edo_strerror(rc));
        return 1;
    }
    char addr[32];
    snprintf(addr, sizeof addr, "0.0.0.0:%d", port);
    edo_task *t;
    if (edo_spawn_with(rt, NULL, accept_loop, addr, &t) == 0) {
        edo_task_join(t, NULL);
        edo_task_free(t);
    }
    edo_runtime_free(rt);
    return 1;
}
