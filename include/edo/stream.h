/* edo/stream.h — byte streams: one interface for everything that reads and writes bytes in order.
 *
 * A program written against edo_stream works unchanged on a TCP or Unix connection, a pipe,
 * stdin/stdout/stderr, an in-memory duplex pair, a TLS session and (later) a file. The utilities
 * built on it (edo/stream_util.h: read_exact, read_to_end, a byte limit; edo/buffered.h: the
 * buffered reader and writer, lines; edo/stream_copy.h: copy, split) and the codecs
 * (edo/codec.h) take any edo_stream.
 *
 *     static void echo(void *arg) {               // a coroutine; `arg` is any edo_stream
 *         edo_stream *s = arg;
 *         char buf[4096];
 *         ssize_t n;
 *         while ((n = edo_stream_read(s, buf, sizeof buf)) > 0)
 *             if (edo_stream_write_all(s, buf, (size_t)n) < 0)
 *                 break;
 *         edo_stream_close(s);
 *     }
 *
 * The model is Tokio's AsyncRead/AsyncWrite, in C: a stream is a struct whose first member is
 * `edo_stream` (a vtable pointer), as a future's is `edo_future`. Every operation exists as a
 * poll function on the vtable; the coroutine calls (edo_stream_read, ...) and the future forms
 * (edo_stream_read_future_init, ...) are written once, here, over those poll functions.
 *
 * Rules every implementation keeps (and a user's own streams must keep):
 *  - One read and one write may be in flight at once, from different tasks or threads (so a
 *    stream can be split into halves used by two tasks); two reads at once, or two writes, are
 *    the caller's mistake (the implementation may return -EBUSY).
 *  - Cancel safety: a read that returns EDO_PENDING has consumed nothing, so dropping a pending
 *    read loses no bytes; a write that returns EDO_PENDING has written nothing, so dropping it
 *    sends none of its bytes. A write's count is the bytes the stream took: they may still be
 *    on their way (in a socket's kernel buffer, or in edo's outbox for a socket written
 *    through an io_uring ring: docs/io-backends.md), and a failure of theirs is reported by a
 *    later write, flush or shutdown. Its buffers are the caller's again as soon as the poll
 *    returns.
 *  - Per-operation state lives in an edo_stream_waiter owned by the caller (inside its future or
 *    on its coroutine frame), never in the stream, so a stream holds no buffer and no waker while
 *    nobody waits on it.
 *  - Errors are negative errno values. 0 from a read is the end of the stream.
 */
#ifndef EDO_STREAM_H
#define EDO_STREAM_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "edo/future.h"
#include "edo/io.h" /* EDO_READABLE, EDO_WRITABLE */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct edo_stream edo_stream;

/* The per-operation wait state of one poll-based operation on a stream: the stream stores in it
 * whatever it needs to wake the caller (a reactor waiter, a waker). Embed it where the operation
 * lives (a future, a coroutine frame); prepare it with edo_stream_waiter_init; release it with
 * edo_stream_waiter_drop once the operation completed or is abandoned. It must not move while
 * the stream may wake it (from its first pending poll until it is dropped). */
typedef struct edo_stream_waiter {
    uint64_t private_[8];
} edo_stream_waiter;

/* One try of a system call on a stream's fd for poll_raw_io: returns a result >= 0, or -errno
 * (-EAGAIN: it would block). Sets *drained (initially false) when the result shows the fd has no
 * more to give or take for now (a short read), so the next try waits for an edge first; leave
 * it false when unsure (a splice into a pipe may be short for the pipe's sake). */
typedef ssize_t (*edo_stream_raw_op)(int fd, void *ctx, bool *drained);

/* What a stream implements. Every poll function receives the caller's waiter and context: on
 * EDO_PENDING it has arranged for cx's waker to be woken when the operation can make progress;
 * on EDO_READY it has stored its result (bytes moved, 0, or -errno) in *result. A poll function
 * never blocks the thread. NULL entries mean "not supported" (the calls then return -ENOTSUP),
 * except poll_read, poll_write and close, which every stream has. */
typedef struct edo_stream_vtable {
    /* Reads up to `len` (> 0) bytes into buf: *result is the count (> 0), 0 at the end of the
     * stream, or -errno. */
    edo_poll (*poll_read)(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                          size_t len, ssize_t *result);
    /* Writes some of the `iovcnt` (1 to IOV_MAX) buffers, in order: *result is the count (> 0
     * when the buffers hold any byte) or -errno (-EPIPE once the write half is shut down or the
     * peer has gone). */
    edo_poll (*poll_write)(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                           const struct iovec *iov, int iovcnt, ssize_t *result);
    /* Pushes buffered bytes down to the stream's sink (a TLS record, a buffered writer): *result
     * 0 or -errno. NULL: nothing is ever buffered (flush succeeds at once). */
    edo_poll (*poll_flush)(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                           ssize_t *result);
    /* Flushes, then shuts down the write half (the peer reads end of stream; a TLS stream sends
     * close_notify first): *result 0 or -errno. Reading stays possible. */
    edo_poll (*poll_shutdown)(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                              ssize_t *result);
    /* Waits until reading (EDO_READABLE) or writing (EDO_WRITABLE, from edo/io.h) may make
     * progress without waiting: *result the ready bits or -errno. NULL: not supported. */
    edo_poll (*poll_ready)(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                           uint32_t interest, ssize_t *result);
    /* Forgets `w` (an operation abandoned while pending, or completed): after it the stream no
     * longer wakes or touches `w`. Must be cheap when `w` was never pending. NULL: nothing to
     * forget (the stream keeps no reference to waiters). */
    void (*drop_waiter)(edo_stream *s, edo_stream_waiter *w);
    /* The kernel file descriptor bytes go through, for splice(2) and sendfile(2) (`write` false:
     * the read side, true: the write side), or -ENOTSUP when the bytes do not go straight to an
     * fd (TLS, in-memory, buffered; the read side of a socket edo receives by completion on
     * io_uring, whose bytes are in edo's buffer). NULL: -ENOTSUP. */
    int (*raw_fd)(const edo_stream *s, bool write);
    /* Runs `op` on the fd raw_fd gives for the same side, under the stream's own readiness
     * (for splice(2), sendfile(2): bytes the stream does not move itself): tries op while that
     * side is ready; when op returns -EAGAIN, forgets the readiness and waits for the next edge,
     * as the stream's own reads and writes do (so an edge that lands meanwhile is never lost).
     * *result: op's result (>= 0) or -errno. Counts as the side's one operation in flight. NULL
     * (or raw_fd not an fd): the bytes do not go straight to an fd; callers use read and write.
     * A pending poll_raw_io is forgotten by drop_waiter like any other. */
    edo_poll (*poll_raw_io)(edo_stream *s, edo_stream_waiter *w, edo_context *cx, bool write,
                            edo_stream_raw_op op, void *ctx, ssize_t *result);
    /* Releases the stream and everything it owns (closing its fds) without waiting: no flush,
     * no close_notify (use edo_stream_shutdown first for a clean end). Returns 0 or the error of
     * closing (the stream is released either way). Called once, with no operation in flight. */
    int (*close)(edo_stream *s);
} edo_stream_vtable;

/* The head of every stream. */
struct edo_stream {
    const edo_stream_vtable *vtable;
};

/* Prepares `w` for a first operation. NULL: no-op. Never suspends. */
void edo_stream_waiter_init(edo_stream_waiter *w);
/* Releases `w` from `s` (its vtable's drop_waiter) and makes it ready for another operation.
 * NULL s or w: no-op. Never suspends; thread-safe as the stream's operations are. */
void edo_stream_waiter_drop(edo_stream *s, edo_stream_waiter *w);

/* ---------------------------------------------------------------------------------------------
 * Coroutine calls. Each suspends the calling coroutine until done, and returns, besides the
 * errors it names: -EINVAL (NULL stream, a stream without a vtable or without poll_read,
 * poll_write or close, a NULL buffer with len > 0, len above SSIZE_MAX, iovcnt outside 1 to
 * IOV_MAX, an iovec with a NULL base and a length, iovec lengths adding up beyond SSIZE_MAX, an
 * interest naming no direction or another bit; checked first, nothing reaches the stream),
 * -EPERM (not in a coroutine), -ECANCELED (the task was aborted), -ETIMEDOUT (the coroutine's
 * deadline, see edo/time.h). An operation with nothing to move (len 0, iovecs of no bytes)
 * returns 0 at once, without touching the stream (in a coroutine or not). Cancel-safe as the
 * rules above say. Thread-safe as the stream is: one read and one write at once.
 * ------------------------------------------------------------------------------------------- */

/* Reads up to `len` bytes: returns the count, 0 at end of stream (and for len 0), or -errno. */
ssize_t edo_stream_read(edo_stream *s, void *buf, size_t len);
/* Writes some of `len` bytes: returns the count (> 0 when len > 0), or -errno (-EPIPE: the
 * write half was shut down or the peer has gone). */
ssize_t edo_stream_write(edo_stream *s, const void *buf, size_t len);
/* Writes some of the buffers in order (gathered into one system call where the stream allows). */
ssize_t edo_stream_writev(edo_stream *s, const struct iovec *iov, int iovcnt);
/* Writes all `len` bytes, as many writes as it takes: 0, or the first error (then an unknown
 * part was written: treat the stream as broken), -EIO when a write moved nothing (a broken
 * implementation: it would loop for ever). */
int edo_stream_write_all(edo_stream *s, const void *buf, size_t len);
/* Pushes out what the stream buffers, and waits until what it wrote behind has gone (a
 * socket's outbox on io_uring): 0, or -errno (their failure: -ECONNRESET, -EPIPE). */
int edo_stream_flush(edo_stream *s);
/* Flushes, then shuts down the write half: the peer reads end of stream. 0 or -errno (-ENOTSUP:
 * the stream has no write half to shut). Reading stays possible; later writes fail with -EPIPE;
 * shutting down twice returns 0. */
int edo_stream_shutdown(edo_stream *s);
/* Waits until reading or writing (`interest`: EDO_READABLE and/or EDO_WRITABLE) may proceed:
 * returns the ready bits (with EDO_READ_CLOSED, EDO_WRITE_CLOSED or EDO_IO_ERROR where they
 * hold: the operation would then end the stream or fail at once), or -errno (-ENOTSUP: the
 * stream cannot tell). For a connection that is idle most of the time: wait here, then read
 * into a buffer taken only now (edo_stream_try_read). */
int edo_stream_ready(edo_stream *s, uint32_t interest);
/* One read (write) without waiting, for code that waits with edo_stream_ready and takes a
 * buffer only once bytes are there:
 *
 *     while (edo_stream_ready(s, EDO_READABLE) > 0) {     // holds nothing while idle
 *         char *buf = malloc(4096);
 *         ssize_t n = edo_stream_try_read(s, buf, 4096);
 *         ...                                            // -EAGAIN: stale readiness, wait again
 *         free(buf);
 *     }
 *
 * Returns what edo_stream_read (edo_stream_write) would, or -EAGAIN where it would wait; the
 * same -EINVAL checks, and 0 for len 0. Never suspends; callable from any thread, in a
 * coroutine or not (one read and one write at once, as always). A stream reading through the
 * blocking pool starts its pool read on a try that finds nothing, and a later call gets the
 * bytes. */
ssize_t edo_stream_try_read(edo_stream *s, void *buf, size_t len);
ssize_t edo_stream_try_write(edo_stream *s, const void *buf, size_t len);
/* Closes the stream at once (see the vtable's close: no flush). Returns 0, -EINVAL for NULL, or
 * the error closing gave (the stream is released either way). Never suspends; no operation may
 * be in flight. */
int edo_stream_close(edo_stream *s);
/* The fd behind the stream's read side (`write` false) or write side, or -ENOTSUP / -EINVAL. */
int edo_stream_raw_fd(const edo_stream *s, bool write);

/* ---------------------------------------------------------------------------------------------
 * Future forms (for future tasks and edo_select). Initialise an edo_stream_future for one
 * operation, poll it until EDO_READY, read `result` (what the coroutine call returns, less
 * -EPERM, -ECANCELED and -ETIMEDOUT: drop the future to cancel it, bound it with
 * edo_timeout_future_init). Dropping a pending read loses no bytes. Bad arguments complete at
 * the first poll with -EINVAL. Buffers and the stream must outlive the future; like any future
 * it must not move once polled. NULL f: no-op.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_stream_future {
    edo_future base;
    ssize_t result; /* when ready */
    edo_stream *stream_;
    edo_stream_waiter waiter_;
    uint64_t private_[6];
} edo_stream_future;

void edo_stream_read_future_init(edo_stream_future *f, edo_stream *s, void *buf, size_t len);
void edo_stream_write_future_init(edo_stream_future *f, edo_stream *s, const void *buf,
                                  size_t len);
/* `iov` (the array and the buffers) must outlive the future. */
void edo_stream_writev_future_init(edo_stream_future *f, edo_stream *s, const struct iovec *iov,
                                   int iovcnt);
/* `result` is 0 or the first error. Dropped before ready: an unknown part was written. */
void edo_stream_write_all_future_init(edo_stream_future *f, edo_stream *s, const void *buf,
                                      size_t len);
void edo_stream_flush_future_init(edo_stream_future *f, edo_stream *s);
void edo_stream_shutdown_future_init(edo_stream_future *f, edo_stream *s);
void edo_stream_ready_future_init(edo_stream_future *f, edo_stream *s, uint32_t interest);

#ifdef __cplusplus
}
#endif

#endif /* EDO_STREAM_H */
