/* Holding an operation in flight in a completion ring, deterministically: io_uring's worker
 * threads for the ring (io/uring/completions.h) limited to one of each kind
 * (IORING_REGISTER_IOWQ_MAX_WORKERS) and that one kept busy by an openat of a FIFO waiting for
 * a writer (IOSQE_ASYNC: no non-blocking try). Every operation the kernel hands to its workers
 * then waits behind it until the test lets it go. For a ring with one submitting thread (a
 * current-thread runtime's). */
#ifndef EDO_TEST_FS_RING_BLOCK_H
#define EDO_TEST_FS_RING_BLOCK_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "io/uring/completions.h"

/* The openat of the FIFO that keeps io_uring's one worker busy: its own record. */
typedef struct blocker {
    edo__cring_op op;
    _Atomic int res;
    _Atomic bool done;
} blocker;

static inline void blocker_complete(edo__cring_op *op, unsigned index, int32_t res, uint32_t flags)
{
    (void)index, (void)flags;
    blocker *b = (blocker *)op;
    atomic_store(&b->res, res);
    atomic_store(&b->done, true);
}

/* Limits the kernel to one worker of each kind and occupies it; false: the kernel has no
 * limit to set (then the test is skipped). */
static inline bool block_workers(edo__cring *c, blocker *b, const char *fifo)
{
    unsigned limits[2] = {1, 1}; /* bounded, unbounded */
    if (syscall(__NR_io_uring_register, c->ring.fd, IORING_REGISTER_IOWQ_MAX_WORKERS, limits, 2) < 0) {
        fprintf(stderr, "SKIPPED: no IORING_REGISTER_IOWQ_MAX_WORKERS (%d)\n", errno);
        return false;
    }
    *b = (blocker){.op = {blocker_complete}};
    struct io_uring_sqe *sqe;
    edo__cring_lock(c);
    CHECK_EQ(edo__cring_sqe(c, &b->op, 0, &sqe), 0);
    sqe->opcode = IORING_OP_OPENAT;
    sqe->fd = AT_FDCWD;
    sqe->addr = (uint64_t)(uintptr_t)fifo;
    sqe->open_flags = O_RDONLY | O_CLOEXEC;
    sqe->flags = IOSQE_ASYNC; /* straight to a worker, which waits for a writer */
    CHECK_EQ(edo__cring_submit_unlock(c), 0);
    return true;
}

/* The writer the blocker waits for: a plain thread, as its open(2) waits for the reader. */
static inline void *fifo_writer(void *arg)
{
    int fd = open(arg, O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    close(fd);
    return NULL;
}

/* Lets the worker go and waits for every CQE (the blocker's and the dropped calls'). */
static inline void unblock_and_drain(edo__cring *c, blocker *b, const char *fifo)
{
    pthread_t writer;
    CHECK_EQ(pthread_create(&writer, NULL, fifo_writer, (void *)fifo), 0);
    CHECK_EQ(pthread_join(writer, NULL), 0);
    for (int i = 0; i < 1000 && atomic_load(&c->inflight); i++) {
        edo__ring_enter(&c->ring, 0, 1, 10 * 1000 * 1000); /* wait for a CQE, at most 10 ms */
        edo__cring_reap(c);
    }
    CHECK_EQ(atomic_load(&c->inflight), 0);
    CHECK(atomic_load(&b->done));
    if (atomic_load(&b->res) >= 0)
        close(atomic_load(&b->res));
}

#endif
