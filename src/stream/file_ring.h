/* A file stream's transfer through the completion ring (io/uring/completions.h): one read, or
 * one write carried on until all of it went out, at the file's own position (IORING_OP_READ
 * and WRITE with offset -1, as read(2) and write(2): the position advances by what completed,
 * and edo_file_seek's lseek stays the one way to move it). src/stream/file.c decides when,
 * keeps the buffer's bytes and reports the results exactly as for its pool calls; this file
 * only talks to the ring.
 *
 * Only a stream opened for reading alone or writing alone takes this path: the kernel takes
 * no lock on the file position for a ring transfer (read(2) and write(2) take f_pos_lock), so
 * a read and a write in flight at once on one descriptor could both start at the same offset.
 * A stream opened O_RDWR, a FIFO, a terminal or a character device stays on the pool. */
#ifndef EDO_STREAM_FILE_RING_H
#define EDO_STREAM_FILE_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "io/uring/completions.h"

typedef struct edo__file_ring_io edo__file_ring_io;

struct edo__file_ring_io {
    edo__cring_op op;
    edo__cring *ring;
    int fd;
    bool write;
    char *buf;   /* owned by the caller's call, kept alive until `finished` */
    size_t len;  /* bytes to transfer */
    size_t done; /* a write: bytes gone out so far */
    /* Told once, on the reaping thread, with the transfer's result: a read's count (0 at the
     * end) or -errno; a write's 0 or -errno (after `done` bytes went out). `to_pool`: the ring
     * could not carry on (it refused an SQE, or the descriptor would block): the pool is to
     * do what is left (`len - done` bytes from `buf + done`) and `result` means nothing. */
    void (*finished)(edo__file_ring_io *io, ssize_t result, bool to_pool);
};

/* The ring a read (or a write) of a file stream may take from this thread: the current
 * worker's, where the runtime runs io_uring and the kernel has the opcode and transfers at the
 * file position (IORING_FEAT_RW_CUR_POS); NULL: the pool. The caller checks the stream's kind
 * and access mode. Never blocks. */
edo__cring *edo__file_ring_pick(bool write);

/* Queues and submits `io` (ring, fd, write, buf, len and finished filled in, done 0) on its
 * ring. 0: `finished` will be told (maybe before this returns, on this thread); or -errno when
 * the ring took nothing (the caller goes to the pool). */
int edo__file_ring_start(edo__file_ring_io *io);

#endif
