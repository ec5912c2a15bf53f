/* The raw epoll baseline of the network benchmarks: what an echo server costs with no runtime.
 *
 *   epoll_echo [--port P] [--workers W] [--http]     (defaults: 7878, 1)
 *
 * W threads, each with its own SO_REUSEPORT listener and its own level-triggered epoll loop
 * (the kernel spreads connections over the listeners; a connection stays on its thread). A
 * readable connection gets one read into the thread's buffer and one write of what came; only a
 * short write (the peer is not reading) keeps the rest and waits for EPOLLOUT, reading nothing
 * more meanwhile. Level-triggered costs no more system calls than edge-triggered here (a read
 * that leaves data queued is simply reported again) and never re-arms.
 *
 * --http answers the minimal HTTP/1.1 hello world of http.h instead of echoing.
 *
 * Runs until killed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, memmem, signalfd */
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http.h"
#include "raw_server.h"

#define READ_BUF (64 * 1024)

typedef struct conn {
    int fd;
    char *out; /* bytes a short write left, or NULL */
    size_t out_len, out_at;
    char *in; /* --http: a request head not yet complete, or NULL */
    size_t in_len;
} conn;

static void drop(conn *c)
{
    close(c->fd);
    free(c->out);
    free(c->in);
    free(c);
}

/* Writes buf; keeps what does not fit and waits for EPOLLOUT. Returns false on an error. */
static bool send_or_keep(int ep, conn *c, const char *buf, size_t len)
{
    ssize_t n = c->out ? 0 : write(c->fd, buf, len); /* never ahead of what was kept */
    if (n < 0 && errno != EAGAIN)
        return false;
    if (n < 0)
        n = 0;
    if ((size_t)n == len)
        return true;
    char *rest = realloc(c->out, c->out_len - c->out_at + len - (size_t)n);
    if (!rest)
        return false;
    memmove(rest, rest + c->out_at, c->out_len - c->out_at);
    memcpy(rest + c->out_len - c->out_at, buf + n, len - (size_t)n);
    c->out_len = c->out_len - c->out_at + len - (size_t)n;
    c->out_at = 0;
    c->out = rest;
    struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0;
}

/* EPOLLOUT: writes what was kept; once it is all out, reads again. */
static bool drain(int ep, conn *c)
{
    while (c->out_at < c->out_len) {
        ssize_t n = write(c->fd, c->out + c->out_at, c->out_len - c->out_at);
        if (n < 0)
            return errno == EAGAIN;
        c->out_at += (size_t)n;
    }
    free(c->out);
    c->out = NULL;
    c->out_len = c->out_at = 0;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) == 0;
}

/* --http: answers the complete requests in buf[0, len) and keeps an incomplete one. */
static bool answer(int ep, conn *c, char *buf, size_t len)
{
    size_t used, k = http_requests(buf, len, &used);
    for (; k > 0; k -= k < HTTP_BATCH ? k : HTTP_BATCH) {
        size_t m = k < HTTP_BATCH ? k : HTTP_BATCH;
        if (!send_or_keep(ep, c, http_responses(), m * HTTP_RESPONSE_LEN))
            return false;
    }
    free(c->in);
    c->in = NULL;
    c->in_len = len - used;
    if (c->in_len == 0)
        return true;
    if (c->in_len > HTTP_MAX_REQUEST || !(c->in = malloc(c->in_len)))
        return false;
    memcpy(c->in, buf + used, c->in_len);
    return true;
}

static bool readable(int ep, conn *c, char *buf)
{
    size_t have = 0;
    if (c->in) { /* --http: the start of a request came before */
        memcpy(buf, c->in, c->in_len);
        have = c->in_len;
    }
    ssize_t n = read(c->fd, buf + have, READ_BUF - have);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    if (n == 0)
        return false;
    if (http)
        return answer(ep, c, buf, have + (size_t)n);
    return send_or_keep(ep, c, buf, (size_t)n);
}

static void accept_all(int ep, int lis)
{
    for (;;) {
        int fd = accept4(lis, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return; /* EAGAIN: none left; EMFILE and the like: the next event retries */
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        conn *c = calloc(1, sizeof *c);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (!c || (c->fd = fd, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)) {
            close(fd);
            free(c);
        }
    }
}

static void *worker(void *arg)
{
    int lis = (int)(intptr_t)arg;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, evs[256];
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lis, &ev) < 0) {
        perror("epoll_echo: epoll");
        exit(1);
    }
    char *buf = malloc(READ_BUF);
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            conn *c = evs[i].data.ptr;
            if (!c) {
                accept_all(ep, lis);
                continue;
            }
            bool ok = (evs[i].events & EPOLLOUT) ? drain(ep, c) : readable(ep, c, buf);
            if (!ok)
                drop(c);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int workers = raw_server_args("epoll_echo", argc, argv, NULL, NULL);
    signal(SIGPIPE, SIG_IGN);
    http_responses(); /* built before any thread reads it */
    raw_server_run("epoll_echo", workers, SOCK_NONBLOCK, "", worker);
    return 1;
}
