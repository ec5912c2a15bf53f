/* examples/echo_server shuts down gracefully on SIGTERM and SIGINT (ctest example.echo_server_*):
 *
 *   echo_server_shutdown PATH-TO-echo_server
 *
 * 1. SIGTERM with a connection open: new connections are refused at once, the open one is
 *    still served until the client closes it, and then the server exits 0.
 * 2. SIGINT with a connection that never closes: the server cuts it at its grace deadline
 *    (the client sees the end of the stream) and exits 0.
 * Every wait is bounded (socket timeouts, 60 s), so a broken server fails instead of hanging. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

#define FAIL(...)                                                                              \
    do {                                                                                       \
        fprintf(stderr, "echo_server_shutdown: " __VA_ARGS__);                                 \
        fputc('\n', stderr);                                                                   \
        exit(1);                                                                               \
    } while (0)

typedef struct server {
    pid_t pid;
    FILE *log; /* the server's stderr */
    int port;
} server;

/* Reads the server's next stderr line and fails unless it starts with `want`. */
static void expect_line(server *s, const char *want, char *line, size_t len)
{
    if (!fgets(line, (int)len, s->log))
        FAIL("server ended its output before \"%s\"", want);
    if (strncmp(line, want, strlen(want)) != 0)
        FAIL("expected \"%s\", got \"%s\"", want, line);
}

static void start(server *s, const char *path, const char *grace_ms)
{
    int fds[2];
    if (pipe(fds) < 0)
        FAIL("pipe: %s", strerror(errno));
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    char *argv[] = {(char *)path, "--port", "0", "--workers", "2", "--grace-ms",
                    (char *)grace_ms, NULL};
    int rc = posix_spawn(&s->pid, path, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0)
        FAIL("spawn %s: %s", path, strerror(rc));
    close(fds[1]);
    s->log = fdopen(fds[0], "r");
    char line[256];
    expect_line(s, "echo_server: listening on 0.0.0.0:", line, sizeof line);
    s->port = atoi(strrchr(line, ':') + 1);
}

static int dial(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval limit = {60, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof limit);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

static void echo_once(int fd, const char *msg)
{
    size_t len = strlen(msg);
    if (write(fd, msg, len) != (ssize_t)len)
        FAIL("write: %s", strerror(errno));
    char buf[64];
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        if (n <= 0)
            FAIL("echo of \"%s\": %s", msg, n == 0 ? "end of stream" : strerror(errno));
        got += (size_t)n;
    }
    if (memcmp(buf, msg, len) != 0)
        FAIL("echo of \"%s\" differs", msg);
}

static void expect_exit_0(server *s)
{
    int status;
    if (waitpid(s->pid, &status, 0) != s->pid)
        FAIL("waitpid: %s", strerror(errno));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        FAIL("server ended with status 0x%x, not exit 0", status);
    fclose(s->log);
}

/* Starts the server and opens one connection that has echoed `hello`. */
static int start_with_connection(server *s, const char *path, const char *grace_ms)
{
    start(s, path, grace_ms);
    int conn = dial(s->port);
    if (conn < 0)
        FAIL("connect: %s", strerror(-conn));
    echo_once(conn, "hello");
    return conn;
}

static void sigterm_finishes_open_connections(const char *path)
{
    server s;
    int conn = start_with_connection(&s, path, "60000");
    kill(s.pid, SIGTERM);
    char line[256];
    expect_line(&s, "echo_server: shutting down, 1 connections open", line, sizeof line);
    int late = dial(s.port); /* the listener is closed before that line is written */
    if (late != -ECONNREFUSED)
        FAIL("a connection after the shutdown began: %s",
             late >= 0 ? "accepted" : strerror(-late));
    echo_once(conn, "after the signal");
    close(conn);
    expect_line(&s, "echo_server: done (0 connections cut", line, sizeof line);
    expect_exit_0(&s);
}

static void sigint_cuts_at_the_deadline(const char *path)
{
    server s;
    int conn = start_with_connection(&s, path, "100");
    kill(s.pid, SIGINT);
    char buf[8];
    ssize_t n = read(conn, buf, sizeof buf); /* blocks until the server cuts it */
    if (n != 0 && !(n < 0 && errno == ECONNRESET))
        FAIL("the open connection was not ended at the deadline (%zd, %s)", n, strerror(errno));
    char line[256];
    expect_line(&s, "echo_server: shutting down, 1 connections open", line, sizeof line);
    expect_line(&s, "echo_server: done (1 connections cut", line, sizeof line);
    close(conn);
    expect_exit_0(&s);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        FAIL("usage: echo_server_shutdown PATH-TO-echo_server");
    signal(SIGPIPE, SIG_IGN);
    sigterm_finishes_open_connections(argv[1]);
    sigint_cuts_at_the_deadline(argv[1]);
    return 0;
}
