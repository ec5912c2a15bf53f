/* Deadlines carried into the kernel (io/uring/completions.h, Deadlines; fs/call.h): a
 * file-system call that a coroutine starts under a deadline takes it into the ring as a linked
 * timeout, so the kernel ends the call at the deadline by itself.
 *  - The layer: an operation that blocks in io_uring's worker, linked to a deadline of 30 ms,
 *    while the runtime's only thread spins without entering the ring (neither its timer wheel
 *    nor anything of ours can cancel): the kernel posts its end meanwhile, and it reads as timed
 *    out. Without the linked timeout the spin runs to its bound and the test fails.
 *  - A call under a far deadline completes as any other, and its timeout's CQE is taken.
 *  - A call without a deadline links nothing (no SQE more), nor one on a paused clock (its
 *    time is not the kernel's).
 * A kernel without io_uring, or without the worker limit, skips them. */
#include <errno.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/runtime.h"
#include "edo/fs.h"
#include "fs/fs_test.h"
#include "fs/ring_block.h"
#include "util.h"

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

typedef struct timed_meta {
    const char *path;
    uint64_t within;
    edo_metadata meta;
    int rc;
} timed_meta;

static int metadata_call(void *arg)
{
    timed_meta *m = arg;
    return edo_fs_metadata(m->path, &m->meta);
}

static void *timed_meta_task(void *arg)
{
    timed_meta *m = arg;
    m->rc = edo_timeout(m->within, metadata_call, m);
    return NULL;
}

/* An operation of the completion layer that waits in the kernel (a read of an empty pipe),
 * linked to a deadline 30 ms away, while the thread spins without entering the ring: the kernel
 * ends it at the deadline by itself, and it reads as timed out. (Not an openat of a FIFO in
 * io_uring's worker: the kernel, 6.18 here, never fired a linked timeout for that one; the file
 * calls never open FIFOs through the ring.) */
static void ended_by_the_kernel(fs_dir *d)
{
    (void)d;
    edo__cring *c = edo__runtime_cring(edo_runtime_current());
    CHECK(c != NULL);
    if (!edo__cring_has_op(c, IORING_OP_LINK_TIMEOUT) || !edo__cring_has_op(c, IORING_OP_READ)) {
        fprintf(stderr, "SKIPPED: no IORING_OP_LINK_TIMEOUT\n");
        return;
    }
    int p[2];
    CHECK_EQ(pipe2(p, O_CLOEXEC), 0);
    char buf[16];
    unsigned long fired = atomic_load(&c->links_fired), reaped = atomic_load(&c->links_reaped);
    blocker b = {.op = {blocker_complete}};
    uint64_t start = mono_ns(), deadline = start + EDO_MSEC(30);
    struct io_uring_sqe *sqe;
    edo__cring_lock(c);
    CHECK_EQ(edo__cring_sqe(c, &b.op, 0, &sqe), 0);
    sqe->opcode = IORING_OP_READ;
    sqe->fd = p[0];
    sqe->addr = (uint64_t)(uintptr_t)buf;
    sqe->len = sizeof buf;
    sqe->off = (uint64_t)-1;
    CHECK(edo__cring_link_deadline(c, sqe, deadline));
    CHECK_EQ(edo__cring_submit_unlock(c), 0);
    CHECK(!atomic_load(&b.done));
    /* Busy: no entry into the ring until the kernel has posted both ends (bounded: 5 s). */
    uint64_t until = start + 5000000000u;
    while (edo__ring_cq_ready(&c->ring) < 2 && mono_ns() < until)
        ;
    CHECK_EQ(edo__ring_cq_ready(&c->ring), 2);
    CHECK(mono_ns() >= deadline);
    edo__cring_reap(c);
    CHECK(atomic_load(&b.done));
    CHECK_EQ(atomic_load(&b.res), -ECANCELED);
    CHECK(edo__cring_timed_out(atomic_load(&b.res), deadline));
    CHECK_EQ(atomic_load(&c->links_fired), fired + 1);
    CHECK_EQ(atomic_load(&c->links_reaped), reaped + 1);
    CHECK_EQ(atomic_load(&c->inflight), 0);
    /* The pipe lost nothing: a byte written now is read whole. */
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK_EQ(read(p[0], buf, sizeof buf), 1);
    close(p[0]);
    close(p[1]);
}

TEST(a_deadline_ends_an_operation_in_the_kernel_while_the_thread_is_busy)
{
    fs_ring_run(EDO_RUNTIME_CURRENT_THREAD, ended_by_the_kernel);
}

static int sync_call(void *arg) { return edo_file_sync_all(arg); }

/* Takes every timeout CQE still to come (bounded). */
static void reap_links(edo__cring *c)
{
    for (int i = 0; i < 5000 && atomic_load(&c->links_reaped) < atomic_load(&c->links); i++) {
        CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0);
        edo__cring_reap(c);
    }
    CHECK_EQ(atomic_load(&c->links_reaped), atomic_load(&c->links));
}

static void far_and_none(fs_dir *d)
{
    edo__cring *c = edo__runtime_cring(edo_runtime_current());
    CHECK(c != NULL);
    bool can = edo__cring_has_op(c, IORING_OP_LINK_TIMEOUT);
    edo_file *f;
    CHECK_EQ(edo_file_create(fs_path(d, 0, "plain"), &f), 0);
    edo_metadata meta;
    unsigned long linked = atomic_load(&c->links), fired = atomic_load(&c->links_fired);
    /* No deadline: nothing linked. */
    CHECK_EQ(edo_fs_metadata(fs_path(d, 0, "plain"), &meta), 0);
    CHECK_EQ(edo_file_sync_all(f), 0);
    CHECK_EQ(atomic_load(&c->links), linked);
    /* A far deadline: linked where the kernel can, completed as usual, its timeout's CQE taken. */
    timed_meta m = {.path = fs_path(d, 0, "plain"), .within = EDO_SEC(60)};
    (void)timed_meta_task(&m);
    CHECK_EQ(m.rc, 0);
    CHECK_EQ(m.meta.type, EDO_FILE_REGULAR);
    CHECK_EQ(edo_timeout(EDO_SEC(60), sync_call, f), 0);
    CHECK_EQ(atomic_load(&c->links), linked + (can ? 2 : 0));
    reap_links(c);
    CHECK_EQ(atomic_load(&c->links_fired), fired);
    /* A paused clock: its deadlines stay the timer wheel's. */
    CHECK_EQ(edo_time_pause(edo_runtime_current()), 0);
    CHECK_EQ(edo_timeout(EDO_SEC(60), sync_call, f), 0);
    CHECK_EQ(atomic_load(&c->links), linked + (can ? 2 : 0));
    CHECK_EQ(edo_file_close(f), 0);
    CHECK_EQ(unlink(fs_path(d, 0, "plain")), 0);
}

TEST(a_far_deadline_completes_and_none_links_nothing)
{
    fs_ring_run(EDO_RUNTIME_CURRENT_THREAD, far_and_none);
}
