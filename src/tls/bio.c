/* The BIO between an OpenSSL session and edo's engine: two byte queues in the TLS stream, the
 * session writing its records into `out` and reading the peer's from `in`, the engine filling
 * `in` from the inner stream and draining `out` into it (engine.c).
 *
 * Why not OpenSSL's BIO pair: its two buffers (about 20 KiB each) are allocated at first use
 * and kept until the stream is freed, so an idle connection held 40 KiB it did not use. Here a
 * queue holds a buffer only while it holds bytes: a read that waits for the peer holds none (the
 * engine lends the inner stream a buffer only for the poll), and records leave their buffer
 * as soon as the inner stream took them. And a write into `out` never fails for lack of room,
 * so SSL_write never asks to be repeated with the same bytes (the engine bounds `out` itself,
 * by sealing only while little waits there). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tls.h"

static void queue_free(edo__tls_queue *q)
{
    free(q->buf);
    *q = (edo__tls_queue){0};
}

size_t edo__tls_queue_len(const edo__tls_queue *q) { return q->end - q->start; }

void edo__tls_queue_consume(edo__tls_queue *q, size_t n)
{
    q->start += n;
    if (q->start == q->end)
        queue_free(q); /* drained: an idle stream keeps no buffer */
}

char *edo__tls_queue_room(edo__tls_queue *q, size_t want, size_t *room)
{
    if (q->cap - q->end < want) {
        size_t len = edo__tls_queue_len(q);
        if (q->start > 0 && q->cap - len >= want) {
            memmove(q->buf, q->buf + q->start, len); /* rare: `in` is empty when it is filled */
        } else {
            size_t cap = len + want < 2 * q->cap ? 2 * q->cap : len + want; /* appends: doubling */
            char *buf = malloc(cap);
            if (!buf)
                return NULL;
            if (len)
                memcpy(buf, q->buf + q->start, len);
            free(q->buf);
            q->buf = buf;
            q->cap = cap;
        }
        q->start = 0;
        q->end = len;
    }
    *room = q->cap - q->end;
    return q->buf + q->end;
}

void edo__tls_queues_free(edo__tls *t)
{
    queue_free(&t->in);
    queue_free(&t->out);
}

/* ---- the BIO's methods: the session's side ---- */

static int bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
    edo__tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t room;
    char *at = edo__tls_queue_room(&t->out, len, &room);
    if (!at)
        return 0; /* out of memory: the session fails the call */
    memcpy(at, data, len);
    t->out.end += len;
    *written = len;
    return 1;
}

static int bio_read(BIO *b, char *data, size_t len, size_t *got)
{
    edo__tls *t = BIO_get_data(b);
    BIO_clear_retry_flags(b);
    size_t have = edo__tls_queue_len(&t->in);
    if (have == 0) {
        *got = 0;
        if (!t->inner_eof)
            BIO_set_retry_read(b); /* the session reports SSL_ERROR_WANT_READ */
        return 0;                  /* without the retry flag: the end of the stream */
    }
    size_t n = len < have ? len : have;
    memcpy(data, t->in.buf + t->in.start, n);
    edo__tls_queue_consume(&t->in, n);
    *got = n;
    return 1;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)num, (void)ptr;
    edo__tls *t = BIO_get_data(b);
    switch (cmd) {
    case BIO_CTRL_FLUSH:
        return 1; /* the engine sends what waits; nothing to do in here */
    case BIO_CTRL_PENDING:
        return (long)edo__tls_queue_len(&t->in);
    case BIO_CTRL_WPENDING:
        return (long)edo__tls_queue_len(&t->out);
    case BIO_CTRL_EOF:
        return t->inner_eof && edo__tls_queue_len(&t->in) == 0;
    default:
        return 0; /* not supported (kTLS, datagram, ...) */
    }
}

static int bio_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

static BIO_METHOD *method;
static pthread_once_t method_once = PTHREAD_ONCE_INIT;

/* Made once per process, kept until it exits. */
static void make_method(void)
{
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "edo stream");
    if (m && BIO_meth_set_write_ex(m, bio_write) && BIO_meth_set_read_ex(m, bio_read) &&
        BIO_meth_set_ctrl(m, bio_ctrl) && BIO_meth_set_create(m, bio_create)) {
        method = m;
    } else {
        BIO_meth_free(m);
    }
}

BIO *edo__tls_bio_new(edo__tls *t)
{
    pthread_once(&method_once, make_method);
    BIO *b = method ? BIO_new(method) : NULL;
    if (b)
        BIO_set_data(b, t);
    return b;
}
