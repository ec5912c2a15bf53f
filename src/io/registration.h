/* Registrations and the slab they live in.
 *
 * Every fd the driver watches has a registration (struct edo_io, the public edo_io). They live
 * in a slab of fixed 256-slot pages that is never freed while the driver lives, and the backend
 * carries a token, (generation << 32) | slot, rather than a pointer: an edge that arrives for a
 * registration already closed (its slot maybe reused) finds another generation and is dropped,
 * and whoever dispatches never touches freed memory. */
#ifndef EDO_IO_REGISTRATION_H
#define EDO_IO_REGISTRATION_H

#include <stdatomic.h>
#include <stdint.h>

#include "edo/io.h"
#include "edo/stream.h"
#include "io/inbox.h"
#include "platform/spinlock.h"

#define EDO__IO_PAGE_SLOTS 256u
#define EDO__IO_MAX_PAGES 4096u /* 1,048,576 registrations */

struct edo__io_driver;

enum { EDO__IO_RECV_BYTES = 1, EDO__IO_RECV_ACCEPTS = 2 }; /* edo_io.recv_mode */

/* A registration; the public edo_io. */
struct edo_io {
    _Alignas(64) _Atomic uint64_t state; /* generation | tick | ready (io/readiness.c) */
    int fd;
    uint32_t index; /* slot in the slab */
    edo__spinlock lock;
    /* EDO__IO_RECV_BYTES: the backend receives this stream socket's bytes by completion into
     * `inbox` (read them from there: edo__io_inbox_read); EDO__IO_RECV_ACCEPTS: it accepts
     * this listener's connections by completion into `inbox` (take them from there:
     * edo__io_accept_take); else 0. In the padding after the lock. */
    uint8_t recv_mode;
    /* The stream's write half was shut (edo_stream_shutdown, net/socket_stream.c): a second
     * shutdown returns 0 without asking the kernel, which says -ENOTCONN once the peer has
     * closed too. Set by the stream's writer alone; cleared with the vtable. Also padding. */
    bool write_shut;
    edo_io_waiter *waiters;
    struct edo_io *next_free;
    struct edo__io_driver *driver; /* it is registered with */
    /* The fd as a byte stream, for the layers above that hand one out (a connected socket is
     * an edo_stream with no allocation: edo_tcp_stream); their vtable, set when they register
     * it, or NULL. Within the cache line: the slot stays 64 bytes. */
    edo_stream stream;
    /* The slot's inbox: made the first time the slot holds a stream socket that the backend
     * may receive by completion, kept with the slot (reset for each registration), freed with
     * the slab. NULL until then. */
    edo__inbox *inbox;
};
_Static_assert(sizeof(struct edo_io) == 64, "a registration is one cache line");

/* The slots; its owner serialises take and put (lookups need no lock). */
typedef struct edo__io_slab {
    struct edo_io *_Atomic *pages; /* EDO__IO_MAX_PAGES page pointers, each set once */
    uint32_t nslots;
    struct edo_io *free;
} edo__io_slab;

int edo__io_slab_init(edo__io_slab *s);
void edo__io_slab_destroy(edo__io_slab *s);
/* A free slot, or NULL when the slab is full or out of memory. Its state word still holds the
 * generation of its last use, for the next one to follow. */
struct edo_io *edo__io_slab_take(edo__io_slab *s);
void edo__io_slab_put(edo__io_slab *s, struct edo_io *io);

/* The slot at `index` (one the slab handed out: never past its pages). */
static inline struct edo_io *edo__io_slab_get(edo__io_slab *s, uint32_t index)
{
    struct edo_io *page =
        atomic_load_explicit(&s->pages[index / EDO__IO_PAGE_SLOTS], memory_order_acquire);
    return page ? &page[index % EDO__IO_PAGE_SLOTS] : NULL;
}

/* What the backend reports for generation `gen` of slot `index`, and back. */
static inline uint64_t edo__io_token(uint32_t gen, uint32_t index)
{
    return ((uint64_t)gen << 32) | index;
}
static inline uint32_t edo__io_token_gen(uint64_t token) { return (uint32_t)(token >> 32); }
static inline uint32_t edo__io_token_index(uint64_t token) { return (uint32_t)token; }

#endif
