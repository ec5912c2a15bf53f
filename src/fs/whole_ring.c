/* Whole-file read and write through the completion ring (see call.h for the steps).
 *
 * A read is, on a warm cache, one submission that completes inside io_uring_enter: a chain of
 * linked SQEs that opens the file into a fixed-file slot (no descriptor of ours), checks it is
 * no FIFO (IORING_OP_FADVISE fails with ESPIPE on one), reads up to FIRST_READ bytes and
 * closes the slot. The open is non-blocking (O_NONBLOCK), so that a terminal or a device with
 * nothing to give says EAGAIN instead of waiting in the kernel, and a regular file not in the
 * page cache says EAGAIN too (io_uring hands back a non-blocking file's EAGAIN). A short read
 * of a regular file is its end, and the call is done. Otherwise (the buffer filled, EAGAIN)
 * the careful way follows, as the pool does it: statx for the type and size, then, for a
 * regular file, a second chain that reads size + 1 bytes with a blocking open (reaching the
 * extra byte says the file grew: then the pool reads it anew); anything else goes to the pool
 * before a byte of it was read, so no byte of a FIFO or a terminal is lost.
 *
 * A write is one chain: open (O_CREAT | O_TRUNC, which io_uring always runs on its workers),
 * write, close. A short write goes to the pool, whose open truncates and writes it all again.
 *
 * Links: the open is IO_LINK (when it fails, nothing is open, and the rest is cancelled); so is
 * the FIFO check; the transfer is IO_HARDLINK, so the close runs after a failed read too. Only
 * when the check failed, or the future's drop cancelled it, is the close cancelled with it:
 * then a step of its own closes the slot. The open and the transfer may be cancelled by a
 * drop, never the close: the file is closed exactly once. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>

#include "fs/whole.h"

#define FIRST_READ ((size_t)64 * 1024) /* what the first chain reads at most */

enum { STAGE_START, STAGE_FIRST, STAGE_STATX, STAGE_CHAIN, STAGE_CLOSE };
enum { CHAIN_OPEN, CHAIN_CHECK, CHAIN_IO, CHAIN_CLOSE }; /* the SQE indexes of a chain */

/* Queues the chain on a free slot: open with `flags`, the FIFO check when `check`, `io`
 * (IORING_OP_READ or WRITE) of `len` bytes at `buf` from the file's start, the close. */
static ssize_t queue_chain(whole_call *w, edo__cring *r, int flags, bool check, unsigned io,
                           void *buf, size_t len)
{
    if (len > UINT32_MAX || edo__cring_reserve(r, 4) < 0 ||
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
    w->call.res[CHAIN_CHECK] = 0;
    if (check) {
        edo__fs_ring_sqe(&w->call, r, CHAIN_CHECK, false, &sqe);
        sqe->opcode = IORING_OP_FADVISE;
        sqe->fd = w->slot;
        sqe->fadvise_advice = POSIX_FADV_NORMAL; /* what a fresh open has: no effect */
        sqe->flags = IOSQE_FIXED_FILE | IOSQE_IO_LINK;
    }
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
    w->stage = check ? STAGE_FIRST : STAGE_CHAIN;
    return EDO__FS_MORE;
}

/* After a chain: gives the slot back, unless its close was cancelled with the chain while the
 * open had succeeded; then queues that close on its own, `then` being what the call returns
 * once it is done. Returns EDO__FS_MORE in that case, else 0. */
static ssize_t settle_slot(whole_call *w, edo__cring *r, const int32_t *res, ssize_t then)
{
    struct io_uring_sqe *sqe;
    if (res[CHAIN_OPEN] >= 0 && res[CHAIN_CLOSE] == -ECANCELED &&
        edo__fs_ring_sqe(&w->call, r, 0, false, &sqe) == 0) {
        sqe->opcode = IORING_OP_CLOSE;
        sqe->file_index = (uint32_t)w->slot + 1;
        w->stage = STAGE_CLOSE;
        w->len = (size_t)then; /* kept for the close's step (EDO__FS_POOL or -errno) */
        return EDO__FS_MORE;
    }
    /* Closed, never opened, or (the SQ full with the kernel taking nothing) left to the next
     * open into the slot, which replaces the file and so closes it. */
    edo__cring_slot_put(r, (unsigned)w->slot);
    return 0;
}

/* What the kernel must have for these calls; else the pool does them. */
static bool ring_can(edo__cring *r, bool read)
{
    return r->nslots && (r->ring.features & IORING_FEAT_RW_CUR_POS) &&
           edo__cring_has_op(r, IORING_OP_OPENAT) && edo__cring_has_op(r, IORING_OP_CLOSE) &&
           edo__cring_has_op(r, read ? IORING_OP_READ : IORING_OP_WRITE) &&
           (!read || (edo__cring_has_op(r, IORING_OP_STATX) &&
                      edo__cring_has_op(r, IORING_OP_FADVISE)));
}

static ssize_t read_chain(whole_call *w, edo__cring *r, size_t cap, int flags, bool check)
{
    w->cap = cap;
    if (!(w->data = malloc(cap + 1)))
        return -ENOMEM;
    ssize_t rc = queue_chain(w, r, flags, check, IORING_OP_READ, w->data, cap);
    if (rc == EDO__FS_POOL) {
        free(w->data);
        w->data = NULL;
    }
    return rc;
}

/* The careful way: statx alone, before anything opens the file. */
static ssize_t queue_statx(whole_call *w, edo__cring *r)
{
    struct io_uring_sqe *sqe;
    if (edo__fs_call_abandoned(&w->call) || edo__fs_ring_sqe(&w->call, r, 0, true, &sqe) < 0)
        return EDO__FS_POOL;
    sqe->opcode = IORING_OP_STATX;
    sqe->fd = AT_FDCWD;
    sqe->addr = (uint64_t)(uintptr_t)w->path;
    sqe->len = STATX_TYPE | STATX_SIZE;
    sqe->statx_flags = AT_STATX_SYNC_AS_STAT;
    sqe->off = (uint64_t)(uintptr_t)&w->stx;
    w->stage = STAGE_STATX;
    return EDO__FS_MORE;
}

/* The bytes read are the result: shrunk to fit, NUL after them (or moved into read_bytes'). */
static ssize_t read_done(whole_call *w, size_t n)
{
    char *fit = realloc(w->data, n + 1);
    if (fit)
        w->data = fit;
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
    switch (w->stage) {
    case STAGE_START:
        if (!ring_can(r, true))
            return EDO__FS_POOL;
        return read_chain(w, r, FIRST_READ, O_RDONLY | O_NONBLOCK, true);
    case STAGE_STATX:
        if (res[0] == -ECANCELED)
            return -ECANCELED;
        if (res[0] < 0 || edo__fs_call_abandoned(&w->call))
            return EDO__FS_POOL; /* its open gives the error as the caller expects it */
        if (S_ISDIR(w->stx.stx_mode))
            return -EISDIR;
        if (!S_ISREG(w->stx.stx_mode) || w->stx.stx_size == 0 || w->stx.stx_size >= UINT32_MAX - 1)
            return EDO__FS_POOL;
        return read_chain(w, r, w->stx.stx_size + 1, O_RDONLY, false);
    case STAGE_CLOSE:
        edo__cring_slot_put(r, (unsigned)w->slot);
        return (ssize_t)w->len;
    default:
        break;
    }
    bool first = w->stage == STAGE_FIRST;
    ssize_t got = res[CHAIN_OPEN] < 0    ? res[CHAIN_OPEN]
                  : res[CHAIN_CHECK] < 0 ? res[CHAIN_CHECK]
                                         : res[CHAIN_IO];
    bool done = got >= 0 && (size_t)got < w->cap; /* a short read of a regular file: its end */
    bool careful = first && (got == -EAGAIN || got >= 0); /* filled, or would have waited */
    ssize_t then = done || careful ? EDO__FS_POOL /* unused unless abandoned */
                   : got == -ESPIPE && first ? EDO__FS_POOL /* a FIFO: opened as open(2) does */
                   : got >= 0                ? EDO__FS_POOL /* the careful read filled: it grew */
                                             : got;
    if (!done) {
        free(w->data);
        w->data = NULL;
    }
    if (settle_slot(w, r, res, then) == EDO__FS_MORE)
        return EDO__FS_MORE;
    return done ? read_done(w, (size_t)got) : careful ? queue_statx(w, r) : then;
}

/* A write: one chain. A FIFO without a reader, opened without blocking, says ENXIO: the pool's
 * open waits for one. The close's error is the call's, as the pool's. */
static ssize_t write_step(whole_call *w, edo__cring *r, const int32_t *res)
{
    if (w->stage == STAGE_START)
        return ring_can(r, false) ? queue_chain(w, r, O_WRONLY | O_CREAT | O_TRUNC, false,
                                                IORING_OP_WRITE, (void *)w->src, w->len)
                                  : EDO__FS_POOL;
    if (w->stage == STAGE_CLOSE) {
        edo__cring_slot_put(r, (unsigned)w->slot);
        return (ssize_t)w->len;
    }
    ssize_t rc = res[CHAIN_OPEN] == -ENXIO                           ? EDO__FS_POOL
                 : res[CHAIN_OPEN] < 0                              ? res[CHAIN_OPEN]
                 : res[CHAIN_IO] < 0                                ? res[CHAIN_IO]
                 : (size_t)res[CHAIN_IO] < w->len                   ? EDO__FS_POOL
                 : res[CHAIN_CLOSE] < 0 && res[CHAIN_CLOSE] != -EINTR ? res[CHAIN_CLOSE]
                                                                    : 0;
    if (settle_slot(w, r, res, rc) == EDO__FS_MORE)
        return EDO__FS_MORE;
    return rc;
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
