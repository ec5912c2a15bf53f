/* A UDP echo server: every datagram goes back to its sender.
 *
 *   udp_echo [--port P]     (default 7879) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edo.h"

static void *echo(void *arg)
{
    edo_udp *u;
    int rc = edo_udp_bind(arg, &u);
    if (rc < 0) {
        fprintf(stderr, "udp_echo: bind: %s\n", edo_strerror(rc));
        return NULL;
    }
    /* The largest datagram, on the heap: a coroutine's stack is 64 KiB by default. */
    enum { MAX_DATAGRAM = 65536 };
    char *buf = malloc(MAX_DATAGRAM);
    edo_sockaddr from;
    ssize_t n;
    while (buf && (n = edo_udp_recv_from(u, buf, MAX_DATAGRAM, &from)) >= 0)
        edo_udp_send_to(u, buf, (size_t)n, &from);
    free(buf);
    edo_udp_close(u);
    return NULL;
}

static int app(void *arg)
{
    edo_task *t;
    if (edo_spawn(echo, arg, &t) < 0)
        return 1;
    edo_task_join(t, NULL);
    edo_task_free(t);
    return 1;
}

int main(int argc, char **argv)
{
    int port = 7879;
    for (int i = 1; i + 1 < argc; i += 2)
        if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
    char addr[32];
    snprintf(addr, sizeof addr, "0.0.0.0:%d", port);
    return edo_main(app, addr);
}
