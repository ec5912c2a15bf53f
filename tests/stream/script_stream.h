/* A stream that plays a script, for tests that need reads split exactly where they say: each
 * read returns (up to its length) the next chunk of `chunks`; an empty chunk makes that read
 * pending once (it wakes its waker at once, so a coroutine goes on at its next poll); after the
 * last chunk (the NULL entry) reads return 0, the end. Writes append to `written`, at most
 * `write_max` bytes each (0: all), and the next `write_pending` writes are pending once first.
 * Works without a runtime (futures polled by hand) and inside one. Not thread-safe. */
#ifndef EDO_TEST_SCRIPT_STREAM_H
#define EDO_TEST_SCRIPT_STREAM_H

#include <string.h>

#include "edo/bytes.h"
#include "edo/stream.h"

typedef struct script_stream {
    edo_stream base;
    const char *const *chunks; /* NULL-terminated */
    size_t next, off;          /* the chunk being read, and how far */
    size_t reads;              /* reads that returned bytes */
    edo_bytes written;
    size_t write_max;
    int write_pending;
    int flushes, shutdowns, closes;
    int pending_waiters; /* reads and writes now pending (a drop_waiter forgets one) */
} script_stream;

static inline edo_poll script_poll_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                        void *buf, size_t len, ssize_t *result)
{
    script_stream *ss = (script_stream *)s;
    const char *chunk = ss->chunks[ss->next];
    if (chunk && chunk[0] == '\0') { /* a pause: pending once */
        ss->next++;
        w->private_[0] = 1;
        ss->pending_waiters++;
        edo_waker_wake_by_ref(edo_context_waker(cx));
        return EDO_PENDING;
    }
    if (w->private_[0]) { /* polled again after a pause */
        w->private_[0] = 0;
        ss->pending_waiters--;
    }
    if (!chunk) {
        *result = 0;
        return EDO_READY;
    }
    size_t left = strlen(chunk) - ss->off;
    size_t n = len < left ? len : left;
    memcpy(buf, chunk + ss->off, n);
    ss->off += n;
    if (ss->off == strlen(chunk)) {
        ss->next++;
        ss->off = 0;
    }
    ss->reads++;
    *result = (ssize_t)n;
    return EDO_READY;
}

static inline edo_poll script_poll_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                         const struct iovec *iov, int iovcnt, ssize_t *result)
{
    script_stream *ss = (script_stream *)s;
    if (ss->write_pending > 0 && !w->private_[0]) {
        ss->write_pending--;
        w->private_[0] = 1;
        ss->pending_waiters++;
        edo_waker_wake_by_ref(edo_context_waker(cx));
        return EDO_PENDING;
    }
    if (w->private_[0]) {
        w->private_[0] = 0;
        ss->pending_waiters--;
    }
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        size_t n = iov[i].iov_len;
        if (ss->write_max && n > ss->write_max - total)
            n = ss->write_max - total;
        edo_bytes_append(&ss->written, iov[i].iov_base, n);
        total += n;
    }
    *result = (ssize_t)total;
    return EDO_READY;
}

static inline edo_poll script_poll_flush(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                         ssize_t *result)
{
    (void)w, (void)cx;
    ((script_stream *)s)->flushes++;
    *result = 0;
    return EDO_READY;
}

static inline edo_poll script_poll_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                            ssize_t *result)
{
    (void)w, (void)cx;
    ((script_stream *)s)->shutdowns++;
    *result = 0;
    return EDO_READY;
}

static inline void script_drop_waiter(edo_stream *s, edo_stream_waiter *w)
{
    if (w->private_[0]) {
        w->private_[0] = 0;
        ((script_stream *)s)->pending_waiters--;
    }
}

static inline int script_close(edo_stream *s)
{
    ((script_stream *)s)->closes++;
    return 0;
}

static const edo_stream_vtable script_vtable = {
    .poll_read = script_poll_read,
    .poll_write = script_poll_write,
    .poll_flush = script_poll_flush,
    .poll_shutdown = script_poll_shutdown,
    .drop_waiter = script_drop_waiter,
    .close = script_close,
};

/* A script stream over `chunks` (which must outlive it). Drop with script_drop. */
static inline script_stream script(const char *const *chunks)
{
    return (script_stream){.base = {&script_vtable}, .chunks = chunks};
}

static inline void script_drop(script_stream *ss) { edo_bytes_drop(&ss->written); }

/* True when `b` holds exactly `text`. */
static inline bool bytes_are(const edo_bytes *b, const char *text)
{
    size_t n = strlen(text);
    return edo_bytes_len(b) == n && (n == 0 || memcmp(edo_bytes_data(b), text, n) == 0);
}

#endif
