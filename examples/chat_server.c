/* A line chat server: every line a client sends goes to every other client, after the sender's
 * number.
 *
 *   chat_server [--port P] [--workers W]     (port 7000; 0: any free port; it prints the address)
 *
 *   $ nc 127.0.0.1 7000          $ nc 127.0.0.1 7000
 *   welcome 1                    welcome 2
 *   hello                        1: hello
 *   2: hi                        hi
 *
 * Each connection is one edo_stream split into a read half and a write half (edo_stream_split),
 * each used by its own coroutine: the session reads lines and publishes them on a broadcast
 * channel (edo/sync.h), and its delivery task receives every message from the channel and
 * writes the others' to the client. A client that falls behind by more than the channel holds
 * is told how many messages it missed instead of slowing everybody down.
 *
 * Lines come from a buffered reader (edo/buffered.h) over the read half; a line longer than
 * MAX_LINE ends the session with a last word to its client. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edo.h"
#include "edo/buffered.h"
#include "edo/stream_copy.h"

#define MAX_LINE 1024
#define BACKLOG 256 /* messages the channel holds for a slow client */

typedef struct message {
    uint64_t from;
    uint32_t len;
    char text[MAX_LINE];
} message;

static edo_broadcast *room;
static atomic_uint_fast64_t last_id;

/* ---- a client -------------------------------------------------------------------------------- */

typedef struct client {
    uint64_t id;
    edo_stream *reader, *writer;
    edo_broadcast_receiver *rx;
} client;

/* The delivery task: every message from the others, as "N: text\n". Ends when the client's
 * session aborts it, or when writing to the client fails. */
static void *deliver(void *arg)
{
    client *c = arg;
    message m;
    char out[MAX_LINE + 32];
    uint64_t missed;
    for (;;) {
        int rc = edo_broadcast_recv(c->rx, &m, &missed), n;
        if (rc == 0 && m.from == c->id)
            continue;
        if (rc == 0)
            n = snprintf(out, sizeof out, "%llu: %.*s\n", (unsigned long long)m.from, (int)m.len,
                         m.text);
        else if (rc == -EOVERFLOW)
            n = snprintf(out, sizeof out, "(missed %llu messages)\n", (unsigned long long)missed);
        else
            break;
        if (edo_stream_write_all(c->writer, out, (size_t)n) < 0)
            break;
    }
    return NULL;
}

static void chat(client *c)
{
    char hello[64];
    int n = snprintf(hello, sizeof hello, "welcome %llu\n", (unsigned long long)c->id);
    edo_task *delivery;
    if (edo_stream_write_all(c->writer, hello, (size_t)n) < 0 ||
        edo_spawn(deliver, c, &delivery) < 0)
        return;
    edo_buf_reader *lines;
    int rc = edo_buf_reader_new(c->reader, 0, &lines);
    if (rc == 0) {
        c->reader = edo_buf_reader_stream(lines); /* owns the read half now */
        const char *line;
        size_t len;
        message m = {.from = c->id};
        while ((rc = edo_buf_reader_next_line(lines, MAX_LINE + 1, &line, &len)) == 1) {
            m.len = (uint32_t)len;
            memcpy(m.text, line, len);
            edo_broadcast_send(room, &m); /* -EPIPE only without receivers: we are one */
        }
    }
    edo_task_abort(delivery); /* the client left (or must): stop writing to it */
    edo_task_join(delivery, NULL);
    edo_task_free(delivery);
    if (rc == -EMSGSIZE) { /* the write half is the session's again */
        static const char too_long[] = "line too long: goodbye\n";
        edo_stream_write_all(c->writer, too_long, sizeof too_long - 1);
    }
}

static void *session(void *arg)
{
    edo_stream *s = edo_tcp_stream(arg);
    client c = {.id = atomic_fetch_add(&last_id, 1) + 1};
    if (edo_stream_split(s, &c.reader, &c.writer) < 0) {
        edo_stream_close(s);
        return NULL;
    }
    /* Subscribed before the welcome: a client that has read it gets every later message. */
    if (edo_broadcast_subscribe(room, &c.rx) == 0) {
        chat(&c);
        edo_broadcast_receiver_close(c.rx);
    }
    edo_stream_close(c.reader);
    edo_stream_close(c.writer); /* the second half closes the connection */
    return NULL;
}

/* Out of fds, for the process (-EMFILE) or the system (-ENFILE): not fatal, connections end. */
static bool out_of_fds(int rc) { return rc == -EMFILE || rc == -ENFILE; }

static void *serve(void *arg)
{
    edo_tcp_listener *lis;
    int rc = edo_tcp_listen(arg, NULL, &lis);
    if (rc < 0) {
        fprintf(stderr, "chat_server: listen: %s\n", edo_strerror(rc));
        return NULL;
    }
    edo_sockaddr addr;
    char text[EDO_SOCKADDR_TEXT];
    if (edo_tcp_listener_local_addr(lis, &addr) == 0 &&
        edo_sockaddr_format(&addr, text, sizeof text) >= 0) {
        printf("chat_server: listening on %s\n", text);
        fflush(stdout);
    }
    for (edo_tcp *c; (rc = edo_tcp_accept(lis, &c, NULL)) == 0 || out_of_fds(rc);) {
        if (rc == 0 && edo_spawn_detached(session, c) < 0)
            edo_tcp_close(c);
        if (rc < 0)
            edo_sleep(EDO_MSEC(10)); /* out of fds: let some connections finish */
    }
    edo_tcp_listener_close(lis);
    return NULL;
}

int main(int argc, char **argv)
{
    int port = 7000;
    unsigned workers = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--port") == 0) {
            port = atoi(argv[i + 1]);
        } else if (strcmp(argv[i], "--workers") == 0) {
            workers = (unsigned)atoi(argv[i + 1]);
        } else {
            fprintf(stderr, "usage: chat_server [--port P] [--workers W]\n");
            return 2;
        }
    }
    char addr[32];
    snprintf(addr, sizeof addr, "127.0.0.1:%d", port);
    edo_runtime_config cfg = {.worker_threads = workers};
    edo_runtime *rt;
    int rc = edo_runtime_new(&cfg, &rt);
    if (rc < 0 || (rc = edo_broadcast_new(BACKLOG, sizeof(message), &room)) < 0) {
        fprintf(stderr, "chat_server: %s\n", edo_strerror(rc));
        return 1;
    }
    edo_task *t;
    if (edo_spawn_with(rt, NULL, serve, addr, &t) == 0) {
        edo_task_join(t, NULL); /* serve returns only when listening failed */
        edo_task_free(t);
    }
    edo_runtime_free(rt);
    return 1;
}
