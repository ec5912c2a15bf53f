/* TLS internals: the configuration around an SSL_CTX, the TLS stream around an SSL session,
 * and the engine that moves records between OpenSSL and the inner stream.
 *
 * OpenSSL talks to a BIO pair, not to the inner stream: the session's half (ssl_bio) is given to
 * SSL_set_bio, and edo reads and writes the other half (net_bio) in place (BIO_nread0 /
 * BIO_nwrite0: no copy), moving records to and from the inner stream with its poll functions.
 * So OpenSSL never waits and never sees a file descriptor: any edo_stream carries TLS.
 *
 * Each direction of the inner stream has one waiter, held by the stream (the caller's waiter
 * cannot hold another stream's waiter: they are the same size). `rd_owner` / `wr_owner` name the
 * caller's waiter whose operation has the inner read / write registered there (NULL: none), so
 * dropping that caller's waiter drops the inner registration too. The inner read belongs to the
 * read operation (or the handshake). The inner write belongs to the write-side operation, but a
 * read that must wait for the peer may borrow it while no write-side operation is in flight, to
 * push out records that would otherwise sit in the stream (the tail of an earlier write, an
 * alert, a key update): a request written, then a response awaited, must not wait on a request
 * stuck here. A write-side operation takes the inner write back from a read at any time.
 *
 * One mutex guards the session, the BIOs, the waiters and the flags; it is held during OpenSSL
 * calls and the inner stream's poll calls (none of which waits), never across a suspension. */
#ifndef EDO_TLS_TLS_H
#define EDO_TLS_TLS_H

#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "edo/tls.h"

/* Plaintext given to one SSL_write: one full record. */
#define EDO__TLS_RECORD_PLAIN 16384
/* Room for the largest record OpenSSL makes of that (header, padding, MAC or tag): SSL_write
 * is called only with that much free space, so it always completes and never holds a half
 * record that would have to be retried with the same bytes (a cancelled write could not). */
#define EDO__TLS_RECORD_ROOM (EDO__TLS_RECORD_PLAIN + 2048 + 5)
/* The BIO pair's buffers (each allocated at its first use, kept until the stream is closed):
 * records on their way out, one at a time, and on their way in (one read of the inner stream
 * takes a whole record). Room for four records out saved no CPU measurably (bench/tls_transfer:
 * 1.50 against 1.57 CPU s/GiB, medians of four runs, within the noise here) and cost 55 KiB
 * more per connection. */
#define EDO__TLS_OUT_BUFFER (EDO__TLS_RECORD_ROOM + 1024)
#define EDO__TLS_IN_BUFFER (EDO__TLS_RECORD_ROOM + 1024)
/* Room for the text of edo_tls_last_error. */
#define EDO__TLS_ERROR_TEXT 256

struct edo_tls_config {
    _Atomic unsigned refs; /* the caller's, plus one per stream */
    SSL_CTX *ctx;
    edo_tls_role role;
    bool verify;                  /* the peer's certificate is checked */
    unsigned char *alpn_wire;     /* the ALPN list as it goes on the wire (length-prefixed) */
    unsigned alpn_wire_len;
};

typedef enum handshake_state { HS_NONE, HS_RUNNING, HS_DONE, HS_FAILED } edo__tls_hs;

typedef struct edo__tls {
    edo_stream base;
    edo_stream *inner;
    edo_tls_config *config;
    SSL *ssl;
    BIO *net_bio; /* edo's half of the pair (the session has the other) */
    pthread_mutex_t lock;
    edo_stream_waiter inner_read, inner_write;
    edo_stream_waiter *rd_owner, *wr_owner;
    bool wr_owner_is_reader; /* the inner write is borrowed by a read */
    bool reader_needs_write; /* the waiting read needs the inner write a write-side op holds */
    edo_stream_waiter *read_op, *write_op; /* the caller's waiters of the operations waiting */
    edo_waker reader;        /* the waiting read's waker: to push records a write left */
    edo__tls_hs handshake;
    bool inner_eof;      /* the inner stream ended: the pair was told (BIO_shutdown_wr) */
    bool shutdown_sent;  /* close_notify is in the pair */
    bool write_shut;     /* the inner stream's write half is shut down */
    int read_error;      /* sticky: every later read returns it */
    int write_error;     /* sticky: every later write returns it */
    char *server_name;   /* client: as given (SNI, verification) */
    char last_error[EDO__TLS_ERROR_TEXT];
} edo__tls;

/* The stream's TLS state, or NULL when `s` is not a TLS stream. */
edo__tls *edo__tls_of(edo_stream *s);

/* Makes a TLS stream (no I/O): the session for `config`'s role, the BIO pair. Returns 0 or
 * -ENOMEM; the caller checked the arguments. The stream owns `inner` from then on. */
int edo__tls_new(edo_stream *inner, edo_tls_config *config, const char *server_name,
                 edo__tls **out);
/* Frees the stream; closes the inner stream unless `keep_inner` (a failed connect or accept
 * hands it back). Returns the inner close's result. */
int edo__tls_free(edo__tls *t, bool keep_inner);

/* ---- the engine (engine.c), each called with t->lock held ---- */

/* Sends the records waiting in the pair to the inner stream until none is left: EDO_READY with
 * *err 0 or the inner write's error; EDO_PENDING with the inner write registered for `w`
 * (owner). */
edo_poll edo__tls_push(edo__tls *t, edo_stream_waiter *w, edo_context *cx, int *err);
/* Reads what the inner stream has into the pair: EDO_READY with *err 0 (bytes came, or the end
 * of the stream, which the pair now reports to the session) or the inner read's error;
 * EDO_PENDING with the inner read registered for `w`. */
edo_poll edo__tls_pull(edo__tls *t, edo_stream_waiter *w, edo_context *cx, int *err);
/* Gives up `w`'s registrations on the inner stream (an operation that completed or was
 * dropped); wakes a waiting read when records are left that nobody will push. */
void edo__tls_release(edo__tls *t, edo_stream_waiter *w);
/* Bytes waiting in the pair to go out. */
size_t edo__tls_pending_out(const edo__tls *t);
/* After an OpenSSL call failed with `ssl_error` (SSL_get_error): records OpenSSL's explanation
 * in t->last_error and returns the code for it (-EKEYREJECTED, -EPROTO, -ECONNABORTED, or
 * `inner_error` when the inner stream failed). Clears the thread's OpenSSL error queue. */
int edo__tls_fail(edo__tls *t, int ssl_error);
/* Copies the first error of the thread's OpenSSL queue (or `fallback`) into buf; clears the
 * queue. */
void edo__tls_error_text(char *buf, size_t len, const char *fallback);

/* ---- configurations (config.c) ---- */

void edo__tls_config_ref(edo_tls_config *cfg);

#endif
