/* edo/fd_stream.h — byte streams over file descriptors: pipes, any fd, stdin/stdout/stderr.
 *
 * Each is an edo_stream (edo/stream.h): read, write, shutdown and close it with the edo_stream_
 * calls, in coroutines or as futures. (TCP and Unix connections are streams too: edo_tcp_stream
 * and edo_unix_stream in edo/net.h.)
 *
 *     edo_stream *in, *out;                      // a filter: stdin to stdout, upper-cased
 *     edo_stdin_open(&in);
 *     edo_stdout_open(&out);
 *     char buf[4096];
 *     ssize_t n;
 *     while ((n = edo_stream_read(in, buf, sizeof buf)) > 0) {
 *         for (ssize_t i = 0; i < n; i++) buf[i] = (char)toupper((unsigned char)buf[i]);
 *         if (edo_stream_write_all(out, buf, (size_t)n) < 0) break;
 *     }
 *     edo_stream_close(in);
 *     edo_stream_close(out);
 *
 * Two kinds underneath, chosen by what the fd is:
 *  - The reactor (pipes, sockets, terminals and character devices epoll can watch): a read or
 *    write is one system call when the fd is ready, a wait on the runtime's reactor when it
 *    would block; nothing is allocated per operation, and edo_stream_ready waits without a
 *    buffer. Cancel-safe as edo/stream.h says.
 *  - The blocking pool (regular files and block devices, which epoll refuses, and devices it
 *    cannot watch such as /dev/null; terminals for stdio): one pool call per operation. A read
 *    reads into a buffer of the stream's own; a read abandoned while its pool call runs (its
 *    future dropped, its coroutine cut by a deadline) loses nothing: the bytes are kept for the
 *    next read. A write copies up to 64 KiB and completes at once while a pool call writes it
 *    out; the next write, flush or shutdown waits for that call and reports its failure.
 *    raw_fd gives -ENOTSUP (a splice on the fd would skip bytes read ahead). A pool call blocked
 *    on a terminal read ends only when input comes, and the runtime's shutdown waits for it
 *    (bound it with edo_runtime_shutdown_timeout).
 * Writes never raise SIGPIPE: a pipe whose reader has gone gives -EPIPE.
 */
#ifndef EDO_FD_STREAM_H
#define EDO_FD_STREAM_H

#include "edo/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A pipe (pipe2 with O_NONBLOCK | O_CLOEXEC) as two streams on the current runtime's reactor:
 * what *writer writes, *reader reads. edo_stream_shutdown(*writer) closes the write end, so the
 * reader reads the end of the stream once it has the bytes; after it *writer's writes fail
 * with -EPIPE. Writing after the reader was closed gives -EPIPE. Close each with
 * edo_stream_close. Returns 0, or -EINVAL (reader or writer NULL), -EPERM (not in a runtime),
 * -EMFILE, -ENFILE, -ENOMEM. Never suspends; thread-safe. */
int edo_pipe_new(edo_stream **reader, edo_stream **writer);

/* Takes over `fd`, which the stream then owns (edo_stream_close closes it), as a stream of the
 * kind it needs: a socket through the reactor with recv/send (its flags untouched); a pipe,
 * FIFO, terminal or character device through the reactor, made non-blocking (O_NONBLOCK is set
 * on the open file description, which other processes sharing it see too; the original flags
 * are put back at close); a regular file, a block device or a device epoll refuses through the
 * blocking pool (reads and writes at the file's offset). Shutting down a stream over a
 * write-only fd closes the fd (that is how a pipe's reader sees the end; no other operation may
 * be in flight on it then); over a socket it is shutdown(SHUT_WR); otherwise later writes fail
 * with -EPIPE. Returns 0, or -EINVAL (out NULL, fd negative, a directory), -EBADF, -EEXIST (fd
 * is registered with the reactor already), -EPERM (not in a runtime), -ENOMEM; on failure the fd
 * is left open and as it was. Never suspends; thread-safe. */
int edo_stream_from_fd(int fd, edo_stream **out);

/* The process's standard input, output and error as streams, without changing the flags of
 * fd 0, 1 and 2: their open file descriptions are usually shared with the parent shell, where a
 * non-blocking flag left behind breaks it (Tokio uses blocking threads for the same reason).
 * Each works on a duplicate of the descriptor (F_DUPFD_CLOEXEC) that edo_stream_close closes;
 * fd 0, 1 and 2 stay open, and several streams may be open at once. The kind:
 *  - a socket: the reactor (recv/send with MSG_DONTWAIT);
 *  - a pipe or FIFO on a kernel that takes RWF_NOWAIT for pipes (Linux 5.x and later): the
 *    reactor (preadv2/pwritev2 with RWF_NOWAIT);
 *  - a terminal, a regular file, anything else: the blocking pool.
 * edo_stream_shutdown of stdout over a pipe closes the duplicate only: the reader sees the end
 * once fd 1 is closed too. Bytes written through a stream and through stdio's FILE (printf) at
 * the same time interleave in no defined order: use one or the other. Returns 0, or -EINVAL
 * (out NULL), -EPERM (not in a runtime), -EBADF (the process has no such fd open), -EMFILE,
 * -ENOMEM. Never suspends; thread-safe. */
int edo_stdin_open(edo_stream **out);
int edo_stdout_open(edo_stream **out);
int edo_stderr_open(edo_stream **out);

#ifdef __cplusplus
}
#endif

#endif /* EDO_FD_STREAM_H */
