/* edo/buffered.h — buffered reading (lines, delimiters) and buffered writing over any stream.
 *
 * An edo_buf_reader reads its stream in large reads into an edo_bytes window and hands out
 * lines, delimited records or raw buffered bytes; an edo_buf_writer gathers small writes into
 * one buffer and writes it in one go. Both are streams themselves (edo_buf_reader_stream,
 * edo_buf_writer_stream): code written against edo_stream works on them unchanged. Tokio's
 * BufReader, AsyncBufReadExt and BufWriter are the model.
 *
 *     static void chat(void *arg) {                  // a coroutine serving one connection
 *         edo_buf_reader *r;
 *         if (edo_buf_reader_new(arg, 0, &r) < 0)
 *             return;
 *         const char *line;
 *         size_t len;
 *         while (edo_buf_reader_next_line(r, 1024, &line, &len) == 1)
 *             handle_command(line, len);           // without its "\n" or "\r\n"
 *         edo_stream_close(edo_buf_reader_stream(r)); // closes the connection too
 *     }
 *
 * Ownership: a buffered reader or writer owns its inner stream from _new on. Closing its stream
 * (edo_stream_close) closes inner too, without flushing (shut the writer down first for a
 * clean end); _into_inner frees it and gives inner back with the bytes it still held.
 *
 * Cancel safety: a read, fill_buf, read_until, read_line or next_line that is cancelled (the
 * coroutine aborted, the future dropped) or fails while waiting for more bytes loses nothing:
 * what was read stays in the reader's buffer, `out` is untouched, and the next call starts from
 * the same byte. A buffered write that is cancelled while pending wrote nothing of its buffer.
 *
 * Thread-safety: as a stream's: one read and one write in flight at once (a buffered reader's
 * writes go straight to inner, a buffered writer's reads too). The reader's calls below belong
 * to its reading task, the writer's to its writing task.
 */
#ifndef EDO_BUFFERED_H
#define EDO_BUFFERED_H

#include <stdint.h>
#include <sys/types.h>

#include "edo/bytes.h"
#include "edo/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The buffer size a capacity of 0 gives (Tokio's too). */
#define EDO_BUF_DEFAULT_CAPACITY 8192u
/* The largest capacity accepted (1 GiB). */
#define EDO_BUF_MAX_CAPACITY ((size_t)1 << 30)

/* ---------------------------------------------------------------------------------------------
 * The buffered reader
 *
 * Reads from inner in reads of up to `capacity` bytes (fewer when part of the buffer holds
 * unconsumed bytes). The buffer grows past the capacity only to hold one record that is longer
 * (read_until and its kind: up to their `limit`), and keeps that size afterwards.
 * As a stream: reads return buffered bytes first; a read of at least `capacity` bytes into an
 * empty buffer goes straight to inner. edo_stream_ready answers EDO_READABLE at once while bytes
 * wait in the buffer (else it asks inner). raw_fd: the write side is inner's, the read side has
 * none (-ENOTSUP: bytes may wait in the buffer).
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_buf_reader edo_buf_reader;

/* Makes a buffered reader over `inner` with a buffer of `capacity` bytes (0:
 * EDO_BUF_DEFAULT_CAPACITY). Allocates nothing more until the first read. Returns 0, -EINVAL
 * (NULL or invalid inner, NULL out, capacity above EDO_BUF_MAX_CAPACITY) or -ENOMEM. Never
 * suspends. */
int edo_buf_reader_new(edo_stream *inner, size_t capacity, edo_buf_reader **out);
/* The reader as a stream. NULL: NULL. */
edo_stream *edo_buf_reader_stream(edo_buf_reader *r);
/* Frees the reader and returns inner (open). The bytes read from inner and not consumed are
 * moved to `rest` (overwritten; NULL: they are dropped). NULL r: NULL. No operation may be in
 * flight. */
edo_stream *edo_buf_reader_into_inner(edo_buf_reader *r, edo_bytes *rest);

/* The buffered bytes (read from inner, not consumed yet) without reading: returns the first
 * (NULL when none) and stores their count in *len. Valid until the next call on the reader.
 * NULL r or len: NULL (and *len 0 when len is not NULL). */
const uint8_t *edo_buf_reader_buffer(const edo_buf_reader *r, size_t *len);
/* Marks the first `n` buffered bytes as used. Returns 0, or -EINVAL (NULL r, n above the
 * buffered count; nothing consumed). */
int edo_buf_reader_consume(edo_buf_reader *r, size_t n);

/* Coroutine calls: each suspends the calling coroutine while it needs bytes from inner (not
 * when the buffer already answers), and returns, besides the errors it names: -EINVAL (checked
 * first: NULL r, NULL out-pointers, a limit of 0), -EPERM (not in a coroutine, when it has to
 * wait), -ECANCELED (aborted), -ETIMEDOUT (the coroutine's deadline), -ENOMEM (the buffer
 * could not grow), and inner's read errors. After an error the buffered bytes are still there.
 * `limit` bounds a record, its delimiter included: a record that is longer gives -EMSGSIZE and
 * nothing is consumed (the buffer holds at least `limit` of its bytes: consume them to skip it,
 * or close the stream); the buffer never grows much past `limit` for it. */

/* The buffered bytes, reading once from inner first when there are none: returns their count
 * and stores a pointer to the first in *data (valid until the next call on the reader); 0 at
 * the end of the stream. Consume what was used with edo_buf_reader_consume. */
ssize_t edo_buf_reader_fill_buf(edo_buf_reader *r, const uint8_t **data);
/* Appends to `out` the bytes up to and including the next `delim` and consumes them: returns
 * their count; at the end of the stream, the bytes left without a delimiter (a positive count
 * without `delim` at the end), then 0. -EMSGSIZE: see `limit` above. -ENOMEM also when out
 * cannot grow (then nothing is consumed). */
ssize_t edo_buf_reader_read_until(edo_buf_reader *r, uint8_t delim, edo_bytes *out,
                                  size_t limit);
/* read_until with '\n': the line is appended to `out` with its "\n" (and any "\r" before it),
 * as Tokio's read_line. */
ssize_t edo_buf_reader_read_line(edo_buf_reader *r, edo_bytes *out, size_t limit);
/* The lines iterator: the next line, without copying: returns 1 and stores in *line and *len
 * the line without its "\n" or "\r\n" (as Tokio's lines()), pointing into the reader's buffer
 * and valid until the next call on the reader; at the end of the stream a last line without
 * "\n" (if any bytes are left), then 0 (and *len 0). Its `limit` counts the "\n". */
int edo_buf_reader_next_line(edo_buf_reader *r, size_t limit, const char **line, size_t *len);

/* Future forms: initialise, poll until EDO_READY, then `result` is what the coroutine call
 * returns (less -EPERM, -ECANCELED, -ETIMEDOUT: drop the future to cancel, which loses
 * nothing), and for fill_buf and next_line `data` and `len` are what it stores through its
 * out-pointers. Bad arguments complete at the first poll with -EINVAL. The reader and `out`
 * must outlive the future; like any future it must not move once polled. Release with
 * edo_future_drop. NULL f: no-op. */
typedef struct edo_buf_reader_future {
    edo_future base;
    ssize_t result;     /* when ready */
    const uint8_t *data; /* fill_buf, next_line: the bytes */
    size_t len;          /* next_line: the line's length */
    edo_buf_reader *reader_;
    edo_stream_waiter waiter_;
    uint64_t private_[4];
} edo_buf_reader_future;

void edo_buf_reader_fill_buf_future_init(edo_buf_reader_future *f, edo_buf_reader *r);
void edo_buf_reader_read_until_future_init(edo_buf_reader_future *f, edo_buf_reader *r,
                                           uint8_t delim, edo_bytes *out, size_t limit);
void edo_buf_reader_read_line_future_init(edo_buf_reader_future *f, edo_buf_reader *r,
                                          edo_bytes *out, size_t limit);
void edo_buf_reader_next_line_future_init(edo_buf_reader_future *f, edo_buf_reader *r,
                                          size_t limit);

/* ---------------------------------------------------------------------------------------------
 * The buffered writer
 *
 * As a stream: a write that fits in the buffer is copied there and completes at once; one that
 * does not first writes the buffer out to inner, then is copied (or, when it is at least the
 * capacity, written straight to inner). Flush writes the buffer out, then flushes inner;
 * shutdown flushes, then shuts inner down. Bytes still buffered when the writer is closed are
 * dropped (as any stream's close: flush or shut down first). edo_stream_ready answers
 * EDO_WRITABLE at once while the buffer has room (else it asks inner). raw_fd: the read side is
 * inner's,
 * the write side has none (-ENOTSUP). Reads go to inner.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_buf_writer edo_buf_writer;

/* Makes a buffered writer over `inner` with a buffer of `capacity` bytes (0:
 * EDO_BUF_DEFAULT_CAPACITY), allocated by the first buffered write. Returns 0, -EINVAL (NULL or
 * invalid inner, NULL out, capacity above EDO_BUF_MAX_CAPACITY) or -ENOMEM. Never suspends. */
int edo_buf_writer_new(edo_stream *inner, size_t capacity, edo_buf_writer **out);
/* The writer as a stream: write with edo_stream_write_all and friends, end with
 * edo_stream_flush or edo_stream_shutdown. NULL: NULL. */
edo_stream *edo_buf_writer_stream(edo_buf_writer *w);
/* How many bytes wait in the buffer. NULL: 0. */
size_t edo_buf_writer_buffered(const edo_buf_writer *w);
/* Frees the writer and returns inner (open). The bytes not yet written to inner are moved to
 * `rest` (overwritten; NULL: they are dropped). NULL w: NULL. No operation may be in flight. */
edo_stream *edo_buf_writer_into_inner(edo_buf_writer *w, edo_bytes *rest);

#ifdef __cplusplus
}
#endif

#endif /* EDO_BUFFERED_H */
