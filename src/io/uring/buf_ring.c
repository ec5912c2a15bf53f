/* A provided-buffer ring (see buf_ring.h). */
#include "io/uring/buf_ring.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

static void *map(size_t bytes)
{
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* Registers the entries, in parts where the kernel takes that (it says -EINVAL to a flag it
 * does not know), else whole. */
static int register_ring(edo__buf_ring *br, edo__ring *r, bool whole_only)
{
    if (!whole_only) {
        br->used = calloc(br->count, sizeof *br->used);
        if (!br->used)
            return -ENOMEM;
        int rc = edo__ring_register_buf_ring(r, br->ring, br->count, br->bgid,
                                             EDO__PBUF_RING_INC);
        if (rc != -EINVAL) {
            br->parts = rc == 0;
            return rc;
        }
        free(br->used);
        br->used = NULL;
    }
    return edo__ring_register_buf_ring(r, br->ring, br->count, br->bgid, 0);
}

int edo__buf_ring_init(edo__buf_ring *br, edo__ring *r, uint16_t bgid, unsigned count,
                       unsigned size, bool whole_only)
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
    int rc = br->bufs ? register_ring(br, r, whole_only) : -ENOMEM;
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
    free(br->used);
    *br = (edo__buf_ring){0};
}
