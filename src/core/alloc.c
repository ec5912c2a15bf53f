#include "core/alloc.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "platform/spinlock.h"

#include "platform/sanitizers.h"
#if defined(EDO_ASAN)
#define EDO_ALLOC_USE_MALLOC 1 /* so ASan sees every task's lifetime */
#elif defined(EDO_FAULT_ALLOC)
#define EDO_ALLOC_USE_MALLOC 1 /* so every task is an allocation that can fail */
#endif

/* Blocks are whole cache lines, cache-line aligned, up to 128 bytes and from 256 on: a task's
 * state word is written by every worker that wakes or runs it, and a neighbour sharing its line
 * would make two unrelated tasks on two workers fight over it (false sharing cost a third of the
 * yield benchmark when the smallest tasks shared lines). Between 128 and 256 bytes blocks go by
 * half lines (160, 192, 224): a task there is larger than a header and a small future, its state
 * word shares a line at most with the tail of the previous task's future, and a task parked on a
 * notify (a 64-byte header and a 96-byte future) takes 160 bytes instead of 192. */
#define GRANULE 64u
#define MAX_BLOCK 1024u
#define NCLASSES 18u /* the sizes in class_size */
#define MALLOC_CLASS NCLASSES
#define MAG_SIZE 64u
#define SLAB_SIZE (64u * 1024u)

#ifdef EDO_ALLOC_USE_MALLOC

void *edo__block_alloc(size_t size, uint32_t *size_class)
{
    *size_class = MALLOC_CLASS;
    return malloc(size);
}

void edo__block_free(void *block, uint32_t size_class)
{
    (void)size_class;
    free(block);
}

#else

static const uint16_t class_size[] = {64, 128, 160, 192, 224, 256, 320, 384, 448, 512, 576, 640, 704, 768, 832, 896, 960, 1024};
/* The class of a size, by its number of 32-byte units. */
static const uint8_t class_of_units[MAX_BLOCK / 32 + 1] = {0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15, 16, 16, 17, 17};
_Static_assert(sizeof class_size / sizeof *class_size == NCLASSES, "NCLASSES");

typedef struct magazine {
    struct magazine *next;
    unsigned count;
    void *blocks[MAG_SIZE];
} magazine;

/* One per size class, shared by all threads. */
typedef struct depot {
    edo__spinlock lock;
    magazine *full, *empty;
    char *slab;       /* carving position in the current slab */
    size_t slab_left; /* bytes left in it */
} depot;

/* One per size class, per thread: `loaded` serves allocations and takes frees; `spare` avoids
 * trading with the depot on every block when use hovers around a magazine boundary. */
typedef struct class_cache {
    magazine *loaded, *spare;
} class_cache;

static depot depots[NCLASSES];
static _Thread_local class_cache caches[NCLASSES];
static _Thread_local bool cache_registered;
static pthread_key_t exit_key;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Slabs are never freed; they are kept on this list so they stay reachable (leak checkers).
 * The header fills one line so the blocks after it stay aligned. */
typedef struct slab_header {
    _Alignas(GRANULE) struct slab_header *next;
} slab_header;
static slab_header *_Atomic slabs;

static void give_back(depot *d, magazine *m);

/* Thread exit: the thread's magazines go to the depots, full or empty. */
static void flush_thread(void *unused)
{
    (void)unused;
    for (unsigned c = 0; c < NCLASSES; c++) {
        class_cache *cc = &caches[c];
        if (cc->loaded)
            give_back(&depots[c], cc->loaded);
        if (cc->spare)
            give_back(&depots[c], cc->spare);
        cc->loaded = cc->spare = NULL;
    }
}

static void init(void)
{
    for (unsigned c = 0; c < NCLASSES; c++)
        edo__spin_init(&depots[c].lock);
    pthread_key_create(&exit_key, flush_thread);
}

static void register_thread(void)
{
    pthread_once(&init_once, init);
    pthread_setspecific(exit_key, &cache_registered); /* any non-NULL value: run the flush */
    cache_registered = true;
}

static void give_back(depot *d, magazine *m)
{
    edo__spin_lock(&d->lock);
    magazine **list = m->count ? &d->full : &d->empty;
    m->next = *list;
    *list = m;
    edo__spin_unlock(&d->lock);
}

static magazine *new_magazine(void)
{
    magazine *m = malloc(sizeof *m);
    if (m) {
        m->next = NULL;
        m->count = 0;
    }
    return m;
}

/* Fills the (empty) magazine `m` with fresh blocks from the class's slab. Depot locked. */
static void carve(depot *d, magazine *m, size_t block_size)
{
    while (m->count < MAG_SIZE) {
        if (d->slab_left < block_size) {
            slab_header *s = aligned_alloc(GRANULE, SLAB_SIZE);
            if (!s)
                return;
            s->next = atomic_load_explicit(&slabs, memory_order_relaxed);
            while (!atomic_compare_exchange_weak_explicit(&slabs, &s->next, s,
                                                          memory_order_release,
                                                          memory_order_relaxed))
                ;
            d->slab = (char *)(s + 1);
            d->slab_left = SLAB_SIZE - sizeof *s;
        }
        m->blocks[m->count++] = d->slab;
        d->slab += block_size;
        d->slab_left -= block_size;
    }
}

/* Replaces the thread's empty loaded magazine with a full one. Returns false when out of
 * memory. */
static bool refill(class_cache *cc, uint32_t c)
{
    depot *d = &depots[c];
    edo__spin_lock(&d->lock);
    magazine *m = d->full;
    if (m) {
        d->full = m->next;
        if (cc->loaded) { /* keep the empty one for later frees */
            cc->loaded->next = d->empty;
            d->empty = cc->loaded;
        }
        cc->loaded = m;
    } else {
        if (!cc->loaded) {
            cc->loaded = d->empty;
            if (cc->loaded)
                d->empty = cc->loaded->next;
        }
        if (cc->loaded)
            carve(d, cc->loaded, class_size[c]);
    }
    edo__spin_unlock(&d->lock);
    if (!cc->loaded) {
        cc->loaded = new_magazine();
        if (!cc->loaded)
            return false;
        edo__spin_lock(&d->lock);
        carve(d, cc->loaded, class_size[c]);
        edo__spin_unlock(&d->lock);
    }
    return cc->loaded->count > 0;
}

void *edo__block_alloc(size_t size, uint32_t *size_class)
{
    if (size == 0 || size > MAX_BLOCK) {
        *size_class = MALLOC_CLASS;
        return malloc(size ? size : 1);
    }
    uint32_t c = class_of_units[(size + 31) / 32];
    *size_class = c;
    class_cache *cc = &caches[c];
    if (!cache_registered)
        register_thread();
    if (!cc->loaded || cc->loaded->count == 0) {
        if (cc->spare && cc->spare->count > 0) {
            magazine *m = cc->loaded;
            cc->loaded = cc->spare;
            cc->spare = m;
        } else if (!refill(cc, c)) {
            return NULL;
        }
    }
    return cc->loaded->blocks[--cc->loaded->count];
}

/* Frees: the thread's loaded magazine is full (or missing). Hands a full one to the depot and
 * loads an empty one. Returns false when no empty magazine can be had. */
static bool swap_full_for_empty(class_cache *cc, depot *d)
{
    edo__spin_lock(&d->lock);
    magazine *m = d->empty;
    if (m)
        d->empty = m->next;
    edo__spin_unlock(&d->lock);
    if (!m && !(m = new_magazine()))
        return false;
    m->count = 0;
    if (cc->loaded)
        give_back(d, cc->loaded);
    cc->loaded = m;
    return true;
}

void edo__block_free(void *block, uint32_t c)
{
    if (!block)
        return;
    if (c >= NCLASSES) {
        free(block);
        return;
    }
    class_cache *cc = &caches[c];
    if (!cache_registered)
        register_thread();
    if (!cc->loaded || cc->loaded->count == MAG_SIZE) {
        if (cc->spare && cc->spare->count < MAG_SIZE) {
            magazine *m = cc->loaded;
            cc->loaded = cc->spare;
            cc->spare = m;
        } else if (!swap_full_for_empty(cc, &depots[c])) {
            return; /* out of memory for a magazine: the block stays unused in its slab */
        }
    }
    cc->loaded->blocks[cc->loaded->count++] = block;
}

#endif
