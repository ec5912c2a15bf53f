/* One client connection: RESP2 requests in, replies out, through the framed adapter.
 *
 * Replies are appended to the framed's write buffer, and the framed writes them out when it
 * next has to wait for input (flush_before_read): every command that came in one read is
 * answered by one write, which is what makes pipelining cheap. In subscribed mode the
 * connection waits for a request and for messages on its channels at once (edo_select over the
 * framed's next and each subscription's broadcast receive; the losers are dropped, which loses
 * nothing: both are cancel-safe). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mini_redis.h"

/* Flush when this much is buffered even though more requests are waiting (large pipelines). */
#define WRITE_HIGH_WATER (64 * 1024)

/* A request that decoded but is not a command (not an array of bulk strings): -ERR, and the
 * connection goes on (the framing is intact). An empty array is ignored, as redis does. */
static int run_request(conn *c)
{
    const edo_resp_value *v = &c->request.value;
    if (v->type == EDO_RESP_ARRAY && v->len == 0)
        return 0;
    bool ok = v->type == EDO_RESP_ARRAY;
    for (size_t i = 0; ok && i < v->len; i++)
        ok = v->items[i].type == EDO_RESP_BULK;
    if (!ok) {
        static const char text[] = "ERR Protocol error: expected an array of bulk strings";
        return edo_resp_append_error(edo_framed_write_buffer(&c->framed), text, sizeof text - 1);
    }
    return command_run(c, v->items, v->len);
}

/* Appends the messages each subscription has waiting (without waiting for more). */
static int drain_messages(conn *c)
{
    edo_bytes *out = edo_framed_write_buffer(&c->framed);
    for (size_t i = 0; i < c->nsubs; i++) {
        subscription *s = &c->subs[i];
        uint64_t seq, missed;
        int rc;
        while ((rc = edo_broadcast_try_recv(s->rx, &seq, &missed)) != -EAGAIN) {
            if (rc == 0 && pubsub_append_message(s, seq, out) < 0)
                return -ENOMEM;
            if (rc < 0 && rc != -EOVERFLOW)
                break; /* a lagging subscriber skips what it missed (-EOVERFLOW) */
        }
    }
    return 0;
}

/* Subscribed mode: waits for a request (1, in c->request), or for messages (2: appended to the
 * write buffer and flushed), or the end (0), or an error. */
static int next_subscribed(conn *c)
{
    size_t n = 1 + c->nsubs;
    edo_future *stack[17];
    edo_future **futures = n <= 17 ? stack : malloc(n * sizeof *futures);
    if (!futures)
        return -ENOMEM;
    edo_framed_future next;
    edo_framed_next_future_init(&next, &c->framed, &c->request);
    futures[0] = &next.base;
    for (size_t i = 0; i < c->nsubs; i++) {
        subscription *s = &c->subs[i];
        edo_broadcast_recv_future_init(&s->recv, s->rx, &s->seq);
        futures[i + 1] = &s->recv.base;
    }
    int which = edo_select(futures, n, EDO_SELECT_FAIR, NULL);
    int rc;
    if (which == 0) {
        rc = next.result;
    } else if (which > 0) {
        subscription *s = &c->subs[which - 1];
        rc = s->recv.result == 0 ? pubsub_append_message(s, s->seq, edo_framed_write_buffer(
                                                                        &c->framed))
                                 : 0;
        rc = rc < 0 ? rc : 2;
    } else {
        rc = which; /* -ECANCELED: the server is going away */
    }
    for (size_t i = 0; i < n; i++)
        edo_future_drop(futures[i]);
    if (futures != stack)
        free(futures);
    if (rc == 2 && drain_messages(c) == 0)
        rc = edo_framed_flush(&c->framed) < 0 ? -EPIPE : 2;
    return rc;
}

void *conn_serve(void *arg)
{
    conn_start *start = arg;
    conn c = {.srv = start->srv};
    edo_tcp *tcp = start->tcp;
    free(start);
    edo_tcp_set_nodelay(tcp, true);
    edo_stream *stream = edo_tcp_stream(tcp);
    edo_resp_codec_init(&c.codec, &(edo_resp_config){.inline_commands = true});
    edo_framed_init(&c.framed, stream, &c.codec.base,
                    &(edo_framed_config){.flush_before_read = true, .read_size = 16 * 1024});
    edo_resp_frame_init(&c.request);
    for (;;) {
        int rc = c.nsubs > 0 ? next_subscribed(&c) : edo_framed_next(&c.framed, &c.request);
        if (rc == 2)
            continue;
        if (rc != 1) {
            /* A frame that breaks the protocol: tell the client why, then close (nothing tells
             * where the next request would start). */
            const char *why = edo_resp_codec_error(&c.codec);
            char text[128];
            if (rc < 0 && why) {
                int n = snprintf(text, sizeof text, "ERR %s", why);
                edo_resp_append_error(edo_framed_write_buffer(&c.framed), text, (size_t)n);
            }
            break;
        }
        if (run_request(&c) < 0 || c.quit)
            break;
        if (edo_bytes_len(edo_framed_write_buffer(&c.framed)) > WRITE_HIGH_WATER &&
            edo_framed_flush(&c.framed) < 0)
            break;
    }
    edo_framed_flush(&c.framed); /* the last replies (QUIT's, a protocol error's) */
    while (c.nsubs > 0)
        pubsub_unsubscribe(c.srv->pubsub, &c.subs[--c.nsubs]);
    free(c.subs);
    edo_resp_frame_drop(&c.request);
    edo_framed_drop(&c.framed);
    edo_stream_close(stream);
    return NULL;
}
