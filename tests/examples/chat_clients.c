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
#include <string.h>

#include "example_server.h"

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
    c->fd = connect_loopback(port);
    c->len = 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: chat_clients PATH-TO-chat_server\n");
        return 2;
    }
    char *server[] = {argv[1], "--port", "0", "--workers", "2", NULL};
    int port = start_example(server);
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
    stop_example();
    puts("chat_clients: ok");
    return 0;
}
