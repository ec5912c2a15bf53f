/* The test of examples/tcp_proxy: a plain echo server here (a thread, blocking sockets), the
 * proxy in front of it, and a client that sends through the proxy, shuts down its writing and
 * reads everything back, then the end: the half-close went through the proxy to the echo
 * server, which closed after echoing, and that end came back through the proxy too.
 *
 *   proxy_check PATH-TO-tcp_proxy
 *
 * Exit status 0 when every byte came back in order. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "example_server.h"

#define TOTAL (4 << 20)

static int listener;

/* Echoes one connection until its end, then closes it. */
static void *echo(void *arg)
{
    (void)arg;
    int fd = accept(listener, NULL, NULL);
    char buf[65536];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = send(fd, buf + off, (size_t)(n - off), MSG_NOSIGNAL);
            if (w <= 0)
                fail("echo: send", NULL);
            off += w;
        }
    if (n < 0)
        fail("echo: recv", NULL);
    close(fd);
    return NULL;
}

/* The client's writing side: TOTAL pattern bytes, then a half-close. */
static void *send_all(void *arg)
{
    int fd = *(int *)arg;
    static uint8_t buf[TOTAL];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (uint8_t)(i % 251);
    for (size_t off = 0; off < sizeof buf;) {
        ssize_t w = send(fd, buf + off, sizeof buf - off, MSG_NOSIGNAL);
        if (w <= 0)
            fail("client: send", NULL);
        off += (size_t)w;
    }
    shutdown(fd, SHUT_WR);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: proxy_check PATH-TO-tcp_proxy\n");
        return 2;
    }
    listener = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof a;
    if (bind(listener, (struct sockaddr *)&a, sizeof a) < 0 || listen(listener, 4) < 0 ||
        getsockname(listener, (struct sockaddr *)&a, &alen) < 0)
        fail("listen", NULL);
    char to[32];
    snprintf(to, sizeof to, "127.0.0.1:%d", ntohs(a.sin_port));
    char *proxy[] = {argv[1], "--listen", "127.0.0.1:0", "--to", to, "--workers", "2", NULL};
    int port = start_example(proxy);
    pthread_t echoer, sender;
    pthread_create(&echoer, NULL, echo, NULL);
    int fd = connect_loopback(port);
    pthread_create(&sender, NULL, send_all, &fd);
    static uint8_t buf[65536];
    size_t got = 0;
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) > 0)
        for (ssize_t i = 0; i < n; i++, got++)
            if (buf[i] != (uint8_t)(got % 251))
                fail("a wrong byte came back", NULL);
    if (n < 0)
        fail("client: recv", "timed out or failed");
    if (got != TOTAL)
        fail("the echo ended early", NULL);
    pthread_join(sender, NULL);
    pthread_join(echoer, NULL);
    close(fd);
    stop_example();
    puts("proxy_check: ok");
    return 0;
}
