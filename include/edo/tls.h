/* edo/tls.h — TLS (OpenSSL) over any byte stream.
 *
 * A TLS stream wraps another edo_stream (a TCP connection, a Unix stream, an in-memory duplex,
 * even another TLS stream) and is itself an edo_stream: edo_stream_read, edo_stream_write_all,
 * the buffered reader and every utility work on it unchanged. OpenSSL does the cryptography;
 * edo moves the records between OpenSSL and the inner stream through memory buffers, so the
 * inner stream need not be a file descriptor. docs/tls.md has the whole story; in short:
 *
 *     edo_tls_config *cfg;                         // once, shared by every connection
 *     edo_tls_config_new(&(edo_tls_options){.alpn = (const char *[]){"http/1.1"},
 *                                           .alpn_count = 1}, &cfg);
 *     edo_tcp *tcp;
 *     edo_tcp_connect("example.org:443", &tcp);
 *     edo_stream *raw = edo_tcp_stream(tcp), *tls;  // see edo/net.h
 *     if (edo_tls_connect(raw, cfg, "example.org", &tls) < 0) edo_stream_close(raw);
 *     edo_stream_write_all(tls, req, strlen(req));
 *     edo_stream_read(tls, buf, sizeof buf);
 *     edo_stream_shutdown(tls);                    // close_notify
 *     edo_stream_close(tls);                       // closes the TCP stream too
 *
 * Security defaults: TLS 1.2 at least; the peer's certificate is verified (a client checks the
 * server's chain against the trust store and its name against `server_name`); compression and
 * renegotiation are off. Turning verification off takes a field named for what it is.
 *
 * Errors (besides those of the inner stream, which pass through):
 *   -EKEYREJECTED  the peer's certificate failed verification: untrusted issuer, expired, or
 *                  not for the name asked for (edo_tls_last_error says which);
 *   -EPROTO        the TLS protocol failed: no common version, cipher or ALPN protocol, an
 *                  alert from the peer (which may have rejected our certificate), a corrupt
 *                  record, a peer that speaks something else than TLS;
 *   -ECONNABORTED  the peer closed the connection without close_notify: the data may be
 *                  truncated (an attacker can cut a connection; only close_notify proves the
 *                  end). A read returns it instead of 0. Protocols that frame their own end
 *                  (HTTP with Content-Length) may choose to treat it as the end;
 *   -ENOTSUP       edo was built without TLS (EDO_WITH_TLS=OFF, or no OpenSSL at build time):
 *                  every call below returns it, edo_tls_is_available() is false.
 * After a TLS error the stream is broken: later reads and writes return the same error.
 *
 * Ownership: a TLS stream owns its inner stream from the moment it is made (edo_tls_client_new,
 * edo_tls_server_new, a successful edo_tls_connect / edo_tls_accept) and closes it when it is
 * closed. A call that fails leaves the inner stream to the caller, who closes it.
 *
 * Threads: as every stream, one read and one write may be in flight at once, from different
 * tasks or threads (a second read or write at once returns -EBUSY). OpenSSL's session object is
 * not thread-safe: edo holds a lock around each OpenSSL call, never across a wait.
 *
 * Writes: a write returns once its bytes are sealed into TLS records; the last records may still
 * sit in the stream (up to about 32 KiB) when the inner stream was not writable right then.
 * The next write, a flush, a shutdown, or a read that has to wait for the peer pushes them out;
 * call edo_stream_flush when they must leave now. writev copies neighbouring buffers smaller
 * than 1 KiB together into one record; larger ones are sealed in place.
 *
 * Readiness (edo_stream_ready): readable once a read would not wait (a record is decrypted and
 * kept for the read, or the end or an error is there to report), writable once a write could
 * seal a record at once. A readiness wait counts as the read (and/or the write) in flight.
 * raw_fd: -ENOTSUP (the bytes on the fd are ciphertext).
 */
#ifndef EDO_TLS_H
#define EDO_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "edo/future.h"
#include "edo/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Whether this build of edo has TLS (OpenSSL found and EDO_WITH_TLS on). When false, every
 * other call here returns -ENOTSUP (the configuration and stream calls) or does nothing. */
bool edo_tls_is_available(void);

/* ---------------------------------------------------------------------------------------------
 * Configuration: one per kind of endpoint, shared by every connection made with it.
 * ------------------------------------------------------------------------------------------- */

typedef enum edo_tls_role {
    EDO_TLS_CLIENT = 0, /* makes edo_tls_connect / edo_tls_client_new streams */
    EDO_TLS_SERVER = 1, /* makes edo_tls_accept / edo_tls_server_new streams */
} edo_tls_role;

typedef enum edo_tls_version {
    EDO_TLS_1_2 = 0, /* the default minimum */
    EDO_TLS_1_3 = 1,
} edo_tls_version;

/* What edo_tls_config_new reads (zero means the default; the strings are copied or read at
 * once, so they need not outlive the call). */
typedef struct edo_tls_options {
    edo_tls_role role;
    /* Trusted certificate authorities for verifying the peer: a PEM file and/or a hashed
     * directory (OpenSSL's c_rehash layout). Both NULL: the system's default trust store. */
    const char *ca_file;
    const char *ca_dir;
    /* This endpoint's certificate chain (PEM, the leaf first) and its private key (PEM; NULL:
     * in cert_file too). A server needs them; a client sends them when the server asks for a
     * client certificate. */
    const char *cert_file;
    const char *key_file;
    /* ALPN protocol names ("h2", "http/1.1"), each 1 to 255 bytes, most preferred first; NULL or
     * a count of 0: no ALPN. A client offers them; a server picks the first of its own list that
     * the client offers, and fails the handshake (-EPROTO) when the client offers ALPN but none
     * of these (a client that offers none gets none). */
    const char *const *alpn;
    size_t alpn_count;
    edo_tls_version min_version;
    /* Server: ask for a client certificate, and fail the handshake (-EKEYREJECTED on this side,
     * -EPROTO on the client's) when the client sends none or one that the CAs above do not
     * vouch for. */
    bool verify_client;
    /* Client: accept ANY server certificate for ANY name. The connection is then encrypted but
     * not authenticated: anyone on the path can impersonate the server. For tests against
     * throw-away certificates only. */
    bool dangerously_skip_verification;
} edo_tls_options;

typedef struct edo_tls_config edo_tls_config;

/* Builds a configuration from `options` (loads the CA store, the certificate and key). Returns
 * 0 with *out set, or -EINVAL (NULL options or out, an unknown role or version, a server
 * without cert_file, key_file without cert_file, an ALPN name that is NULL, empty or longer than
 * 255 bytes, alpn NULL with a count, dangerously_skip_verification on a server), -ENOENT (a file
 * or directory that cannot be read), -EKEYREJECTED (the key does not match the certificate),
 * -EPROTO (a file that is not valid PEM of the expected kind; edo_tls_config_new_error gives
 * OpenSSL's text), -ENOMEM, -ENOTSUP (no TLS in this build). Never suspends; thread-safe. */
int edo_tls_config_new(const edo_tls_options *options, edo_tls_config **out);
/* As edo_tls_config_new, and on failure copies OpenSSL's explanation (NUL-terminated,
 * truncated to `len`) into `err` (may be NULL when len is 0). */
int edo_tls_config_new_error(const edo_tls_options *options, edo_tls_config **out, char *err,
                             size_t len);
/* Releases the caller's hold on `cfg` (NULL: no-op). Streams made with it keep what they need:
 * it may be freed while they live. Never suspends; thread-safe. */
void edo_tls_config_free(edo_tls_config *cfg);

/* ---------------------------------------------------------------------------------------------
 * Making TLS streams. edo_tls_connect / edo_tls_accept are new + handshake in one call; the
 * two-step form lets a caller read edo_tls_last_error after a failed handshake.
 * ------------------------------------------------------------------------------------------- */

/* Wraps `inner` in a client TLS stream that will talk to `server_name`: the host name sent
 * with SNI and checked against the server's certificate (an IP address literal is checked
 * against the certificate's IP addresses and is not sent). No I/O: run edo_tls_handshake next
 * (until it succeeds, reads and writes return -ENOTCONN). On success the stream owns `inner`.
 * Returns 0, -EINVAL (NULL inner, config or out; a server config; server_name empty or longer
 * than 255 bytes, or NULL while verification is on), -ENOMEM, -ENOTSUP. Never suspends. */
int edo_tls_client_new(edo_stream *inner, const edo_tls_config *config, const char *server_name,
                       edo_stream **out);
/* Wraps `inner` in a server TLS stream; as edo_tls_client_new (-EINVAL for a client config). */
int edo_tls_server_new(edo_stream *inner, const edo_tls_config *config, edo_stream **out);

/* Runs the handshake of a stream made by edo_tls_client_new or edo_tls_server_new: returns 0
 * once both sides agreed on keys and (unless turned off) the peer's certificate was verified,
 * else -EKEYREJECTED, -EPROTO, -ECONNABORTED (the peer closed during the handshake), an error
 * of the inner stream, -EINVAL (NULL, not a TLS stream, or a stream whose handshake already
 * ran or is running), -EPERM, -ECANCELED, -ETIMEDOUT (the coroutine's deadline: bound a
 * handshake with edo_deadline_push). A failed or interrupted handshake leaves the stream
 * broken: close it. Suspends. Not thread-safe against other calls on the same stream. */
int edo_tls_handshake(edo_stream *tls);

/* The client side of a TLS connection over `inner`, verified for `server_name` (see
 * edo_tls_client_new): 0 with *out the TLS stream, or an error of edo_tls_client_new or
 * edo_tls_handshake; then `inner` is still the caller's (close it) and *out untouched. Suspends. */
int edo_tls_connect(edo_stream *inner, const edo_tls_config *config, const char *server_name,
                    edo_stream **out);
/* The server side of a TLS connection over `inner`; as edo_tls_connect. Suspends. */
int edo_tls_accept(edo_stream *inner, const edo_tls_config *config, edo_stream **out);

/* Future forms: poll until EDO_READY, then `result` is what the coroutine call returns (less
 * -EPERM, -ECANCELED and -ETIMEDOUT: drop the future to cancel it, bound it with
 * edo_timeout_future_init) and, for connect and accept, `stream` the new TLS stream (NULL on
 * failure; `inner` is then the caller's again). Dropping a connect or accept future before it
 * is ready frees what it made, leaving `inner` to the caller. Bad arguments complete at the
 * first poll with -EINVAL. `inner`, `config` and `server_name` must outlive the future; like
 * any future it must not move once polled. NULL f: no-op. */
typedef struct edo_tls_future {
    edo_future base;
    int result;         /* when ready */
    edo_stream *stream; /* connect, accept: the TLS stream when result is 0 */
    uint64_t private_[6];
} edo_tls_future;

void edo_tls_handshake_future_init(edo_tls_future *f, edo_stream *tls);
void edo_tls_connect_future_init(edo_tls_future *f, edo_stream *inner,
                                 const edo_tls_config *config, const char *server_name);
void edo_tls_accept_future_init(edo_tls_future *f, edo_stream *inner,
                                const edo_tls_config *config);

/* ---------------------------------------------------------------------------------------------
 * About a TLS stream. Each returns -EINVAL for NULL or a stream that is not TLS, and -ENOTSUP
 * without TLS. Never suspend; thread-safe (they take the stream's lock).
 * ------------------------------------------------------------------------------------------- */

/* Copies the ALPN protocol the handshake chose into buf (NUL-terminated) and returns its
 * length; 0 (and "" when len > 0) when none was chosen or the handshake has not completed;
 * -ENOSPC when it does not fit in `len` bytes with its NUL; -EINVAL (also: buf NULL with len). */
int edo_tls_alpn_selected(edo_stream *tls, char *buf, size_t len);
/* 1 when the peer presented a certificate and it was verified (chain, dates, and for a client
 * the server's name), 0 otherwise: handshake not done, no certificate (a server whose client
 * sent none), or verification turned off. */
int edo_tls_peer_verified(edo_stream *tls);
/* Copies the peer certificate's subject (RFC 2253, "CN=localhost,O=Example") into buf and
 * returns its length; -ENOENT when the peer sent no certificate (or before the handshake);
 * -ENOSPC when it does not fit; -ENOMEM; -EINVAL (also: buf NULL or len 0). */
int edo_tls_peer_subject(edo_stream *tls, char *buf, size_t len);
/* Copies the server name a client asked for with SNI (on a server stream) or the one it was
 * made for (client) into buf; returns its length, -ENOENT when there is none, -ENOSPC, -EINVAL
 * (also: buf NULL or len 0). */
int edo_tls_server_name(edo_stream *tls, char *buf, size_t len);
/* Copies the explanation of the stream's last TLS failure (OpenSSL's words, and for a rejected
 * certificate the verification error: "certificate verify failed: Hostname mismatch") into
 * buf, NUL-terminated, truncated to len; returns the length copied (0: no failure so far),
 * -EINVAL (also: buf NULL or len 0). */
int edo_tls_last_error(edo_stream *tls, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* EDO_TLS_H */
