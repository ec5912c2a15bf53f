/* The two ends of bench=copy (bench/net/copy.sh): an echo server and a bulk client, the same
 * program on both sides of every proxy measured (edo's examples/tcp_proxy, tokio-proxy).
 *
 *   copygen --serve PORT                                     the echo server (until killed)
 *   copygen --port P [--connections C] [--seconds S]         the client, through the proxy
 *
 * The client opens C connections to P (the proxy, which forwards them to the echo server) and
 * for S seconds writes 64 KiB blocks on each as fast as the connection takes them, and reads
 * (discards) the echo. At the end it prints
 *
 *   bytes=N seconds=S
 *
 * N: the bytes echoed back within the S seconds (each went through the proxy twice, once each
 * way). Both ends are kept cheap so that the proxy is what is measured: the server echoes with
 * splice(2) through a pipe (no copy through user memory), the client discards what it reads
 * with MSG_TRUNC (no copy either); only the client's writes copy. One thread, one epoll loop,
 * edge-triggered: each event runs a connection's loop until the kernel says it would block.
 *
 * Exit status: 0, 1 on a connection error, 2 on a bad command line. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, pipe2, splice */
#endif
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define BLOCK (64 * 1024)
#define MAX_CONNS 4096

typedef struct conn {
    int fd;
    int pipe_out, pipe_in; /* server: the echo's pipe */
    size_t in_pipe;
} conn;

static char block[BLOCK];
static char sink[1 << 20];

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void watch(int ep, conn *c)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl");
}

static void drop(conn *c)
{
    close(c->fd);
    if (c->pipe_in >= 0) {
        close(c->pipe_in);
        close(c->pipe_out);
    }
    free(c);
}

/* Echoes what the connection has: socket -> pipe -> socket, until either side would block.
 * Returns false when the connection ended. */
static bool echo(conn *c)
{
    for (;;) {
        if (c->in_pipe == 0) {
            ssize_t n =
                splice(c->fd, NULL, c->pipe_in, NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n == 0)
                return false;
            if (n < 0)
                return errno == EAGAIN;
            c->in_pipe = (size_t)n;
        }
        ssize_t n =
            splice(c->pipe_out, NULL, c->fd, NULL, c->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n < 0)
            return errno == EAGAIN;
        c->in_pipe -= (size_t)n;
    }
}

static _Noreturn void serve(int port)
{
    int lis = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lis, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lis, (struct sockaddr *)&a, sizeof a) < 0 || listen(lis, 1024) < 0)
        die("listen");
    int ep = epoll_create1(EPOLL_CLOEXEC);
    conn listener = {.fd = lis, .pipe_in = -1, .pipe_out = -1};
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = &listener};
    epoll_ctl(ep, EPOLL_CTL_ADD, lis, &lev);
    struct epoll_event evs[256];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (c == &listener) {
                int fd;
                while ((fd = accept4(lis, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    conn *nc = calloc(1, sizeof *nc);
                    int p[2];
                    if (!nc || pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
                        die("accept");
                    *nc = (conn){.fd = fd, .pipe_out = p[0], .pipe_in = p[1]};
                    watch(ep, nc);
                }
            } else if (!echo(c)) {
                drop(c);
            }
        }
    }
}

/* Writes until the connection would block, then discards whatever came back. Adds what it
 * read to *received. */
static void pump(conn *c, uint64_t *received)
{
    while (send(c->fd, block, BLOCK, MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
        ;
    if (errno != EAGAIN)
        die("send");
    ssize_t n;
    while ((n = recv(c->fd, sink, sizeof sink, MSG_TRUNC | MSG_DONTWAIT)) > 0)
        *received += (uint64_t)n;
    if (n == 0 || errno != EAGAIN)
        die("recv");
}

static int client(int port, int conns, double seconds)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    conn *all = calloc((size_t)conns, sizeof *all);
    for (int i = 0; i < conns; i++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
            die("connect");
        fcntl(fd, F_SETFL, O_NONBLOCK);
        all[i] = (conn){.fd = fd, .pipe_in = -1, .pipe_out = -1};
    }
    uint64_t received = 0;
    uint64_t start = now_ns(), end = start + (uint64_t)(seconds * 1e9);
    for (int i = 0; i < conns; i++) {
        watch(ep, &all[i]);
        pump(&all[i], &received);
    }
    struct epoll_event evs[256];
    uint64_t t;
    while ((t = now_ns()) < end) {
        int n = epoll_wait(ep, evs, 256, (int)((end - t) / 1000000) + 1);
        for (int i = 0; i < n; i++)
            pump(evs[i].data.ptr, &received);
    }
    printf("bytes=%llu seconds=%.3f\n", (unsigned long long)received, (double)(t - start) / 1e9);
    return 0;
}

int main(int argc, char **argv)
{
    int port = 0, serve_port = 0, conns = 1;
    double seconds = 3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--serve") == 0)
            serve_port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--port") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--connections") == 0)
            conns = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--seconds") == 0)
            seconds = atof(argv[i + 1]);
        else
            port = -1;
    }
    memset(block, 'x', sizeof block);
    if (serve_port > 0)
        serve(serve_port);
    if (port <= 0 || conns < 1 || conns > MAX_CONNS || seconds <= 0) {
        fprintf(stderr, "usage: copygen --serve PORT | --port P [--connections C] [--seconds S]\n");
        return 2;
    }
    return client(port, conns, seconds);
}
