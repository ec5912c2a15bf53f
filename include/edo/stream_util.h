/* edo/stream_util.h — reading a whole message from any stream, and a byte limit.
 *
 * Written once over edo/stream.h, so they work on every kind of stream (TCP, Unix, pipes, stdio,
 * duplex pairs, TLS, buffered readers):
 *  - edo_stream_read_exact: exactly `len` bytes (a fixed-size header, a length-prefixed body);
 *  - edo_stream_read_to_end: everything until the end of the stream, into an edo_bytes, bounded;
 *  - edo_stream_take: a stream that reads at most `limit` bytes of another (a body of a known
 *    length inside a connection), as Tokio's AsyncReadExt::take.
 * Buffered reading (lines, delimiters) is in edo/buffered.h; copying between streams in
 * edo/stream_copy.h.
 *
 *     uint8_t header[4];
 *     int rc = edo_stream_read_exact(conn, header, sizeof header, NULL);
 *     if (rc == -ENODATA) ...                     // the peer closed before a whole header
 *     uint32_t body_len = load_be32(header);
 *     edo_stream_take *body;
 *     edo_stream_take_new(conn, body_len, &body);
 *     edo_bytes msg = EDO_BYTES_INIT;
 *     rc = edo_stream_read_to_end(edo_stream_take_stream(body), &msg, 1 << 20, NULL);
 *     conn = edo_stream_take_into_inner(body);  // the connection, past the body
 *
 * Thread-safety: as the stream's: each of these is one read in flight on it.
 */
#ifndef EDO_STREAM_UTIL_H
#define EDO_STREAM_UTIL_H

#include <stdint.h>
#include <sys/types.h>

#include "edo/bytes.h"
#include "edo/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Reading a whole message. The coroutine calls suspend the calling coroutine; besides the
 * errors named, they return -EINVAL (checked first: NULL or invalid stream, NULL buffer with
 * len > 0, len above SSIZE_MAX), -EPERM (not in a coroutine), -ECANCELED (aborted), -ETIMEDOUT
 * (the coroutine's deadline), and any error of the stream's reads. `*nread` (NULL: not wanted)
 * always receives the number of bytes read by the call, also when it failed: what was read
 * stays where it was put (in `buf`, in `out`), nothing is lost.
 * ------------------------------------------------------------------------------------------- */

/* Reads exactly `len` bytes into buf, as many reads as it takes. Returns 0, or -ENODATA: the
 * stream ended first (*nread tells how many bytes came). len 0: 0 at once. Cancel-safe in the
 * sense that the bytes read before the cancellation are in buf and counted in *nread. */
int edo_stream_read_exact(edo_stream *s, void *buf, size_t len, size_t *nread);

/* Appends everything up to the end of the stream to `out` (an edo_bytes, growing as needed).
 * Returns 0, -EMSGSIZE (the stream holds more than `limit` bytes: out keeps what was read,
 * limit + 1 bytes, and the rest is unread), -ENOMEM (out could not grow; out keeps what was
 * read), -EINVAL also for a NULL out or a limit of 0 (SIZE_MAX: no limit but memory). */
int edo_stream_read_to_end(edo_stream *s, edo_bytes *out, size_t limit, size_t *nread);

/* The future forms (for future tasks and edo_select), one type for both: poll until EDO_READY,
 * then `result` is what the coroutine call returns (less -EPERM, -ECANCELED, -ETIMEDOUT) and
 * `nread` the bytes read, updated at every poll (so also for a future dropped before it was
 * ready). Bad arguments complete at the first poll with -EINVAL. Buffers, `out` and the stream
 * must outlive the future; like any future it must not move once polled. Release with
 * edo_future_drop. NULL f: no-op. */
typedef struct edo_stream_message_future {
    edo_future base;
    int result;   /* when ready */
    size_t nread; /* bytes read so far */
    edo_stream *stream_;
    edo_stream_waiter waiter_;
    uint64_t private_[4];
} edo_stream_message_future;

void edo_stream_read_exact_future_init(edo_stream_message_future *f, edo_stream *s, void *buf,
                                       size_t len);
void edo_stream_read_to_end_future_init(edo_stream_message_future *f, edo_stream *s,
                                        edo_bytes *out, size_t limit);

/* ---------------------------------------------------------------------------------------------
 * A byte limit: a stream reading at most `limit` bytes of another
 *
 * Reads from the take's stream read from `inner` and end (0) once `limit` bytes came; the bytes
 * after them stay unread in inner. Writes, flush, shutdown and ready go to inner unchanged. The
 * take owns inner from edo_stream_take_new on: closing the take's stream closes inner too;
 * edo_stream_take_into_inner gives inner back instead. raw_fd: the write side's fd is inner's;
 * the read side has none (-ENOTSUP: splice would read past the limit). Thread-safety: as
 * inner's (one read and one write in flight); the calls below belong to the reading task.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_stream_take edo_stream_take;

/* Makes a take of `limit` bytes (0: it reads end of stream at once) over `inner`. Returns 0,
 * -EINVAL (NULL or invalid inner, NULL out) or -ENOMEM (inner not taken over). Never suspends. */
int edo_stream_take_new(edo_stream *inner, uint64_t limit, edo_stream_take **out);
/* The take as a stream (use it with every edo_stream call; close it with edo_stream_close).
 * NULL: NULL. */
edo_stream *edo_stream_take_stream(edo_stream_take *t);
/* How many more bytes it may read. NULL: 0. */
uint64_t edo_stream_take_remaining(const edo_stream_take *t);
/* Sets how many more bytes it may read (a new body on the same connection). NULL: no-op. Not
 * while a read is in flight. */
void edo_stream_take_set_limit(edo_stream_take *t, uint64_t limit);
/* Frees the take and returns inner (open, positioned after what the take read). NULL: NULL.
 * No operation may be in flight. */
edo_stream *edo_stream_take_into_inner(edo_stream_take *t);

#ifdef __cplusplus
}
#endif

#endif /* EDO_STREAM_UTIL_H */
