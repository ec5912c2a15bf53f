/* Whole-file read and write through the completion ring (see call.h for the steps).
 *
 * A read is two steps. First the type check (fs.h, ring_open.c): an openat with O_PATH, which
 * the kernel tries inline and which runs no FIFO's or device's open, and a statx of that
 * descriptor for the type and the size. Only a regular file is read here: a FIFO, a device or
 * a socket goes to the pool before anything opens it (even a non-blocking open of a FIFO
 * counts as a reader, which lets a writer waiting for one go on and write into a pipe whose
 * bytes vanish with our close). Then one chain of linked SQEs, which on a warm cache
 * completes inside io_uring_enter: openat into a fixed-file slot (no descriptor of ours), a
 * read of size + 1 bytes (exactly size bytes is the whole file; the extra byte says it grew,
 * fewer that it shrank or gives a page per read, as sysfs binary files do: then the pool
 * reads it anew), and the slot's close; the O_PATH
 * descriptor's close goes in the same submission. A file that says its size is 0 (procfs,
 * sysfs, or empty) is read GUESS bytes at a time once, and a second read of one byte must
 * find the end (0); else the pool reads it to its end. An O_PATH open that fails with ENOENT
 * or ENOTDIR is the call's error (an open(2) gives the same); other errors go to the pool,
 * whose open gives the error the caller expects, in the order it expects.
 *
 * (Before, the type came from IORING_OP_STATX, which io_uring always runs on its own workers:
 * every read waited for a hop to another thread and back.)
 *
 * A write is one chain: open (O_CREAT | O_TRUNC, which io_uring always runs on its workers),
 * write, close. A short write goes to the pool, whose open truncates and writes it all again;
 * so does a FIFO without a reader (ENXIO), whose open(2) would wait for one.
 *
 * Links: the open is IO_LINK (when it fails, nothing is open, and the rest is cancelled); the
 * transfers are IO_HARDLINK, so the close runs after a failed, short or cancelled transfer
 * too. A drop may cancel the opens and the transfers, never a close: each file is closed
 * exactly once, and the slot goes back to the free list only after that. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs/fs.h"
#include "fs/whole.h"

enum { STAGE_START, STAGE_PATH, STAGE_CHAIN };
/* The SQE indexes of the type check and of a chain. */
enum { PATH_OPEN = 0, CHAIN_OPEN = 0, CHAIN_IO, CHAIN_CLOSE, CHAIN_END, PATH_CLOSE };

#define GUESS 4096 /* the first read of a file that says 0 bytes: procfs and sysfs files */

/* Queues the chain on a free slot: open with `flags`, `io` (IORING_OP_READ or WRITE) of `len`
 * bytes at `buf` from the file's start, with `probe` a read of one more byte that must find
 * the end, the slot's close; and the close of the type check's descriptor, if any. */
static ssize_t queue_chain(whole_call *w, edo__cring *r, int flags, unsigned io, void *buf,
                           size_t len, bool probe)
{
    unsigned n = 3 + probe + (w->path_fd >= 0);
    if (len > UINT32_MAX || edo__cring_reserve(r, n) < 0 ||
        (w->slot = edo__cring_slot_take(r)) < 0)
        return EDO__FS_POOL;
    struct io_uring_sqe *sqe;
    edo__fs_ring_sqe(&w->call, r, CHAIN_OPEN, true, &sqe); /* reserved: cannot fail */
    edo__fs_sqe_openat(sqe, w->path, flags, 0666); /* no O_CLOEXEC: a fixed file is no fd */
    sqe->file_index = (uint32_t)w->slot + 1;
    sqe->flags = IOSQE_IO_LINK;
    for (unsigned i = 0; i <= probe; i++) {
        edo__fs_ring_sqe(&w->call, r, i ? CHAIN_END : CHAIN_IO, true, &sqe);
        sqe->opcode = (uint8_t)io;
        sqe->fd = w->slot;
        sqe->addr = (uint64_t)(uintptr_t)(i ? &w->probe : buf);
        sqe->len = i ? 1 : (uint32_t)len;
        sqe->off = (uint64_t)-1; /* from the file's position, as read(2): a fresh open's is 0 */
        sqe->flags = IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
    }
    edo__fs_ring_sqe(&w->call, r, CHAIN_CLOSE, false, &sqe);
    sqe->opcode = IORING_OP_CLOSE;
    sqe->file_index = (uint32_t)w->slot + 1;
    if (w->path_fd >= 0) {
        edo__fs_ring_sqe(&w->call, r, PATH_CLOSE, false, &sqe);
        edo__fs_sqe_close_fd(sqe, w->path_fd);
        w->path_fd = -1; /* the kernel closes it */
    }
    w->stage = STAGE_CHAIN;
    return EDO__FS_MORE;
}

/* What the kernel must have for these calls; else the pool does them. */
static bool ring_can(edo__cring *r, bool read)
{
    return r->nslots && (r->ring.features & IORING_FEAT_RW_CUR_POS) &&
           edo__cring_has_op(r, IORING_OP_OPENAT) && edo__cring_has_op(r, IORING_OP_CLOSE) &&
           edo__cring_has_op(r, read ? IORING_OP_READ : IORING_OP_WRITE);
}

/* The bytes read are the result, NUL after them (or moved into read_bytes'). */
static ssize_t read_done(whole_call *w, size_t n)
{
    w->len = n;
    w->data[n] = '\0';
    if (w->op != OP_READ_BYTES)
        return 0;
    ssize_t rc = edo_bytes_append(&w->bytes, w->data, n);
    free(w->data);
    w->data = NULL;
    return rc < 0 ? rc : 0;
}

/* The type check's answer (`fd`: the O_PATH descriptor, or the open's error): queues the chain
 * for a regular file, or ends the call, or hands it to the pool. */
static ssize_t read_checked(whole_call *w, edo__cring *r, int32_t fd)
{
    if (fd < 0)
        return fd == -ECANCELED || fd == -ETIMEDOUT || fd == -ENOENT || fd == -ENOTDIR
                   ? fd
                   : EDO__FS_POOL; /* (timed out: stopped by its deadline, not for the pool) */
    w->path_fd = fd;
    ssize_t rc = edo__fs_call_abandoned(&w->call)
                     ? -ECANCELED
                     : edo__fs_path_fd_statx(fd, STATX_TYPE | STATX_SIZE, &w->stx);
    uint64_t size = w->stx.stx_size;
    if (rc < 0 && rc != -ECANCELED)
        rc = EDO__FS_POOL;
    else if (rc == 0 && S_ISDIR(w->stx.stx_mode))
        rc = -EISDIR;
    else if (rc == 0 && (!S_ISREG(w->stx.stx_mode) || size >= UINT32_MAX - GUESS))
        rc = EDO__FS_POOL;
    w->cap = size ? (size_t)size + 1 : GUESS;
    if (rc == 0 && !(w->data = malloc(w->cap + 1)))
        rc = EDO__FS_POOL;
    if (rc == 0)
        rc = queue_chain(w, r, O_RDONLY, IORING_OP_READ, w->data, w->cap, size == 0);
    if (rc != EDO__FS_MORE) {
        free(w->data);
        w->data = NULL;
        close(w->path_fd);
        w->path_fd = -1;
    }
    return rc;
}

static ssize_t read_step(whole_call *w, edo__cring *r, const int32_t *res)
{
    struct io_uring_sqe *sqe;
    switch (w->stage) {
    case STAGE_START:
        w->path_fd = -1;
        if (!ring_can(r, true) || edo__fs_ring_sqe(&w->call, r, PATH_OPEN, true, &sqe) < 0)
            return EDO__FS_POOL;
        edo__fs_sqe_open_path(sqe, w->path);
        w->stage = STAGE_PATH;
        return EDO__FS_MORE;
    case STAGE_PATH: return read_checked(w, r, res[PATH_OPEN]);
    default: break;
    }
    edo__cring_slot_put(r, (unsigned)w->slot); /* its close came */
    ssize_t got = res[CHAIN_OPEN] < 0 ? res[CHAIN_OPEN] : res[CHAIN_IO];
    /* With a size, only exactly that many bytes are the whole file: fewer is a file that shrank
     * or one that gives a page per read whatever its size (a sysfs binary file such as
     * /sys/kernel/btf/vmlinux), more is one that grew; the pool reads those to their end. */
    bool whole = w->stx.stx_size ? (uint64_t)got == w->stx.stx_size : res[CHAIN_END] == 0;
    if (got >= 0 && whole)
        return read_done(w, (size_t)got);
    free(w->data);
    w->data = NULL;
    return got < 0 ? got : EDO__FS_POOL; /* there is more: the pool reads it anew */
}

/* A write: one chain. The close's error is the call's, as the pool's. */
static ssize_t write_step(whole_call *w, edo__cring *r, const int32_t *res)
{
    w->path_fd = -1; /* no type check: an open that creates is never inline anyway */
    if (w->stage == STAGE_START)
        return ring_can(r, false) ? queue_chain(w, r, O_WRONLY | O_CREAT | O_TRUNC,
                                                IORING_OP_WRITE, (void *)w->src, w->len, false)
                                  : EDO__FS_POOL;
    edo__cring_slot_put(r, (unsigned)w->slot); /* its close came */
    if (res[CHAIN_OPEN] == -ENXIO)
        return EDO__FS_POOL;
    if (res[CHAIN_OPEN] < 0 || res[CHAIN_IO] < 0)
        return res[CHAIN_OPEN] < 0 ? res[CHAIN_OPEN] : res[CHAIN_IO];
    if ((size_t)res[CHAIN_IO] < w->len)
        return EDO__FS_POOL;
    return res[CHAIN_CLOSE] < 0 && res[CHAIN_CLOSE] != -EINTR ? res[CHAIN_CLOSE] : 0;
}

ssize_t edo__fs_whole_ring(edo__fs_call *c, edo__cring *r, const int32_t *res)
{
    whole_call *w = (whole_call *)c;
    switch (w->op) {
    case OP_READ:
    case OP_READ_BYTES: return read_step(w, r, res);
    case OP_WRITE: return write_step(w, r, res);
    default: return EDO__FS_POOL; /* copy: copy_file_range has no opcode */
    }
}
