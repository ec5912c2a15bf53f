/* What the example tests share: start an example server as a child process, learn its port
 * from the line it prints, connect plain blocking sockets to it, fail loudly. */
#ifndef EDO_TEST_EXAMPLE_SERVER_H
#define EDO_TEST_EXAMPLE_SERVER_H

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <arpa/inet.h>

static pid_t example_pid = -1;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "%s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    if (example_pid > 0)
        kill(example_pid, SIGKILL);
    exit(1);
}

/* Runs argv (argv[0] the program's path) with its stdout on a pipe and returns the port of the
 * first line it prints, "<anything>listening on 127.0.0.1:PORT". */
static int start_example(char *const argv[])
{
    int out[2];
    if (pipe(out) < 0)
        fail("pipe", NULL);
    example_pid = fork();
    if (example_pid < 0)
        fail("fork", NULL);
    if (example_pid == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execv(argv[0], argv);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[256];
    const char *at;
    int port = 0;
    if (!f || !fgets(line, sizeof line, f) || !(at = strstr(line, "listening on ")) ||
        sscanf(at, "listening on 127.0.0.1:%d", &port) != 1)
        fail("the example did not say where it listens", argv[0]);
    return port;
}

static void stop_example(void)
{
    kill(example_pid, SIGTERM);
    waitpid(example_pid, NULL, 0);
}

/* A blocking connection to 127.0.0.1:port whose reads give up after 30 s. */
static int connect_loopback(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
        fail("connect", NULL);
    return fd;
}

#endif
