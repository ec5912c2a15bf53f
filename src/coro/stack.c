/* Coroutine stacks: one anonymous mapping each, reserved but committed only as touched, with a
 * guard page below, pooled for reuse.
 *
 * Guards: where the kernel has them (Linux 6.13+), a guard is a lightweight guard region
 * (madvise MADV_GUARD_INSTALL): a marker in the page table, which neither splits the mapping nor
 * takes the address space's lock for writing, so every stack gets one, at about a quarter of
 * the cost of mprotect (which a stack's first poll paid: ~9 us of its ~14 us on a VM).
 * Elsewhere a guard is an mprotect'd page, and then within a budget: every such stack is two
 * mappings (the guard splits it), and the kernel caps a process at vm.max_map_count mappings
 * (65530 by default). Those guards go to the first quarter of that; later stacks are unguarded,
 * and adjacent unguarded mappings merge into one, so a million coroutines stay far below the
 * cap. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/runtime.h"
#include "coro/coro.h"

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define EDO_HAVE_VALGRIND 1
#endif
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102 /* Linux 6.13 (older headers lack the name) */
#endif

#define WORKER_CACHE_MAX 64u
#define CHUNK_STACKS 16u
/* Stack colouring: each slot's control block (and so its whole stack) starts a different multiple
 * of a cache line below the top of its mapping, one of STACK_COLORS. Without it every coroutine's
 * hot frames sit at the same offsets within their pages, and caches index lines by those offset
 * bits: with hundreds of coroutines in turn (a server's connections) their frames all compete for
 * the same few sets of L1 and L2 and evict each other. The block and the colour take at most
 * about half a page, so a shallow coroutine still touches a single page; the slot has a page more
 * than the stack for them, so the usable stack is never less than asked for. */
#define STACK_COLORS 32u
#define COLOR_STEP 64u

static size_t page;
static size_t guard_budget;
static _Atomic size_t guarded_stacks; /* mprotect'd guards (the budgeted kind) */
static _Atomic bool light_guards; /* lightweight guards work here (probed once) */
static _Atomic unsigned next_color;
static pthread_once_t limits_once = PTHREAD_ONCE_INIT;

/* Whether lightweight guards work here: once a scratch page is made one, the kernel must refuse
 * to read it (write() from it fails with EFAULT). An older kernel refuses the madvise; an
 * emulator (qemu-user, as CI runs the AArch64 tests) accepts it and does nothing, so only
 * trying the guard tells. */
static bool probe_light_guards(void)
{
    char *m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return false;
    bool works = false;
    int fds[2];
    if (madvise(m, page, MADV_GUARD_INSTALL) == 0 && pipe2(fds, O_CLOEXEC) == 0) {
        works = write(fds[1], m, 1) < 0 && errno == EFAULT;
        close(fds[0]);
        close(fds[1]);
    }
    munmap(m, page);
    return works;
}

static void read_limits(void)
{
    long p = sysconf(_SC_PAGESIZE);
    page = p > 0 ? (size_t)p : 4096;
    size_t max_maps = 65530;
    FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
    if (f) {
        unsigned long v;
        if (fscanf(f, "%lu", &v) == 1 && v > 0)
            max_maps = v;
        fclose(f);
    }
    guard_budget = max_maps / 4;
    atomic_store_explicit(&light_guards, probe_light_guards(), memory_order_relaxed);
}

size_t edo__stack_round(size_t size)
{
    pthread_once(&limits_once, read_limits);
    return (size + page - 1) / page * page;
}

/* A slot: [a padding page, where needed to make the slot an odd number of pages][guard page]
 * [stack_size bytes of stack][a page: the rest of the stack, the colour and the control block].
 *
 * Why odd: a coroutine's first touch on resuming is its slot's top page, one page per stack, and
 * the CPU's second-level TLB picks a set by the low bits of the page number. Slots of an even
 * number of pages (18 for the default 64 KiB stack) put every top page in the even sets only:
 * half the TLB, which 1,000 coroutines in turn overflow (a page walk at each resume, nested
 * paging's on a VM). An odd stride reaches every set. Measured with a pointer chase through one
 * line of each of 1,000 pages (bench/page_stride.c, Zen 3 VM): 60-75 ns a touch at a stride of
 * 18 pages, 12.8 at 19.
 * The padding is address space only, below the guard: nothing touches it. */
static size_t slot_size(size_t stack_size)
{
    size_t size = page + stack_size + page;
    return size / page % 2 ? size : size + page;
}

/* Where the slot's guard page is: after the padding, if any. */
static char *slot_guard(char *slot, size_t stack_size)
{
    return slot + slot_size(stack_size) - (page + stack_size + page);
}

/* Makes the page at `slot` a guard, as a lightweight guard region where the kernel has them,
 * else mprotect'd within the budget. Returns which kind it got. */
static enum edo__guard install_guard(char *slot)
{
    if (atomic_load_explicit(&light_guards, memory_order_relaxed) &&
        madvise(slot, page, MADV_GUARD_INSTALL) == 0)
        return EDO__GUARD_LIGHT;
    if (atomic_fetch_add_explicit(&guarded_stacks, 1, memory_order_relaxed) < guard_budget &&
        mprotect(slot, page, PROT_NONE) == 0)
        return EDO__GUARD_PAGE;
    atomic_fetch_sub_explicit(&guarded_stacks, 1, memory_order_relaxed);
    return EDO__GUARD_NONE;
}

/* Sets up the control block of the stack slot at `slot`: a guard page below the stack (see
 * install_guard), the block near the top. */
static edo__stack *init_slot(char *slot, size_t stack_size, bool chunked)
{
    char *guard_page = slot_guard(slot, stack_size);
    enum edo__guard guard = install_guard(guard_page);
    size_t total = slot_size(stack_size);
    /* Scrambled, so that the colour does not follow the slot's place in its chunk (which already
     * decides some of the index bits of a virtually indexed cache). */
    unsigned n = atomic_fetch_add_explicit(&next_color, 1, memory_order_relaxed);
    size_t color = (n * 2654435761u >> 16) % STACK_COLORS * COLOR_STEP;
    uintptr_t top = ((uintptr_t)(slot + total) - sizeof(edo__stack) - color) & ~(uintptr_t)63;
    edo__stack *st = (edo__stack *)top;
    memset(st, 0, sizeof *st);
    st->map = slot;
    st->map_size = total;
    st->stack_lo = guard_page + page;
    st->stack_size = stack_size;
    st->guard = guard;
    st->chunked = chunked;
#ifdef EDO_HAVE_VALGRIND
    st->valgrind_id = VALGRIND_STACK_REGISTER(st->stack_lo, (char *)st);
#endif
    return st;
}

static char *map_region(size_t size)
{
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
#ifdef MAP_STACK
    flags |= MAP_STACK;
#endif
    char *map = mmap(NULL, size, PROT_READ | PROT_WRITE, flags, -1, 0);
    return map == MAP_FAILED ? NULL : map;
}

/* Forgets a stack's guard and valgrind registration (its memory is unmapped by the caller). */
static void retire(edo__stack *st)
{
    if (st->guard == EDO__GUARD_PAGE)
        atomic_fetch_sub_explicit(&guarded_stacks, 1, memory_order_relaxed);
#ifdef EDO_HAVE_VALGRIND
    VALGRIND_STACK_DEREGISTER(st->valgrind_id);
#endif
}

/* A stack of a size other than the pool's: a mapping of its own, unmapped on release. */
static edo__stack *map_single(size_t stack_size)
{
    char *map = map_region(slot_size(stack_size));
    return map ? init_slot(map, stack_size, false) : NULL;
}

static void unmap_single(edo__stack *st)
{
    retire(st);
    munmap(st->map, st->map_size);
}

/* Pool stacks come CHUNK_STACKS to a mapping (one system call, and no unmapping until the
 * runtime goes: unmapping costs TLB shootdowns on every core and contends with page faults).
 * A chunk's slots are carved out one at a time, as stacks are asked for, and each is set up
 * (its guard's mprotect, its control block's page fault) by the thread that takes it, outside
 * the pool's lock: setting up all of a new chunk's slots at once made one coroutine's first poll
 * in CHUNK_STACKS pay for sixteen, with the lock held, while timer wake-ups waited behind it.
 * Returns the untouched slot to set up, or NULL when no memory is to be had. Pool lock held. */
static char *carve_slot(edo__stack_pool *p)
{
    size_t slot = slot_size(p->stack_size);
    if (!p->chunks || p->carved == CHUNK_STACKS) {
        char *map = map_region(CHUNK_STACKS * slot);
        if (!map)
            return NULL;
        edo__chunk *c = malloc(sizeof *c);
        if (!c) {
            munmap(map, CHUNK_STACKS * slot);
            return NULL;
        }
        c->map = map;
        c->next = p->chunks;
        p->chunks = c;
        p->carved = 0;
    }
    return p->chunks->map + p->carved++ * slot;
}

void edo__stack_pool_init(edo__stack_pool *p, size_t stack_size)
{
    p->stack_size = edo__stack_round(stack_size);
    pthread_mutex_init(&p->lock, NULL);
    p->free = NULL;
    p->nfree = 0;
    p->chunks = NULL;
    p->carved = 0;
}

void edo__stack_pool_destroy(edo__stack_pool *p)
{
    for (edo__stack *st = p->free; st; st = st->next_free)
        retire(st);
    size_t size = CHUNK_STACKS * slot_size(p->stack_size);
    while (p->chunks) {
        edo__chunk *c = p->chunks;
        p->chunks = c->next;
        munmap(c->map, size);
        free(c);
    }
    pthread_mutex_destroy(&p->lock);
}

static edo__worker *owner_worker(edo_runtime *rt)
{
    edo__worker *w = edo__worker_current();
    return w && w->rt == rt ? w : NULL;
}

edo__stack *edo__stack_alloc(edo_runtime *rt, size_t stack_size)
{
    edo__stack_pool *p = &rt->stacks;
    stack_size = stack_size ? edo__stack_round(stack_size) : p->stack_size;
    edo__stack *st = NULL;
    if (stack_size == p->stack_size) {
        edo__worker *w = owner_worker(rt);
        if (w && w->stack_cache) {
            st = w->stack_cache;
            w->stack_cache = st->next_free;
            w->nstack_cache--;
        } else {
            char *slot = NULL;
            pthread_mutex_lock(&p->lock);
            if ((st = p->free)) {
                p->free = st->next_free;
                p->nfree--;
            } else {
                slot = carve_slot(p);
            }
            pthread_mutex_unlock(&p->lock);
            if (slot)
                st = init_slot(slot, p->stack_size, true);
        }
    } else {
        st = map_single(stack_size);
    }
    if (!st)
        return NULL;
    st->rt = rt;
    st->next_free = NULL;
    return st;
}

void edo__stack_release(edo__stack *st)
{
    edo_runtime *rt = st->rt;
    edo__stack_pool *p = &rt->stacks;
    if (!st->chunked) {
        unmap_single(st);
        return;
    }
    edo__worker *w = owner_worker(rt);
    if (w && w->nstack_cache < WORKER_CACHE_MAX) {
        st->next_free = w->stack_cache;
        w->stack_cache = st;
        w->nstack_cache++;
        return;
    }
    pthread_mutex_lock(&p->lock);
    st->next_free = p->free;
    p->free = st;
    p->nfree++;
    pthread_mutex_unlock(&p->lock);
}

void edo__stack_cache_flush(edo__worker *w)
{
    /* The stacks belong to the pool's chunks: hand them back so they are retired with it. */
    edo__stack_pool *p = &w->rt->stacks;
    while (w->stack_cache) {
        edo__stack *st = w->stack_cache;
        w->stack_cache = st->next_free;
        st->next_free = p->free;
        p->free = st;
        p->nfree++;
    }
    w->nstack_cache = 0;
}
