/* Filling in the SQEs of opens through the completion ring (see fs.h): the openat the opens
 * share, and the type check before an open, without a thread hop.
 *
 * Why not statx first, as before: io_uring runs IORING_OP_STATX on its own workers, always
 * (it never tries it inline), so every read waited for a hop to another thread and back. An
 * openat with O_PATH is tried inline (a path walk in the dentry cache, LOOKUP_CACHED; a miss
 * goes to io_uring's workers, as any open's), and it never runs the file's own open: a FIFO
 * opened O_PATH is no reader, a device's driver is not called. Its inode is then in memory, so
 * a statx of the descriptor answers at once (AT_STATX_DONT_SYNC: a network file system is not
 * asked again; the size is only the first read's length, and the read checks it). The path
 * may be replaced between this check and the open that follows, as between a statx and an
 * open: the callers check what they opened where it matters. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

#include "fs/fs.h"

void edo__fs_sqe_openat(struct io_uring_sqe *sqe, const char *path, int flags, mode_t mode)
{
    sqe->opcode = IORING_OP_OPENAT;
    sqe->fd = AT_FDCWD;
    sqe->addr = (uint64_t)(uintptr_t)path;
    sqe->open_flags = (uint32_t)flags;
    sqe->len = mode;
}

void edo__fs_sqe_open_path(struct io_uring_sqe *sqe, const char *path)
{
    edo__fs_sqe_openat(sqe, path, O_PATH | O_CLOEXEC, 0);
}

int edo__fs_path_fd_statx(int fd, unsigned mask, struct statx *out)
{
    return statx(fd, "", AT_EMPTY_PATH | AT_STATX_DONT_SYNC, mask, out) < 0 ? -errno : 0;
}

void edo__fs_sqe_close_fd(struct io_uring_sqe *sqe, int fd)
{
    sqe->opcode = IORING_OP_CLOSE;
    sqe->fd = fd;
}
