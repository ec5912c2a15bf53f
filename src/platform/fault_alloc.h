/* Allocation-failure injection (the EDO_FAULT_ALLOC build, docs/reliability.md).
 *
 * With -DEDO_FAULT_ALLOC=ON, CMake compiles every C file of the library with this header
 * forced in first (-include), so each allocation edo makes (malloc, calloc, realloc,
 * reallocarray, aligned_alloc, posix_memalign, strdup, strndup, and mmap for coroutine stacks)
 * goes through a counting wrapper instead, and the task allocator (core/alloc.c) takes its
 * blocks from malloc, one counted allocation per task or channel. No source file changes: the
 * names are macros here. Programs linked with the library are not affected; only edo's own
 * allocations are counted and failed.
 *
 * The environment chooses which allocations fail, read once at start-up:
 *   EDO_FAIL_ALLOC_AT=N      the Nth allocation (counting from 1) fails; unset or 0: none does;
 *   EDO_FAIL_ALLOC_EVERY=K   and then every Kth after it (N + K, N + 2K, ...).
 * A failed allocation returns what the real one returns when memory is out: NULL (MAP_FAILED
 * for mmap) with errno ENOMEM, or ENOMEM from posix_memalign. At exit, when EDO_FAIL_ALLOC_AT
 * is set, one line on stderr says how many allocations were made and how many failed
 * ("edo-fault-alloc: 123 allocations, 1 failed"); .ci/alloc-fail.sh reads it. Each failure
 * injected is announced on stderr too, with a stack trace in AddressSanitizer builds.
 */
#ifndef EDO_PLATFORM_FAULT_ALLOC_H
#define EDO_PLATFORM_FAULT_ALLOC_H

/* The real declarations first, so that the macros below rename only the calls. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>

#define EDO_FAULT_ALLOC 1

void *edo__fault_malloc(size_t size);
void *edo__fault_calloc(size_t count, size_t size);
void *edo__fault_realloc(void *ptr, size_t size);
void *edo__fault_reallocarray(void *ptr, size_t count, size_t size);
void *edo__fault_aligned_alloc(size_t alignment, size_t size);
int edo__fault_posix_memalign(void **out, size_t alignment, size_t size);
char *edo__fault_strdup(const char *s);
char *edo__fault_strndup(const char *s, size_t n);
void *edo__fault_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset);

/* How many allocations were made, and how many of them were failed on purpose, so far.
 * Thread-safe. */
unsigned long edo__fault_alloc_count(void);
unsigned long edo__fault_alloc_failed(void);

/* The library's own files (EDO_BUILDING) get the wrappers; a test that includes this header for
 * the two counters above keeps the real functions. */
#ifdef EDO_BUILDING
#undef strdup
#undef strndup
#define malloc(size) edo__fault_malloc(size)
#define calloc(count, size) edo__fault_calloc(count, size)
#define realloc(ptr, size) edo__fault_realloc(ptr, size)
#define reallocarray(ptr, count, size) edo__fault_reallocarray(ptr, count, size)
#define aligned_alloc(alignment, size) edo__fault_aligned_alloc(alignment, size)
#define posix_memalign(out, alignment, size) edo__fault_posix_memalign(out, alignment, size)
#define strdup(s) edo__fault_strdup(s)
#define strndup(s, n) edo__fault_strndup(s, n)
#define mmap(addr, length, prot, flags, fd, offset)                                              \
    edo__fault_mmap(addr, length, prot, flags, fd, offset)
#endif

#endif
