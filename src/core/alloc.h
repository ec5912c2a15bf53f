/* Task memory: size-classed blocks recycled through per-thread magazines.
 *
 * Tasks are allocated on one thread and freed on another all the time (a plain thread spawns,
 * a worker completes; one worker spawns, another steals and completes). A general-purpose
 * allocator pays for that with locks and cache misses on its arenas. Here each thread keeps,
 * per size class, two magazines (small stacks) of free blocks: allocating and freeing touch
 * only the thread's own magazines. A full magazine goes to a global depot and an empty one
 * comes back, so one lock is taken per 64 blocks that change hands. New blocks are carved from
 * 64 KiB slabs in whole, aligned cache lines (no allocator header; a minimal task is 128
 * bytes), so two tasks never share a line. Blocks larger than 1 KiB come from malloc.
 *
 * Memory is kept for reuse, not returned to the system: a process's task memory stays at its
 * peak. Under AddressSanitizer every block comes from malloc, so use-after-free is caught.
 */
#ifndef EDO_CORE_ALLOC_H
#define EDO_CORE_ALLOC_H

#include <stddef.h>
#include <stdint.h>

/* Returns a block of at least `size` bytes (aligned to 64 bytes, or 32 between 128 and 256; from
 * malloc, beyond 1 KiB: 16) and its class in *size_class,
 * or NULL. Thread-safe. */
void *edo__block_alloc(size_t size, uint32_t *size_class);
/* Returns a block to its class. Thread-safe. */
void edo__block_free(void *block, uint32_t size_class);

#endif
