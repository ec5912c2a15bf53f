/* TLS configurations: edo_tls_options checked and turned into an OpenSSL SSL_CTX, shared by
 * every stream made with it (each stream holds a reference, so the caller may free its own
 * while they live). */
#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edo/error.h"
#include "tls/tls.h"

bool edo_tls_is_available(void) { return true; }

void edo__tls_config_ref(edo_tls_config *cfg) { atomic_fetch_add(&cfg->refs, 1); }

void edo_tls_config_free(edo_tls_config *cfg)
{
    if (!cfg || atomic_fetch_sub(&cfg->refs, 1) != 1)
        return;
    SSL_CTX_free(cfg->ctx);
    free(cfg->alpn_wire);
    free(cfg);
}

/* The options edo_tls_config_new refuses before touching OpenSSL (see edo/tls.h). */
static bool options_valid(const edo_tls_options *o)
{
    if (o->role != EDO_TLS_CLIENT && o->role != EDO_TLS_SERVER)
        return false;
    if (o->min_version != EDO_TLS_1_2 && o->min_version != EDO_TLS_1_3)
        return false;
    if ((o->role == EDO_TLS_SERVER && !o->cert_file) || (o->key_file && !o->cert_file))
        return false;
    if (o->role == EDO_TLS_SERVER && o->dangerously_skip_verification)
        return false;
    if (!o->alpn && o->alpn_count)
        return false;
    size_t wire = 0;
    for (size_t i = 0; i < o->alpn_count; i++) {
        size_t n = o->alpn[i] ? strlen(o->alpn[i]) : 0;
        if (n == 0 || n > 255)
            return false;
        wire += 1 + n;
        if (wire > 65535) /* the list's own length field is two bytes */
            return false;
    }
    return true;
}

/* The ALPN list as the handshake carries it: each name after a length byte. */
static int alpn_wire(edo_tls_config *cfg, const edo_tls_options *o)
{
    size_t total = 0;
    for (size_t i = 0; i < o->alpn_count; i++)
        total += 1 + strlen(o->alpn[i]);
    if (total == 0)
        return 0;
    cfg->alpn_wire = malloc(total);
    if (!cfg->alpn_wire)
        return -ENOMEM;
    unsigned char *p = cfg->alpn_wire;
    for (size_t i = 0; i < o->alpn_count; i++) {
        size_t n = strlen(o->alpn[i]);
        *p++ = (unsigned char)n;
        memcpy(p, o->alpn[i], n);
        p += n;
    }
    cfg->alpn_wire_len = (unsigned)total;
    return 0;
}

/* Server: the first of our protocols that the client offers; none in common ends the
 * handshake with no_application_protocol (RFC 7301), as a silent fallback would let the two
 * sides speak different protocols. */
static int select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                       const unsigned char *in, unsigned inlen, void *arg)
{
    (void)ssl;
    edo_tls_config *cfg = arg;
    unsigned char *chosen;
    if (SSL_select_next_proto(&chosen, outlen, cfg->alpn_wire, cfg->alpn_wire_len, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = chosen;
    return SSL_TLSEXT_ERR_OK;
}

/* A path OpenSSL failed to load: -ENOENT when it cannot be read at all, else -EPROTO (not the
 * kind of PEM expected). */
static int load_error(const char *path, bool dir)
{
    return access(path, dir ? R_OK | X_OK : R_OK) == 0 ? -EPROTO : -ENOENT;
}

static int load_trust(SSL_CTX *ctx, const edo_tls_options *o)
{
    if (!o->ca_file && !o->ca_dir)
        return SSL_CTX_set_default_verify_paths(ctx) ? 0 : -EPROTO;
    if (SSL_CTX_load_verify_locations(ctx, o->ca_file, o->ca_dir))
        return 0;
    if (o->ca_file && load_error(o->ca_file, false) == -ENOENT)
        return -ENOENT;
    return o->ca_dir ? load_error(o->ca_dir, true) : -EPROTO;
}

static int load_identity(SSL_CTX *ctx, const edo_tls_options *o)
{
    const char *key = o->key_file ? o->key_file : o->cert_file;
    if (!SSL_CTX_use_certificate_chain_file(ctx, o->cert_file))
        return load_error(o->cert_file, false);
    if (!SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM)) {
        unsigned long e = ERR_peek_last_error();
        bool mismatch = ERR_GET_LIB(e) == ERR_LIB_X509 &&
                        (ERR_GET_REASON(e) == X509_R_KEY_VALUES_MISMATCH ||
                         ERR_GET_REASON(e) == X509_R_KEY_TYPE_MISMATCH);
        return mismatch ? -EKEYREJECTED : load_error(key, false);
    }
    return SSL_CTX_check_private_key(ctx) ? 0 : -EKEYREJECTED;
}

static int configure(edo_tls_config *cfg, const edo_tls_options *o)
{
    bool server = o->role == EDO_TLS_SERVER;
    SSL_CTX *ctx = cfg->ctx;
    if (!SSL_CTX_set_min_proto_version(ctx, o->min_version == EDO_TLS_1_3 ? TLS1_3_VERSION
                                                                         : TLS1_2_VERSION))
        return -EPROTO;
    /* No session resumption is offered (edo keeps no session cache), so no tickets either: a
     * server would otherwise send two after each handshake, for nothing. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (server)
        SSL_CTX_set_num_tickets(ctx, 0);
    /* OpenSSL's own record buffers go back while a connection is idle. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    cfg->verify = server ? o->verify_client : !o->dangerously_skip_verification;
    int rc = 0;
    if (cfg->verify) {
        rc = load_trust(ctx, o);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | (server ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                           NULL);
    } else {
        SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
    }
    if (rc == 0 && o->cert_file)
        rc = load_identity(ctx, o);
    if (rc == 0)
        rc = alpn_wire(cfg, o);
    if (rc == 0 && cfg->alpn_wire) {
        if (server)
            SSL_CTX_set_alpn_select_cb(ctx, select_alpn, cfg);
        else if (SSL_CTX_set_alpn_protos(ctx, cfg->alpn_wire, cfg->alpn_wire_len) != 0)
            rc = -ENOMEM; /* returns 0 on success, unlike its neighbours */
    }
    return rc;
}

int edo_tls_config_new_error(const edo_tls_options *options, edo_tls_config **out, char *err,
                             size_t len)
{
    if (err && len)
        err[0] = '\0';
    if (!options || !out || (!err && len) || !options_valid(options))
        return -EINVAL;
    edo_tls_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg)
        return -ENOMEM;
    atomic_init(&cfg->refs, 1);
    cfg->role = options->role;
    ERR_clear_error();
    cfg->ctx = SSL_CTX_new(options->role == EDO_TLS_SERVER ? TLS_server_method()
                                                           : TLS_client_method());
    int rc = cfg->ctx ? configure(cfg, options) : -ENOMEM;
    if (rc < 0) {
        if (err && len)
            edo__tls_error_text(err, len, edo_strerror(rc));
        ERR_clear_error();
        edo_tls_config_free(cfg);
        return rc;
    }
    *out = cfg;
    return 0;
}

int edo_tls_config_new(const edo_tls_options *options, edo_tls_config **out)
{
    return edo_tls_config_new_error(options, out, NULL, 0);
}
