/* edo/stream_copy.h — moving bytes between streams: copy, copy_bidirectional, and splitting a
 * stream into a read half and a write half.
 *
 *     static void *relay(void *arg) {          // a coroutine: one proxied connection
 *         edo_stream **ends = arg;              // the client's and the upstream's streams
 *         uint64_t up, down;
 *         int rc = edo_stream_copy_bidirectional(ends[0], ends[1], &up, &down);
 *         ...                                   // rc: 0 once both sides ended, or the error
 *         edo_stream_close(ends[0]);
 *         edo_stream_close(ends[1]);
 *         return NULL;
 *     }
 *
 * How the bytes move. When both streams hand out a kernel fd (the vtable's raw_fd and
 * poll_raw_io: TCP and Unix connections, pipes) and those fds are sockets or pipes, a copy moves
 * the bytes with splice(2) through a pipe: the data goes from one socket's buffers to the
 * other's without being copied through user memory, and the copy holds no buffer at all. The
 * pipe (256 KiB where the per-user pipe limit allows) comes from a pool while the reader has
 * bytes and goes back when it has none, so a copy that waits holds no pipe and no extra fd; the
 * pool keeps up to 1024 empty pipes for the process's life. splice has no MSG_NOSIGNAL, so a thread that splices into a socket keeps SIGPIPE blocked from
 * then on (a write to a peer that has gone gives -EPIPE there, as edo's own writes do, instead
 * of killing the process).
 * Otherwise (an in-memory duplex, TLS, a buffered stream, a user's stream) it reads into a buffer
 * of EDO_STREAM_COPY_BUFFER bytes and writes it out; the buffer is released whenever the reader
 * has nothing, so a copy that waits holds none. Either way a copy never holds more than that buffer (or pipe): when the writer
 * stops taking bytes, the copy stops reading (backpressure).
 *
 * Dropping a copy that has not finished (a timeout, an abort) loses the bytes it had read but
 * not yet written (at most one buffer or pipe): treat the streams as broken then. The streams
 * stay the caller's: a copy never closes them.
 */
#ifndef EDO_STREAM_COPY_H
#define EDO_STREAM_COPY_H

#include <stdint.h>

#include "edo/future.h"
#include "edo/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Bytes in the buffer of a copy that cannot splice. Tokio's copy uses 8 KiB (std's default);
 * through a TCP proxy forced onto the buffer path, 8 KiB cost 1.5-1.6 ms of CPU per MiB, 16 KiB
 * 1.2-1.4, 32 KiB 0.85-1.0 and 64 KiB 0.72-0.85 with one connection (2.6, 1.9, 1.1-1.3, 1.3-1.6
 * with 50): 32 KiB takes most of the gain for half the memory of 64. */
#define EDO_STREAM_COPY_BUFFER ((size_t)32 * 1024)

/* The state of one direction of a copy (private; inside the futures below). */
typedef struct edo_stream_copy_state {
    uint64_t private_[28];
} edo_stream_copy_state;

/* Inside a coroutine: copies everything `from` gives until its end of stream into `to`, then
 * flushes `to` (it is not shut down: edo_stream_shutdown(to) afterwards to pass the end on).
 * Stores the bytes written to `to` in *copied (may be NULL), also when it fails.
 * Returns 0, or
 *   -EINVAL     from or to NULL, without a vtable, or without poll_read / poll_write (checked
 *               first, nothing moved); `from` may be `to` (one read and one write at once);
 *   -ENOMEM     no memory for the buffer;
 *   -EIO        `to` took no byte of a non-empty write (a broken stream);
 *   -EPERM      not in a coroutine;
 *   -ECANCELED  the task was aborted; -ETIMEDOUT the coroutine's deadline (edo/time.h);
 *   or the first error reading `from` or writing or flushing `to` (-EPIPE: `to` was shut down
 *   or its peer has gone; -ECONNRESET, ...).
 * After an error, bytes read but not yet written are lost. Suspends. Uses one read on `from`
 * and one write on `to` at a time (so another task may write `from` or read `to` meanwhile). */
int edo_stream_copy(edo_stream *from, edo_stream *to, uint64_t *copied);

/* Inside a coroutine: copies `a` to `b` and `b` to `a` at once. When one direction reaches the
 * end of its reader's stream, the other stream's write half is shut down (edo_stream_shutdown:
 * its peer reads the end too), and the other direction goes on until its reader ends as well.
 * An error in either direction ends both at once. Stores the bytes written to `b` in *a_to_b
 * and to `a` in *b_to_a (either may be NULL), also when it fails.
 * Returns 0 once both directions ended, or the first error (see edo_stream_copy; -EINVAL also
 * for a == b, which would be two reads at once; -ENOTSUP: a stream that cannot be shut down).
 * Suspends. Uses one read and one write on each stream at a time: no other task may read or
 * write them meanwhile. */
int edo_stream_copy_bidirectional(edo_stream *a, edo_stream *b, uint64_t *a_to_b, uint64_t *b_to_a);

/* The future form of edo_stream_copy: ready with `result` (what the coroutine call returns,
 * less -EPERM, -ECANCELED and -ETIMEDOUT: drop the future to cancel it) and `copied`, which
 * also counts the bytes written so far while it is pending. Bad arguments complete at the first
 * poll with -EINVAL. Drop it with edo_future_drop (also when it completed: that releases the
 * buffer or pipe). Streams must outlive it; it must not move once polled. NULL f: no-op. */
typedef struct edo_stream_copy_future {
    edo_future base;
    int result;      /* when ready */
    uint64_t copied; /* bytes written to `to` so far */
    edo_stream_copy_state state_;
} edo_stream_copy_future;
void edo_stream_copy_future_init(edo_stream_copy_future *f, edo_stream *from, edo_stream *to);

/* The future form of edo_stream_copy_bidirectional, with the same rules as the one above. */
typedef struct edo_stream_copy_bidirectional_future {
    edo_future base;
    int result;      /* when ready */
    uint64_t a_to_b; /* bytes written to b so far */
    uint64_t b_to_a; /* bytes written to a so far */
    edo_stream_copy_state state_[2];
} edo_stream_copy_bidirectional_future;
void edo_stream_copy_bidirectional_future_init(edo_stream_copy_bidirectional_future *f,
                                               edo_stream *a, edo_stream *b);

/* Splits `s` into two streams: *read_half reads `s` (its writes fail with -EBADF) and
 * *write_half writes, flushes and shuts down `s` (its reads fail with -EBADF; so do readiness
 * waits for the other half's direction; raw_fd gives -ENOTSUP for it), each its own
 * edo_stream that one task may use while another task uses the other: the stream contract's
 * one read and one write in flight, made explicit. Each half is closed with edo_stream_close;
 * `s` is closed with the second of the two closes (which returns s's close error; the first
 * returns 0). `s` must not be used directly while a half is open. On -ENOMEM nothing changes.
 * Returns 0, -EINVAL (s without a vtable, or any argument NULL, or read_half == write_half),
 * -ENOMEM. Never suspends; thread-safe (the halves' closes may race). */
int edo_stream_split(edo_stream *s, edo_stream **read_half, edo_stream **write_half);

#ifdef __cplusplus
}
#endif

#endif /* EDO_STREAM_COPY_H */
