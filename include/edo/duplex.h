/* edo/duplex.h — an in-memory duplex pair: two connected byte streams, no kernel involved.
 *
 * What one end writes the other reads, through a bounded buffer per direction: for tests of
 * protocol code (one end is the code under test, the other the test playing the peer) and for
 * protocols between tasks of one process. Tokio's io::duplex is the model.
 *
 *     edo_stream *client, *server;
 *     edo_duplex_new(64 * 1024, &client, &server);
 *     edo_spawn_detached(serve, server);          // any code written against edo_stream
 *     edo_stream_write_all(client, "PING\r\n", 6);
 *     ssize_t n = edo_stream_read(client, buf, sizeof buf);
 *     edo_stream_close(client);
 *
 * Semantics, per direction:
 *  - A write copies as much as fits (at most max_buffered bytes wait unread) and waits only when
 *    the buffer is full: backpressure, as a socket's.
 *  - edo_stream_shutdown of one end: the other end reads what was written, then 0 (end of
 *    stream); the shut end can still read. Writing after it gives -EPIPE.
 *  - edo_stream_close of one end: the other end still reads what was written, then 0; its
 *    writes fail with -EPIPE (nobody will read them), also writes already waiting.
 *  - edo_stream_ready reports EDO_READABLE when bytes wait or the writer has gone (with
 *    EDO_READ_CLOSED), EDO_WRITABLE when there is room or the reader has gone (with
 *    EDO_WRITE_CLOSED: a write would fail at once).
 *  - A direction's buffer is allocated by its first write (a pair nobody writes to holds none)
 *    and freed with the pair.
 *  - raw_fd: -ENOTSUP (no fd). Flush: nothing is buffered beyond what the reader can take.
 * Thread-safety: each end may be read by one task and written by another at once, and the two
 * ends used from any threads; a second read (or write) on one end while one waits gives -EBUSY.
 * A pair works outside any runtime too (with futures polled by hand).
 */
#ifndef EDO_DUPLEX_H
#define EDO_DUPLEX_H

#include <stddef.h>

#include "edo/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Makes two connected streams, each direction buffering up to `max_buffered` bytes. Close each
 * with edo_stream_close (the pair's memory goes with the second close). Returns 0 and stores
 * the ends in *a and *b, or -EINVAL (a or b NULL, max_buffered 0 or above SSIZE_MAX), -ENOMEM.
 * Never suspends; thread-safe. */
int edo_duplex_new(size_t max_buffered, edo_stream **a, edo_stream **b);

#ifdef __cplusplus
}
#endif

#endif /* EDO_DUPLEX_H */
