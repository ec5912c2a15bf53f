/* Opening files: edo_file_open and edo_file_create, on the blocking pool (open(2), fstat) or,
 * where the runtime has a completion ring and the path is a regular file (or not there yet),
 * through it (open_ring). The file made is a stream over the fd (src/stream/file.c); what an
 * open file does besides is in file.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/call.h"
#include "fs/fs.h"
#include "stream/fd.h"

typedef struct open_call {
    edo__fs_call call;
    int flags;
    mode_t mode;
    edo_stream *stream; /* made on the pool thread; ours until delivered */
    int fd;             /* through the ring: the fd openat gave */
    unsigned stage;     /* through the ring: the step */
    struct statx stx;   /* through the ring: the type */
    char path[];
} open_call;

static ssize_t open_work(edo__fs_call *c)
{
    open_call *oc = (open_call *)c;
    int fd = open(oc->path, oc->flags, oc->mode);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = fstat(fd, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : 0;
    if (rc == 0)
        rc = edo__file_stream_open_flags(fd, st.st_mode, oc->flags, &oc->stream);
    if (rc < 0)
        close(fd);
    return rc;
}

static void open_deliver(edo__fs_call *c, void *const *outs)
{
    open_call *oc = (open_call *)c;
    *(edo_file **)outs[0] = (edo_file *)(void *)oc->stream;
    oc->stream = NULL;
}

static void open_release(edo__fs_call *c)
{
    open_call *oc = (open_call *)c;
    if (oc->stream)
        edo_stream_close(oc->stream);
}

/* Through the ring: the type check (fs.h: an O_PATH openat the kernel tries inline, and a
 * statx of its descriptor), the openat (with the O_PATH descriptor's close in the same
 * submission), a statx of the new fd, then the stream is made here. Only what exists as a
 * regular file (or does not exist yet) is opened in the ring: io_uring first tries an open
 * without blocking, and for a FIFO that is not the same open (a reader's would not wait for a
 * writer; a writer's fails with ENXIO), so FIFOs, devices, sockets and directories are opened
 * by the pool, which opens them as open(2) does; so is a path whose check fails otherwise than
 * ENOENT, so that its error comes as open(2) gives it. The type is checked again on the fd,
 * for a path replaced meanwhile. An fd opened for a future since dropped is closed at once.
 * (Both statx calls are made here, not in the ring: io_uring runs IORING_OP_STATX on its
 * workers, never inline, and these descriptors' inodes are in memory.) */
static ssize_t open_ring(edo__fs_call *c, edo__cring *r, const int32_t *res)
{
    open_call *oc = (open_call *)c;
    bool abandoned = edo__fs_call_abandoned(c);
    struct io_uring_sqe *sqe;
    switch (oc->stage) {
    case 0:
        if (!edo__cring_has_op(r, IORING_OP_OPENAT) || !edo__cring_has_op(r, IORING_OP_CLOSE) ||
            edo__fs_ring_sqe(c, r, 0, true, &sqe) < 0)
            return EDO__FS_POOL;
        edo__fs_sqe_open_path(sqe, oc->path);
        oc->stage = 1;
        return EDO__FS_MORE;
    case 1: {
        int path_fd = res[0], rc = path_fd == -ENOENT ? 0 : path_fd;
        if (path_fd >= 0) {
            rc = edo__fs_path_fd_statx(path_fd, STATX_TYPE, &oc->stx);
            rc = rc == 0 && S_ISREG(oc->stx.stx_mode) ? 0 : EDO__FS_POOL;
        }
        if (rc == 0 && (abandoned || edo__cring_reserve(r, 2) < 0))
            rc = EDO__FS_POOL;
        if (rc < 0) {
            if (path_fd >= 0)
                close(path_fd);
            return rc == -ECANCELED || rc == -ETIMEDOUT ? rc : EDO__FS_POOL;
        }
        edo__fs_ring_sqe(c, r, 0, true, &sqe); /* reserved: cannot fail */
        edo__fs_sqe_openat(sqe, oc->path, oc->flags, oc->mode);
        if (path_fd >= 0) {
            edo__fs_ring_sqe(c, r, 1, false, &sqe);
            edo__fs_sqe_close_fd(sqe, path_fd);
        }
        oc->stage = 2;
        return EDO__FS_MORE;
    }
    default: {
        if (res[0] < 0)
            return res[0] == -ENXIO || res[0] == -EISDIR ? EDO__FS_POOL : res[0];
        oc->fd = res[0];
        int rc = abandoned ? -ECANCELED : edo__fs_path_fd_statx(oc->fd, STATX_TYPE, &oc->stx);
        if (rc == 0 && !S_ISREG(oc->stx.stx_mode))
            rc = EDO__FS_POOL;
        if (rc == 0) /* if nobody takes it, open_release closes it */
            rc = edo__file_stream_open_flags(oc->fd, oc->stx.stx_mode, oc->flags, &oc->stream);
        if (rc < 0)
            close(oc->fd);
        return rc;
    }
    }
}

static const edo__fs_ops open_ops = {open_work, open_deliver, open_release, open_ring};

/* open(2)'s flags for `o`, or -EINVAL. */
static int open_flags(const edo_open_options *o)
{
    static const edo_open_options read_only = {.read = true};
    if (!o)
        o = &read_only;
    bool write = o->write || o->append;
    if (((o->truncate || o->create || o->create_new) && !write) || o->mode > 07777)
        return -EINVAL;
    int flags = (o->read || !write) ? (write ? O_RDWR : O_RDONLY) : O_WRONLY;
    if (o->append)
        flags |= O_APPEND;
    if (o->create_new)
        flags |= O_CREAT | O_EXCL;
    else {
        if (o->create)
            flags |= O_CREAT;
        if (o->truncate)
            flags |= O_TRUNC;
    }
    int ours = O_ACCMODE | O_CREAT | O_EXCL | O_TRUNC | O_APPEND;
    return flags | (o->custom_flags & ~ours) | O_CLOEXEC;
}

void edo_file_open_future_init(edo_fs_future *f, const char *path,
                               const edo_open_options *options, edo_file **out)
{
    if (!f)
        return;
    int flags = open_flags(options);
    if (!path || !out || flags < 0) {
        edo__fs_future_fail(f, -EINVAL);
        return;
    }
    size_t len = strlen(path) + 1;
    open_call *oc = (open_call *)edo__fs_call_new(sizeof *oc + len, &open_ops);
    if (oc) {
        memcpy(oc->path, path, len);
        oc->flags = flags;
        oc->mode = options && options->mode ? (mode_t)options->mode : 0666;
        /* Creating or truncating may wait for the disk (a truncate frees blocks: a journal
         * commit, a discard), for milliseconds: a pool call of its own, like an fsync, never
         * a batch's jobs waiting behind it, however quick the jobs around it were so far. */
        oc->call.alone = (flags & (O_CREAT | O_TRUNC)) != 0;
    }
    edo__fs_future_init(f, oc ? &oc->call : NULL, 0, out, NULL, NULL);
}

int edo_file_open(const char *path, const edo_open_options *options, edo_file **out)
{
    edo_fs_future f;
    edo_file_open_future_init(&f, path, options, out);
    return (int)edo__fs_run(&f);
}

int edo_file_create(const char *path, edo_file **out)
{
    edo_open_options o = {.write = true, .create = true, .truncate = true};
    return edo_file_open(path, &o, out);
}
