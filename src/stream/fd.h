/* Streams over file descriptors, as the kinds see each other: the reactor kind (fd.c: pipes,
 * sockets, ttys and other fds epoll watches) and the blocking-pool kind (file.c: regular files,
 * and terminals for stdio), which edo_stream_from_fd, edo_pipe_new and the stdio streams build
 * on. */
#ifndef EDO_STREAM_FD_H
#define EDO_STREAM_FD_H

#include <stdbool.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "edo/stream.h"

/* How the reactor kind moves bytes without blocking. */
typedef enum edo__fd_mode {
    EDO__FD_PLAIN,  /* read/write on an fd in O_NONBLOCK mode */
    EDO__FD_SOCKET, /* recv/send with MSG_DONTWAIT | MSG_NOSIGNAL: the fd's flags stay */
    EDO__FD_NOWAIT, /* preadv2/pwritev2 with RWF_NOWAIT (pipes, Linux 5.x and later): the flags
                       stay, for descriptions shared with other processes (stdio) */
} edo__fd_mode;

/* A stream over `fd` (the stream owns it and closes it) through the current runtime's reactor.
 * `restore_flags`: the fd's status flags to put back at close (-1: leave them). Returns 0, or
 * the errors of edo_io_register (-EPERM for an fd epoll cannot watch, or not in a runtime),
 * -ENOMEM; on failure the fd is left open and as it was. */
int edo__fd_stream_open(int fd, edo__fd_mode mode, int restore_flags, edo_stream **out);

/* A stream over `fd` (owned, closed at close) whose reads and writes run on the blocking pool,
 * one pool call per operation, or in the completion ring (stream/file_ring.h) where it may; `mode` is the fd's st_mode, which the caller has just read.
 * Returns 0 or -ENOMEM (the fd is left open then). */
int edo__file_stream_open(int fd, mode_t mode, edo_stream **out);
/* The same where the caller knows the fd's open(2) flags (`flags`; -1: asks fcntl). */
int edo__file_stream_open_flags(int fd, mode_t mode, int flags, edo_stream **out);

/* For edo/fs.h's files, which are blocking-pool streams: */
/* Waits until no write call of `s` (a blocking-pool stream) is in flight, then *result is the
 * failure of the last one (reported once), or 0. With `discard` it also waits for a read call
 * in flight, and drops the bytes read ahead: *result is then their count. -EBUSY when another
 * task waits on the same side. */
edo_poll edo__file_stream_poll_settle(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                      bool discard, ssize_t *result);
/* The fd of a blocking-pool stream. */
int edo__file_stream_fd(edo_stream *s);
/* Whether the stream is a regular file or a block device (reads at an offset read what is
 * there), not a FIFO, a terminal or another device (whose reads consume). */
bool edo__file_stream_is_file(edo_stream *s);
/* Keeps the stream's fd open (and the stream's memory) until the matching release, for a pool
 * call that uses the fd after the stream may have been closed. */
void edo__file_stream_hold(edo_stream *s);
void edo__file_stream_release(edo_stream *s);

/* A buffer for a pool transfer of `len` bytes, aligned for O_DIRECT (whose transfers must start
 * at a block-aligned address): free() it. NULL when out of memory. */
void *edo__io_buffer(size_t len);

/* Whether preadv2/pwritev2 take RWF_NOWAIT on `fd` (a pipe on Linux 5.x and later): tried with
 * an empty transfer. */
bool edo__fd_nowait_works(int fd, bool write);

/* writev(2) (or pwritev2 with `rwf` flags) without letting a broken pipe raise SIGPIPE: the
 * signal is blocked in the calling thread for the call (a runtime thread blocks it for good:
 * no mask change there) and a SIGPIPE it raised is taken back,
 * so the caller sees -EPIPE as a socket's MSG_NOSIGNAL gives. Returns the count or -errno
 * (EINTR retried). */
ssize_t edo__fd_writev(int fd, const struct iovec *iov, int iovcnt, int rwf);
/* Writes all `len` bytes to the blocking `fd` (edo__fd_writev until done): 0, or the first
 * error (-EIO for a write of 0 bytes). For pool threads. */
ssize_t edo__fd_write_all(int fd, const void *data, size_t len);

#endif
