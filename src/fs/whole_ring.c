/* Whole-file read and write through the completion ring (see call.h for the steps).
 *
 * A read is two steps. First statx, for the type and the size: only a regular file with a size
 * is read here. A FIFO, a device or a procfs file (which says 0) goes to the pool before
 * anything opens it: even a non-blocking open of a FIFO counts as a reader, which lets a
 * writer waiting for one go on and write into a pipe whose bytes vanish with our close. Then
 * one chain of linked SQEs, which on a warm cache completes inside io_uring_enter: openat into
 * a fixed-file slot (no descriptor of ours), a read of size + 1 bytes (reaching the extra byte
 * says the file grew: then the pool reads it anew; a short read of a regular file is its end),
 * and the slot's close. Errors of statx go to the pool too: its open gives the error the
 * caller expects, in the order it expects. (io_uring runs statx on its workers, never inline:
 * that hop is the price of never opening what must not be opened.)
 *
 * A write is one chain: open (O_CREAT | O_TRUNC, which io_uring always runs on its workers),
 * write, close. A short write goes to the pool, whose open truncates and writes it all again;
 * so does a FIFO without a reader (ENXIO), whose open(2) would wait for one.
 *
 * Links: the open is IO_LINK (when it fails, nothing is open, and the rest is cancelled); the
 * transfer is IO_HARDLINK, so the close runs after a failed or cancelled transfer too. A drop
 * may cancel the open and the transfer, never the close: the file is closed exactly once, and
 * the slot goes back to the free list only after that. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>

#include "fs/whole.h"

enum { STAGE_START, STAGE_STATX, STAGE_CHAIN };
enum { CHAIN_OPEN, CHAIN_IO, CHAIN_CLOSE }; /* the SQE indexes of a chain */

/* Queues the chain on a free slot: open with `flags`, `io` (IORING_OP_READ or WRITE) of `len`
 * bytes at `buf` from the file's start, the close. */
static ssize_t queue_chain(whole_call *w, edo__cring *r, int flags, unsigned io, void *buf,
                           size_t len)
{
    if (len > UINT32_MAX || edo__cring_reserve(r, 3) < 0 ||
        (w->slot = edo__cring_slot_take(r)) < 0)
        return EDO__FS_POOL;
    struct io_uring_sqe *sqe;
    edo__fs_ring_sqe(&w->call, r, CHAIN_OPEN, true, &sqe); /* reserved: cannot fail */
    sqe->opcode = IORING_OP_OPENAT;
    sqe->fd = AT_FDCWD;
    sqe->addr = (uint64_t)(uintptr_t)w->path;
    sqe->open_flags = (uint32_t)flags; /* no O_CLOEXEC: a fixed file is no descriptor */
    sqe->len = 0666;
    sqe->file_index = (uint32_t)w->slot + 1;
    sqe->flags = IOSQE_IO_LINK;
    edo__fs_ring_sqe(&w->call, r, CHAIN_IO, true, &sqe);
    sqe->opcode = (uint8_t)io;
    sqe->fd = w->slot;
    sqe->addr = (uint64_t)(uintptr_t)buf;
    sqe->len = (uint32_t)len;
    sqe->off = (uint64_t)-1; /* from the file's position, as read(2): a fresh open's is 0 */
    sqe->flags = IOSQE_FIXED_FILE | IOSQE_IO_HARDLINK;
    edo__fs_ring_sqe(&w->call, r, CHAIN_CLOSE, false, &sqe);
    sqe->opcode = IORING_OP_CLOSE;
    sqe->file_index = (uint32_t)w->slot + 1;
    w->stage = STAGE_CHAIN;
    return EDO__FS_MORE;
}

/* What the kernel must have for these calls; else the pool does them. */
static bool ring_can(edo__cring *r, bool read)
{
    return r->nslots && (r->ring.features & IORING_FEAT_RW_CUR_POS) &&
           edo__cring_has_op(r, IORING_OP_OPENAT) && edo__cring_has_op(r, IORING_OP_CLOSE) &&
           edo__cring_has_op(r, read ? IORING_OP_READ : IORING_OP_WRITE) &&
           (!read || edo__cring_has_op(r, IORING_OP_STATX));
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

static ssize_t read_step(whole_call *w, edo__cring *r, const int32_t *res)
{
    struct io_uring_sqe *sqe;
    switch (w->stage) {
    case STAGE_START:
        if (!ring_can(r, true) || edo__fs_ring_sqe(&w->call, r, 0, true, &sqe) < 0)
            return EDO__FS_POOL;
        sqe->opcode = IORING_OP_STATX;
        sqe->fd = AT_FDCWD;
        sqe->addr = (uint64_t)(uintptr_t)w->path;
        sqe->len = STATX_TYPE | STATX_SIZE;
        sqe->statx_flags = AT_STATX_SYNC_AS_STAT;
        sqe->off = (uint64_t)(uintptr_t)&w->stx;
        w->stage = STAGE_STATX;
        return EDO__FS_MORE;
    case STAGE_STATX: {
        if (res[0] == -ECANCELED)
            return -ECANCELED;
        if (res[0] < 0 || edo__fs_call_abandoned(&w->call))
            return EDO__FS_POOL;
        if (S_ISDIR(w->stx.stx_mode))
            return -EISDIR;
        if (!S_ISREG(w->stx.stx_mode) || w->stx.stx_size == 0 ||
            w->stx.stx_size >= UINT32_MAX - 1 || !(w->data = malloc(w->stx.stx_size + 2)))
            return EDO__FS_POOL;
        ssize_t rc = queue_chain(w, r, O_RDONLY, IORING_OP_READ, w->data, w->stx.stx_size + 1);
        if (rc == EDO__FS_POOL) {
            free(w->data);
            w->data = NULL;
        }
        return rc;
    }
    default: break;
    }
    edo__cring_slot_put(r, (unsigned)w->slot); /* its close came */
    ssize_t got = res[CHAIN_OPEN] < 0 ? res[CHAIN_OPEN] : res[CHAIN_IO];
    if (got >= 0 && (uint64_t)got <= w->stx.stx_size)
        return read_done(w, (size_t)got);
    free(w->data);
    w->data = NULL;
    return got < 0 ? got : EDO__FS_POOL; /* it grew: the pool reads it anew */
}

/* A write: one chain. The close's error is the call's, as the pool's. */
static ssize_t write_step(whole_call *w, edo__cring *r, const int32_t *res)
{
    if (w->stage == STAGE_START)
        return ring_can(r, false) ? queue_chain(w, r, O_WRONLY | O_CREAT | O_TRUNC,
                                                IORING_OP_WRITE, (void *)w->src, w->len)
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
