/* One direction of a copy (copy.h), and edo_stream_copy on it: its future and coroutine forms.
 * The phases: choose how the bytes move, move them until the reader ends, then flush or shut
 * down the writer. */
#include <errno.h>
#include <stdalign.h>
#include <string.h>

#include "coro/coro.h"
#include "stream/copy.h"
#include "stream/vtable.h"

_Static_assert(sizeof(edo__copy) <= sizeof(((edo_stream_copy_state *)0)->private_),
               "edo_stream_copy_state.private_ is too small");
_Static_assert(alignof(edo__copy) <= alignof(uint64_t), "edo_stream_copy_state misaligned");

edo__copy *edo__copy_of(edo_stream_copy_state *s)
{
    return (edo__copy *)(void *)s->private_;
}

static bool stream_ok(const edo_stream *s)
{
    return s && s->vtable && s->vtable->poll_read && s->vtable->poll_write;
}

int edo__copy_check(const edo_stream *from, const edo_stream *to)
{
    return stream_ok(from) && stream_ok(to) ? 0 : -EINVAL;
}

void edo__copy_init(edo__copy *c, edo_stream *from, edo_stream *to, bool shut_down_writer)
{
    memset(c, 0, sizeof *c);
    edo_stream_waiter_init(&c->reading);
    edo_stream_waiter_init(&c->writing);
    c->pipe_out = c->pipe_in = -1;
    c->shut_down_writer = shut_down_writer;
    c->result = edo__copy_check(from, to);
    c->phase = c->result < 0 ? EDO__COPY_DONE : EDO__COPY_START;
    if (c->result == 0) { /* else no stream: the drop has nothing to release from them */
        c->from = from;
        c->to = to;
    }
}

ssize_t edo__copy_read_done(edo__copy *c, ssize_t n)
{
    edo_stream_waiter_drop(c->from, &c->reading);
    if (n == 0)
        c->reader_ended = true;
    return n;
}

ssize_t edo__copy_write_done(edo__copy *c, ssize_t n)
{
    edo_stream_waiter_drop(c->to, &c->writing);
    if (n <= 0)
        return n < 0 ? n : -EIO;
    c->copied += (uint64_t)n;
    return n;
}

/* The writer's last step: a flush, or a shutdown (which flushes first). */
static edo_poll poll_finish_writer(edo__copy *c, edo_context *cx, int *result)
{
    ssize_t r = 0;
    edo_poll p = c->phase == EDO__COPY_CLOSING
                     ? edo__stream_poll_shutdown(c->to, &c->writing, cx, &r)
                     : edo__stream_poll_flush(c->to, &c->writing, cx, &r);
    if (p == EDO_PENDING)
        return EDO_PENDING;
    edo_stream_waiter_drop(c->to, &c->writing);
    *result = (int)r;
    return EDO_READY;
}

static void release_transport(edo__copy *c)
{
    edo__copy_buffer_release(c);
    edo__copy_splice_release(c);
}

edo_poll edo__copy_poll(edo__copy *c, edo_context *cx, int *result)
{
    int rc = 0;
    switch ((edo__copy_phase)c->phase) {
    case EDO__COPY_START:
        edo__copy_splice_start(c); /* else the buffer path, from the first read on */
        c->phase = EDO__COPY_MOVING;
        /* fall through */
    case EDO__COPY_MOVING:
        if (c->splicing ? edo__copy_move_spliced(c, cx, &rc) == EDO_PENDING
                            : edo__copy_move_buffered(c, cx, &rc) == EDO_PENDING)
            return EDO_PENDING;
        release_transport(c); /* the buffer or pipe is not needed past the end */
        if (rc < 0)
            break;
        c->phase = c->shut_down_writer ? EDO__COPY_CLOSING : EDO__COPY_FLUSHING;
        /* fall through */
    case EDO__COPY_FLUSHING:
    case EDO__COPY_CLOSING:
        if (poll_finish_writer(c, cx, &rc) == EDO_PENDING)
            return EDO_PENDING;
        break;
    case EDO__COPY_DONE:
        *result = c->result;
        return EDO_READY;
    }
    c->result = rc;
    c->phase = EDO__COPY_DONE;
    *result = rc;
    return EDO_READY;
}

void edo__copy_drop(edo__copy *c)
{
    edo_stream_waiter_drop(c->from, &c->reading);
    edo_stream_waiter_drop(c->to, &c->writing);
    release_transport(c);
}

/* ---------------------------------------------------------------------------------------------
 * edo_stream_copy
 * ------------------------------------------------------------------------------------------- */

static edo_poll copy_future_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_stream_copy_future *f = (edo_stream_copy_future *)self;
    edo__copy *c = edo__copy_of(&f->state_);
    edo_poll p = edo__copy_poll(c, cx, &f->result);
    f->copied = c->copied;
    return p;
}

static void copy_future_drop(edo_future *self)
{
    edo__copy_drop(edo__copy_of(&((edo_stream_copy_future *)self)->state_));
}

static const edo_future_vtable copy_future_vtable = {copy_future_poll, copy_future_drop};

void edo_stream_copy_future_init(edo_stream_copy_future *f, edo_stream *from, edo_stream *to)
{
    if (!f)
        return;
    memset(f, 0, sizeof *f);
    f->base.vtable = &copy_future_vtable;
    edo__copy_init(edo__copy_of(&f->state_), from, to, false);
}

int edo_stream_copy(edo_stream *from, edo_stream *to, uint64_t *copied)
{
    if (copied) *copied = 0;
    int rc = edo__copy_check(from, to);
    if (rc < 0)
        return rc;
    edo_stream_copy_future f;
    edo_stream_copy_future_init(&f, from, to);
    rc = edo__coro_run(&f.base, NULL, &f.result);
    if (copied) *copied = f.copied;
    return rc;
}
