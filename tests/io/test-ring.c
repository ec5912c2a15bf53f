/* The io_uring ring itself (src/io/uring/ring.h), below any backend: setup and the flags it
 * got, a no-op's round trip, a full submission queue that delays and loses nothing, a
 * completion queue that overflows into the kernel and is flushed without loss, a wait's
 * timeout, and the probes. A kernel without io_uring (or with it disabled) skips them. */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "io/uring/ring.h"

/* A ring as asked, or false when this kernel has none to give. */
static bool ring_or_skip(edo__ring *r, unsigned sq, unsigned cq, unsigned flags)
{
    edo__ring_params p = {.sq_entries = sq, .cq_entries = cq, .flags = flags};
    int rc = edo__ring_init(r, &p);
    if (rc == -ENOSYS || rc == -EPERM) {
        fprintf(stderr, "no io_uring here (%d): skipped\n", rc);
        return false;
    }
    CHECK_EQ(rc, 0);
    return true;
}

static void nop(edo__ring *r, uint64_t user_data)
{
    struct io_uring_sqe *sqe;
    CHECK_EQ(edo__ring_get_sqe(r, &sqe), 0);
    sqe->opcode = IORING_OP_NOP;
    sqe->user_data = user_data;
}

/* Reaps every completion, overflowed ones included, marking seen[user_data]; returns how many. */
static unsigned reap_all(edo__ring *r, unsigned char *seen, unsigned n)
{
    unsigned total = 0;
    for (;;) {
        unsigned head, got = 0;
        struct io_uring_cqe *cqe;
        edo__ring_for_each_cqe(r, head, cqe) {
            CHECK(cqe->user_data < n);
            CHECK_EQ(cqe->res, 0);
            CHECK_EQ(seen[cqe->user_data], 0); /* once each */
            seen[cqe->user_data] = 1;
            got++;
        }
        edo__ring_cq_advance(r, got);
        total += got;
        if (!edo__ring_cq_overflowed(r) && got == 0)
            return total;
        if (edo__ring_cq_overflowed(r))
            CHECK_EQ(edo__ring_flush_overflow(r), 0);
    }
}

TEST(nop_round_trip)
{
    edo__ring r;
    if (!ring_or_skip(&r, 0, 0, IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN))
        return;
    CHECK(r.sq_entries >= 256);
    CHECK(r.cq_entries >= r.sq_entries);
    CHECK(edo__ring_has_op(&r, IORING_OP_NOP));
    CHECK(!edo__ring_has_op(&r, 255));
    nop(&r, 7);
    CHECK_EQ(edo__ring_submit_and_wait(&r, 1, EDO__RING_FOREVER), 1);
    CHECK_EQ(edo__ring_cq_ready(&r), 1);
    unsigned head, seen = 0;
    struct io_uring_cqe *cqe;
    edo__ring_for_each_cqe(&r, head, cqe) {
        CHECK_EQ(cqe->user_data, 7);
        CHECK_EQ(cqe->res, 0);
        seen++;
    }
    CHECK_EQ(seen, 1);
    edo__ring_cq_advance(&r, seen);
    CHECK_EQ(edo__ring_cq_ready(&r), 0);
    CHECK_EQ(edo__ring_submit(&r), 0); /* nothing queued: no system call, nothing submitted */
    edo__ring_destroy(&r);
}

TEST(single_issuer_flags)
{
    /* The newest flags: taken where the kernel has them, given up (not an error) where not. */
    edo__ring r;
    unsigned want = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                    IORING_SETUP_SUBMIT_ALL;
    if (!ring_or_skip(&r, 8, 64, want))
        return;
    CHECK_EQ(r.setup_flags & ~(want | IORING_SETUP_CQSIZE), 0);
    if (r.setup_flags & IORING_SETUP_DEFER_TASKRUN)
        CHECK(r.setup_flags & IORING_SETUP_SINGLE_ISSUER);
    if (r.setup_flags & IORING_SETUP_CQSIZE)
        CHECK_EQ(r.cq_entries, 64);
    nop(&r, 1);
    CHECK_EQ(edo__ring_submit_and_wait(&r, 1, EDO__RING_FOREVER), 1);
    unsigned char seen[2] = {0};
    CHECK_EQ(reap_all(&r, seen, 2), 1);
    edo__ring_destroy(&r);
}

TEST(full_submission_queue)
{
    /* Four slots, a hundred operations without an explicit submit: each full SQ is handed to
     * the kernel to make room, and every operation completes exactly once. */
    edo__ring r;
    if (!ring_or_skip(&r, 4, 256, 0))
        return;
    CHECK_EQ(r.sq_entries, 4);
    enum { N = 100 };
    for (unsigned i = 0; i < N; i++)
        nop(&r, i);
    CHECK(edo__ring_submit(&r) >= 0);
    unsigned char seen[N] = {0};
    CHECK_EQ(reap_all(&r, seen, N), N);
    for (unsigned i = 0; i < N; i++)
        CHECK_EQ(seen[i], 1);
    edo__ring_destroy(&r);
}

TEST(completion_queue_overflow)
{
    /* Eight CQ slots and 200 completions before any is reaped: the kernel keeps what does not
     * fit (IORING_FEAT_NODROP), says so, and hands it over as the CQ is drained. */
    edo__ring r;
    if (!ring_or_skip(&r, 4, 8, 0))
        return;
    CHECK(r.features & IORING_FEAT_NODROP);
    enum { N = 200 };
    for (unsigned i = 0; i < N; i++)
        nop(&r, i);
    CHECK(edo__ring_submit(&r) >= 0);
    CHECK(edo__ring_cq_overflowed(&r));
    CHECK_EQ(edo__ring_cq_ready(&r), r.cq_entries);
    unsigned char seen[N] = {0};
    CHECK_EQ(reap_all(&r, seen, N), N);
    CHECK(!edo__ring_cq_overflowed(&r));
    edo__ring_destroy(&r);
}

TEST(wait_timeout)
{
    edo__ring r;
    if (!ring_or_skip(&r, 4, 0, 0))
        return;
    CHECK(r.features & IORING_FEAT_EXT_ARG);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK_EQ(edo__ring_submit_and_wait(&r, 1, 2000000), -ETIME); /* 2 ms, nothing comes */
    clock_gettime(CLOCK_MONOTONIC, &b);
    long long ns = (b.tv_sec - a.tv_sec) * 1000000000ll + (b.tv_nsec - a.tv_nsec);
    CHECK(ns >= 2000000);
    CHECK_EQ(edo__ring_submit_and_wait(&r, 1, 0), -ETIME); /* a look that does not wait */
    edo__ring_destroy(&r);
}

TEST(probes)
{
    edo__ring r;
    if (!ring_or_skip(&r, 4, 0, 0))
        return;
    int buf_ring = edo__ring_probe_buf_ring(&r, 1, 0);
    int recv_ms = edo__ring_probe_recv_multishot(&r, 2);
    CHECK(buf_ring == 0 || buf_ring == 1);
    CHECK(recv_ms == 0 || recv_ms == 1);
    /* Multishot receive came after buffer rings (and needs a receive opcode). */
    if (recv_ms)
        CHECK(buf_ring == 1 && edo__ring_has_op(&r, IORING_OP_RECV));
    CHECK_EQ(edo__ring_cq_ready(&r), 0); /* the probe reaped its own completion */
    fprintf(stderr, "buffer rings %d, multishot recv %d, flags %#x, features %#x\n", buf_ring,
            recv_ms, r.setup_flags, r.features);
    edo__ring_destroy(&r);
}

TEST(bad_params)
{
    edo__ring r;
    edo__ring_params p = {.sq_entries = 65536};
    CHECK_EQ(edo__ring_init(&r, &p), -EINVAL);
    p = (edo__ring_params){.sq_entries = 16, .cq_entries = 8};
    CHECK_EQ(edo__ring_init(&r, &p), -EINVAL);
}
