/* The counting wrappers of the EDO_FAULT_ALLOC build (see fault_alloc.h). Compiled only in that
 * build. This file gets the forced header too, so it takes the macros back to call the real
 * functions. */
#include "platform/fault_alloc.h"

#undef malloc
#undef calloc
#undef realloc
#undef reallocarray
#undef aligned_alloc
#undef posix_memalign
#undef strdup
#undef strndup
#undef mmap

#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

/* AddressSanitizer's, when the program has it (the driver's build): where each injected failure
 * came from goes into the run's log. */
__attribute__((weak)) void __sanitizer_print_stack_trace(void);

static unsigned long fail_at, fail_every; /* set before main, read-only after */
static _Atomic unsigned long allocations, failures;

static unsigned long env_number(const char *name)
{
    const char *s = getenv(name);
    return s ? strtoul(s, NULL, 10) : 0;
}

/* Before main, and so before any thread of edo's exists: the settings need no lock. */
__attribute__((constructor)) static void read_settings(void)
{
    fail_at = env_number("EDO_FAIL_ALLOC_AT");
    fail_every = env_number("EDO_FAIL_ALLOC_EVERY");
}

__attribute__((destructor)) static void report(void)
{
    if (fail_at)
        fprintf(stderr, "edo-fault-alloc: %lu allocations, %lu failed\n",
                atomic_load(&allocations), atomic_load(&failures));
}

/* Counts one allocation; true when it is to fail. */
static bool fail_this_one(void)
{
    unsigned long n = atomic_fetch_add_explicit(&allocations, 1, memory_order_relaxed) + 1;
    if (!fail_at || n < fail_at)
        return false;
    if (n != fail_at && (!fail_every || (n - fail_at) % fail_every != 0))
        return false;
    atomic_fetch_add_explicit(&failures, 1, memory_order_relaxed);
    fprintf(stderr, "edo-fault-alloc: allocation %lu fails\n", n);
    if (__sanitizer_print_stack_trace)
        __sanitizer_print_stack_trace();
    errno = ENOMEM;
    return true;
}

unsigned long edo__fault_alloc_count(void)
{
    return atomic_load_explicit(&allocations, memory_order_relaxed);
}

unsigned long edo__fault_alloc_failed(void)
{
    return atomic_load_explicit(&failures, memory_order_relaxed);
}

void *edo__fault_malloc(size_t size)
{
    return fail_this_one() ? NULL : malloc(size);
}

void *edo__fault_calloc(size_t count, size_t size)
{
    return fail_this_one() ? NULL : calloc(count, size);
}

void *edo__fault_realloc(void *ptr, size_t size)
{
    return fail_this_one() ? NULL : realloc(ptr, size);
}

void *edo__fault_reallocarray(void *ptr, size_t count, size_t size)
{
    return fail_this_one() ? NULL : reallocarray(ptr, count, size);
}

void *edo__fault_aligned_alloc(size_t alignment, size_t size)
{
    return fail_this_one() ? NULL : aligned_alloc(alignment, size);
}

int edo__fault_posix_memalign(void **out, size_t alignment, size_t size)
{
    return fail_this_one() ? ENOMEM : posix_memalign(out, alignment, size);
}

char *edo__fault_strdup(const char *s)
{
    return fail_this_one() ? NULL : strdup(s);
}

char *edo__fault_strndup(const char *s, size_t n)
{
    return fail_this_one() ? NULL : strndup(s, n);
}

void *edo__fault_mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset)
{
    return fail_this_one() ? MAP_FAILED : mmap(addr, length, prot, flags, fd, offset);
}
