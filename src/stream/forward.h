/* Streams that wrap another one (the byte limit, the buffered reader and writer) and hand the
 * operations they do not change down to it, with the defaults edo/stream.h gives an entry that
 * inner leaves NULL. Each such stream begins with an edo__stream_wrapper, so these functions
 * serve directly as its vtable entries. */
#ifndef EDO_STREAM_FORWARD_H
#define EDO_STREAM_FORWARD_H

#include "edo/bytes.h"
#include "edo/stream.h"
#include "stream/vtable.h"

typedef struct edo__stream_wrapper {
    edo_stream base;
    edo_stream *inner; /* owned: closed with the wrapper */
} edo__stream_wrapper;

/* inner's entries, for a wrapper `s`. */
edo_poll edo__wrapper_poll_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                                size_t len, ssize_t *result);
edo_poll edo__wrapper_poll_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                 const struct iovec *iov, int iovcnt, ssize_t *result);
/* none: ready with 0 (nothing is buffered) */
edo_poll edo__wrapper_poll_flush(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                 ssize_t *result);
/* none: ready with -ENOTSUP */
edo_poll edo__wrapper_poll_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                    ssize_t *result);
/* none: ready with -ENOTSUP */
edo_poll edo__wrapper_poll_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                 uint32_t interest, ssize_t *result);
void edo__wrapper_drop_waiter(edo_stream *s, edo_stream_waiter *w);
/* inner's fd for the write side only (the wrapper changes what reads see): read side -ENOTSUP */
int edo__wrapper_raw_fd_write_side(const edo_stream *s, bool write);
/* inner's fd for the read side only (the wrapper holds back what is written) */
int edo__wrapper_raw_fd_read_side(const edo_stream *s, bool write);


/* The buffered reader and writer: a wrapper with a buffer of a given capacity. */
typedef struct edo__buffered {
    edo__stream_wrapper w;
    edo_bytes buf;
    size_t capacity; /* > 0 */
} edo__buffered;

/* A new one over `inner` (0: EDO_BUF_DEFAULT_CAPACITY), no buffer allocated yet: 0, -EINVAL
 * (invalid inner, NULL out, capacity above EDO_BUF_MAX_CAPACITY) or -ENOMEM. */
int edo__buffered_new(const edo_stream_vtable *vtable, edo_stream *inner, size_t capacity,
                      edo__buffered **out);
/* Frees `b` and returns inner; the buffered bytes go to `rest` (NULL: dropped). NULL: NULL. */
edo_stream *edo__buffered_into_inner(edo__buffered *b, edo_bytes *rest);
/* The vtable's close: frees `s` and closes inner. */
int edo__buffered_close(edo_stream *s);

#endif
