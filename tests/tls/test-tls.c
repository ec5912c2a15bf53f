/* TLS between edo's own client and server over in-memory duplex pairs: handshakes, ALPN, SNI,
 * verification failures with their codes and words, close_notify both ways, truncation, a
 * large full-duplex transfer, cancellation that loses nothing, the future forms polled by
 * hand. Real peers (openssl s_server, s_client, curl) and TCP: test-tls-peers.c. */
#include <string.h>

#include "harness.h"
#include "tls/tls_test.h"
#include "util.h"

/* Polls a future by hand with a waker that does nothing. */
static edo_poll poll_by_hand(edo_future *f)
{
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    return edo_future_poll(f, &cx, NULL);
}

TEST(available) { CHECK(edo_tls_is_available()); }

TEST(bad_input)
{
    edo_tls_config *cfg;
    char err[128];
    CHECK_EQ(edo_tls_config_new(NULL, &cfg), -EINVAL);
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){0}, NULL), -EINVAL);
    CHECK_EQ(edo_tls_config_new_error(&(edo_tls_options){0}, &cfg, NULL, 4), -EINVAL);
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){.role = 2}, &cfg), -EINVAL);
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){.min_version = 7}, &cfg), -EINVAL);
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){.role = EDO_TLS_SERVER}, &cfg), -EINVAL);
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){.key_file = "k"}, &cfg), -EINVAL);
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){.alpn_count = 1}, &cfg), -EINVAL);
    const char *empty[] = {""}, *null[] = {NULL};
    char long_name[300];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    const char *too_long[] = {long_name};
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){.alpn = empty, .alpn_count = 1}, &cfg),
             -EINVAL);
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){.alpn = null, .alpn_count = 1}, &cfg),
             -EINVAL);
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){.alpn = too_long, .alpn_count = 1}, &cfg),
             -EINVAL);
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){.role = EDO_TLS_SERVER,
                                                   .cert_file = cert("server.pem"),
                                                   .key_file = cert("server.key"),
                                                   .dangerously_skip_verification = true},
                                &cfg),
             -EINVAL);
    /* Files: missing, not PEM, a key that is not the certificate's. */
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){.ca_file = "/nonexistent/ca.pem"}, &cfg),
             -ENOENT);
    CHECK_EQ(edo_tls_config_new_error(&(edo_tls_options){.ca_file = cert("garbage.pem")}, &cfg,
                                      err, sizeof err),
             -EPROTO);
    CHECK(err[0] != '\0');
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){.role = EDO_TLS_SERVER,
                                                   .cert_file = cert("server.pem"),
                                                   .key_file = "/nonexistent/server.key"},
                                &cfg),
             -ENOENT);
    CHECK_EQ(edo_tls_config_new(&(edo_tls_options){.role = EDO_TLS_SERVER,
                                                   .cert_file = cert("server.pem"),
                                                   .key_file = cert("client.key")},
                                &cfg),
             -EKEYREJECTED);

    /* Streams: the wrong role, no name to verify, NULLs; questions to a stream not TLS. */
    edo_tls_config *client = client_config(NULL), *server = server_config("server", NULL);
    edo_stream *a, *b, *tls;
    CHECK_EQ(edo_duplex_new(64, &a, &b), 0);
    CHECK_EQ(edo_tls_client_new(a, server, "localhost", &tls), -EINVAL);
    CHECK_EQ(edo_tls_client_new(a, client, NULL, &tls), -EINVAL);
    CHECK_EQ(edo_tls_client_new(a, client, "", &tls), -EINVAL);
    CHECK_EQ(edo_tls_client_new(NULL, client, "localhost", &tls), -EINVAL);
    CHECK_EQ(edo_tls_client_new(a, NULL, "localhost", &tls), -EINVAL);
    CHECK_EQ(edo_tls_client_new(a, client, "localhost", NULL), -EINVAL);
    CHECK_EQ(edo_tls_server_new(a, client, &tls), -EINVAL);
    CHECK_EQ(edo_tls_connect(a, client, "localhost", NULL), -EINVAL);
    CHECK_EQ(edo_tls_accept(a, client, &tls), -EINVAL);
    CHECK_EQ(edo_tls_handshake(a), -EINVAL);
    CHECK_EQ(edo_tls_handshake(NULL), -EINVAL);
    char buf[16];
    CHECK_EQ(edo_tls_alpn_selected(a, buf, sizeof buf), -EINVAL);
    CHECK_EQ(edo_tls_peer_verified(a), -EINVAL);
    CHECK_EQ(edo_tls_peer_subject(a, buf, sizeof buf), -EINVAL);
    CHECK_EQ(edo_tls_server_name(NULL, buf, sizeof buf), -EINVAL);
    CHECK_EQ(edo_tls_last_error(a, buf, sizeof buf), -EINVAL);
    edo_tls_future f;
    edo_tls_connect_future_init(&f, a, server, "localhost");
    CHECK_EQ(poll_by_hand(&f.base), EDO_READY);
    CHECK_EQ(f.result, -EINVAL);
    CHECK(f.stream == NULL);
    edo_future_drop(&f.base);
    edo_tls_connect_future_init(NULL, a, client, "localhost"); /* no-op */

    /* A fresh stream: no I/O yet; reads and writes wait for the handshake; questions answer. */
    CHECK_EQ(edo_tls_client_new(a, client, "localhost", &tls), 0);
    CHECK_EQ(edo_tls_alpn_selected(tls, buf, sizeof buf), 0);
    CHECK_EQ(edo_tls_alpn_selected(tls, NULL, 1), -EINVAL);
    CHECK_EQ(edo_tls_peer_verified(tls), 0);
    CHECK_EQ(edo_tls_peer_subject(tls, buf, sizeof buf), -ENOENT);
    CHECK_EQ(edo_tls_peer_subject(tls, buf, 0), -EINVAL);
    CHECK_EQ(edo_tls_server_name(tls, buf, sizeof buf), 9);
    CHECK(strcmp(buf, "localhost") == 0);
    CHECK_EQ(edo_tls_server_name(tls, buf, 9), -ENOSPC);
    CHECK_EQ(edo_tls_last_error(tls, buf, sizeof buf), 0);
    edo_stream_future r;
    edo_stream_read_future_init(&r, tls, buf, sizeof buf);
    CHECK_EQ(poll_by_hand(&r.base), EDO_READY);
    CHECK_EQ(r.result, -ENOTCONN);
    edo_future_drop(&r.base);
    CHECK_EQ(edo_stream_close(tls), 0); /* closes `a` */
    CHECK_EQ(edo_stream_close(b), 0);
    edo_tls_config_free(client);
    edo_tls_config_free(server);
    edo_tls_config_free(NULL);
}

/* ---- the future forms, polled by hand: no runtime ---- */

/* Connects a client and a server over a duplex pair by polling both futures in turn. */
static void handshake_by_hand(size_t capacity, edo_tls_config *ccfg, edo_tls_config *scfg,
                              edo_stream **client, edo_stream **server)
{
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(capacity, &a, &b), 0);
    edo_tls_future c, s;
    edo_tls_connect_future_init(&c, a, ccfg, "localhost");
    edo_tls_accept_future_init(&s, b, scfg);
    bool c_done = false, s_done = false;
    for (int round = 0; round < 10000 && !(c_done && s_done); round++) {
        c_done = c_done || poll_by_hand(&c.base) == EDO_READY;
        s_done = s_done || poll_by_hand(&s.base) == EDO_READY;
    }
    CHECK(c_done && s_done);
    CHECK_EQ(c.result, 0);
    CHECK_EQ(s.result, 0);
    *client = c.stream;
    *server = s.stream;
    edo_future_drop(&c.base);
    edo_future_drop(&s.base);
}

/* Reads with a read future that is dropped every time it waits: whatever came is delivered
 * once, in order, by a later read. The writer moves on between the reads. */
TEST(cancelled_reads_lose_nothing)
{
    edo_tls_config *ccfg = client_config(NULL), *scfg = server_config("server", NULL);
    edo_stream *client, *server;
    /* A tiny pipe: a record arrives in many pieces, so reads wait half-way through one. */
    handshake_by_hand(100, ccfg, scfg, &client, &server);
    enum { LEN = 40000 };
    char *sent = malloc(LEN), *got = malloc(LEN);
    for (size_t i = 0; i < LEN; i++)
        sent[i] = (char)(i * 7 + i / 251);
    /* The server's write, then its flush, and a client read each round; every read that has
     * to wait is dropped. */
    edo_stream_future w, fl;
    edo_stream_write_all_future_init(&w, server, sent, LEN);
    bool written = false, flushed = false;
    size_t have = 0;
    int cancelled = 0;
    for (int round = 0; round < 100000 && (have < LEN || !flushed); round++) {
        if (!written && poll_by_hand(&w.base) == EDO_READY) {
            CHECK_EQ(w.result, 0);
            edo_future_drop(&w.base);
            written = true;
            edo_stream_flush_future_init(&fl, server);
        } else if (written && !flushed && poll_by_hand(&fl.base) == EDO_READY) {
            CHECK_EQ(fl.result, 0);
            edo_future_drop(&fl.base);
            flushed = true;
        }
        size_t want = LEN - have < 1000 ? LEN - have : 1000;
        if (want == 0)
            continue;
        edo_stream_future r;
        edo_stream_read_future_init(&r, client, got + have, want);
        if (poll_by_hand(&r.base) == EDO_READY) {
            CHECK(r.result > 0);
            have += (size_t)r.result;
        } else {
            cancelled++;
        }
        edo_future_drop(&r.base);
    }
    CHECK(flushed);
    CHECK_EQ(have, LEN);
    CHECK(memcmp(sent, got, LEN) == 0);
    CHECK(cancelled > 10); /* reads really were dropped half-way */
    free(sent);
    free(got);
    CHECK_EQ(edo_stream_close(client), 0);
    CHECK_EQ(edo_stream_close(server), 0);
    edo_tls_config_free(ccfg);
    edo_tls_config_free(scfg);
}

/* A connect future dropped half-way frees what it made and leaves the inner stream to the
 * caller; a second handshake on one stream is refused; a second read at once is -EBUSY. */
TEST(futures_dropped_and_busy)
{
    edo_tls_config *ccfg = client_config(NULL), *scfg = server_config("server", NULL);
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(4096, &a, &b), 0);
    edo_tls_future c;
    edo_tls_connect_future_init(&c, a, ccfg, "localhost");
    CHECK_EQ(poll_by_hand(&c.base), EDO_PENDING); /* the ClientHello is out, no answer */
    edo_future_drop(&c.base);
    CHECK(c.stream == NULL);
    CHECK_EQ(edo_stream_close(a), 0); /* still ours */
    CHECK_EQ(edo_stream_close(b), 0);

    CHECK_EQ(edo_duplex_new(4096, &a, &b), 0);
    edo_stream *tls;
    CHECK_EQ(edo_tls_client_new(a, ccfg, "localhost", &tls), 0);
    edo_tls_future h1, h2;
    edo_tls_handshake_future_init(&h1, tls);
    edo_tls_handshake_future_init(&h2, tls);
    CHECK_EQ(poll_by_hand(&h1.base), EDO_PENDING);
    CHECK_EQ(poll_by_hand(&h2.base), EDO_READY);
    CHECK_EQ(h2.result, -EINVAL); /* already running */
    edo_future_drop(&h2.base);
    edo_future_drop(&h1.base); /* interrupted: the stream is broken */
    char buf[8];
    edo_stream_future r;
    edo_stream_read_future_init(&r, tls, buf, sizeof buf);
    CHECK_EQ(poll_by_hand(&r.base), EDO_READY);
    CHECK_EQ(r.result, -ECANCELED);
    edo_future_drop(&r.base);
    CHECK_EQ(edo_stream_close(tls), 0);
    CHECK_EQ(edo_stream_close(b), 0);

    edo_stream *client, *server;
    handshake_by_hand(4096, ccfg, scfg, &client, &server);
    edo_stream_future r1, r2;
    edo_stream_read_future_init(&r1, client, buf, sizeof buf);
    edo_stream_read_future_init(&r2, client, buf, sizeof buf);
    CHECK_EQ(poll_by_hand(&r1.base), EDO_PENDING);
    CHECK_EQ(poll_by_hand(&r2.base), EDO_READY);
    CHECK_EQ(r2.result, -EBUSY);
    edo_future_drop(&r2.base);
    edo_future_drop(&r1.base);
    CHECK_EQ(edo_stream_close(client), 0);
    CHECK_EQ(edo_stream_close(server), 0);
    edo_tls_config_free(ccfg);
    edo_tls_config_free(scfg);
}

/* ---- coroutines ---- */

static void *hello_body(void *arg)
{
    (void)arg;
    session ss = session_open(64 * 1024, "http/1.1");
    edo_stream *client = ss.client, *server = ss.server;
    char buf[64];
    /* ALPN: the server's only protocol, which the client offered second. */
    CHECK_EQ(edo_tls_alpn_selected(client, buf, sizeof buf), 8);
    CHECK(strcmp(buf, "http/1.1") == 0);
    CHECK_EQ(edo_tls_alpn_selected(server, buf, sizeof buf), 8);
    CHECK_EQ(edo_tls_alpn_selected(server, buf, 8), -ENOSPC);
    CHECK_EQ(edo_tls_peer_verified(client), 1);
    CHECK_EQ(edo_tls_peer_verified(server), 0); /* no client certificate asked for */
    CHECK(edo_tls_peer_subject(client, buf, sizeof buf) > 0);
    CHECK(strcmp(buf, "CN=localhost") == 0);
    CHECK_EQ(edo_tls_peer_subject(server, buf, sizeof buf), -ENOENT);
    CHECK_EQ(edo_tls_server_name(server, buf, sizeof buf), 9); /* SNI */
    CHECK(strcmp(buf, "localhost") == 0);

    CHECK_EQ(edo_stream_write_all(client, "ping", 4), 0);
    CHECK_EQ(edo_stream_flush(client), 0);
    CHECK_EQ(read_full(server, buf, 4), 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    /* close_notify one way: the server reads the end, and can still answer. */
    CHECK_EQ(edo_stream_shutdown(client), 0);
    CHECK_EQ(edo_stream_shutdown(client), 0); /* twice: 0 */
    CHECK_EQ(edo_stream_write(client, "x", 1), -EPIPE);
    CHECK_EQ(edo_stream_read(server, buf, sizeof buf), 0);
    CHECK_EQ(edo_stream_read(server, buf, sizeof buf), 0);
    CHECK_EQ(edo_stream_write_all(server, "pong", 4), 0);
    /* and the other way */
    CHECK_EQ(edo_stream_shutdown(server), 0);
    CHECK_EQ(read_full(client, buf, sizeof buf), 4);
    CHECK(memcmp(buf, "pong", 4) == 0);
    CHECK_EQ(edo_stream_read(client, buf, sizeof buf), 0);
    CHECK_EQ(edo_tls_last_error(client, buf, sizeof buf), 0);
    session_close(&ss);
    return NULL;
}

TEST(handshake_alpn_sni_close_notify)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, hello_body, NULL);
}

/* A handshake that must fail: the client's code and words, the server's code. */
typedef struct failure {
    const char *server_cert, *name;
    edo_tls_options client; /* ca_file filled in */
    edo_tls_options server; /* cert, key filled in */
    int client_rc, server_rc;
    const char *words; /* in the failing side's edo_tls_last_error */
} failure;

static void *failure_body(void *arg)
{
    failure *f = arg;
    char pem[64], key[64];
    snprintf(pem, sizeof pem, "%s.pem", f->server_cert);
    snprintf(key, sizeof key, "%s.key", f->server_cert);
    f->client.ca_file = cert("ca.pem");
    f->server.role = EDO_TLS_SERVER;
    f->server.cert_file = cert(pem);
    f->server.key_file = cert(key);
    f->server.ca_file = cert("ca.pem");
    edo_tls_config *ccfg = make_config(&f->client), *scfg = make_config(&f->server);
    edo_stream *a, *b, *client;
    CHECK_EQ(edo_duplex_new(64 * 1024, &a, &b), 0);
    accept_job job = {.inner = b, .config = scfg};
    edo_task *task;
    CHECK_EQ(edo_spawn(accept_task, &job, &task), 0);
    CHECK_EQ(edo_tls_client_new(a, ccfg, f->name, &client), 0);
    int rc = edo_tls_handshake(client);
    char text[256] = "";
    if (rc == 0 && f->client_rc != 0) {
        /* TLS 1.3: the client is done before the server judges its certificate; the server's
         * alert comes with the first read. */
        char buf[8];
        rc = (int)edo_stream_read(client, buf, sizeof buf);
    }
    CHECK_EQ(rc, f->client_rc);
    int verified = edo_tls_peer_verified(client);
    edo_tls_last_error(client, text, sizeof text);
    CHECK_EQ(edo_stream_close(client), 0);
    CHECK_EQ(edo_task_join(task, NULL), 0);
    edo_task_free(task);
    CHECK_EQ(job.rc, f->server_rc);
    if (f->server_rc == 0 && f->server.verify_client) {
        char subject[64];
        CHECK_EQ(edo_tls_peer_verified(job.tls), 1);
        CHECK(edo_tls_peer_subject(job.tls, subject, sizeof subject) > 0);
        CHECK(strcmp(subject, "CN=edo client") == 0);
    }
    if (f->server_rc == 0) {
        CHECK_EQ(edo_stream_close(job.tls), 0);
        CHECK_EQ(verified, !f->client.dangerously_skip_verification);
    } else if (f->client_rc == 0 || f->server_rc == -EKEYREJECTED) {
        CHECK(job.tls == NULL);
    }
    if (!strstr(text, f->words)) {
        fprintf(stderr, "client's last error: \"%s\", want \"%s\"\n", text, f->words);
        CHECK(0);
    }
    edo_tls_config_free(ccfg);
    edo_tls_config_free(scfg);
    return NULL;
}

static void expect_failure(failure f) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, failure_body, &f); }

TEST(wrong_host_name)
{
    expect_failure((failure){.server_cert = "server", .name = "example.com",
                             .client_rc = -EKEYREJECTED, .server_rc = -EPROTO,
                             .words = "hostname mismatch"});
    expect_failure((failure){.server_cert = "other", .name = "localhost",
                             .client_rc = -EKEYREJECTED, .server_rc = -EPROTO,
                             .words = "hostname mismatch"});
    /* An IP address is checked against the certificate's IP addresses. */
    expect_failure((failure){.server_cert = "server", .name = "127.0.0.2",
                             .client_rc = -EKEYREJECTED, .server_rc = -EPROTO,
                             .words = "IP address mismatch"});
    expect_failure((failure){.server_cert = "server", .name = "127.0.0.1", .words = ""});
}

TEST(untrusted_certificate)
{
    expect_failure((failure){.server_cert = "rogue", .name = "localhost",
                             .client_rc = -EKEYREJECTED, .server_rc = -EPROTO,
                             .words = "unable to get local issuer certificate"});
    /* Turned off: the same certificate passes, and the stream says it was not verified. */
    expect_failure((failure){.server_cert = "rogue", .name = "localhost",
                             .client = {.dangerously_skip_verification = true}, .words = ""});
}

TEST(expired_certificate)
{
    expect_failure((failure){.server_cert = "expired", .name = "localhost",
                             .client_rc = -EKEYREJECTED, .server_rc = -EPROTO,
                             .words = "certificate has expired"});
}

TEST(alpn_mismatch)
{
    const char *h2[] = {"h2"}, *http[] = {"http/1.1"};
    expect_failure((failure){.server_cert = "server", .name = "localhost",
                             .client = {.alpn = h2, .alpn_count = 1},
                             .server = {.alpn = http, .alpn_count = 1}, .client_rc = -EPROTO,
                             .server_rc = -EPROTO, .words = "no application protocol"});
}

TEST(client_certificates)
{
    /* Asked for and not sent: the server refuses (the client hears it at its first read). */
    expect_failure((failure){.server_cert = "server", .name = "localhost",
                             .server = {.verify_client = true}, .client_rc = -EPROTO,
                             .server_rc = -EKEYREJECTED, .words = "certificate required"});
    /* Sent: accepted. */
    expect_failure((failure){.server_cert = "server", .name = "localhost",
                             .client = {.cert_file = cert("client.pem"),
                                        .key_file = cert("client.key")},
                             .server = {.verify_client = true}, .words = ""});
}

/* The peer's inner stream closes without close_notify: the read says so, not a silent end. */
static void *truncation_body(void *arg)
{
    (void)arg;
    session ss = session_open(64 * 1024, NULL);
    edo_stream *client = ss.client, *server = ss.server;
    CHECK_EQ(edo_stream_write_all(server, "partial", 7), 0);
    CHECK_EQ(edo_stream_flush(server), 0);
    CHECK_EQ(edo_stream_close(server), 0); /* no shutdown: no close_notify */
    ss.server = NULL;
    char buf[16];
    CHECK_EQ(read_full(client, buf, 7), 7);
    CHECK_EQ(edo_stream_read(client, buf, sizeof buf), -ECONNABORTED);
    CHECK_EQ(edo_stream_read(client, buf, sizeof buf), -ECONNABORTED); /* sticky */
    CHECK(edo_tls_last_error(client, buf, sizeof buf) > 0);
    session_close(&ss);
    return NULL;
}

TEST(truncation_is_an_error) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, truncation_body, NULL); }

/* A request larger than the pipe, then the response: the request's last record is still in
 * the client's stream when its write returns (the pipe was full), and the read that waits for
 * the response must send it, or both sides wait forever. */
static void *request_server(void *arg)
{
    edo_stream *server = arg;
    static char request[5000];
    CHECK_EQ(read_full(server, request, sizeof request), (ssize_t)sizeof request);
    CHECK_EQ(edo_stream_write_all(server, "done", 4), 0);
    CHECK_EQ(edo_stream_flush(server), 0);
    return NULL;
}

static void *request_body(void *arg)
{
    (void)arg;
    session ss = session_open(100, NULL);
    edo_task *t;
    CHECK_EQ(edo_spawn(request_server, ss.server, &t), 0);
    static char request[5000];
    CHECK_EQ(edo_stream_write_all(ss.client, request, sizeof request), 0); /* no flush */
    char reply[4];
    CHECK_EQ(read_full(ss.client, reply, sizeof reply), 4);
    CHECK(memcmp(reply, "done", 4) == 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    session_close(&ss);
    return NULL;
}

TEST(read_sends_what_a_write_left)
{
    run_coro(EDO_RUNTIME_CURRENT_THREAD, 1, request_body, NULL);
}

/* writev over pieces of every size, empty ones included: small neighbours are gathered into
 * one record, large ones sealed in place; every byte arrives once, in order. */
enum { PIECES = 300 };

static void *gathered_reader(void *arg)
{
    edo_stream *server = arg;
    size_t total = 0;
    for (int i = 0; i < PIECES; i++)
        total += (size_t)(i % 50 == 7 ? 40000 : (i * 37) % 1500);
    char *got = malloc(total);
    CHECK_EQ(read_full(server, got, total), (ssize_t)total);
    for (size_t k = 0; k < total; k++)
        CHECK_EQ((unsigned char)got[k], (k * 13 + k / 509) % 256);
    free(got);
    return NULL;
}

static void *writev_body(void *arg)
{
    (void)arg;
    session ss = session_open(4096, NULL);
    edo_task *t;
    CHECK_EQ(edo_spawn(gathered_reader, ss.server, &t), 0);
    struct iovec iov[PIECES];
    size_t total = 0;
    for (int i = 0; i < PIECES; i++)
        total += iov[i].iov_len = (size_t)(i % 50 == 7 ? 40000 : (i * 37) % 1500);
    char *data = malloc(total), *p = data;
    for (size_t k = 0; k < total; k++)
        data[k] = (char)((k * 13 + k / 509) % 256);
    for (int i = 0; i < PIECES; i++) {
        iov[i].iov_base = p;
        p += iov[i].iov_len;
    }
    int first = 0;
    while (first < PIECES) {
        ssize_t n = edo_stream_writev(ss.client, iov + first, PIECES - first);
        CHECK(n > 0);
        for (size_t left = (size_t)n; left > 0 || (first < PIECES && !iov[first].iov_len);) {
            size_t take = left < iov[first].iov_len ? left : iov[first].iov_len;
            iov[first].iov_base = (char *)iov[first].iov_base + take;
            iov[first].iov_len -= take;
            left -= take;
            if (iov[first].iov_len == 0)
                first++;
        }
    }
    CHECK_EQ(edo_stream_flush(ss.client), 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    free(data);
    session_close(&ss);
    return NULL;
}

TEST(writev_gathers_small_pieces)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, writev_body, NULL);
}

/* ---- a large transfer, both ways at once, the read and the write of each stream in two
 * tasks on two workers ---- */

enum { BIG = 6 << 20 };

typedef struct pump {
    edo_stream *s;
    unsigned seed;
    bool writer;
} pump;

static char pattern(unsigned seed, size_t i) { return (char)((i * 131 + seed) ^ (i >> 12)); }

static void *pump_task(void *arg)
{
    pump *p = arg;
    char *buf = malloc(70000);
    size_t done = 0;
    while (done < BIG) {
        size_t n = 1 + (done * 7919) % 65536; /* every size, records split every way */
        if (n > BIG - done)
            n = BIG - done;
        if (p->writer) {
            for (size_t i = 0; i < n; i++)
                buf[i] = pattern(p->seed, done + i);
            CHECK_EQ(edo_stream_write_all(p->s, buf, n), 0);
        } else {
            ssize_t got = edo_stream_read(p->s, buf, n);
            CHECK(got > 0);
            for (size_t i = 0; i < (size_t)got; i++)
                CHECK(buf[i] == pattern(p->seed, done + i));
            n = (size_t)got;
        }
        done += n;
    }
    if (p->writer)
        CHECK_EQ(edo_stream_shutdown(p->s), 0);
    else
        CHECK_EQ(edo_stream_read(p->s, buf, 1), 0);
    free(buf);
    return NULL;
}

static void *transfer_body(void *arg)
{
    session ss = session_open((size_t)(uintptr_t)arg, NULL);
    edo_stream *client = ss.client, *server = ss.server;
    pump pumps[4] = {{client, 1, true}, {server, 1, false}, {server, 2, true}, {client, 2, false}};
    edo_task *tasks[4];
    for (int i = 0; i < 4; i++)
        CHECK_EQ(edo_spawn(pump_task, &pumps[i], &tasks[i]), 0);
    for (int i = 0; i < 4; i++) {
        CHECK_EQ(edo_task_join(tasks[i], NULL), 0);
        edo_task_free(tasks[i]);
    }
    session_close(&ss);
    return NULL;
}

TEST(large_transfer_both_ways)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, transfer_body, (void *)(uintptr_t)(256 * 1024));
    /* A pipe smaller than a record: every record goes in many pieces. */
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, transfer_body, (void *)(uintptr_t)1000);
}

/* A read bounded by a deadline gives up; the bytes that come later are all there. */
static void *deadline_body(void *arg)
{
    (void)arg;
    session ss = session_open(64 * 1024, NULL);
    edo_stream *client = ss.client, *server = ss.server;
    char buf[32];
    edo_instant saved;
    edo_deadline_push(edo_after(EDO_MSEC(10)), &saved);
    CHECK_EQ(edo_stream_read(client, buf, sizeof buf), -ETIMEDOUT);
    edo_deadline_pop(saved);
    CHECK_EQ(edo_stream_write_all(server, "after the deadline", 18), 0);
    CHECK_EQ(edo_stream_flush(server), 0);
    CHECK_EQ(read_full(client, buf, 18), 18);
    CHECK(memcmp(buf, "after the deadline", 18) == 0);
    /* A handshake bounded by a deadline, against a peer that never answers. */
    edo_stream *c, *d, *tls;
    CHECK_EQ(edo_duplex_new(64 * 1024, &c, &d), 0);
    edo_deadline_push(edo_after(EDO_MSEC(10)), &saved);
    CHECK_EQ(edo_tls_connect(c, ss.ccfg, "localhost", &tls), -ETIMEDOUT);
    edo_deadline_pop(saved);
    CHECK_EQ(edo_stream_close(c), 0); /* still ours */
    CHECK_EQ(edo_stream_close(d), 0);
    session_close(&ss);
    return NULL;
}

TEST(deadline_bounded_read_and_handshake) { run_paused(deadline_body, NULL); }

/* TLS inside TLS: the inner stream may be any stream, a TLS one too. */
static void *nested_body(void *arg)
{
    (void)arg;
    session outer = session_open(8192, NULL);
    edo_stream *c2, *s2;
    int server_rc;
    CHECK_EQ(tls_pair(outer.client, outer.ccfg, "localhost", outer.server, outer.scfg, &c2, &s2,
                      &server_rc),
             0);
    CHECK_EQ(server_rc, 0);
    char buf[8];
    CHECK_EQ(edo_stream_write_all(c2, "inside", 6), 0);
    CHECK_EQ(edo_stream_shutdown(c2), 0);
    CHECK_EQ(read_full(s2, buf, sizeof buf), 6);
    CHECK(memcmp(buf, "inside", 6) == 0);
    outer.client = c2; /* closing it closes the outer client stream and its duplex end */
    outer.server = s2;
    session_close(&outer);
    return NULL;
}

TEST(tls_over_tls) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, nested_body, NULL); }
