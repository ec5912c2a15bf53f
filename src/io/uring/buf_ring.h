/* A provided-buffer ring (IORING_REGISTER_PBUF_RING): buffers of one size that the kernel picks
 * from for each receive with IOSQE_BUFFER_SELECT, and that are handed back by writing them at
 * the ring's tail. One per worker's ring (io/uring.c), used by that worker alone: the kernel
 * takes from the head while the worker reaps, and the worker gives each buffer back as soon as
 * it has copied its bytes out (io/inbox.h), so buffers never cross threads.
 *
 * Threads: none of its own; the ring's owner alone gives back and publishes. */
#ifndef EDO_IO_URING_BUF_RING_H
#define EDO_IO_URING_BUF_RING_H

#include <linux/io_uring.h>
#include <stddef.h>
#include <stdint.h>

#include "io/uring/ring.h"

typedef struct edo__buf_ring {
    struct io_uring_buf_ring *ring; /* the entries, shared with the kernel (mapped) */
    char *bufs;                     /* count * size bytes (mapped) */
    size_t ring_bytes, bufs_bytes;
    unsigned count, size;
    uint16_t bgid;
    uint16_t tail; /* entries written; published with edo__buf_ring_publish */
} edo__buf_ring;

/* Maps `count` (a power of two, 1 to 32768) buffers of `size` bytes (at most 65536), registers
 * them with ring `r` as group `bgid` and hands them all to the kernel: 0, or -EINVAL (bad
 * sizes, or the kernel has no buffer rings), -ENOMEM. On failure nothing is left. */
int edo__buf_ring_init(edo__buf_ring *br, edo__ring *r, uint16_t bgid, unsigned count,
                       unsigned size);
/* Unmaps; call once the ring it was registered with is closed. */
void edo__buf_ring_destroy(edo__buf_ring *br);

/* The bytes of buffer `bid` (as a completion's flags name it). */
static inline const char *edo__buf_ring_data(const edo__buf_ring *br, unsigned bid)
{
    return br->bufs + (size_t)bid * br->size;
}

/* Writes buffer `bid` at the tail, for the kernel to take again once published. */
static inline void edo__buf_ring_put(edo__buf_ring *br, unsigned bid)
{
    struct io_uring_buf *b = &br->ring->bufs[br->tail & (br->count - 1)];
    b->addr = (uint64_t)(uintptr_t)edo__buf_ring_data(br, bid);
    b->len = br->size;
    b->bid = (uint16_t)bid;
    br->tail++;
}

/* Makes the buffers written so far visible to the kernel (a release store of the tail). */
static inline void edo__buf_ring_publish(edo__buf_ring *br)
{
    __atomic_store_n(&br->ring->tail, br->tail, __ATOMIC_RELEASE);
}

#endif
