/* A provided-buffer ring (see buf_ring.h). */
#include "io/uring/buf_ring.h"

#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

static void *map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

int edo__buf_ring_init(edo__buf_ring *br, edo__ring *r, uint16_t bgid, unsigned count,
                       unsigned size)
{
    *br = (edo__buf_ring){0};
    if (count == 0 || count > 32768 || (count & (count - 1)) || size == 0 || size > 65536)
        return -EINVAL;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    /* The kernel wants the entries page-aligned: a mapping of their own. */
    br->ring_bytes = (count * sizeof(struct io_uring_buf) + page - 1) / page * page;
    br->bufs_bytes = (size_t)count * size;
    br->count = count;
    br->size = size;
    br->bgid = bgid;
    br->ring = map(br->ring_bytes);
    br->bufs = br->ring ? map(br->bufs_bytes) : NULL;
    int rc = br->bufs ? edo__ring_register_buf_ring(r, br->ring, count, bgid) : -ENOMEM;
    if (rc < 0) {
        edo__buf_ring_destroy(br);
        return rc;
    }
    for (unsigned bid = 0; bid < count; bid++)
        edo__buf_ring_put(br, bid);
    edo__buf_ring_publish(br);
    return 0;
}

void edo__buf_ring_destroy(edo__buf_ring *br)
{
    if (br->bufs)
        munmap(br->bufs, br->bufs_bytes);
    if (br->ring)
        munmap(br->ring, br->ring_bytes);
    *br = (edo__buf_ring){0};
}
