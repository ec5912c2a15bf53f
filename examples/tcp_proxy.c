/* A TCP proxy: every connection to --listen is forwarded to --to, both directions at once.
 *
 *   tcp_proxy --listen 127.0.0.1:8081 --to 127.0.0.1:8080
 *
 * Each connection gets two coroutines, one per direction, reading from one socket and writing
 * to the other; a direction that reaches end-of-stream passes it on with a half close. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edo.h"

typedef struct {
    edo_tcp *from, *to;
} pipe_dir;

/* Copies one direction until end-of-stream or an error; returns 0 or -errno. */
static int copy(edo_tcp *from, edo_tcp *to)
{
    char buf[16384];
    ssize_t n;
    while ((n = edo_tcp_read(from, buf, sizeof buf)) > 0) {
        int rc = edo_tcp_write_all(to, buf, (size_t)n);
        if (rc < 0)
            return rc;
    }
    edo_tcp_shutdown(to, SHUT_WR); /* the other side sees the end, and may still answer */
    return (int)n;
}

static void *upstream_to_client(void *arg)
{
    pipe_dir *d = arg;
    return (void *)(intptr_t)copy(d->from, d->to);
}

static const char *target;

static void *proxy(void *arg)
{
    edo_tcp *client = arg, *server;
    if (edo_tcp_connect(target, &server) == 0) {
        /* Reading one socket in one task while another task writes it is fine. */
        pipe_dir back = {server, client};
        edo_task *t;
        if (edo_spawn(upstream_to_client, &back, &t) == 0) {
            if (copy(client, server) < 0)
                edo_task_abort(t); /* the client is gone: stop the other direction too */
            edo_task_join(t, NULL);
            edo_task_free(t);
        }
        edo_tcp_close(server);
    }
    edo_tcp_close(client);
    return NULL;
}

static void *serve(void *arg)
{
    edo_tcp_listener *lis;
    int rc = edo_tcp_listen(arg, NULL, &lis);
    if (rc < 0) {
        fprintf(stderr, "tcp_proxy: listen: %s\n", edo_strerror(rc));
        return NULL;
    }
    for (edo_tcp *c; (rc = edo_tcp_accept(lis, &c, NULL)) == 0 || rc == -EMFILE;) {
        if (rc == 0 && edo_spawn_detached(proxy, c) < 0)
            edo_tcp_close(c);
        if (rc == -EMFILE)
            edo_sleep(EDO_MSEC(10));
    }
    edo_tcp_listener_close(lis);
    return NULL;
}

static int app(void *arg)
{
    edo_task *t;
    if (edo_spawn(serve, arg, &t) < 0)
        return 1;
    edo_task_join(t, NULL);
    edo_task_free(t);
    return 1;
}

int main(int argc, char **argv)
{
    const char *listen_on = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0)
            listen_on = argv[i + 1];
        else if (strcmp(argv[i], "--to") == 0)
            target = argv[i + 1];
    }
    if (!listen_on || !target) {
        fprintf(stderr, "usage: tcp_proxy --listen HOST:PORT --to HOST:PORT\n");
        return 2;
    }
    return edo_main(app, (void *)listen_on);
}
