/* A wrapper's operations handed down to its inner stream (see forward.h). */
#include "stream/forward.h"

#include <errno.h>
#include <stdlib.h>

#include "edo/buffered.h"

static edo_stream *inner_of(edo_stream *s) { return ((edo__stream_wrapper *)s)->inner; }

edo_poll edo__wrapper_poll_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                                size_t len, ssize_t *result)
{
    edo_stream *in = inner_of(s);
    return in->vtable->poll_read(in, w, cx, buf, len, result);
}

edo_poll edo__wrapper_poll_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                 const struct iovec *iov, int iovcnt, ssize_t *result)
{
    edo_stream *in = inner_of(s);
    return in->vtable->poll_write(in, w, cx, iov, iovcnt, result);
}

edo_poll edo__wrapper_poll_flush(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                 ssize_t *result)
{
    return edo__stream_poll_flush(inner_of(s), w, cx, result);
}

edo_poll edo__wrapper_poll_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                    ssize_t *result)
{
    return edo__stream_poll_shutdown(inner_of(s), w, cx, result);
}

edo_poll edo__wrapper_poll_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                 uint32_t interest, ssize_t *result)
{
    return edo__stream_poll_ready(inner_of(s), w, cx, interest, result);
}

void edo__wrapper_drop_waiter(edo_stream *s, edo_stream_waiter *w)
{
    edo_stream *in = inner_of(s);
    if (in->vtable->drop_waiter)
        in->vtable->drop_waiter(in, w);
}

int edo__wrapper_raw_fd_write_side(const edo_stream *s, bool write)
{
    return write ? edo_stream_raw_fd(((const edo__stream_wrapper *)s)->inner, true) : -ENOTSUP;
}

int edo__wrapper_raw_fd_read_side(const edo_stream *s, bool write)
{
    return write ? -ENOTSUP : edo_stream_raw_fd(((const edo__stream_wrapper *)s)->inner, false);
}

int edo__buffered_new(const edo_stream_vtable *vtable, edo_stream *inner, size_t capacity,
                      edo__buffered **out)
{
    if (!edo__stream_is_valid(inner) || !out || capacity > EDO_BUF_MAX_CAPACITY)
        return -EINVAL;
    edo__buffered *b = malloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    *b = (edo__buffered){{{vtable}, inner}, EDO_BYTES_INIT,
                         capacity ? capacity : EDO_BUF_DEFAULT_CAPACITY};
    *out = b;
    return 0;
}

edo_stream *edo__buffered_into_inner(edo__buffered *b, edo_bytes *rest)
{
    if (!b)
        return NULL;
    edo_stream *inner = b->w.inner;
    if (rest)
        *rest = b->buf; /* the allocation goes with it */
    else
        edo_bytes_drop(&b->buf);
    free(b);
    return inner;
}

int edo__buffered_close(edo_stream *s)
{
    return edo_stream_close(edo__buffered_into_inner((edo__buffered *)s, NULL));
}
