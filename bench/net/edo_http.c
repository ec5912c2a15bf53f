/* edo's side of the HTTP/1.1 keep-alive hello world of bench/net/run.sh: the minimal responder
 * of http.h, one coroutine per connection, written like examples/echo_server.c.
 *
 *   edo_http [--port P] [--workers W]     (defaults: 7878, one worker per CPU)
 *
 * Runs until killed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edo.h"
#include "http.h"

static void *serve(void *arg)
{
    edo_tcp *conn = arg;
    char buf[HTTP_MAX_REQUEST];
    size_t have = 0;
    edo_tcp_set_nodelay(conn, true);
    for (;;) {
        ssize_t n = edo_tcp_read(conn, buf + have, sizeof buf - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t used, k = http_requests(buf, have, &used), m;
        for (; k > 0; k -= m) {
            m = k < HTTP_BATCH ? k : HTTP_BATCH;
            if (edo_tcp_write_all(conn, http_responses(), m * HTTP_RESPONSE_LEN) < 0)
                goto out;
        }
        memmove(buf, buf + used, have - used);
        have -= used;
        if (have == sizeof buf)
            break; /* a request head longer than we keep */
    }
out:
    edo_tcp_close(conn);
    return NULL;
}

static void *listen_and_serve(void *addr)
{
    edo_tcp_listener *lis;
    int rc = edo_tcp_listen(addr, NULL, &lis);
    if (rc == 0)
        fprintf(stderr, "edo_http: listening on %s\n", (char *)addr);
    while (rc == 0) {
        edo_tcp *conn;
        rc = edo_tcp_accept(lis, &conn, NULL);
        if (rc == -EMFILE || rc == -ENFILE) /* out of fds: wait for some to close */
            rc = edo_sleep(EDO_MSEC(10));
        else if (rc == 0 && edo_spawn_detached(serve, conn) < 0)
            edo_tcp_close(conn);
    }
    fprintf(stderr, "edo_http: %s: %s\n", (char *)addr, edo_strerror(rc));
    return NULL;
}

int main(int argc, char **argv)
{
    char addr[32] = "0.0.0.0:7878";
    edo_runtime_config cfg = {0};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0)
            snprintf(addr, sizeof addr, "0.0.0.0:%d", atoi(argv[i + 1]));
        else if (strcmp(argv[i], "--workers") == 0)
            cfg.worker_threads = (unsigned)atoi(argv[i + 1]);
    }
    http_responses(); /* built before any worker reads it */
    edo_runtime *rt;
    edo_task *t;
    if (edo_runtime_new(&cfg, &rt) < 0)
        return 1;
    if (edo_spawn_with(rt, NULL, listen_and_serve, addr, &t) == 0) {
        edo_task_join(t, NULL);
        edo_task_free(t);
    }
    edo_runtime_free(rt);
    return 1;
}
