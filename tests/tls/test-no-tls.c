/* edo built without TLS (EDO_WITH_TLS=OFF): edo/tls.h's calls are there and answer -ENOTSUP,
 * so a program written for TLS builds, links and can tell at run time. */
#include <string.h>

#include "edo.h"
#include "harness.h"

TEST(every_call_is_unsupported)
{
    CHECK(!edo_tls_is_available());
    edo_tls_config *cfg = NULL;
    char err[64] = "";
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){0}, &cfg), -ENOTSUP);
    CHECK_EQ(edo_tls_config_new_error(&(edo_tls_options){0}, &cfg, err, sizeof err), -ENOTSUP);
    CHECK(strstr(err, "without TLS") != NULL);
    CHECK(cfg == NULL);
    edo_tls_config_free(cfg);
    edo_stream *a, *b, *tls = NULL;
    CHECK_EQ(edo_duplex_new(16, &a, &b), 0);
    CHECK_EQ(edo_tls_client_new(a, cfg, "localhost", &tls), -ENOTSUP);
    CHECK_EQ(edo_tls_server_new(a, cfg, &tls), -ENOTSUP);
    CHECK_EQ(edo_tls_handshake(a), -ENOTSUP);
    CHECK_EQ(edo_tls_connect(a, cfg, "localhost", &tls), -ENOTSUP);
    CHECK_EQ(edo_tls_accept(a, cfg, &tls), -ENOTSUP);
    CHECK(tls == NULL);
    edo_tls_future f;
    edo_tls_connect_future_init(&f, a, cfg, "localhost");
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, -ENOTSUP);
    edo_future_drop(&f.base);
    char buf[16];
    CHECK_EQ(edo_tls_alpn_selected(a, buf, sizeof buf), -ENOTSUP);
    CHECK_EQ(edo_tls_peer_verified(a), -ENOTSUP);
    CHECK_EQ(edo_tls_peer_subject(a, buf, sizeof buf), -ENOTSUP);
    CHECK_EQ(edo_tls_server_name(a, buf, sizeof buf), -ENOTSUP);
    CHECK_EQ(edo_tls_last_error(a, buf, sizeof buf), -ENOTSUP);
    CHECK_EQ(edo_stream_close(a), 0);
    CHECK_EQ(edo_stream_close(b), 0);
}
