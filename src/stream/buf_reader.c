/* The buffered reader (edo/buffered.h): a window of bytes read from inner, an edo_bytes filled
 * at the back and consumed at the front. A record (a line) is searched for in the window and
 * only consumed once it is whole, so an operation abandoned while it waits for more bytes
 * leaves every byte where it was: that is the whole of its cancel safety. */
#include <errno.h>
#include <limits.h>
#include <stdalign.h>
#include <string.h>

#include "coro/coro.h"
#include "edo/buffered.h"
#include "stream/forward.h"

/* The shared buffered layout (forward.h) is the whole of it. */
struct edo_buf_reader {
    edo__buffered b;
};

/* ---- filling the window -------------------------------------------------------------------- */

/* Makes room for a read of at least half the capacity: the consumed front is reused (the bytes
 * left are a partial record, moved to the start), and the window grows only when a record
 * longer than half the capacity fills most of it. */
static int make_room(edo_buf_reader *r)
{
    size_t half = r->b.capacity / 2 ? r->b.capacity / 2 : 1;
    if (edo_bytes_spare_len(&r->b.buf) >= half)
        return 0;
    size_t len = edo_bytes_len(&r->b.buf);
    return edo_bytes_reserve(&r->b.buf, len < half ? r->b.capacity - len : half);
}

/* One read from inner into the window: ready with the count, 0 at the end of the stream, or
 * -errno in *n (the waiter released for the next read). */
static edo_poll fill(edo_buf_reader *r, edo_stream_waiter *w, edo_context *cx, ssize_t *n)
{
    int rc = make_room(r);
    if (rc < 0) {
        *n = rc;
        return EDO_READY;
    }
    size_t room;
    uint8_t *spare = edo_bytes_spare(&r->b.buf, &room);
    if (room > r->b.capacity) /* the window may be larger (a long record was in it) */
        room = r->b.capacity;
    edo_stream *in = r->b.w.inner;
    if (in->vtable->poll_read(in, w, cx, spare, room, n) == EDO_PENDING)
        return EDO_PENDING;
    edo_stream_waiter_drop(in, w);
    if (*n > 0)
        edo_bytes_commit(&r->b.buf, (size_t)*n);
    return EDO_READY;
}

/* Looks for `delim` in the window from *scanned on, within `limit` bytes. Returns the length
 * of the record with its delimiter, 0 when more bytes are needed (*scanned: how far it looked),
 * or -EMSGSIZE when `limit` bytes hold no delimiter. */
static ssize_t find_record(const edo_buf_reader *r, uint8_t delim, size_t limit, size_t *scanned)
{
    const uint8_t *data = edo_bytes_data(&r->b.buf);
    size_t len = edo_bytes_len(&r->b.buf);
    size_t end = len < limit ? len : limit;
    if (*scanned < end) {
        const uint8_t *p = memchr(data + *scanned, delim, end - *scanned);
        if (p)
            return p - data + 1;
        *scanned = end;
    }
    return len >= limit ? -EMSGSIZE : 0;
}

/* Reads until the window holds a whole record: ready with its length, the bytes left at the end
 * of the stream (0: nothing left), or -errno (the window unchanged but for bytes added). */
static edo_poll poll_record(edo_buf_reader *r, edo_stream_waiter *w, edo_context *cx,
                            uint8_t delim, size_t limit, size_t *scanned, ssize_t *len)
{
    for (;;) {
        ssize_t n = find_record(r, delim, limit, scanned);
        if (n != 0) {
            *len = n;
            return EDO_READY;
        }
        if (fill(r, w, cx, &n) == EDO_PENDING)
            return EDO_PENDING;
        if (n <= 0) {
            *len = n < 0 ? n : (ssize_t)edo_bytes_len(&r->b.buf);
            return EDO_READY;
        }
    }
}

/* ---- finishing an operation: the record found is handed over and consumed ----------------- */

/* read_until: appends the record of `n` bytes (or the error) to out. */
static ssize_t take_record(edo_buf_reader *r, ssize_t n, edo_bytes *out)
{
    if (n <= 0)
        return n;
    int rc = edo_bytes_append(out, edo_bytes_data(&r->b.buf), (size_t)n);
    if (rc < 0)
        return rc;
    edo_bytes_advance(&r->b.buf, (size_t)n);
    return n;
}

/* next_line: points *line at the record of `n` bytes without its "\n" or "\r\n". The bytes stay
 * where they are after the consume (advance moves nothing) until the next fill. */
static int take_line(edo_buf_reader *r, ssize_t n, const uint8_t **line, size_t *len)
{
    *line = NULL;
    *len = 0;
    if (n <= 0)
        return (int)n;
    const uint8_t *data = edo_bytes_data(&r->b.buf);
    size_t l = (size_t)n;
    if (data[l - 1] == '\n' && --l > 0 && data[l - 1] == '\r')
        l--;
    *line = data;
    *len = l;
    edo_bytes_advance(&r->b.buf, (size_t)n);
    return 1;
}

/* ---- the future ---------------------------------------------------------------------------- */

enum op { OP_FILL_BUF, OP_READ_UNTIL, OP_NEXT_LINE };

/* What edo_buf_reader_future.private_ holds. */
typedef struct op_state {
    edo_bytes *out;
    size_t limit;
    size_t scanned; /* how far the window was searched already (each poll goes on from there) */
    uint8_t op, delim;
    int error; /* bad arguments: ready at once with this */
} op_state;

_Static_assert(sizeof(op_state) <= sizeof(((edo_buf_reader_future *)0)->private_),
               "edo_buf_reader_future.private_ is too small");
_Static_assert(alignof(op_state) <= alignof(uint64_t), "edo_buf_reader_future.private_ misaligned");

static op_state *state_of(edo_buf_reader_future *f) { return (op_state *)(void *)f->private_; }

static edo_poll reader_future_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_buf_reader_future *f = (edo_buf_reader_future *)self;
    op_state *st = state_of(f);
    edo_buf_reader *r = f->reader_;
    if (st->error) {
        f->result = st->error;
        return EDO_READY;
    }
    ssize_t n = 0;
    if (st->op == OP_FILL_BUF) {
        if (edo_bytes_len(&r->b.buf) == 0 && fill(r, &f->waiter_, cx, &n) == EDO_PENDING)
            return EDO_PENDING;
        f->data = edo_bytes_data(&r->b.buf);
        f->result = (ssize_t)edo_bytes_len(&r->b.buf);
        if (f->result == 0)
            f->result = n; /* the end, or an error */
        return EDO_READY;
    }
    uint8_t delim = st->op == OP_NEXT_LINE ? '\n' : st->delim;
    if (poll_record(r, &f->waiter_, cx, delim, st->limit, &st->scanned, &n) == EDO_PENDING)
        return EDO_PENDING;
    if (st->op == OP_NEXT_LINE)
        f->result = take_line(r, n, &f->data, &f->len);
    else
        f->result = take_record(r, n, st->out);
    return EDO_READY;
}

static void reader_future_drop(edo_future *self)
{
    edo_buf_reader_future *f = (edo_buf_reader_future *)self;
    if (!state_of(f)->error)
        edo_stream_waiter_drop(f->reader_->b.w.inner, &f->waiter_);
}

static const edo_future_vtable reader_future_vtable = {reader_future_poll, reader_future_drop};

static op_state *init(edo_buf_reader_future *f, edo_buf_reader *r, enum op op, size_t limit)
{
    memset(f, 0, sizeof *f);
    f->base.vtable = &reader_future_vtable;
    f->reader_ = r;
    op_state *st = state_of(f);
    st->op = (uint8_t)op;
    st->limit = limit;
    st->error = !r || (op != OP_FILL_BUF && limit == 0) ? -EINVAL : 0;
    return st;
}

void edo_buf_reader_fill_buf_future_init(edo_buf_reader_future *f, edo_buf_reader *r)
{
    if (f)
        init(f, r, OP_FILL_BUF, 0);
}

void edo_buf_reader_read_until_future_init(edo_buf_reader_future *f, edo_buf_reader *r,
                                           uint8_t delim, edo_bytes *out, size_t limit)
{
    if (!f)
        return;
    op_state *st = init(f, r, OP_READ_UNTIL, limit);
    st->delim = delim;
    st->out = out;
    if (!out)
        st->error = -EINVAL;
}

void edo_buf_reader_read_line_future_init(edo_buf_reader_future *f, edo_buf_reader *r,
                                          edo_bytes *out, size_t limit)
{
    edo_buf_reader_read_until_future_init(f, r, '\n', out, limit);
}

void edo_buf_reader_next_line_future_init(edo_buf_reader_future *f, edo_buf_reader *r,
                                          size_t limit)
{
    if (f)
        init(f, r, OP_NEXT_LINE, limit);
}

/* ---- coroutine calls: answered from the window when they can, else the future awaited ----- */

/* Awaits `f` (its search already `scanned` bytes along) and returns its result. */
static ssize_t run(edo_buf_reader_future *f, size_t scanned)
{
    if (state_of(f)->error)
        return state_of(f)->error;
    state_of(f)->scanned = scanned;
    int rc = edo__coro_run(&f->base, NULL, NULL);
    return rc < 0 ? rc : f->result;
}

ssize_t edo_buf_reader_fill_buf(edo_buf_reader *r, const uint8_t **data)
{
    if (!r || !data)
        return -EINVAL;
    *data = edo_bytes_data(&r->b.buf);
    if (edo_bytes_len(&r->b.buf) > 0)
        return (ssize_t)edo_bytes_len(&r->b.buf);
    edo_buf_reader_future f;
    edo_buf_reader_fill_buf_future_init(&f, r);
    ssize_t n = run(&f, 0);
    *data = f.data;
    return n;
}

ssize_t edo_buf_reader_read_until(edo_buf_reader *r, uint8_t delim, edo_bytes *out,
                                  size_t limit)
{
    if (!r || !out || limit == 0)
        return -EINVAL;
    size_t scanned = 0;
    ssize_t n = find_record(r, delim, limit, &scanned);
    if (n != 0)
        return take_record(r, n, out);
    edo_buf_reader_future f;
    edo_buf_reader_read_until_future_init(&f, r, delim, out, limit);
    return run(&f, scanned);
}

ssize_t edo_buf_reader_read_line(edo_buf_reader *r, edo_bytes *out, size_t limit)
{
    return edo_buf_reader_read_until(r, '\n', out, limit);
}

int edo_buf_reader_next_line(edo_buf_reader *r, size_t limit, const char **line, size_t *len)
{
    if (len)
        *len = 0;
    if (!r || !line || !len || limit == 0)
        return -EINVAL;
    size_t scanned = 0;
    ssize_t n = find_record(r, '\n', limit, &scanned);
    const uint8_t *found;
    if (n != 0) { /* the common case: the line is in the window, no future, no wait */
        int rc = take_line(r, n, &found, len);
        *line = (const char *)found;
        return rc;
    }
    edo_buf_reader_future f;
    edo_buf_reader_next_line_future_init(&f, r, limit);
    n = run(&f, scanned);
    *line = (const char *)f.data;
    *len = f.len;
    return (int)n;
}

/* ---- the reader as a stream ---------------------------------------------------------------- */

static edo_poll reader_poll_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                                 size_t len, ssize_t *result)
{
    edo_buf_reader *r = (edo_buf_reader *)s;
    if (edo_bytes_len(&r->b.buf) == 0) {
        if (len >= r->b.capacity) /* as large as a fill: no point copying twice */
            return edo__wrapper_poll_read(s, w, cx, buf, len, result);
        ssize_t n;
        if (fill(r, w, cx, &n) == EDO_PENDING)
            return EDO_PENDING;
        if (n <= 0) {
            *result = n;
            return EDO_READY;
        }
    }
    size_t have = edo_bytes_len(&r->b.buf);
    size_t n = len < have ? len : have;
    memcpy(buf, edo_bytes_data(&r->b.buf), n);
    edo_bytes_advance(&r->b.buf, n);
    *result = (ssize_t)n;
    return EDO_READY;
}

/* Bytes waiting in the buffer make the reader readable, whatever inner says. */
static edo_poll reader_poll_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                  uint32_t interest, ssize_t *result)
{
    if ((interest & EDO_READABLE) && edo_bytes_len(&((edo_buf_reader *)s)->b.buf) > 0) {
        *result = EDO_READABLE;
        return EDO_READY;
    }
    return edo__wrapper_poll_ready(s, w, cx, interest, result);
}

static const edo_stream_vtable reader_vtable = {
    .poll_read = reader_poll_read,
    .poll_write = edo__wrapper_poll_write,
    .poll_flush = edo__wrapper_poll_flush,
    .poll_shutdown = edo__wrapper_poll_shutdown,
    .poll_ready = reader_poll_ready,
    .drop_waiter = edo__wrapper_drop_waiter,
    /* reading the fd would skip the buffered bytes */
    .raw_fd = edo__wrapper_raw_fd_write_side,
    .close = edo__buffered_close,
};

int edo_buf_reader_new(edo_stream *inner, size_t capacity, edo_buf_reader **out)
{
    edo__buffered *b;
    int rc = out ? edo__buffered_new(&reader_vtable, inner, capacity, &b) : -EINVAL;
    if (rc == 0)
        *out = (edo_buf_reader *)b;
    return rc;
}

edo_stream *edo_buf_reader_stream(edo_buf_reader *r) { return r ? &r->b.w.base : NULL; }

edo_stream *edo_buf_reader_into_inner(edo_buf_reader *r, edo_bytes *rest)
{
    return edo__buffered_into_inner(r ? &r->b : NULL, rest);
}

const uint8_t *edo_buf_reader_buffer(const edo_buf_reader *r, size_t *len)
{
    if (len)
        *len = r ? edo_bytes_len(&r->b.buf) : 0;
    return r && len ? edo_bytes_data(&r->b.buf) : NULL;
}

int edo_buf_reader_consume(edo_buf_reader *r, size_t n)
{
    return r ? edo_bytes_advance(&r->b.buf, n) : -EINVAL;
}
