/* Coroutine stacks: one anonymous mapping each, reserved but committed only as touched, with a
 * guard page below while the process can afford the extra mapping, pooled for reuse.
 *
 * The guard budget: every guarded stack is two mappings (the guard splits it), and the kernel
 * caps a process at vm.max_map_count mappings (65530 by default). Guards go to the first quarter
 * of that; later stacks are unguarded, and adjacent unguarded mappings merge into one, so a
 * million coroutines stay far below the cap. */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
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

#define WORKER_CACHE_MAX 32u
#define POOL_MAX 1024u

static size_t page;
static size_t guard_budget;
static _Atomic size_t guarded_stacks;
static pthread_once_t limits_once = PTHREAD_ONCE_INIT;

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
}

size_t edo__stack_round(size_t size)
{
    pthread_once(&limits_once, read_limits);
    return (size + page - 1) / page * page;
}

static edo__coro *map_coro(size_t stack_size)
{
    pthread_once(&limits_once, read_limits);
    bool guarded = atomic_fetch_add_explicit(&guarded_stacks, 1, memory_order_relaxed) <
                   guard_budget;
    if (!guarded)
        atomic_fetch_sub_explicit(&guarded_stacks, 1, memory_order_relaxed);
    size_t total = stack_size + (guarded ? page : 0);
    int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
#ifdef MAP_STACK
    flags |= MAP_STACK;
#endif
    char *map = mmap(NULL, total, PROT_READ | PROT_WRITE, flags, -1, 0);
    if (map == MAP_FAILED) {
        if (guarded)
            atomic_fetch_sub_explicit(&guarded_stacks, 1, memory_order_relaxed);
        return NULL;
    }
    if (guarded && mprotect(map, page, PROT_NONE) != 0) {
        atomic_fetch_sub_explicit(&guarded_stacks, 1, memory_order_relaxed);
        guarded = false;
    }
    /* The control block takes the top of the mapping; the stack grows down from below it. */
    uintptr_t top = ((uintptr_t)(map + total) - sizeof(edo__coro)) & ~(uintptr_t)63;
    edo__coro *co = (edo__coro *)top;
    memset(co, 0, sizeof *co);
    co->map = map;
    co->map_size = total;
    co->stack_lo = map + (guarded ? page : 0);
    co->stack_size = stack_size;
    co->guarded = guarded;
#ifdef EDO_HAVE_VALGRIND
    co->valgrind_id = VALGRIND_STACK_REGISTER(co->stack_lo, (char *)co);
#endif
    return co;
}

static void unmap_coro(edo__coro *co)
{
    char *map = co->map;
    size_t size = co->map_size;
    if (co->guarded)
        atomic_fetch_sub_explicit(&guarded_stacks, 1, memory_order_relaxed);
#ifdef EDO_HAVE_VALGRIND
    VALGRIND_STACK_DEREGISTER(co->valgrind_id);
#endif
    munmap(map, size);
}

void edo__stack_pool_init(edo__stack_pool *p, size_t stack_size)
{
    p->stack_size = edo__stack_round(stack_size);
    pthread_mutex_init(&p->lock, NULL);
    p->free = NULL;
    p->nfree = 0;
}

void edo__stack_pool_destroy(edo__stack_pool *p)
{
    while (p->free) {
        edo__coro *co = p->free;
        p->free = co->next_free;
        unmap_coro(co);
    }
    pthread_mutex_destroy(&p->lock);
}

static edo__worker *owner_worker(edo_runtime *rt)
{
    edo__worker *w = edo__worker_current();
    return w && w->rt == rt ? w : NULL;
}

edo__coro *edo__coro_alloc(edo_runtime *rt, size_t stack_size)
{
    edo__stack_pool *p = &rt->stacks;
    stack_size = stack_size ? edo__stack_round(stack_size) : p->stack_size;
    edo__coro *co = NULL;
    if (stack_size == p->stack_size) {
        edo__worker *w = owner_worker(rt);
        if (w && w->stack_cache) {
            co = w->stack_cache;
            w->stack_cache = co->next_free;
            w->nstack_cache--;
        } else {
            pthread_mutex_lock(&p->lock);
            if ((co = p->free)) {
                p->free = co->next_free;
                p->nfree--;
            }
            pthread_mutex_unlock(&p->lock);
        }
    }
    if (!co && !(co = map_coro(stack_size)))
        return NULL;
    co->rt = rt;
    co->next_free = NULL;
    return co;
}

void edo__coro_release(edo__coro *co)
{
    edo_runtime *rt = co->rt;
    edo__stack_pool *p = &rt->stacks;
    if (co->stack_size == p->stack_size) {
        edo__worker *w = owner_worker(rt);
        if (w && w->nstack_cache < WORKER_CACHE_MAX) {
            co->next_free = w->stack_cache;
            w->stack_cache = co;
            w->nstack_cache++;
            return;
        }
        pthread_mutex_lock(&p->lock);
        if (p->nfree < POOL_MAX) {
            co->next_free = p->free;
            p->free = co;
            p->nfree++;
            co = NULL;
        }
        pthread_mutex_unlock(&p->lock);
        if (!co)
            return;
    }
    unmap_coro(co);
}

void edo__stack_cache_flush(edo__worker *w)
{
    while (w->stack_cache) {
        edo__coro *co = w->stack_cache;
        w->stack_cache = co->next_free;
        unmap_coro(co);
    }
    w->nstack_cache = 0;
}
