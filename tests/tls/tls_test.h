/* What the TLS tests share: certificates made by the openssl command into a temporary
 * directory (removed at exit), configurations, and a client and server handshaking over two
 * connected streams. */
#ifndef EDO_TEST_TLS_TEST_H
#define EDO_TEST_TLS_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edo.h"
#include "harness.h"

static char cert_dir[256];

static inline void remove_cert_dir(void)
{
    char cmd[320];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cert_dir);
    CHECK_EQ(system(cmd), 0);
}

/* The certificates (P-256 keys: quick to make), once per test process:
 *   ca.pem             the test CA, trusted by the configurations below
 *   server.pem/.key    CN=localhost, SAN DNS:localhost and IP:127.0.0.1, issued by the CA
 *   client.pem/.key    CN=edo client, issued by the CA (mutual TLS)
 *   rogue.pem/.key     CN=localhost, same SAN, issued by another CA nobody trusts
 *   other.pem/.key     CN=other.example, SAN DNS:other.example, issued by the CA
 *   expired.pem/.key   as server.pem, but it expired yesterday
 *   garbage.pem        not PEM at all */
static inline const char *certs(void)
{
    if (cert_dir[0])
        return cert_dir;
    const char *tmp = getenv("TMPDIR");
    snprintf(cert_dir, sizeof cert_dir, "%s/edo-tls-test.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    CHECK(mkdtemp(cert_dir) != NULL);
    atexit(remove_cert_dir);
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "set -e; cd '%s'; exec 2>log\n"
             "key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $1; }\n"
             "ca() { key $1.key; openssl req -x509 -new -key $1.key -out $1.pem -days 2 "
             "-subj \"/CN=$2\"; }\n"
             "leaf() { key $1.key; openssl req -new -key $1.key -out $1.csr -subj \"/CN=$2\"; "
             "printf 'subjectAltName=%%s\\n' \"$3\" > $1.ext; "
             "openssl x509 -req -in $1.csr -CA $4.pem -CAkey $4.key -CAcreateserial "
             "-out $1.pem -days ${5:-2} -extfile $1.ext; }\n"
             "ca ca 'edo test CA'; ca rogue-ca 'rogue CA'\n"
             "leaf server localhost DNS:localhost,IP:127.0.0.1 ca\n"
             "leaf client 'edo client' DNS:client.example ca\n"
             "leaf rogue localhost DNS:localhost,IP:127.0.0.1 rogue-ca\n"
             "leaf other other.example DNS:other.example ca\n"
             "leaf expired localhost DNS:localhost,IP:127.0.0.1 ca -1\n"
             "echo 'not a certificate' > garbage.pem\n",
             cert_dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "making the test certificates failed (openssl); see %s/log\n",
                cert_dir);
        abort();
    }
    return cert_dir;
}

/* The path of `name` in the certificate directory, kept for the whole process (one slot per
 * name: configurations built later may still point at it). */
static inline const char *cert(const char *name)
{
    static char names[16][64], paths[16][320];
    size_t len = strlen(name);
    CHECK(len < sizeof names[0]);
    for (int i = 0; i < 16; i++) {
        if (!names[i][0]) {
            memcpy(names[i], name, len + 1);
            snprintf(paths[i], sizeof paths[i], "%s/%s", certs(), name);
        }
        if (strcmp(names[i], name) == 0)
            return paths[i];
    }
    abort();
}

static inline edo_tls_config *make_config(const edo_tls_options *o)
{
    edo_tls_config *cfg;
    char err[256];
    int rc = edo_tls_config_new_error(o, &cfg, err, sizeof err);
    if (rc != 0) {
        fprintf(stderr, "edo_tls_config_new: %s (%s)\n", edo_strerror(rc), err);
        CHECK_EQ(rc, 0);
    }
    return cfg;
}

/* A client trusting the test CA, offering `alpn` (NULL: no ALPN). */
static inline edo_tls_config *client_config(const char *alpn)
{
    const char *protos[] = {"h2", alpn};
    return make_config(&(edo_tls_options){
        .ca_file = cert("ca.pem"), .alpn = alpn ? protos : NULL, .alpn_count = alpn ? 2 : 0});
}

/* A server with the certificate `name` (server, rogue, other), ALPN `alpn` (NULL: none). */
static inline edo_tls_config *server_config(const char *name, const char *alpn)
{
    char pem[64], key[64];
    snprintf(pem, sizeof pem, "%s.pem", name);
    snprintf(key, sizeof key, "%s.key", name);
    const char *protos[] = {alpn};
    return make_config(&(edo_tls_options){.role = EDO_TLS_SERVER,
                                          .cert_file = cert(pem),
                                          .key_file = cert(key),
                                          .alpn = alpn ? protos : NULL,
                                          .alpn_count = alpn ? 1 : 0});
}

/* ---- a client and a server over two connected streams ---- */

typedef struct accept_job {
    edo_stream *inner;
    edo_tls_config *config;
    edo_stream *tls;
    int rc;
} accept_job;

static inline void *accept_task(void *arg)
{
    accept_job *j = arg;
    j->rc = edo_tls_accept(j->inner, j->config, &j->tls);
    if (j->rc < 0)
        edo_stream_close(j->inner);
    return NULL;
}

/* In a coroutine: the server accepts over `server_inner` in a task of its own while this
 * coroutine connects over `client_inner` for `name`. Returns the client's result; the server's
 * is in *server_rc. A side that fails has its inner stream closed. */
static inline int tls_pair(edo_stream *client_inner, edo_tls_config *ccfg, const char *name,
                    edo_stream *server_inner, edo_tls_config *scfg, edo_stream **client,
                    edo_stream **server, int *server_rc)
{
    accept_job job = {.inner = server_inner, .config = scfg};
    edo_task *task;
    CHECK_EQ(edo_spawn(accept_task, &job, &task), 0);
    int rc = edo_tls_connect(client_inner, ccfg, name, client);
    if (rc < 0)
        edo_stream_close(client_inner);
    CHECK_EQ(edo_task_join(task, NULL), 0);
    edo_task_free(task);
    *server_rc = job.rc;
    *server = job.tls;
    return rc;
}

/* A verified client and server over a duplex pair, for the tests that need one working. */
typedef struct session {
    edo_tls_config *ccfg, *scfg;
    edo_stream *client, *server;
} session;

/* In a coroutine: a session over a duplex pair buffering `capacity` bytes each way, both
 * sides offering ALPN `alpn` (NULL: none). */
static inline session session_open(size_t capacity, const char *alpn)
{
    session s = {client_config(alpn), server_config("server", alpn), NULL, NULL};
    edo_stream *a, *b;
    CHECK_EQ(edo_duplex_new(capacity, &a, &b), 0);
    int server_rc;
    CHECK_EQ(tls_pair(a, s.ccfg, "localhost", b, s.scfg, &s.client, &s.server, &server_rc), 0);
    CHECK_EQ(server_rc, 0);
    return s;
}

/* Closes what is left open (a test may have closed a side itself: NULL). */
static inline void session_close(session *s)
{
    if (s->client)
        CHECK_EQ(edo_stream_close(s->client), 0);
    if (s->server)
        CHECK_EQ(edo_stream_close(s->server), 0);
    edo_tls_config_free(s->ccfg);
    edo_tls_config_free(s->scfg);
}

/* Reads until `len` bytes came or the stream ended: the count, or the error. */
static inline ssize_t read_full(edo_stream *s, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = edo_stream_read(s, (char *)buf + got, len - got);
        if (n < 0)
            return n;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (ssize_t)got;
}

#endif
