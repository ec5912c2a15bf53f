/* stdin, stdout and stderr as streams, without changing the descriptors' flags: the open file
 * description behind fd 0, 1 and 2 is usually shared with the parent shell and other processes,
 * and O_NONBLOCK set on it would be theirs too (a shell whose terminal was left non-blocking
 * fails its reads). So the kind follows from what the fd is:
 *  - a socket: the reactor, with recv/send and MSG_DONTWAIT (non-blocking per call);
 *  - a pipe or FIFO, where the kernel takes RWF_NOWAIT (Linux 5.x and later): the reactor,
 *    with preadv2/pwritev2 and RWF_NOWAIT (non-blocking per call);
 *  - anything else (a terminal, a regular file, a device, an older kernel's pipe): the
 *    blocking pool, as Tokio does for all three.
 * Each stream works on a duplicate of the descriptor (F_DUPFD_CLOEXEC), so it owns what it
 * closes and several may be open at once; fd 0, 1 and 2 stay open. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edo/fd_stream.h"
#include "stream/fd.h"

static int open_stdio(int fd, bool write, edo_stream **out)
{
    if (!out)
        return -EINVAL;
    if (!edo_runtime_current())
        return -EPERM;
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno; /* -EBADF: the process was started with it closed */
    int dup = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    if (dup < 0)
        return -errno;
    int rc;
    if (S_ISSOCK(st.st_mode))
        rc = edo__fd_stream_open(dup, EDO__FD_SOCKET, -1, out);
    else if (S_ISFIFO(st.st_mode) && edo__fd_nowait_works(dup, write))
        rc = edo__fd_stream_open(dup, EDO__FD_NOWAIT, -1, out);
    else
        rc = edo__file_stream_open(dup, st.st_mode, out);
    if (rc < 0)
        close(dup);
    return rc;
}

int edo_stdin_open(edo_stream **out) { return open_stdio(STDIN_FILENO, false, out); }

int edo_stdout_open(edo_stream **out) { return open_stdio(STDOUT_FILENO, true, out); }

int edo_stderr_open(edo_stream **out) { return open_stdio(STDERR_FILENO, true, out); }
