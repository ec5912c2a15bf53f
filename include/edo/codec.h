/* edo/codec.h — codecs and framing: turning a byte stream into a stream of messages.
 *
 * A codec cuts frames (lines, length-prefixed messages, RESP values, ...) out of the front of a
 * byte buffer and appends encoded frames to one. The framed adapter puts a codec on top of any
 * edo_stream: a source of frames (edo_framed_next) and a sink of frames with backpressure
 * (edo_framed_send), with the buffering done once, here. The model is tokio-util's codec module
 * (Decoder, Encoder, Framed, LinesCodec, LengthDelimitedCodec).
 *
 *     static void *serve(void *arg) {             // a coroutine: an upper-casing line server
 *         edo_stream *s = arg;
 *         edo_lines_codec lines;
 *         edo_lines_codec_init(&lines, 1024);
 *         edo_framed fr;
 *         edo_framed_init(&fr, s, &lines.base, NULL);
 *         edo_bytes line = EDO_BYTES_INIT;
 *         while (edo_framed_next(&fr, &line) == 1) {   // 0: end of stream, < 0: an error
 *             char out[1024];
 *             size_t n = edo_bytes_len(&line);
 *             for (size_t i = 0; i < n; i++)
 *                 out[i] = (char)toupper(edo_bytes_data(&line)[i]);
 *             edo_codec_buf reply = {out, n};
 *             if (edo_framed_send(&fr, &reply) < 0 || edo_framed_flush(&fr) < 0)
 *                 break;
 *         }
 *         edo_bytes_drop(&line);
 *         edo_framed_drop(&fr);
 *         edo_stream_close(s);
 *         return NULL;
 *     }
 *
 * docs/codec.md has the whole picture and a complete server.
 */
#ifndef EDO_CODEC_H
#define EDO_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "edo/bytes.h"
#include "edo/future.h"
#include "edo/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * The codec interface
 *
 * A codec is a struct whose first member is `edo_codec` (a vtable pointer). Each codec decodes
 * into a frame type of its own and encodes from one (both named in its section below): `frame`
 * is a pointer to that type. A codec may keep state between calls (how far it has looked, what
 * it is skipping), so one codec serves one stream. Codecs never suspend and never do I/O.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_codec edo_codec;

typedef struct edo_codec_vtable {
    /* Takes one frame from the front of `src`: 1 and the frame in *frame (consumed from src;
     * what *frame held before is released), 0 when src does not hold a whole frame yet (the
     * codec may consume bytes it has no use for, such as the rest of a frame it refused), or
     * -errno. */
    int (*decode)(edo_codec *c, edo_bytes *src, void *frame);
    /* Called instead of decode once the stream has ended, with what is left: 1 and a frame, 0
     * when nothing is left (the clean end), or -errno; a frame cut short by the end is an error
     * (-EPROTO), never dropped in silence. NULL: decode, and -EPROTO if bytes remain after it. */
    int (*decode_eof)(edo_codec *c, edo_bytes *src, void *frame);
    /* Appends the encoding of *frame to `dst`: 0, or -errno with dst unchanged. */
    int (*encode)(edo_codec *c, const void *frame, edo_bytes *dst);
    /* Empties a decoded frame: releases what it holds of the input buffer (so the buffer's
     * memory can be reused), keeping what serves the next decode (the frame type's own drop
     * releases everything). The framed adapter calls it when a frame is passed in again. */
    void (*frame_clear)(edo_codec *c, void *frame);
} edo_codec_vtable;

struct edo_codec {
    const edo_codec_vtable *vtable;
};

/* The calls through the vtable. Each returns what the vtable entry does, or -EINVAL for a NULL
 * codec, vtable, entry (decode_eof excepted, see above), buffer or frame. Never suspend;
 * thread-safety is the codec's (one user at a time for the codecs here). */
int edo_codec_decode(edo_codec *c, edo_bytes *src, void *frame);
int edo_codec_decode_eof(edo_codec *c, edo_bytes *src, void *frame);
int edo_codec_encode(edo_codec *c, const void *frame, edo_bytes *dst);
/* frame_clear through the vtable; NULL c, vtable, entry or frame: no-op. */
void edo_codec_frame_clear(edo_codec *c, void *frame);

/* A borrowed run of bytes: what the lines and length-delimited codecs encode from. */
typedef struct edo_codec_buf {
    const void *data;
    size_t len;
} edo_codec_buf;

/* ---------------------------------------------------------------------------------------------
 * Lines: frames end at '\n'; a "\r\n" ending is stripped as well. Decodes into an edo_bytes (the
 * line, without its ending, split off the input buffer without copying; drop it when done);
 * encodes an edo_codec_buf (the line, without ending), appending "\n".
 *
 * A line longer than `max_length` bytes (without its ending) is -EMSGSIZE, found as soon as
 * that many bytes are buffered without a '\n' (so a peer cannot make the buffer grow past the
 * limit). The error is not fatal: the codec drops that line's bytes, also those still to come,
 * and the next decode returns the line after it. At the end of the stream, a last line without
 * '\n' is a line (as tokio-util's LinesCodec and read_line have it).
 * ------------------------------------------------------------------------------------------- */

#define EDO_LINES_DEFAULT_MAX ((size_t)64 * 1024)

typedef struct edo_lines_codec {
    edo_codec base;
    size_t max_length_;
    size_t scanned_;   /* bytes already searched for '\n' */
    bool discarding_;  /* dropping the rest of a line that was too long */
} edo_lines_codec;

/* Prepares `c` with lines of at most `max_length` bytes (0: EDO_LINES_DEFAULT_MAX). Returns 0,
 * or -EINVAL (NULL c, max_length above EDO_BYTES_MAX - 2). Nothing to release. Never suspends. */
int edo_lines_codec_init(edo_lines_codec *c, size_t max_length);

/* Encoding a line that holds a '\n' is -EINVAL (the peer would read two lines), as is NULL
 * data with a length; a line longer than max_length is -EMSGSIZE. */

/* ---------------------------------------------------------------------------------------------
 * Length-delimited: each frame is a header holding its length, then the bytes. The header is
 * `length_field_offset` bytes (anything; the encoder writes zeros), then the length field of
 * `length_field_length` bytes (1, 2, 3, 4 or 8; big-endian unless `little_endian`). The field's
 * value plus `length_adjustment` is the count of bytes that follow the header (an adjustment
 * for fields that count the header too, or some trailer). Decodes into an edo_bytes (the
 * payload, or the header and payload with `keep_header`); encodes an edo_codec_buf (the
 * payload).
 *
 * A frame whose length is above `max_frame_length` is -EMSGSIZE, found from the header alone,
 * before any room is reserved for it. The error is not fatal: the codec drops that frame's
 * bytes as they come, and the next decode returns the frame after it. A length below zero after
 * the adjustment is -EPROTO, and fatal: nothing tells where the next frame starts, so every
 * later decode returns -EPROTO too. At the end of the stream a partial frame is -EPROTO.
 * ------------------------------------------------------------------------------------------- */

#define EDO_LENGTH_DELIMITED_DEFAULT_MAX ((size_t)8 * 1024 * 1024)

typedef struct edo_length_delimited_config {
    size_t max_frame_length;     /* payload bytes; 0: EDO_LENGTH_DELIMITED_DEFAULT_MAX */
    size_t length_field_offset;  /* bytes before the length field: 0 */
    unsigned length_field_length; /* 1, 2, 3, 4 or 8 bytes; 0: 4 */
    bool little_endian;          /* default: big-endian (network order) */
    int64_t length_adjustment;   /* added to the field's value: 0 */
    bool keep_header;            /* decode the header with the payload (default: payload only) */
} edo_length_delimited_config;

typedef struct edo_length_delimited_codec {
    edo_codec base;
    edo_length_delimited_config config_;
    uint64_t skipping_; /* bytes of a refused frame still to drop */
    bool broken_;       /* a negative length was seen: framing is lost */
} edo_length_delimited_codec;

/* Prepares `c` (config NULL: every default). Returns 0, or -EINVAL: NULL c, a field length
 * other than 0, 1, 2, 3, 4, 8, an offset above EDO_BYTES_MAX - 8, an adjustment (in absolute
 * value) or max_frame_length above EDO_BYTES_MAX. Nothing to release. Never suspends. */
int edo_length_delimited_codec_init(edo_length_delimited_codec *c,
                                    const edo_length_delimited_config *config);

/* Encoding a payload above max_frame_length, or one whose length (less the adjustment) does
 * not fit the field or is negative, is -EMSGSIZE; NULL data with a length is -EINVAL. */

/* ---------------------------------------------------------------------------------------------
 * The framed adapter: a codec on a stream. Frames are read into a read buffer and decoded from
 * it; frames sent are encoded into a write buffer, written out by flush (and by send once the
 * buffer holds more than the high-water mark: backpressure).
 *
 * The framed borrows its stream and codec: both must outlive it, and it closes neither. It is a
 * caller-owned struct (edo_framed_init / edo_framed_drop) that must not move while an
 * operation is in progress. One reading operation (next) and one writing one (send, flush,
 * close) may run at once, from two tasks; two of either kind at once are the caller's mistake.
 * With `flush_before_read`, next also writes: then only one operation at a time. (The codec
 * then decodes and encodes at once: the codecs here allow that; a codec of your own whose
 * encode and decode share state must too, or be used one operation at a time.)
 *
 * Cancel safety: the bytes read are the framed's, not the operation's: a next() dropped while it
 * waits (its future dropped, a coroutine deadline, an abort) loses nothing, and the next call
 * returns the frame. A send or flush dropped while it waits leaves the unwritten bytes buffered
 * (a later flush writes them).
 * ------------------------------------------------------------------------------------------- */

#define EDO_FRAMED_DEFAULT_HIGH_WATER ((size_t)128 * 1024)
#define EDO_FRAMED_DEFAULT_READ_SIZE ((size_t)8 * 1024)

typedef struct edo_framed_config {
    size_t high_water;      /* send flushes when more bytes than this are buffered: 128 KiB */
    size_t read_size;       /* room made in the read buffer for each read: 8 KiB */
    bool flush_before_read; /* next writes out what is buffered before it waits for input */
} edo_framed_config;

typedef struct edo_framed {
    edo_stream *stream_;
    edo_codec *codec_;
    edo_bytes read_buf_, write_buf_;
    size_t high_water_, read_size_;
    bool flush_before_read_;
    bool eof_; /* the stream has ended: decode_eof from now on */
} edo_framed;

/* Prepares `f` to frame `stream` with `codec` (config NULL: defaults). Returns 0, or -EINVAL
 * (NULL f, stream, stream vtable or codec; a read_size above EDO_BYTES_MAX). Allocates nothing
 * until the first read or send. Never suspends. */
int edo_framed_init(edo_framed *f, edo_stream *stream, edo_codec *codec,
                    const edo_framed_config *config);
/* Releases the buffers (bytes read and not decoded, bytes sent and not flushed are dropped).
 * The stream and codec are untouched. No operation may be in progress. NULL: no-op. */
void edo_framed_drop(edo_framed *f);

/* The read buffer (bytes read and not decoded yet) and the write buffer (encoded, not written
 * yet). Appending to the write buffer directly is encoding in place: a server can write a reply
 * there while it holds a lock, where it must not suspend, and flush after. Valid while `f` is;
 * not while an operation on the same side is in progress. NULL f: NULL. Never suspend. */
edo_bytes *edo_framed_read_buffer(edo_framed *f);
edo_bytes *edo_framed_write_buffer(edo_framed *f);

/* Coroutine calls. Each suspends the calling coroutine until done and returns, besides the
 * errors named: -EINVAL (NULL f or frame; checked first), -EPERM (not in a coroutine),
 * -ECANCELED (the task was aborted), -ETIMEDOUT (the coroutine's deadline), and the stream's
 * errors. Cancel-safe as said above. */

/* Waits for the next frame: returns 1 with the frame in *frame (the codec's frame type; what it
 * held is released), 0 at the end of the stream (once nothing is left), the codec's errors
 * (-EMSGSIZE, -EPROTO: a frame cut by the end of the stream, ...). After an error, next may be
 * called again: the codecs say which errors they recover from. */
int edo_framed_next(edo_framed *f, void *frame);
/* Encodes `frame` into the write buffer; then, if more than the high-water mark is buffered,
 * flushes (suspends until written). Returns 0, the codec's encoding errors (nothing buffered
 * then), or a write error. A frame encoded is sent by a later flush even if this call failed
 * in its flush. */
int edo_framed_send(edo_framed *f, const void *frame);
/* Writes out the write buffer, then flushes the stream. Returns 0 or the stream's error. */
int edo_framed_flush(edo_framed *f);
/* Flushes, then shuts down the stream's write half (the peer reads the end of the stream;
 * tokio's Sink::close). Reading stays possible; the stream is still the caller's to close.
 * Returns 0, -ENOTSUP (the stream cannot shut down its write half), or the stream's error. */
int edo_framed_close(edo_framed *f);

/* Future forms. `result` when ready: what the coroutine call returns, less -EPERM, -ECANCELED
 * and -ETIMEDOUT (drop the future to cancel it). Bad arguments complete at the first poll with
 * -EINVAL. The framed and frame must outlive the future; it must not move once polled. Dropping
 * a pending next loses no bytes; a send future encodes its frame at its first poll (dropping it
 * afterwards leaves the frame buffered). NULL fut: no-op. */
typedef struct edo_framed_future {
    edo_future base;
    int result; /* when ready */
    edo_framed *framed_;
    void *frame_; /* next's frame, or the frame send encodes */
    int op_, stage_;
    bool started_;
    edo_stream_waiter waiter_;
} edo_framed_future;

void edo_framed_next_future_init(edo_framed_future *fut, edo_framed *f, void *frame);
void edo_framed_send_future_init(edo_framed_future *fut, edo_framed *f, const void *frame);
void edo_framed_flush_future_init(edo_framed_future *fut, edo_framed *f);
void edo_framed_close_future_init(edo_framed_future *fut, edo_framed *f);

#ifdef __cplusplus
}
#endif

#endif /* EDO_CODEC_H */
