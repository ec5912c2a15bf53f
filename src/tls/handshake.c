/* The handshake, and making TLS streams: edo_tls_client_new / edo_tls_server_new (no I/O), the
 * handshake future that drives SSL_do_handshake over the engine, and connect / accept (new +
 * handshake) in coroutine and future form. */
#include <errno.h>
#include <openssl/err.h>
#include <string.h>

#include "coro/coro.h"
#include "tls/tls.h"

/* The owner the engine records for the handshake's inner registrations: a handshake has no
 * caller's waiter (the stream is not in the caller's hands yet), and one at a time per stream. */
static edo_stream_waiter handshake_owner;

/* ---- one handshake ------------------------------------------------------------------------- */

static edo_poll handshake_end(edo__tls *t, int rc, int *result)
{
    edo__tls_release(t, &handshake_owner);
    if (rc < 0) {
        t->read_error = t->write_error = rc;
        t->handshake = HS_FAILED;
    } else {
        t->handshake = HS_DONE;
    }
    *result = rc;
    return EDO_READY;
}

/* Our flight goes out before we wait for the peer's: EDO_READY with *result set to carry on
 * (0) or fail. */
static edo_poll handshake_step(edo__tls *t, edo_context *cx, int *result)
{
    if (edo__tls_push(t, &handshake_owner, cx, result) == EDO_PENDING)
        return EDO_PENDING;
    if (*result < 0)
        return EDO_READY;
    return edo__tls_pull(t, &handshake_owner, cx, result);
}

static edo_poll handshake_locked(edo__tls *t, edo_context *cx, int *result)
{
    for (;;) {
        ERR_clear_error();
        int rc = SSL_do_handshake(t->ssl);
        int err;
        if (rc == 1) {
            /* Done on our side; the last flight (a client's Finished) still has to leave. */
            if (edo__tls_push(t, &handshake_owner, cx, &err) == EDO_PENDING)
                return EDO_PENDING;
            return handshake_end(t, err, result);
        }
        int e = SSL_get_error(t->ssl, rc);
        if (e != SSL_ERROR_WANT_READ) { /* never WANT_WRITE: `out` takes every record */
            err = edo__tls_fail(t, e);
            /* The alert that tells the peer why goes out if the inner stream takes it now. */
            int ignored;
            edo__tls_push(t, &handshake_owner, cx, &ignored);
            return handshake_end(t, err, result);
        }
        if (handshake_step(t, cx, &err) == EDO_PENDING)
            return EDO_PENDING;
        if (err < 0)
            return handshake_end(t, err, result);
    }
}

/* ---- the future ---------------------------------------------------------------------------- */

enum kind { HANDSHAKE, CONNECT, ACCEPT };

/* What edo_tls_future.private_ holds. */
typedef struct state {
    enum kind kind;
    int error;  /* bad arguments: ready at once with this */
    edo__tls *t; /* the stream whose handshake runs (connect, accept: made at the first poll) */
    edo_stream *inner;
    const edo_tls_config *config;
    const char *server_name;
    bool started; /* this future runs the stream's handshake */
} state;

_Static_assert(sizeof(state) <= sizeof(((edo_tls_future *)0)->private_),
               "edo_tls_future.private_ is too small");

static state *state_of(edo_tls_future *f) { return (state *)(void *)f->private_; }

static int client_check(edo_stream *inner, const edo_tls_config *config, const char *name)
{
    if (!inner || !inner->vtable || !config || config->role != EDO_TLS_CLIENT)
        return -EINVAL;
    if (name ? (!*name || strlen(name) > 255) : config->verify)
        return -EINVAL;
    return 0;
}

static int server_check(edo_stream *inner, const edo_tls_config *config)
{
    return inner && inner->vtable && config && config->role == EDO_TLS_SERVER ? 0 : -EINVAL;
}

/* Claims the stream's handshake for this future: -EINVAL when it ran or runs elsewhere. */
static int start(edo__tls *t)
{
    pthread_mutex_lock(&t->lock);
    bool fresh = t->handshake == HS_NONE;
    if (fresh)
        t->handshake = HS_RUNNING;
    pthread_mutex_unlock(&t->lock);
    return fresh ? 0 : -EINVAL;
}

static edo_poll tls_future_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_tls_future *f = (edo_tls_future *)self;
    state *st = state_of(f);
    int rc = st->error;
    if (rc == 0 && !st->t)
        rc = edo__tls_new(st->inner, (edo_tls_config *)st->config, st->server_name, &st->t);
    if (rc == 0 && !st->started) {
        rc = start(st->t);
        st->started = rc == 0;
    }
    if (rc == 0) {
        pthread_mutex_lock(&st->t->lock);
        edo_poll p = handshake_locked(st->t, cx, &rc);
        pthread_mutex_unlock(&st->t->lock);
        if (p == EDO_PENDING)
            return EDO_PENDING;
        st->started = false;
    }
    if (st->kind != HANDSHAKE && st->t) {
        if (rc == 0)
            f->stream = &st->t->base; /* handed over: the drop leaves it */
        else
            edo__tls_free(st->t, true); /* `inner` is the caller's again */
        st->t = NULL;
    }
    f->result = rc;
    return EDO_READY;
}

static void tls_future_drop(edo_future *self)
{
    state *st = state_of((edo_tls_future *)self);
    if (st->started) {
        /* Withdrawn half-way: the handshake cannot be resumed. */
        edo__tls *t = st->t;
        pthread_mutex_lock(&t->lock);
        int ignored;
        handshake_end(t, -ECANCELED, &ignored);
        pthread_mutex_unlock(&t->lock);
        st->started = false;
    }
    if (st->kind != HANDSHAKE && st->t)
        edo__tls_free(st->t, true);
    st->t = NULL;
}

static const edo_future_vtable tls_future_vtable = {tls_future_poll, tls_future_drop};

static state *init(edo_tls_future *f, enum kind kind)
{
    memset(f, 0, sizeof *f);
    f->base.vtable = &tls_future_vtable;
    state *st = state_of(f);
    st->kind = kind;
    return st;
}

void edo_tls_handshake_future_init(edo_tls_future *f, edo_stream *tls)
{
    if (!f)
        return;
    state *st = init(f, HANDSHAKE);
    st->t = edo__tls_of(tls);
    st->error = st->t ? 0 : -EINVAL;
}

void edo_tls_connect_future_init(edo_tls_future *f, edo_stream *inner,
                                 const edo_tls_config *config, const char *server_name)
{
    if (!f)
        return;
    state *st = init(f, CONNECT);
    st->error = client_check(inner, config, server_name);
    st->inner = inner;
    st->config = config;
    st->server_name = server_name;
}

void edo_tls_accept_future_init(edo_tls_future *f, edo_stream *inner,
                                const edo_tls_config *config)
{
    if (!f)
        return;
    state *st = init(f, ACCEPT);
    st->error = server_check(inner, config);
    st->inner = inner;
    st->config = config;
}

/* ---- the calls ----------------------------------------------------------------------------- */

int edo_tls_client_new(edo_stream *inner, const edo_tls_config *config, const char *server_name,
                       edo_stream **out)
{
    int rc = out ? client_check(inner, config, server_name) : -EINVAL;
    edo__tls *t;
    if (rc == 0 && (rc = edo__tls_new(inner, (edo_tls_config *)config, server_name, &t)) == 0)
        *out = &t->base;
    return rc;
}

int edo_tls_server_new(edo_stream *inner, const edo_tls_config *config, edo_stream **out)
{
    int rc = out ? server_check(inner, config) : -EINVAL;
    edo__tls *t;
    if (rc == 0 && (rc = edo__tls_new(inner, (edo_tls_config *)config, NULL, &t)) == 0)
        *out = &t->base;
    return rc;
}

int edo_tls_handshake(edo_stream *tls)
{
    if (!edo__tls_of(tls))
        return -EINVAL;
    edo_tls_future f;
    edo_tls_handshake_future_init(&f, tls);
    return edo__coro_run(&f.base, NULL, &f.result);
}

/* connect and accept: the future, run here; the stream comes out only on success. */
static int run_made(edo_tls_future *f, edo_stream **out)
{
    int rc = edo__coro_run(&f->base, NULL, &f->result);
    if (rc == 0)
        *out = f->stream;
    return rc;
}

int edo_tls_connect(edo_stream *inner, const edo_tls_config *config, const char *server_name,
                    edo_stream **out)
{
    int rc = out ? client_check(inner, config, server_name) : -EINVAL;
    if (rc < 0)
        return rc;
    edo_tls_future f;
    edo_tls_connect_future_init(&f, inner, config, server_name);
    return run_made(&f, out);
}

int edo_tls_accept(edo_stream *inner, const edo_tls_config *config, edo_stream **out)
{
    int rc = out ? server_check(inner, config) : -EINVAL;
    if (rc < 0)
        return rc;
    edo_tls_future f;
    edo_tls_accept_future_init(&f, inner, config);
    return run_made(&f, out);
}
