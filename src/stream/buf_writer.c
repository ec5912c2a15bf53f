/* The buffered writer (edo/buffered.h): small writes are gathered in an edo_bytes and written to
 * inner when the next one would not fit, on flush and on shutdown. The buffer is consumed from
 * the front as inner takes it, so a flush that was abandoned half-way goes on where it stopped. */
#include <errno.h>

#include "edo/buffered.h"
#include "stream/forward.h"

/* The shared buffered layout (forward.h) is the whole of it. */
struct edo_buf_writer {
    edo__buffered b;
};

/* Writes the buffer out to inner: ready with 0 once it is empty, or -errno (what inner took is
 * gone from the buffer, the rest stays). */
static edo_poll drain(edo_buf_writer *bw, edo_stream_waiter *w, edo_context *cx, ssize_t *result)
{
    const void *data = edo_bytes_data(&bw->b.buf);
    size_t before = edo_bytes_len(&bw->b.buf), left = before;
    edo_poll p = edo__stream_poll_write_all(bw->b.w.inner, w, cx, &data, &left, -EIO, result);
    edo_bytes_advance(&bw->b.buf, before - left);
    return p;
}

static edo_poll writer_poll_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                  const struct iovec *iov, int iovcnt, ssize_t *result)
{
    edo_buf_writer *bw = (edo_buf_writer *)s;
    size_t total = 0; /* at most SSIZE_MAX: the stream calls checked it */
    for (int i = 0; i < iovcnt; i++)
        total += iov[i].iov_len;
    if (total > bw->b.capacity - edo_bytes_len(&bw->b.buf)) {
        /* It does not fit: what waits goes first (a pending write has taken none of the
         * caller's bytes, as the stream rules want). */
        edo_poll p = drain(bw, w, cx, result);
        if (p == EDO_PENDING || *result < 0)
            return p;
    }
    if (total >= bw->b.capacity)
        return edo__wrapper_poll_write(s, w, cx, iov, iovcnt, result);
    /* The first buffered write allocates the whole capacity, so later ones never reallocate. */
    int rc = edo_bytes_reserve(&bw->b.buf, bw->b.capacity - edo_bytes_len(&bw->b.buf));
    if (rc < 0) {
        *result = rc;
        return EDO_READY;
    }
    for (int i = 0; i < iovcnt; i++)
        edo_bytes_append(&bw->b.buf, iov[i].iov_base, iov[i].iov_len); /* reserved: cannot fail */
    *result = (ssize_t)total;
    return EDO_READY;
}

/* Writes the buffer out, then goes on with inner's `then` (flush or shutdown). */
static edo_poll drain_then(edo_stream *s, edo_stream_waiter *w, edo_context *cx, ssize_t *result,
                           edo_poll (*then)(edo_stream *, edo_stream_waiter *, edo_context *,
                                            ssize_t *))
{
    edo_poll p = drain((edo_buf_writer *)s, w, cx, result);
    if (p == EDO_PENDING || *result < 0)
        return p;
    return then(s, w, cx, result);
}

static edo_poll writer_poll_flush(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                  ssize_t *result)
{
    return drain_then(s, w, cx, result, edo__wrapper_poll_flush);
}

static edo_poll writer_poll_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                     ssize_t *result)
{
    return drain_then(s, w, cx, result, edo__wrapper_poll_shutdown);
}

/* Room in the buffer makes the writer writable, whatever inner says. */
static edo_poll writer_poll_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                  uint32_t interest, ssize_t *result)
{
    edo_buf_writer *bw = (edo_buf_writer *)s;
    if ((interest & EDO_WRITABLE) && edo_bytes_len(&bw->b.buf) < bw->b.capacity) {
        *result = EDO_WRITABLE;
        return EDO_READY;
    }
    return edo__wrapper_poll_ready(s, w, cx, interest, result);
}

static const edo_stream_vtable writer_vtable = {
    .poll_read = edo__wrapper_poll_read,
    .poll_write = writer_poll_write,
    .poll_flush = writer_poll_flush,
    .poll_shutdown = writer_poll_shutdown,
    .poll_ready = writer_poll_ready,
    .drop_waiter = edo__wrapper_drop_waiter,
    /* writing the fd would overtake the buffered bytes */
    .raw_fd = edo__wrapper_raw_fd_read_side,
    .close = edo__buffered_close,
};

int edo_buf_writer_new(edo_stream *inner, size_t capacity, edo_buf_writer **out)
{
    edo__buffered *b;
    int rc = out ? edo__buffered_new(&writer_vtable, inner, capacity, &b) : -EINVAL;
    if (rc == 0)
        *out = (edo_buf_writer *)b;
    return rc;
}

edo_stream *edo_buf_writer_stream(edo_buf_writer *w) { return w ? &w->b.w.base : NULL; }

size_t edo_buf_writer_buffered(const edo_buf_writer *w) { return w ? edo_bytes_len(&w->b.buf) : 0; }

edo_stream *edo_buf_writer_into_inner(edo_buf_writer *w, edo_bytes *rest)
{
    return edo__buffered_into_inner(w ? &w->b : NULL, rest);
}
