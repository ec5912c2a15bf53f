/* The registration slab (see registration.h). */
#include "io/registration.h"

#include <errno.h>
#include <stdlib.h>

int edo__io_slab_init(edo__io_slab *s)
{
    s->pages = calloc(EDO__IO_MAX_PAGES, sizeof *s->pages);
    s->nslots = 0;
    s->free = NULL;
    return s->pages ? 0 : -ENOMEM;
}

void edo__io_slab_destroy(edo__io_slab *s)
{
    if (!s->pages)
        return;
    for (uint32_t p = 0; p < EDO__IO_MAX_PAGES; p++) {
        struct edo_io *page = atomic_load_explicit(&s->pages[p], memory_order_relaxed);
        for (uint32_t i = 0; page && i < EDO__IO_PAGE_SLOTS; i++)
            edo__inbox_free(page[i].inbox);
        free(page);
    }
    free((void *)s->pages);
    s->pages = NULL;
}

struct edo_io *edo__io_slab_take(edo__io_slab *s)
{
    struct edo_io *io = s->free;
    if (io) {
        s->free = io->next_free;
        return io;
    }
    if (s->nslots == EDO__IO_PAGE_SLOTS * EDO__IO_MAX_PAGES)
        return NULL;
    uint32_t page = s->nslots / EDO__IO_PAGE_SLOTS;
    if (s->nslots % EDO__IO_PAGE_SLOTS == 0) {
        struct edo_io *fresh = aligned_alloc(64, EDO__IO_PAGE_SLOTS * sizeof *fresh);
        if (!fresh)
            return NULL;
        for (uint32_t i = 0; i < EDO__IO_PAGE_SLOTS; i++) {
            atomic_init(&fresh[i].state, 0);
            fresh[i].index = page * EDO__IO_PAGE_SLOTS + i;
            fresh[i].fd = -1;
            edo__spin_init(&fresh[i].lock);
            fresh[i].waiters = NULL;
            fresh[i].stream.vtable = NULL;
            fresh[i].recv_mode = 0;
            fresh[i].write_shut = false;
            fresh[i].inbox = NULL;
        }
        /* Published whole: a dispatcher may look a slot up without the owner's lock. */
        atomic_store_explicit(&s->pages[page], fresh, memory_order_release);
    }
    return edo__io_slab_get(s, s->nslots++);
}

void edo__io_slab_put(edo__io_slab *s, struct edo_io *io)
{
    io->fd = -1;
    io->stream.vtable = NULL; /* the next user sets its own */
    io->next_free = s->free;
    s->free = io;
}
