/* edo_pipe_new: a pipe(2) as two streams of the reactor kind. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "edo/fd_stream.h"
#include "stream/fd.h"

int edo_pipe_new(edo_stream **reader, edo_stream **writer)
{
    if (!reader || !writer)
        return -EINVAL;
    if (!edo_runtime_current())
        return -EPERM;
    int fds[2];
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0)
        return -errno;
    int rc = edo__fd_stream_open(fds[0], EDO__FD_PLAIN, -1, reader);
    if (rc == 0 && (rc = edo__fd_stream_open(fds[1], EDO__FD_PLAIN, -1, writer)) < 0) {
        edo_stream_close(*reader); /* closes fds[0] */
        fds[0] = -1;
    }
    if (rc < 0) {
        if (fds[0] >= 0)
            close(fds[0]);
        close(fds[1]);
    }
    return rc;
}
