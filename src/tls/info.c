/* What a TLS stream can tell about its session: the ALPN protocol, the peer's certificate, the
 * server name, the last failure's explanation. Each reads the session under the stream's lock. */
#include <errno.h>
#include <openssl/x509.h>
#include <string.h>

#include "tls/tls.h"

/* Copies `n` bytes of `text` into buf with a NUL: returns n, or -ENOSPC. */
static int copy_out(const void *text, size_t n, char *buf, size_t len)
{
    if (n >= len)
        return -ENOSPC;
    memcpy(buf, text, n);
    buf[n] = '\0';
    return (int)n;
}

/* The stream locked, or NULL (then *rc is -EINVAL) for a bad stream or a bad buffer. */
static edo__tls *lock_checked(edo_stream *s, const char *buf, size_t len, bool need_room,
                              int *rc)
{
    edo__tls *t = edo__tls_of(s);
    if (!t || (!buf && len) || (need_room && !len)) {
        *rc = -EINVAL;
        return NULL;
    }
    pthread_mutex_lock(&t->lock);
    return t;
}

int edo_tls_alpn_selected(edo_stream *tls, char *buf, size_t len)
{
    int rc;
    edo__tls *t = lock_checked(tls, buf, len, false, &rc);
    if (!t)
        return rc;
    const unsigned char *name = NULL;
    unsigned n = 0;
    if (t->handshake == HS_DONE)
        SSL_get0_alpn_selected(t->ssl, &name, &n);
    if (n == 0 && len > 0)
        buf[0] = '\0';
    rc = n == 0 ? 0 : copy_out(name, n, buf, len);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int edo_tls_peer_verified(edo_stream *tls)
{
    int rc;
    edo__tls *t = lock_checked(tls, NULL, 0, false, &rc);
    if (!t)
        return rc;
    X509 *peer = t->handshake == HS_DONE ? SSL_get0_peer_certificate(t->ssl) : NULL;
    rc = peer && t->config->verify && SSL_get_verify_result(t->ssl) == X509_V_OK;
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int edo_tls_peer_subject(edo_stream *tls, char *buf, size_t len)
{
    int rc;
    edo__tls *t = lock_checked(tls, buf, len, true, &rc);
    if (!t)
        return rc;
    X509 *peer = t->handshake == HS_DONE ? SSL_get0_peer_certificate(t->ssl) : NULL;
    BIO *mem = peer ? BIO_new(BIO_s_mem()) : NULL;
    if (!peer) {
        rc = -ENOENT;
    } else if (!mem ||
               X509_NAME_print_ex(mem, X509_get_subject_name(peer), 0, XN_FLAG_RFC2253) < 0) {
        rc = -ENOMEM;
    } else {
        char *text;
        long n = BIO_get_mem_data(mem, &text);
        rc = copy_out(text, (size_t)n, buf, len);
    }
    BIO_free(mem);
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int edo_tls_server_name(edo_stream *tls, char *buf, size_t len)
{
    int rc;
    edo__tls *t = lock_checked(tls, buf, len, true, &rc);
    if (!t)
        return rc;
    const char *name = t->config->role == EDO_TLS_CLIENT
                           ? t->server_name
                           : SSL_get_servername(t->ssl, TLSEXT_NAMETYPE_host_name);
    rc = name ? copy_out(name, strlen(name), buf, len) : -ENOENT;
    pthread_mutex_unlock(&t->lock);
    return rc;
}

int edo_tls_last_error(edo_stream *tls, char *buf, size_t len)
{
    int rc;
    edo__tls *t = lock_checked(tls, buf, len, true, &rc);
    if (!t)
        return rc;
    size_t n = strnlen(t->last_error, len - 1);
    memcpy(buf, t->last_error, n);
    buf[n] = '\0';
    pthread_mutex_unlock(&t->lock);
    return (int)n;
}
