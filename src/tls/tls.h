/* TLS internals: the configuration around an SSL_CTX, the TLS stream around an SSL session,
 * and the engine that moves records between OpenSSL and the inner stream.
 *
 * OpenSSL talks to a BIO of edo's own (bio.c), two byte queues in the stream: the session writes
 * its records into `out` and reads the peer's from `in`, and the engine moves them to and from
 * the inner stream with its poll functions (engine.c). So OpenSSL never waits and never sees a
 * file descriptor: any edo_stream carries TLS.
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
 * One mutex guards the session, the queues, the waiters and the flags; it is held during
 * OpenSSL calls and the inner stream's poll calls (none of which waits), never across a
 * suspension. */
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
/* The largest record on the wire (TLS 1.2 allows 2048 bytes of expansion, with its header). */
#define EDO__TLS_RECORD_WIRE (EDO__TLS_RECORD_PLAIN + 2048 + 5)
/* A write seals plaintext only while fewer bytes than this wait in `out`: the bound on what a
 * stream buffers on its way out (about two records at most). */
#define EDO__TLS_OUT_HIGH EDO__TLS_RECORD_PLAIN
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

/* A byte queue: bytes at buf[start, end); no buffer while empty. */
typedef struct edo__tls_queue {
    char *buf;
    size_t start, end, cap;
} edo__tls_queue;

typedef enum handshake_state { HS_NONE, HS_RUNNING, HS_DONE, HS_FAILED } edo__tls_hs;

typedef struct edo__tls {
    edo_stream base;
    edo_stream *inner;
    edo_tls_config *config;
    SSL *ssl;
    edo__tls_queue in, out; /* the peer's records for the session, the session's for the peer */
    pthread_mutex_t lock;
    edo_stream_waiter inner_read, inner_write;
    edo_stream_waiter *rd_owner, *wr_owner;
    bool wr_owner_is_reader; /* the inner write is borrowed by a read */
    edo_stream_waiter *read_op, *write_op; /* the caller's waiters of the operations waiting */
    edo_waker reader;        /* the waiting read's waker: to push records a write left */
    edo__tls_hs handshake;
    bool inner_eof;      /* the inner stream ended: once `in` is empty, the session reads the end */
    bool shutdown_sent;  /* close_notify is sealed */
    bool write_shut;     /* the inner stream's write half is shut down */
    int read_error;      /* sticky: every later read returns it */
    int write_error;     /* sticky: every later write returns it */
    char *server_name;   /* client: as given (SNI, verification) */
    char last_error[EDO__TLS_ERROR_TEXT];
} edo__tls;

/* The stream's TLS state, or NULL when `s` is not a TLS stream. */
edo__tls *edo__tls_of(edo_stream *s);

/* Makes a TLS stream (no I/O): the session for `config`'s role and its BIO. Returns 0 or
 * -ENOMEM; the caller checked the arguments. The stream owns `inner` from then on. */
int edo__tls_new(edo_stream *inner, edo_tls_config *config, const char *server_name,
                 edo__tls **out);
/* Frees the stream; closes the inner stream unless `keep_inner` (a failed connect or accept
 * hands it back). Returns the inner close's result. */
int edo__tls_free(edo__tls *t, bool keep_inner);

/* ---- the queues and the BIO (bio.c) ---- */

/* A BIO over t's queues, for SSL_set_bio; NULL when out of memory. */
BIO *edo__tls_bio_new(edo__tls *t);
size_t edo__tls_queue_len(const edo__tls_queue *q);
/* Drops n bytes from the front (freeing the buffer once the queue is empty). */
void edo__tls_queue_consume(edo__tls_queue *q, size_t n);
/* Room for at least `want` more bytes at the end (growing the buffer): where to put them, and in
 * *room how many fit; NULL when out of memory. */
char *edo__tls_queue_room(edo__tls_queue *q, size_t want, size_t *room);
void edo__tls_queues_free(edo__tls *t);

/* ---- the engine (engine.c), each called with t->lock held ---- */

/* Sends the records waiting in `out` to the inner stream until none is left: EDO_READY with
 * *err 0 or the inner write's error; EDO_PENDING with the inner write registered for `w`
 * (owner). */
edo_poll edo__tls_push(edo__tls *t, edo_stream_waiter *w, edo_context *cx, int *err);
/* Reads what the inner stream has into `in`: EDO_READY with *err 0 (bytes came, or the end of
 * the stream, which the session now reads) or the inner read's error (-ENOMEM: no buffer);
 * EDO_PENDING with the inner read registered for `w` (and no buffer held meanwhile). */
edo_poll edo__tls_pull(edo__tls *t, edo_stream_waiter *w, edo_context *cx, int *err);
/* Gives up `w`'s registrations on the inner stream (an operation that completed or was
 * dropped); wakes a waiting read when records are left that nobody will push. */
void edo__tls_release(edo__tls *t, edo_stream_waiter *w);
/* Bytes waiting in `out` to go to the inner stream. */
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
