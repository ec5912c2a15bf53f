/* The buffer path of a copy: read a buffer's worth from the reader, write it all to the writer,
 * again, until the reader's end of stream. For streams whose bytes do not sit in a kernel fd
 * (an in-memory duplex, TLS, a buffered stream) or whose fds cannot splice.
 *
 * The buffer is taken when there is something to read and freed whenever the reader has
 * nothing (the buffer is empty then) and at its end, so a copy that waits holds no buffer: a
 * proxy of 10,000 idle TLS connections would otherwise hold 640 MB of them. malloc and free of
 * a 32 KiB block cost a fraction of the read that follows each wake. While a read waits, the writer is flushed if anything was written since the last
 * flush: the reader may be waiting for an answer to what a buffering writer still holds (the
 * deadlock Tokio's copy avoids the same way). */
#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "stream/copy.h"

/* While the read waits: push out what the writer buffers. READY with an error only. */
static edo_poll flush_while_reading(edo__copy *c, edo_context *cx, int *result)
{
    const edo_stream_vtable *vt = c->to->vtable;
    ssize_t r = 0;
    if (!c->unflushed || !vt->poll_flush)
        return EDO_PENDING;
    if (vt->poll_flush(c->to, &c->writing, cx, &r) == EDO_PENDING)
        return EDO_PENDING;
    edo_stream_waiter_drop(c->to, &c->writing);
    c->unflushed = false;
    if (r >= 0)
        return EDO_PENDING;
    *result = (int)r;
    return EDO_READY;
}

edo_poll edo__copy_move_buffered(edo__copy *c, edo_context *cx, int *result)
{
    ssize_t n;
    for (;;) {
        if (c->pos == c->end) {
            if (c->reader_ended) {
                *result = 0;
                return EDO_READY;
            }
            if (!c->buf && !(c->buf = malloc(EDO_STREAM_COPY_BUFFER))) {
                *result = -ENOMEM;
                return EDO_READY;
            }
            /* A reader that is always ready would keep this poll forever: take the budget. */
            if (!edo_coop_proceed(cx))
                return EDO_PENDING;
            if (c->from->vtable->poll_read(c->from, &c->reading, cx, c->buf, EDO_STREAM_COPY_BUFFER,
                                           &n) == EDO_PENDING) {
                edo__copy_buffer_release(c); /* empty: a copy that waits holds no buffer */
                return flush_while_reading(c, cx, result);
            }
            if ((n = edo__copy_read_done(c, n)) <= 0) {
                if (n == 0)
                    continue; /* the end: done once the buffer is out */
                *result = (int)n;
                return EDO_READY;
            }
            c->pos = 0;
            c->end = (size_t)n;
        }
        struct iovec v = {c->buf + c->pos, c->end - c->pos};
        if (c->to->vtable->poll_write(c->to, &c->writing, cx, &v, 1, &n) == EDO_PENDING)
            return EDO_PENDING;
        if ((n = edo__copy_write_done(c, n)) < 0) {
            *result = (int)n;
            return EDO_READY;
        }
        c->pos += (size_t)n;
        c->unflushed = true;
    }
}

void edo__copy_buffer_release(edo__copy *c)
{
    free(c->buf);
    c->buf = NULL;
    c->pos = c->end = 0;
}
