/* The test of examples/chat_server: starts it on a free port, connects three clients (plain
 * blocking sockets: the test does not use what it tests), and checks who gets which line.
 *
 *   chat_clients PATH-TO-chat_server
 *
 * Every read has a 30 s timeout, so a server that loses a message fails the test instead of
 * hanging it. Exit status 0 when every check passed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
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

static pid_t server = -1;

static void fail(const char *what, const char *detail)
{
    fprintf(stderr, "chat_clients: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    if (server > 0)
        kill(server, SIGKILL);
    exit(1);
}

typedef struct client {
    int fd;
    char buf[4096];
    size_t len;
} client;

/* The next line from the client's socket, without its newline. */
static const char *next_line(client *c, char *line, size_t cap)
{
    for (;;) {
        char *nl = memchr(c->buf, '\n', c->len);
        if (nl) {
            size_t n = (size_t)(nl - c->buf);
            if (n >= cap)
                fail("line too long", NULL);
            memcpy(line, c->buf, n);
            line[n] = 0;
            memmove(c->buf, nl + 1, c->len - n - 1);
            c->len -= n + 1;
            return line;
        }
        ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
        if (r <= 0)
            fail("read", r == 0 ? "connection closed" : "timed out or failed");
        c->len += (size_t)r;
    }
}

static void expect(client *c, const char *want)
{
    char line[4096];
    const char *got = next_line(c, line, sizeof line);
    if (strcmp(got, want) != 0) {
        fprintf(stderr, "chat_clients: expected \"%s\", got \"%s\"\n", want, got);
        fail("wrong line", NULL);
    }
}

static void say(client *c, const char *text)
{
    size_t n = strlen(text);
    if (send(c->fd, text, n, MSG_NOSIGNAL) != (ssize_t)n)
        fail("send", text);
}

static void connect_to(client *c, int port)
{
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 30};
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0)
        fail("connect", NULL);
    c->len = 0;
}

/* Starts the server; returns the port it printed. */
static int start(const char *path)
{
    int out[2];
    if (pipe(out) < 0)
        fail("pipe", NULL);
    server = fork();
    if (server < 0)
        fail("fork", NULL);
    if (server == 0) {
        dup2(out[1], 1);
        close(out[0]);
        execl(path, path, "--port", "0", "--workers", "2", (char *)NULL);
        _exit(127);
    }
    close(out[1]);
    FILE *f = fdopen(out[0], "r");
    char line[256];
    int port = 0;
    if (!f || !fgets(line, sizeof line, f) ||
        sscanf(line, "chat_server: listening on 127.0.0.1:%d", &port) != 1)
        fail("the server did not say where it listens", NULL);
    return port;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: chat_clients PATH-TO-chat_server\n");
        return 2;
    }
    int port = start(argv[1]);
    static client c[3];
    char want[64];
    for (int i = 0; i < 3; i++) {
        connect_to(&c[i], port);
        snprintf(want, sizeof want, "welcome %d", i + 1); /* each welcomed before the next */
        expect(&c[i], want);
    }
    say(&c[0], "hello from one\n");
    expect(&c[1], "1: hello from one");
    expect(&c[2], "1: hello from one");
    say(&c[1], "two, with\r\nsecond line\n"); /* two lines in one write; \r\n accepted */
    expect(&c[0], "2: two, with");            /* not its own "hello from one" back */
    expect(&c[0], "2: second line");
    expect(&c[2], "2: two, with");
    expect(&c[2], "2: second line");
    say(&c[2], "thr");
    say(&c[2], "ee\n"); /* a line in two writes */
    expect(&c[0], "3: three");
    expect(&c[1], "3: three");
    close(c[0].fd); /* a client leaves; the others go on */
    say(&c[1], "bye\n");
    expect(&c[2], "2: bye");
    static char long_line[3000]; /* over the server's 1024 bytes: the session ends */
    memset(long_line, 'z', sizeof long_line - 2);
    long_line[sizeof long_line - 2] = '\n';
    say(&c[2], long_line);
    expect(&c[2], "line too long: goodbye");
    char rest;
    if (recv(c[2].fd, &rest, 1, 0) > 0) /* the end (or a reset: the rest was left unread) */
        fail("the session did not end", NULL);
    connect_to(&c[0], port);
    expect(&c[0], "welcome 4");
    say(&c[0], "hi\n");
    expect(&c[1], "4: hi"); /* nothing of the long line came first */
    kill(server, SIGTERM);
    waitpid(server, NULL, 0);
    puts("chat_clients: ok");
    return 0;
}
