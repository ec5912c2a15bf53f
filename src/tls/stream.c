/* The TLS stream: an edo_stream whose reads and writes go through an OpenSSL session, the
 * records through the engine (engine.c) to the inner stream. See tls.h for who holds which
 * inner waiter. */
#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdlib.h>
#include <string.h>

#include "tls/tls.h"

/* ---- reading ------------------------------------------------------------------------------- */

/* A read that has to wait: remembered, with its waker, for a write that leaves records behind
 * (the read sends them). */
static edo_poll read_wait(edo__tls *t, edo_stream_waiter *w, edo_context *cx)
{
    t->read_op = w;
    const edo_waker *waker = edo_context_waker(cx);
    if (!edo_waker_will_wake(&t->reader, waker)) {
        edo_waker_drop(&t->reader);
        t->reader = edo_waker_clone(waker);
    }
    return EDO_PENDING;
}

/* The operation of `w` is over (done, or its waiter dropped): what it held goes. */
static void forget(edo__tls *t, edo_stream_waiter *w)
{
    if (t->read_op == w) {
        t->read_op = NULL;
        edo_waker_drop(&t->reader);
    }
    if (t->write_op == w)
        t->write_op = NULL;
    edo__tls_release(t, w);
}

static edo_poll op_done(edo__tls *t, edo_stream_waiter *w, ssize_t value, ssize_t *result)
{
    forget(t, w);
    *result = value;
    return EDO_READY;
}

/* The session needs the peer's bytes: first pushes out records that wait (if the inner write
 * is free, or this read's already), then reads from the inner stream. EDO_READY with *err set
 * to try the session again (0) or to fail. */
static edo_poll read_feed(edo__tls *t, edo_stream_waiter *w, edo_context *cx, int *err)
{
    if (edo__tls_pending_out(t) > 0 && !t->write_op && (!t->wr_owner || t->wr_owner == w)) {
        if (edo__tls_push(t, w, cx, err) == EDO_PENDING)
            t->wr_owner_is_reader = true; /* its failure is the write side's to report */
    }
    return edo__tls_pull(t, w, cx, err);
}

/* A read, or with `peek` a wait until a read would not wait (SSL_peek: the record is decrypted
 * and kept for the read). */
static edo_poll read_locked(edo__tls *t, edo_stream_waiter *w, edo_context *cx, void *buf,
                            size_t len, bool peek, ssize_t *result)
{
    if (t->handshake != HS_DONE)
        return op_done(t, w, t->read_error ? t->read_error : -ENOTCONN, result);
    if (t->read_op && t->read_op != w)
        return op_done(t, w, -EBUSY, result);
    if (!edo_coop_proceed(cx))
        return EDO_PENDING; /* nothing registered: the budget woke us already */
    for (;;) {
        if (t->read_error)
            return op_done(t, w, t->read_error, result);
        size_t got;
        ERR_clear_error();
        if (peek ? SSL_peek_ex(t->ssl, buf, len, &got) : SSL_read_ex(t->ssl, buf, len, &got))
            return op_done(t, w, (ssize_t)got, result);
        int e = SSL_get_error(t->ssl, 0);
        if (e == SSL_ERROR_ZERO_RETURN) {
            ERR_clear_error();
            return op_done(t, w, 0, result); /* close_notify: the clean end */
        }
        if (e != SSL_ERROR_WANT_READ) { /* never WANT_WRITE: `out` takes every record */
            t->read_error = edo__tls_fail(t, e);
            continue;
        }
        int err;
        if (read_feed(t, w, cx, &err) == EDO_PENDING)
            return read_wait(t, w, cx);
        if (err < 0)
            t->read_error = err;
    }
}

static edo_poll tls_poll_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                              size_t len, ssize_t *result)
{
    edo__tls *t = (edo__tls *)s;
    pthread_mutex_lock(&t->lock);
    edo_poll p = read_locked(t, w, cx, buf, len, false, result);
    pthread_mutex_unlock(&t->lock);
    return p;
}

/* ---- the write side: write, flush, shutdown ------------------------------------------------ */

static edo_poll write_wait(edo__tls *t, edo_stream_waiter *w)
{
    t->write_op = w;
    return EDO_PENDING;
}

/* The checks every write-side operation starts with: 0 to go on, or the error to end with. */
static int write_check(edo__tls *t, edo_stream_waiter *w)
{
    if (t->handshake != HS_DONE)
        return t->write_error ? t->write_error : -ENOTCONN;
    if (t->write_op && t->write_op != w)
        return -EBUSY;
    if (t->wr_owner && t->wr_owner_is_reader) {
        /* Taken back from the read that borrowed it: the next poll re-registers it for us. */
        t->wr_owner = w;
        t->wr_owner_is_reader = false;
    }
    return 0;
}

/* Pieces of a writev smaller than this are copied together into one record (on the stack),
 * rather than each sealed into a record of its own (22 bytes of overhead and an AEAD pass
 * each): a burst of small replies goes out as one record. */
#define GATHER 1024

/* A position in an iovec array. */
typedef struct cursor {
    const struct iovec *iov;
    int cnt, i;
    size_t off;
} cursor;

static size_t cursor_left(const cursor *c) { return c->iov[c->i].iov_len - c->off; }

static void cursor_skip(cursor *c, size_t n)
{
    while (c->i < c->cnt && n >= cursor_left(c)) {
        n -= cursor_left(c);
        c->i++;
        c->off = 0;
    }
    if (c->i < c->cnt)
        c->off += n;
}

/* The next plaintext for one SSL_write: whole small pieces gathered into `gather` while they
 * fit, else (a large piece) up to a record's worth of the piece itself. */
static size_t next_chunk(const cursor *c, char *gather, const char **p)
{
    size_t left = cursor_left(c);
    *p = (const char *)c->iov[c->i].iov_base + c->off;
    if (left >= GATHER || c->i + 1 == c->cnt || c->iov[c->i + 1].iov_len >= GATHER - left)
        return left < EDO__TLS_RECORD_PLAIN ? left : EDO__TLS_RECORD_PLAIN;
    size_t n = 0;
    for (cursor g = *c; g.i < g.cnt && cursor_left(&g) <= GATHER - n; g.i++, g.off = 0) {
        memcpy(gather + n, (const char *)g.iov[g.i].iov_base + g.off, cursor_left(&g));
        n += cursor_left(&g);
    }
    *p = gather;
    return n;
}

/* Seals plaintext into records while little waits in `out`; returns the count. */
static ssize_t seal(edo__tls *t, const struct iovec *iov, int iovcnt)
{
    cursor c = {iov, iovcnt, 0, 0};
    cursor_skip(&c, 0); /* past empty pieces */
    char gather[GATHER];
    ssize_t sealed = 0;
    while (c.i < c.cnt && edo__tls_pending_out(t) < EDO__TLS_OUT_HIGH) {
        const char *p;
        size_t chunk = next_chunk(&c, gather, &p), n;
        ERR_clear_error();
        if (!SSL_write_ex(t->ssl, p, chunk, &n)) {
            t->write_error = edo__tls_fail(t, SSL_get_error(t->ssl, 0));
            return sealed ? sealed : t->write_error;
        }
        cursor_skip(&c, n);
        sealed += (ssize_t)n;
    }
    return sealed;
}

/* Pushes records out until a write may seal more: EDO_READY with *err 0 or the error, or
 * EDO_PENDING. */
static edo_poll make_room(edo__tls *t, edo_stream_waiter *w, edo_context *cx, int *err)
{
    *err = 0;
    if (edo__tls_pending_out(t) < EDO__TLS_OUT_HIGH)
        return EDO_READY;
    return edo__tls_push(t, w, cx, err);
}

static edo_poll write_locked(edo__tls *t, edo_stream_waiter *w, edo_context *cx,
                             const struct iovec *iov, int iovcnt, ssize_t *result)
{
    int rc = write_check(t, w);
    if (rc < 0)
        return op_done(t, w, rc, result);
    if (t->shutdown_sent)
        return op_done(t, w, -EPIPE, result);
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total == 0)
        return op_done(t, w, 0, result);
    if (!edo_coop_proceed(cx))
        return EDO_PENDING;
    if (make_room(t, w, cx, &rc) == EDO_PENDING)
        return write_wait(t, w); /* nothing sealed yet: cancelling loses nothing */
    if (rc < 0)
        return op_done(t, w, rc, result);
    if (t->write_error)
        return op_done(t, w, t->write_error, result);
    ssize_t sealed = seal(t, iov, iovcnt);
    /* Send what was sealed now if the inner stream takes it; if not, it goes with the next
     * write, flush, shutdown, or a read that waits for the peer (edo__tls_release). */
    int err;
    edo__tls_push(t, w, cx, &err);
    return op_done(t, w, err < 0 ? err : sealed, result);
}

static edo_poll tls_poll_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                               const struct iovec *iov, int iovcnt, ssize_t *result)
{
    edo__tls *t = (edo__tls *)s;
    pthread_mutex_lock(&t->lock);
    edo_poll p = write_locked(t, w, cx, iov, iovcnt, result);
    pthread_mutex_unlock(&t->lock);
    return p;
}

static edo_poll flush_locked(edo__tls *t, edo_stream_waiter *w, edo_context *cx,
                             ssize_t *result)
{
    int err = write_check(t, w);
    if (err < 0)
        return op_done(t, w, err, result);
    if (edo__tls_push(t, w, cx, &err) == EDO_PENDING)
        return write_wait(t, w);
    return op_done(t, w, err, result);
}

/* Seals close_notify (once), sends it with whatever waits, then shuts down the inner stream's
 * write half. The peer's close_notify is not awaited: reading stays possible. */
static edo_poll shutdown_locked(edo__tls *t, edo_stream_waiter *w, edo_context *cx,
                                ssize_t *result)
{
    int err = write_check(t, w);
    if (err < 0)
        return op_done(t, w, err, result);
    if (t->write_shut)
        return op_done(t, w, 0, result);
    if (!t->shutdown_sent) {
        if (t->write_error)
            return op_done(t, w, t->write_error, result);
        ERR_clear_error();
        int rc = SSL_shutdown(t->ssl);
        if (rc < 0) {
            t->write_error = edo__tls_fail(t, SSL_get_error(t->ssl, rc));
            return op_done(t, w, t->write_error, result);
        }
        t->shutdown_sent = true;
    }
    if (edo__tls_push(t, w, cx, &err) == EDO_PENDING)
        return write_wait(t, w);
    if (err < 0)
        return op_done(t, w, err, result);
    if (t->inner->vtable->poll_shutdown) {
        ssize_t rc;
        if (t->inner->vtable->poll_shutdown(t->inner, &t->inner_write, cx, &rc) == EDO_PENDING) {
            t->wr_owner = w;
            return write_wait(t, w);
        }
        edo_stream_waiter_drop(t->inner, &t->inner_write);
        t->wr_owner = NULL;
        if (rc < 0)
            return op_done(t, w, rc, result);
    }
    t->write_shut = true;
    return op_done(t, w, 0, result);
}

/* flush and shutdown, under the lock */
typedef edo_poll (*side_op)(edo__tls *t, edo_stream_waiter *w, edo_context *cx,
                            ssize_t *result);

static edo_poll locked(edo_stream *s, edo_stream_waiter *w, edo_context *cx, ssize_t *result,
                       side_op op)
{
    edo__tls *t = (edo__tls *)s;
    pthread_mutex_lock(&t->lock);
    edo_poll p = op(t, w, cx, result);
    pthread_mutex_unlock(&t->lock);
    return p;
}

static edo_poll tls_poll_flush(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                               ssize_t *result)
{
    return locked(s, w, cx, result, flush_locked);
}

static edo_poll tls_poll_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                  ssize_t *result)
{
    return locked(s, w, cx, result, shutdown_locked);
}

/* ---- readiness ----------------------------------------------------------------------------- */

/* Readable: a read would not wait (plaintext decrypted, the end, or an error to report).
 * Writable: a write would seal at once (little waits to go out, or the write would fail at
 * once). Each side waits as its operation does, and counts as one (-EBUSY beside
 * another read, or another write-side operation). */
static edo_poll ready_locked(edo__tls *t, edo_stream_waiter *w, edo_context *cx,
                             uint32_t interest, ssize_t *result)
{
    ssize_t bits = 0;
    if (interest & EDO_WRITABLE) {
        int err = write_check(t, w);
        if (err == -EBUSY || err == -ENOTCONN)
            return op_done(t, w, err, result);
        if (err < 0 || t->shutdown_sent || make_room(t, w, cx, &err) == EDO_READY)
            bits |= EDO_WRITABLE;
        else
            t->write_op = w;
    }
    if (interest & EDO_READABLE) {
        char byte;
        ssize_t r;
        if (read_locked(t, w, cx, &byte, 1, true, &r) == EDO_READY)
            bits = r == -EBUSY || r == -ENOTCONN ? r : bits | EDO_READABLE;
    }
    if (bits == 0)
        return EDO_PENDING;
    return op_done(t, w, bits, result);
}

static edo_poll tls_poll_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                               uint32_t interest, ssize_t *result)
{
    edo__tls *t = (edo__tls *)s;
    pthread_mutex_lock(&t->lock);
    edo_poll p = ready_locked(t, w, cx, interest, result);
    pthread_mutex_unlock(&t->lock);
    return p;
}

/* ---- abandoning, closing ------------------------------------------------------------------- */

static void tls_drop_waiter(edo_stream *s, edo_stream_waiter *w)
{
    edo__tls *t = (edo__tls *)s;
    pthread_mutex_lock(&t->lock);
    forget(t, w);
    pthread_mutex_unlock(&t->lock);
}

static int tls_close(edo_stream *s) { return edo__tls_free((edo__tls *)s, false); }

static const edo_stream_vtable tls_vtable = {
    .poll_read = tls_poll_read,
    .poll_write = tls_poll_write,
    .poll_flush = tls_poll_flush,
    .poll_shutdown = tls_poll_shutdown,
    .poll_ready = tls_poll_ready,
    .drop_waiter = tls_drop_waiter,
    .close = tls_close,
};

edo__tls *edo__tls_of(edo_stream *s)
{
    return s && s->vtable == &tls_vtable ? (edo__tls *)s : NULL;
}

/* ---- making and freeing -------------------------------------------------------------------- */

static bool is_ip_literal(const char *name)
{
    unsigned char addr[16];
    return inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
}

/* The client's side of naming the server: SNI for a host name, and what the certificate must
 * match (a host name, or an IP address literal, which SNI never carries). */
static int name_server(edo__tls *t, const char *name)
{
    t->server_name = strdup(name);
    if (!t->server_name)
        return -ENOMEM;
    bool ip = is_ip_literal(name);
    if (!ip && !SSL_set_tlsext_host_name(t->ssl, name))
        return -ENOMEM;
    if (!t->config->verify)
        return 0;
    /* "*.example.com" matches a name, "f*.example.com" nothing (as browsers and curl). */
    SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    int ok = ip ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), name)
                : SSL_set1_host(t->ssl, name);
    return ok ? 0 : -ENOMEM;
}

int edo__tls_new(edo_stream *inner, edo_tls_config *config, const char *server_name,
                 edo__tls **out)
{
    edo__tls *t = calloc(1, sizeof *t);
    if (!t)
        return -ENOMEM;
    t->base.vtable = &tls_vtable;
    t->inner = inner;
    t->config = config;
    edo__tls_config_ref(config);
    pthread_mutex_init(&t->lock, NULL);
    edo_stream_waiter_init(&t->inner_read);
    edo_stream_waiter_init(&t->inner_write);
    t->ssl = SSL_new(config->ctx);
    BIO *bio = t->ssl ? edo__tls_bio_new(t) : NULL;
    if (!bio)
        goto fail;
    SSL_set_bio(t->ssl, bio, bio); /* the session owns it from here */
    if (config->role == EDO_TLS_SERVER) {
        SSL_set_accept_state(t->ssl);
    } else {
        SSL_set_connect_state(t->ssl);
        if (server_name && name_server(t, server_name) < 0)
            goto fail;
    }
    ERR_clear_error();
    *out = t;
    return 0;
fail:
    ERR_clear_error();
    edo__tls_free(t, true);
    return -ENOMEM;
}

int edo__tls_free(edo__tls *t, bool keep_inner)
{
    /* An inner write left pending by a write that ended (edo__tls_release) lets go now. */
    edo_stream_waiter_drop(t->inner, &t->inner_write);
    edo_stream_waiter_drop(t->inner, &t->inner_read);
    int rc = keep_inner ? 0 : edo_stream_close(t->inner);
    SSL_free(t->ssl); /* and its BIO */
    edo__tls_queues_free(t);
    edo_waker_drop(&t->reader);
    edo_tls_config_free(t->config);
    free(t->server_name);
    pthread_mutex_destroy(&t->lock);
    free(t);
    return rc;
}
