/* A provided-buffer ring (IORING_REGISTER_PBUF_RING): buffers of one size that the kernel picks
 * from for each receive with IOSQE_BUFFER_SELECT, and that are handed back by writing them at
 * the ring's tail. One per worker's ring (io/uring.c), used by that worker alone: the kernel
 * takes from the head while the worker reaps, and the worker gives each buffer back as soon as
 * it has copied its bytes out (io/inbox.h), so buffers never cross threads.
 *
 * Consumed a part at a time where the kernel can (EDO__PBUF_RING_INC, Linux 6.12): a receive
 * takes only the bytes it fills from the buffer at the head, and the next receive, of any socket,
 * goes on in the same buffer; the kernel moves on to the next buffer once one is full. Why: taken
 * whole, each completion used up a 4 KiB buffer for its 64 bytes, and 500 connections whose
 * requests arrived between two looks at the ring ran 256 buffers dry (every receive beyond them
 * ended with -ENOBUFS and had to be armed again); taken in parts, the ring holds as many bytes as
 * its buffers have. The kernel says where a buffer stands only by a completion's flag (more room
 * left: EDO__CQE_F_BUF_MORE), so the ring keeps how much of each buffer the completions so far
 * used: the next completion's bytes start there. A buffer goes back once a completion without the
 * flag filled its rest. Whole buffers otherwise (older kernels), each given back after its one
 * completion.
 *
 * Threads: none of its own; the ring's owner alone takes, gives back and publishes. */
#ifndef EDO_IO_URING_BUF_RING_H
#define EDO_IO_URING_BUF_RING_H

#include <linux/io_uring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/uring/ring.h"

typedef struct edo__buf_ring {
    struct io_uring_buf_ring *ring; /* the entries, shared with the kernel (mapped) */
    char *bufs;                     /* count * size bytes (mapped) */
    uint32_t *used;                 /* by buffer: bytes completions took so far (parts only) */
    size_t ring_bytes, bufs_bytes;
    unsigned count, size;
    uint16_t bgid;
    uint16_t tail; /* entries written; published with edo__buf_ring_publish */
    bool parts;    /* the kernel consumes buffers a part at a time */
} edo__buf_ring;

/* Maps `count` (a power of two, 1 to 32768) buffers of `size` bytes (at most 65536), registers
 * them with ring `r` as group `bgid`, consumed in parts where the kernel can (unless
 * `whole_only`), and hands them all to the kernel: 0, or -EINVAL (bad sizes, or the kernel has
 * no buffer rings), -ENOMEM. On failure nothing is left. */
int edo__buf_ring_init(edo__buf_ring *br, edo__ring *r, uint16_t bgid, unsigned count,
                       unsigned size, bool whole_only);
/* Unmaps; call once the ring it was registered with is closed. */
void edo__buf_ring_destroy(edo__buf_ring *br);

/* Where the bytes of the next completion that names buffer `bid` start. */
static inline const char *edo__buf_ring_data(const edo__buf_ring *br, unsigned bid)
{
    return br->bufs + (size_t)bid * br->size + (br->parts ? br->used[bid] : 0);
}

/* Writes buffer `bid`, whole, at the tail, for the kernel to take again once published. */
static inline void edo__buf_ring_put(edo__buf_ring *br, unsigned bid)
{
    struct io_uring_buf *b = &br->ring->bufs[br->tail & (br->count - 1)];
    b->addr = (uint64_t)(uintptr_t)(br->bufs + (size_t)bid * br->size);
    b->len = br->size;
    b->bid = (uint16_t)bid;
    br->tail++;
}

/* A completion that named buffer `bid` has been read: `res` its result, `more` its flag
 * EDO__CQE_F_BUF_MORE. Gives the buffer back when the completion was its last: a whole buffer
 * always (whatever the result, as the kernel consumed it); one taken in parts once a completion
 * filled it (no room left: `res` > 0 and not `more`; the kernel moves past a buffer only
 * then, so an empty or failed completion leaves it where it is, in the kernel's use). */
static inline void edo__buf_ring_done(edo__buf_ring *br, unsigned bid, int32_t res, bool more)
{
    if (!br->parts) {
        edo__buf_ring_put(br, bid);
    } else if (res > 0) {
        if (more) {
            br->used[bid] += (uint32_t)res;
        } else {
            br->used[bid] = 0;
            edo__buf_ring_put(br, bid);
        }
    }
}

/* Makes the buffers written so far visible to the kernel (a release store of the tail). */
static inline void edo__buf_ring_publish(edo__buf_ring *br)
{
    __atomic_store_n(&br->ring->tail, br->tail, __ATOMIC_RELEASE);
}

#endif
