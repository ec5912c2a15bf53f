/* A file stream's reads and writes through the completion ring (see file_ring.h). */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "core/runtime.h"
#include "edo/runtime.h"
#include "stream/file_ring.h"

/* The most one SQE transfers (its len is 32 bits; a stream's calls are 64 KiB anyway). */
#define SQE_MAX ((size_t)1 << 30)

edo__cring *edo__file_ring_pick(bool write)
{
    edo__cring *r = edo__runtime_cring(edo_runtime_current());
    if (!r || !(r->ring.features & IORING_FEAT_RW_CUR_POS) ||
        !edo__cring_has_op(r, write ? IORING_OP_WRITE : IORING_OP_READ))
        return NULL;
    return r;
}

/* Queues the SQE for what is left of `io` (the ring locked): 0 or the ring's error. */
static int queue(edo__file_ring_io *io)
{
    struct io_uring_sqe *sqe;
    int rc = edo__cring_sqe(io->ring, &io->op, 0, &sqe);
    if (rc < 0)
        return rc;
    size_t left = io->len - io->done;
    sqe->opcode = io->write ? IORING_OP_WRITE : IORING_OP_READ;
    sqe->fd = io->fd;
    sqe->addr = (uint64_t)(uintptr_t)(io->buf + io->done);
    sqe->len = (uint32_t)(left < SQE_MAX ? left : SQE_MAX);
    sqe->off = (uint64_t)-1; /* the file's position, which the kernel advances by what moved */
    return 0;
}

static int submit(edo__file_ring_io *io)
{
    edo__cring_lock(io->ring);
    int rc = queue(io);
    if (rc < 0) {
        edo__cring_unlock(io->ring);
        return rc;
    }
    edo__cring_submit_unlock(io->ring); /* `io` may be finished (and freed) in here */
    return 0;
}

/* On the reaping thread. A read is done with its first CQE (a short read of a file is its
 * end, or what a device had). A write goes on until all went out, as write(2) in a loop. An
 * interrupted transfer is tried again; one that would block (a descriptor opened O_NONBLOCK)
 * goes to the pool, whose call waits. */
static void complete(edo__cring_op *op, unsigned index, int32_t res, uint32_t flags)
{
    (void)index;
    (void)flags;
    edo__file_ring_io *io = (edo__file_ring_io *)(void *)((char *)op -
                                                           offsetof(edo__file_ring_io, op));
    if (res == -EAGAIN) {
        io->finished(io, 0, true);
        return;
    }
    if (res != -EINTR) {
        if (!io->write || res <= 0) {
            io->finished(io, res < 0 ? res : !io->write ? res : -EIO, false);
            return;
        }
        io->done += (size_t)res;
        if (io->done == io->len) {
            io->finished(io, 0, false);
            return;
        }
    }
    if (submit(io) < 0)
        io->finished(io, 0, true);
}

int edo__file_ring_start(edo__file_ring_io *io)
{
    io->op.complete = complete;
    io->done = 0;
    return submit(io);
}
