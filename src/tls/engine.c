/* The TLS engine: moves records between the stream's queues (bio.c) and the inner stream with
 * the inner stream's poll functions, and turns OpenSSL's failures into error codes and words.
 * Every function here runs with the stream's lock held (see tls.h). */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "tls/tls.h"

size_t edo__tls_pending_out(const edo__tls *t) { return edo__tls_queue_len(&t->out); }

static void drop_inner_write(edo__tls *t)
{
    edo_stream_waiter_drop(t->inner, &t->inner_write);
    t->wr_owner = NULL;
    t->wr_owner_is_reader = false;
}

edo_poll edo__tls_push(edo__tls *t, edo_stream_waiter *w, edo_context *cx, int *err)
{
    *err = 0;
    while (edo__tls_pending_out(t) > 0) {
        if (t->write_error) {
            *err = t->write_error;
            break;
        }
        struct iovec iov = {t->out.buf + t->out.start, edo__tls_pending_out(t)};
        ssize_t written;
        if (t->inner->vtable->poll_write(t->inner, &t->inner_write, cx, &iov, 1, &written) ==
            EDO_PENDING) {
            t->wr_owner = w;
            return EDO_PENDING;
        }
        drop_inner_write(t);
        if (written < 0) {
            t->write_error = (int)written;
            *err = (int)written;
            break;
        }
        edo__tls_queue_consume(&t->out, (size_t)written);
    }
    if (t->wr_owner == w)
        drop_inner_write(t);
    return EDO_READY;
}

edo_poll edo__tls_pull(edo__tls *t, edo_stream_waiter *w, edo_context *cx, int *err)
{
    /* A whole record fits, so that one read of the inner stream can bring one. */
    size_t room;
    char *at = edo__tls_queue_room(&t->in, EDO__TLS_RECORD_WIRE, &room);
    if (!at) {
        *err = -ENOMEM;
        return EDO_READY;
    }
    *err = 0;
    ssize_t got;
    edo_poll p = t->inner->vtable->poll_read(t->inner, &t->inner_read, cx, at, room, &got);
    if (p == EDO_READY) {
        edo_stream_waiter_drop(t->inner, &t->inner_read);
        t->rd_owner = NULL;
        if (got > 0)
            t->in.end += (size_t)got;
        else if (got == 0)
            t->inner_eof = true; /* once `in` is drained, the session reads the end */
        else
            *err = (int)got;
    } else {
        t->rd_owner = w;
    }
    edo__tls_queue_consume(&t->in, 0); /* nothing came: the buffer goes back while we wait */
    return p;
}

void edo__tls_release(edo__tls *t, edo_stream_waiter *w)
{
    if (t->rd_owner == w) {
        edo_stream_waiter_drop(t->inner, &t->inner_read);
        t->rd_owner = NULL;
    }
    if (t->wr_owner != w)
        return;
    bool writer = !t->wr_owner_is_reader;
    /* The inner write itself stays: a pending write of the inner stream may already be moving
     * its bytes (a socket's send through the completion ring, net/send_ring.c), and dropping it
     * would cancel it after an unknown part went out, which the next push would send again.
     * The next push polls it again with the same waiter and learns the count. */
    t->wr_owner = NULL;
    t->wr_owner_is_reader = false;
    /* A write that leaves records behind (its inner write not ready): a waiting read pushes
     * them now. */
    if (writer && edo__tls_pending_out(t) > 0)
        edo_waker_wake_by_ref(&t->reader);
}

void edo__tls_error_text(char *buf, size_t len, const char *fallback)
{
    const char *data = NULL;
    int flags = 0;
    unsigned long e = ERR_get_error_all(NULL, NULL, NULL, &data, &flags);
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    if (!reason) {
        snprintf(buf, len, "%s", fallback);
    } else if (data && *data && (flags & ERR_TXT_STRING)) {
        snprintf(buf, len, "%s (%s)", reason, data);
    } else {
        snprintf(buf, len, "%s", reason);
    }
    ERR_clear_error();
}

int edo__tls_fail(edo__tls *t, int ssl_error)
{
    unsigned long e = ERR_peek_error();
    int reason = ERR_GET_LIB(e) == ERR_LIB_SSL ? ERR_GET_REASON(e) : 0;
    long verify = SSL_get_verify_result(t->ssl);
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED && verify != X509_V_OK) {
        snprintf(t->last_error, sizeof t->last_error, "certificate verify failed: %s",
                 X509_verify_cert_error_string(verify));
        ERR_clear_error();
        return -EKEYREJECTED;
    }
    if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
        edo__tls_error_text(t->last_error, sizeof t->last_error, "");
        return -EKEYREJECTED;
    }
    if (t->inner_eof &&
        (ssl_error == SSL_ERROR_SYSCALL || reason == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        snprintf(t->last_error, sizeof t->last_error,
                 "the peer closed the connection without close_notify");
        ERR_clear_error();
        return -ECONNABORTED;
    }
    edo__tls_error_text(t->last_error, sizeof t->last_error, "TLS protocol error");
    return -EPROTO;
}
