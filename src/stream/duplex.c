/* The in-memory duplex pair (edo/duplex.h): two directions, each a ring buffer of at most
 * max_buffered bytes, under one spinlock for the pair (only the two ends ever contend for it).
 *
 * Who waits: a direction remembers at most one reading and one writing waiter (stream/wait.h:
 * the waker is kept in the caller's waiter, so an idle pair holds none). A readiness wait for
 * both directions sits in two slots with one waker. */
#include <errno.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "edo/duplex.h"
#include "edo/io.h"
#include "platform/spinlock.h"
#include "stream/wait.h"

/* The bytes one end wrote and the other has not read yet. */
typedef struct direction {
    char *data; /* the ring, allocated by the first write */
    size_t head, len;
    bool write_closed; /* the writer shut down or closed: the reader ends at 0 once drained */
    bool read_closed;  /* the reader closed: writes fail with -EPIPE */
    edo_stream_waiter *reader, *writer;
} direction;

struct duplex;

typedef struct end {
    edo_stream base; /* first: an end is its stream */
    struct duplex *pair;
    unsigned side; /* writes dir[side], reads dir[1 - side] */
} end;

typedef struct duplex {
    edo__spinlock lock;
    size_t capacity;
    _Atomic unsigned open_ends; /* the pair is freed when it drops to 0 */
    direction dir[2];
    end ends[2];
} duplex;

static end *end_of(edo_stream *s) { return (end *)s; }
static direction *in_of(end *e) { return &e->pair->dir[1 - e->side]; }
static direction *out_of(end *e) { return &e->pair->dir[e->side]; }

/* ---- waiters (under the lock) -------------------------------------------------------------- */

/* Takes `w` off every slot of the pair. */
static void unlink_waiter(duplex *d, const edo_stream_waiter *w)
{
    for (int i = 0; i < 2; i++) {
        if (d->dir[i].reader == w)
            d->dir[i].reader = NULL;
        if (d->dir[i].writer == w)
            d->dir[i].writer = NULL;
    }
}

/* Takes the waiter in `slot` off the pair and hands back its waker (to wake after unlocking). */
static edo_waker take_waiter(duplex *d, edo_stream_waiter *const *slot)
{
    edo_stream_waiter *w = *slot;
    if (w)
        unlink_waiter(d, w);
    return edo__stream_wait_take(w);
}

static void duplex_drop_waiter(edo_stream *s, edo_stream_waiter *w)
{
    duplex *d = end_of(s)->pair;
    edo__spin_lock(&d->lock);
    unlink_waiter(d, w);
    edo__spin_unlock(&d->lock);
    edo__stream_wait_drop(w); /* ours alone now */
}

/* ---- the ring (under the lock) ------------------------------------------------------------- */

/* Copies up to `len` bytes out of the front of `dir` into buf; returns the count. */
static size_t ring_take(direction *dir, size_t capacity, char *buf, size_t len)
{
    size_t n = len < dir->len ? len : dir->len;
    size_t first = capacity - dir->head < n ? capacity - dir->head : n;
    memcpy(buf, dir->data + dir->head, first);
    memcpy(buf + first, dir->data, n - first);
    dir->head = (dir->head + n) % capacity;
    dir->len -= n;
    if (dir->len == 0)
        dir->head = 0; /* keeps the next writes contiguous */
    return n;
}

/* Appends as much of the buffers as fits; returns the count. */
static size_t ring_put(direction *dir, size_t capacity, const struct iovec *iov, int iovcnt)
{
    size_t put = 0;
    for (int i = 0; i < iovcnt && dir->len < capacity; i++) {
        const char *p = iov[i].iov_base;
        size_t left = iov[i].iov_len;
        while (left > 0 && dir->len < capacity) {
            size_t tail = (dir->head + dir->len) % capacity;
            size_t room = tail >= dir->head && dir->len < capacity ? capacity - tail
                                                                   : dir->head - tail;
            size_t n = left < room ? left : room;
            memcpy(dir->data + tail, p, n);
            dir->len += n;
            p += n;
            left -= n;
            put += n;
        }
    }
    return put;
}

/* ---- poll functions ------------------------------------------------------------------------ */

static edo_poll duplex_poll_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                                 size_t len, ssize_t *result)
{
    end *e = end_of(s);
    duplex *d = e->pair;
    direction *in = in_of(e);
    if (!edo_coop_proceed(cx))
        return EDO_PENDING; /* budget spent: it queued us again, behind the others */
    edo_waker wake = EDO_WAKER_EMPTY, old = EDO_WAKER_EMPTY;
    edo_poll poll = EDO_READY;
    edo__spin_lock(&d->lock);
    if (in->len > 0) {
        *result = (ssize_t)ring_take(in, d->capacity, buf, len);
        wake = take_waiter(d, &in->writer); /* there is room now */
    } else if (in->write_closed) {
        *result = 0;
    } else {
        int rc = edo__stream_wait_enqueue(&in->reader, w, cx, &old);
        if (rc < 0)
            *result = rc;
        else
            poll = EDO_PENDING;
    }
    edo__spin_unlock(&d->lock);
    edo_waker_drop(&old);
    edo_waker_wake(&wake);
    return poll;
}

/* The buffer of `out`, allocated on the first write. Only the writing end calls this and only
 * it sets `data`, so the look without the lock is its own earlier store. */
static int ensure_buffer(duplex *d, direction *out)
{
    if (out->data)
        return 0;
    char *data = malloc(d->capacity);
    if (!data)
        return -ENOMEM;
    edo__spin_lock(&d->lock);
    out->data = data;
    edo__spin_unlock(&d->lock);
    return 0;
}

static edo_poll duplex_poll_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                  const struct iovec *iov, int iovcnt, ssize_t *result)
{
    end *e = end_of(s);
    duplex *d = e->pair;
    direction *out = out_of(e);
    if (!edo_coop_proceed(cx))
        return EDO_PENDING;
    int rc = ensure_buffer(d, out);
    if (rc < 0) {
        *result = rc;
        return EDO_READY;
    }
    edo_waker wake = EDO_WAKER_EMPTY, old = EDO_WAKER_EMPTY;
    edo_poll poll = EDO_READY;
    edo__spin_lock(&d->lock);
    if (out->write_closed || out->read_closed) {
        *result = -EPIPE;
    } else if (out->len < d->capacity) {
        *result = (ssize_t)ring_put(out, d->capacity, iov, iovcnt);
        if (*result > 0)
            wake = take_waiter(d, &out->reader);
    } else if ((rc = edo__stream_wait_enqueue(&out->writer, w, cx, &old)) < 0) {
        *result = rc;
    } else {
        poll = EDO_PENDING;
    }
    edo__spin_unlock(&d->lock);
    edo_waker_drop(&old);
    edo_waker_wake(&wake);
    return poll;
}

/* Marks this end's writing over (shutdown, close): the reader sees the end once drained. */
static void close_writing(duplex *d, direction *out)
{
    edo__spin_lock(&d->lock);
    out->write_closed = true;
    edo_waker wake = take_waiter(d, &out->reader);
    edo__spin_unlock(&d->lock);
    edo_waker_wake(&wake);
}

static edo_poll duplex_poll_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                     ssize_t *result)
{
    (void)w;
    (void)cx;
    end *e = end_of(s);
    close_writing(e->pair, out_of(e));
    *result = 0;
    return EDO_READY;
}

static edo_poll duplex_poll_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                  uint32_t interest, ssize_t *result)
{
    end *e = end_of(s);
    duplex *d = e->pair;
    direction *in = in_of(e), *out = out_of(e);
    edo_waker old = EDO_WAKER_EMPTY;
    uint32_t ready = 0;
    int rc = 0;
    edo__spin_lock(&d->lock);
    if (interest & EDO_READABLE) {
        if (in->len > 0)
            ready |= EDO_READABLE;
        if (in->write_closed)
            ready |= EDO_READABLE | EDO_READ_CLOSED;
    }
    if (interest & EDO_WRITABLE) {
        if (out->write_closed || out->read_closed)
            ready |= EDO_WRITABLE | EDO_WRITE_CLOSED;
        else if (out->len < d->capacity)
            ready |= EDO_WRITABLE;
    }
    if (!ready) {
        if (interest & EDO_READABLE)
            rc = edo__stream_wait_enqueue(&in->reader, w, cx, &old);
        if (rc == 0 && (interest & EDO_WRITABLE))
            rc = edo__stream_wait_enqueue(&out->writer, w, cx, &old);
        if (rc < 0)
            unlink_waiter(d, w);
    }
    edo__spin_unlock(&d->lock);
    edo_waker_drop(&old);
    if (!ready && rc == 0)
        return EDO_PENDING;
    *result = rc < 0 ? rc : (ssize_t)ready;
    return EDO_READY;
}

static int duplex_close(edo_stream *s)
{
    end *e = end_of(s);
    duplex *d = e->pair;
    direction *in = in_of(e), *out = out_of(e);
    edo__spin_lock(&d->lock);
    out->write_closed = true;
    in->read_closed = true;
    edo_waker wake_reader = take_waiter(d, &out->reader);
    edo_waker wake_writer = take_waiter(d, &in->writer); /* its write fails with -EPIPE now */
    edo__spin_unlock(&d->lock);
    edo_waker_wake(&wake_reader);
    edo_waker_wake(&wake_writer);
    if (atomic_fetch_sub_explicit(&d->open_ends, 1, memory_order_acq_rel) == 1) {
        free(d->dir[0].data);
        free(d->dir[1].data);
        free(d);
    }
    return 0;
}

static const edo_stream_vtable duplex_vtable = {
    .poll_read = duplex_poll_read,
    .poll_write = duplex_poll_write,
    .poll_shutdown = duplex_poll_shutdown,
    .poll_ready = duplex_poll_ready,
    .drop_waiter = duplex_drop_waiter,
    .close = duplex_close,
};

int edo_duplex_new(size_t max_buffered, edo_stream **a, edo_stream **b)
{
    if (!a || !b || max_buffered == 0 || max_buffered > SSIZE_MAX)
        return -EINVAL;
    duplex *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    edo__spin_init(&d->lock);
    d->capacity = max_buffered;
    atomic_init(&d->open_ends, 2);
    for (unsigned i = 0; i < 2; i++)
        d->ends[i] = (end){{&duplex_vtable}, d, i};
    *a = &d->ends[0].base;
    *b = &d->ends[1].base;
    return 0;
}
