/* The framed adapter: a codec on a stream. Every operation is one future (edo_framed_future)
 * whose poll drives the stream's poll functions directly with the future's own waiter; the
 * coroutine calls run that future (edo__coro_run). The bytes live in the framed's buffers, not
 * in the operation, which is what makes a dropped next() lose nothing: it had only read into
 * the read buffer, and the next call decodes from there.
 */
#include <errno.h>
#include <string.h>

#include "codec/codec_internal.h"
#include "coro/coro.h"
#include "stream/vtable.h"

enum op { NEXT, SEND, FLUSH, CLOSE };
/* How far a writing operation got: writing the buffer out, flushing the stream, shutting down. */
enum stage { WRITING, FLUSHING, SHUTTING_DOWN };

int edo_framed_init(edo_framed *f, edo_stream *stream, edo_codec *codec,
                    const edo_framed_config *config)
{
    edo_framed_config cfg = config ? *config : (edo_framed_config){0};
    if (!f || !stream || !stream->vtable || !codec || !codec->vtable ||
        cfg.read_size > EDO_BYTES_MAX)
        return -EINVAL;
    *f = (edo_framed){
        .stream_ = stream,
        .codec_ = codec,
        .high_water_ = cfg.high_water ? cfg.high_water : EDO_FRAMED_DEFAULT_HIGH_WATER,
        .read_size_ = cfg.read_size ? cfg.read_size : EDO_FRAMED_DEFAULT_READ_SIZE,
        .flush_before_read_ = cfg.flush_before_read,
    };
    return 0;
}

void edo_framed_drop(edo_framed *f)
{
    if (!f)
        return;
    edo_bytes_drop(&f->read_buf_);
    edo_bytes_drop(&f->write_buf_);
}

edo_bytes *edo_framed_read_buffer(edo_framed *f) { return f ? &f->read_buf_ : NULL; }

edo_bytes *edo_framed_write_buffer(edo_framed *f) { return f ? &f->write_buf_ : NULL; }

/* One stream operation finished (ready): the waiter is released for the next one. */
static void op_done(edo_framed_future *fut)
{
    edo_stream_waiter_drop(fut->framed_->stream_, &fut->waiter_);
}

/* Writes the write buffer out. READY with *err 0 once it is empty, or the stream's error. */
static edo_poll write_out(edo_framed_future *fut, edo_context *cx, int *err)
{
    edo_framed *f = fut->framed_;
    const void *data = edo_bytes_data(&f->write_buf_);
    size_t before = edo_bytes_len(&f->write_buf_), left = before;
    ssize_t r = 0;
    edo_poll p = edo__stream_poll_write_all(f->stream_, &fut->waiter_, cx, &data, &left, -EPIPE, &r);
    edo_bytes_advance(&f->write_buf_, before - left);
    *err = (int)r;
    return p;
}

/* The stream's flush, or its shutdown. */
static edo_poll stream_step(edo_framed_future *fut, edo_context *cx, bool shutdown, int *err)
{
    edo_stream *s = fut->framed_->stream_;
    ssize_t r;
    edo_poll p = shutdown ? edo__stream_poll_shutdown(s, &fut->waiter_, cx, &r)
                          : edo__stream_poll_flush(s, &fut->waiter_, cx, &r);
    if (p == EDO_PENDING)
        return EDO_PENDING;
    op_done(fut);
    *err = (int)r;
    return EDO_READY;
}

/* Write out, then flush the stream, then (close) shut down its write half. */
static edo_poll poll_writing(edo_framed_future *fut, edo_context *cx, int *err)
{
    for (;;) {
        edo_poll p;
        switch (fut->stage_) {
        case WRITING:
            p = write_out(fut, cx, err);
            break;
        case FLUSHING:
            p = stream_step(fut, cx, false, err);
            break;
        default:
            return stream_step(fut, cx, true, err);
        }
        if (p == EDO_PENDING || *err < 0)
            return p;
        if (fut->stage_ == FLUSHING && fut->op_ != CLOSE)
            return EDO_READY;
        fut->stage_++;
    }
}

static edo_poll poll_next(edo_framed_future *fut, edo_context *cx, int *result)
{
    edo_framed *f = fut->framed_;
    edo_stream *s = f->stream_;
    for (;;) {
        int rc = f->eof_ ? edo_codec_decode_eof(f->codec_, &f->read_buf_, fut->frame_)
                         : edo_codec_decode(f->codec_, &f->read_buf_, fut->frame_);
        if (rc != 0 || f->eof_) {
            *result = rc;
            return EDO_READY;
        }
        if (f->flush_before_read_ && edo_bytes_len(&f->write_buf_) > 0) {
            int err;
            if (write_out(fut, cx, &err) == EDO_PENDING)
                return EDO_PENDING;
            if (err < 0) {
                *result = err;
                return EDO_READY;
            }
        }
        rc = edo_bytes_reserve(&f->read_buf_, f->read_size_);
        if (rc < 0) {
            *result = rc;
            return EDO_READY;
        }
        size_t room;
        uint8_t *spare = edo_bytes_spare(&f->read_buf_, &room);
        ssize_t n;
        if (s->vtable->poll_read(s, &fut->waiter_, cx, spare, room, &n) == EDO_PENDING)
            return EDO_PENDING;
        op_done(fut);
        if (n < 0) {
            *result = (int)n;
            return EDO_READY;
        }
        if (n == 0)
            f->eof_ = true;
        else
            edo_bytes_commit(&f->read_buf_, (size_t)n);
    }
}

static edo_poll framed_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_framed_future *fut = (edo_framed_future *)self;
    edo_framed *f = fut->framed_;
    if (!f || ((fut->op_ == NEXT || fut->op_ == SEND) && !fut->frame_)) {
        fut->result = -EINVAL;
        return EDO_READY;
    }
    int result = 0;
    if (fut->op_ == NEXT) {
        if (!fut->started_) {
            /* The caller is done with the frame it passes in: its hold on the read buffer
             * goes now, so the buffer can reuse that memory for this read. */
            edo_codec_frame_clear(f->codec_, fut->frame_);
            fut->started_ = true;
        }
        if (poll_next(fut, cx, &result) == EDO_PENDING)
            return EDO_PENDING;
        fut->result = result;
        return EDO_READY;
    }
    if (fut->op_ == SEND && !fut->started_) {
        fut->started_ = true;
        result = edo_codec_encode(f->codec_, fut->frame_, &f->write_buf_);
        if (result < 0 || edo_bytes_len(&f->write_buf_) <= f->high_water_) {
            fut->result = result;
            return EDO_READY;
        }
    }
    if (poll_writing(fut, cx, &result) == EDO_PENDING)
        return EDO_PENDING;
    fut->result = result;
    return EDO_READY;
}

static void framed_future_drop(edo_future *self)
{
    edo_framed_future *fut = (edo_framed_future *)self;
    if (fut->framed_)
        edo_stream_waiter_drop(fut->framed_->stream_, &fut->waiter_);
}

static const edo_future_vtable framed_future_vtable = {framed_poll, framed_future_drop};

static void future_init(edo_framed_future *fut, edo_framed *f, int op, void *frame)
{
    if (!fut)
        return;
    *fut = (edo_framed_future){.base = {&framed_future_vtable}, .framed_ = f, .frame_ = frame,
                               .op_ = op, .stage_ = WRITING};
    edo_stream_waiter_init(&fut->waiter_);
}

void edo_framed_next_future_init(edo_framed_future *fut, edo_framed *f, void *frame)
{
    future_init(fut, f, NEXT, frame);
}

void edo_framed_send_future_init(edo_framed_future *fut, edo_framed *f, const void *frame)
{
    /* The frame is only read (encoded); the field is shared with next's. */
    future_init(fut, f, SEND, (void *)frame);
}

void edo_framed_flush_future_init(edo_framed_future *fut, edo_framed *f)
{
    future_init(fut, f, FLUSH, NULL);
}

void edo_framed_close_future_init(edo_framed_future *fut, edo_framed *f)
{
    future_init(fut, f, CLOSE, NULL);
}

/* The coroutine form of an operation: its future, run on the caller's frame. */
static int run(edo_framed *f, int op, void *frame)
{
    if (!f || ((op == NEXT || op == SEND) && !frame))
        return -EINVAL;
    edo_framed_future fut;
    future_init(&fut, f, op, frame);
    return edo__coro_run(&fut.base, NULL, &fut.result);
}

int edo_framed_next(edo_framed *f, void *frame) { return run(f, NEXT, frame); }

int edo_framed_send(edo_framed *f, const void *frame)
{
    if (!f || !frame)
        return -EINVAL;
    /* Outside a coroutine nothing may be buffered: the call fails whole. */
    if (!edo__coro_running())
        return -EPERM;
    int rc = edo_codec_encode(f->codec_, frame, &f->write_buf_);
    if (rc < 0 || edo_bytes_len(&f->write_buf_) <= f->high_water_)
        return rc;
    return run(f, FLUSH, NULL);
}

int edo_framed_flush(edo_framed *f) { return run(f, FLUSH, NULL); }

int edo_framed_close(edo_framed *f) { return run(f, CLOSE, NULL); }
