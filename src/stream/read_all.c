/* Reading a whole message from any stream (edo/stream_util.h): read_exact and read_to_end, one
 * future over the stream's poll_read, and its coroutine form (the future awaited on the
 * coroutine's frame). */
#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/stream_util.h"
#include "stream/forward.h"

/* What edo_stream_message_future.private_ holds. */
typedef struct message_state {
    int error;     /* bad arguments: ready at once with this */
    bool to_end;   /* read_to_end (else read_exact) */
    void *buf;     /* read_exact: the destination */
    edo_bytes *out; /* read_to_end: the buffer appended to */
    size_t len;    /* read_exact: the bytes wanted; read_to_end: the limit */
} message_state;

_Static_assert(sizeof(message_state) <= sizeof(((edo_stream_message_future *)0)->private_),
               "edo_stream_message_future.private_ is too small");
_Static_assert(alignof(message_state) <= alignof(uint64_t), "private_ misaligned");

static message_state *state_of(edo_stream_message_future *f)
{
    return (message_state *)(void *)f->private_;
}

/* A first read into an empty buffer asks for this much room (then the buffer doubles). */
#define FIRST_READ 4096u

/* Where the next read of read_to_end goes: room in `out` for up to one byte past the limit, so
 * the end of the stream exactly at the limit is told from more bytes. 0, or -ENOMEM. */
static int next_room(message_state *st, size_t nread, void **dst, size_t *len)
{
    size_t want = st->len - nread;
    want = want < SIZE_MAX ? want + 1 : want;
    if (edo_bytes_spare_len(st->out) == 0) {
        int rc = edo_bytes_reserve(st->out, want < FIRST_READ ? want : FIRST_READ);
        if (rc < 0)
            return rc;
    }
    size_t room;
    *dst = edo_bytes_spare(st->out, &room);
    *len = room < want ? room : want;
    return 0;
}

/* The next read: ready with 0 when the message is complete, -errno when it failed. */
static edo_poll message_poll_read(edo_stream_message_future *f, message_state *st,
                                  edo_context *cx, int *rc)
{
    void *dst = (char *)st->buf + f->nread;
    size_t len = st->len - f->nread;
    if (st->to_end) {
        if (f->nread > st->len) {
            *rc = -EMSGSIZE; /* one byte past the limit proved there is more */
            return EDO_READY;
        }
        if ((*rc = next_room(st, f->nread, &dst, &len)) < 0)
            return EDO_READY;
    } else if (len == 0) {
        *rc = 0;
        return EDO_READY;
    }
    edo_stream *s = f->stream_;
    ssize_t n;
    if (s->vtable->poll_read(s, &f->waiter_, cx, dst, len, &n) == EDO_PENDING)
        return EDO_PENDING;
    edo_stream_waiter_drop(s, &f->waiter_);
    if (n <= 0) { /* the end: what read_to_end waits for, too early for read_exact */
        *rc = n < 0 ? (int)n : st->to_end ? 0 : -ENODATA;
        return EDO_READY;
    }
    if (st->to_end)
        edo_bytes_commit(st->out, (size_t)n);
    f->nread += (size_t)n;
    *rc = 1; /* go on */
    return EDO_READY;
}

static edo_poll message_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_stream_message_future *f = (edo_stream_message_future *)self;
    message_state *st = state_of(f);
    int rc = st->error ? st->error : 1;
    while (rc > 0)
        if (message_poll_read(f, st, cx, &rc) == EDO_PENDING)
            return EDO_PENDING;
    f->result = rc;
    return EDO_READY;
}

static void message_drop(edo_future *self)
{
    edo_stream_message_future *f = (edo_stream_message_future *)self;
    if (!state_of(f)->error)
        edo_stream_waiter_drop(f->stream_, &f->waiter_);
}

static const edo_future_vtable message_vtable = {message_poll, message_drop};

static message_state *init(edo_stream_message_future *f, edo_stream *s, bool to_end, size_t len)
{
    memset(f, 0, sizeof *f);
    f->base.vtable = &message_vtable;
    f->stream_ = s;
    message_state *st = state_of(f);
    st->to_end = to_end;
    st->len = len;
    st->error = edo__stream_is_valid(s) ? 0 : -EINVAL;
    return st;
}

void edo_stream_read_exact_future_init(edo_stream_message_future *f, edo_stream *s, void *buf,
                                       size_t len)
{
    if (!f)
        return;
    message_state *st = init(f, s, false, len);
    st->buf = buf;
    if ((!buf && len) || len > SSIZE_MAX)
        st->error = -EINVAL;
}

void edo_stream_read_to_end_future_init(edo_stream_message_future *f, edo_stream *s,
                                        edo_bytes *out, size_t limit)
{
    if (!f)
        return;
    message_state *st = init(f, s, true, limit);
    st->out = out;
    if (!out || limit == 0)
        st->error = -EINVAL;
}

/* Awaits `f` (just initialised) in the calling coroutine: bad arguments come back first, and an
 * empty read_exact at once, without a wait. */
static int run(edo_stream_message_future *f, size_t *nread)
{
    message_state *st = state_of(f);
    int rc = st->error;
    if (!rc && (st->to_end || st->len > 0))
        rc = edo__coro_run(&f->base, NULL, &f->result);
    if (nread)
        *nread = f->nread;
    return rc;
}

int edo_stream_read_exact(edo_stream *s, void *buf, size_t len, size_t *nread)
{
    edo_stream_message_future f;
    edo_stream_read_exact_future_init(&f, s, buf, len);
    return run(&f, nread);
}

int edo_stream_read_to_end(edo_stream *s, edo_bytes *out, size_t limit, size_t *nread)
{
    edo_stream_message_future f;
    edo_stream_read_to_end_future_init(&f, s, out, limit);
    return run(&f, nread);
}
