/* What the raw C baselines of the network benchmarks share (epoll_echo.c, uring_echo.c): their
 * command line, and their start: one SO_REUSEPORT listener per thread, all bound before any
 * thread runs (so no connection finds the port closed), then a loop per thread, this one's
 * included. */
#ifndef BENCH_NET_RAW_SERVER_H
#define BENCH_NET_RAW_SERVER_H

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static int port = 7878; /* --port */
static bool http;       /* --http: answer http.h's hello world instead of echoing */

/* Parses `--port P`, `--workers W`, `--http` and, where `flag` is not NULL, that flag too (then
 * *flag_set says whether it was given). Anything else: `name`'s usage, and exit 2. Returns the
 * workers, at least 1. */
static int raw_server_args(const char *name, int argc, char **argv, const char *flag,
                           bool *flag_set)
{
    int workers = 1;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--port") == 0 && i + 1 < argc) {
            port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
            workers = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--http") == 0) {
            http = true;
        } else if (flag && strcmp(argv[i], flag) == 0) {
            *flag_set = true;
        } else {
            fprintf(stderr, "usage: %s [--port P] [--workers W] [--http]%s%s%s\n", name,
                    flag ? " [" : "", flag ? flag : "", flag ? "]" : "");
            exit(2);
        }
    }
    return workers < 1 ? 1 : workers;
}

/* A listener on `port` of every address, `sock_flags` (SOCK_NONBLOCK or 0) added to its
 * SOCK_CLOEXEC; exits with `name`'s error when it cannot be had. */
static int raw_server_listen(const char *name, int sock_flags)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | sock_flags, 0);
    int one = 1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 4096) < 0) {
        fprintf(stderr, "%s: listen: %s\n", name, strerror(errno));
        exit(1);
    }
    return fd;
}

/* Binds `workers` listeners (raw_server_listen's `sock_flags`), says so on stderr (`note`
 * after the count), and runs loop(listener fd as a pointer) on workers - 1 new threads and on
 * this one. Returns only if that loop does. */
static void raw_server_run(const char *name, int workers, int sock_flags, const char *note,
                           void *(*loop)(void *))
{
    int *lis = malloc(sizeof *lis * (size_t)workers);
    if (!lis) {
        fprintf(stderr, "%s: out of memory\n", name);
        exit(1);
    }
    for (int i = 0; i < workers; i++)
        lis[i] = raw_server_listen(name, sock_flags);
    fprintf(stderr, "%s: listening on 0.0.0.0:%d, %d workers%s%s\n", name, port, workers,
            http ? ", http" : "", note);
    pthread_t t;
    for (int i = 1; i < workers; i++)
        pthread_create(&t, NULL, loop, (void *)(intptr_t)lis[i]);
    loop((void *)(intptr_t)lis[0]);
}

#endif
