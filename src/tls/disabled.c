/* edo built without TLS (EDO_WITH_TLS=OFF, or no OpenSSL found): the calls of edo/tls.h exist,
 * so a program builds and links against either kind of edo, and answer -ENOTSUP. */
#include <errno.h>
#include <string.h>

#include "edo/tls.h"

bool edo_tls_is_available(void) { return false; }

int edo_tls_config_new_error(const edo_tls_options *options, edo_tls_config **out, char *err,
                             size_t len)
{
    (void)options;
    (void)out;
    if (err && len)
        strncpy(err, "edo was built without TLS", len - 1)[len - 1] = '\0';
    return -ENOTSUP;
}

int edo_tls_config_new(const edo_tls_options *options, edo_tls_config **out)
{
    return edo_tls_config_new_error(options, out, NULL, 0);
}

void edo_tls_config_free(edo_tls_config *cfg) { (void)cfg; }

int edo_tls_client_new(edo_stream *inner, const edo_tls_config *config, const char *server_name,
                       edo_stream **out)
{
    (void)inner, (void)config, (void)server_name, (void)out;
    return -ENOTSUP;
}

int edo_tls_server_new(edo_stream *inner, const edo_tls_config *config, edo_stream **out)
{
    (void)inner, (void)config, (void)out;
    return -ENOTSUP;
}

int edo_tls_handshake(edo_stream *tls)
{
    (void)tls;
    return -ENOTSUP;
}

int edo_tls_connect(edo_stream *inner, const edo_tls_config *config, const char *server_name,
                    edo_stream **out)
{
    return edo_tls_client_new(inner, config, server_name, out);
}

int edo_tls_accept(edo_stream *inner, const edo_tls_config *config, edo_stream **out)
{
    return edo_tls_server_new(inner, config, out);
}

/* The futures complete at their first poll with -ENOTSUP. */
static edo_poll unsupported_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)cx, (void)out;
    ((edo_tls_future *)self)->result = -ENOTSUP;
    return EDO_READY;
}

static const edo_future_vtable unsupported_vtable = {unsupported_poll, NULL};

static void unsupported_init(edo_tls_future *f)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &unsupported_vtable;
}

void edo_tls_handshake_future_init(edo_tls_future *f, edo_stream *tls)
{
    (void)tls;
    unsupported_init(f);
}

void edo_tls_connect_future_init(edo_tls_future *f, edo_stream *inner,
                                 const edo_tls_config *config, const char *server_name)
{
    (void)inner, (void)config, (void)server_name;
    unsupported_init(f);
}

void edo_tls_accept_future_init(edo_tls_future *f, edo_stream *inner,
                                const edo_tls_config *config)
{
    (void)inner, (void)config;
    unsupported_init(f);
}

int edo_tls_alpn_selected(edo_stream *tls, char *buf, size_t len)
{
    (void)tls, (void)buf, (void)len;
    return -ENOTSUP;
}

int edo_tls_peer_verified(edo_stream *tls)
{
    (void)tls;
    return -ENOTSUP;
}

int edo_tls_peer_subject(edo_stream *tls, char *buf, size_t len)
{
    (void)tls, (void)buf, (void)len;
    return -ENOTSUP;
}

int edo_tls_server_name(edo_stream *tls, char *buf, size_t len)
{
    (void)tls, (void)buf, (void)len;
    return -ENOTSUP;
}

int edo_tls_last_error(edo_stream *tls, char *buf, size_t len)
{
    (void)tls, (void)buf, (void)len;
    return -ENOTSUP;
}
