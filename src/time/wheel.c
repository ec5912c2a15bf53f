#include "time/wheel.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SLOT_BITS 6
#define SLOT_MASK (EDO__WHEEL_SLOTS - 1)
#define NIL UINT32_MAX /* no record */
#define EXPIRED (EDO__WHEEL_LEVELS * EDO__WHEEL_SLOTS) /* a record's `where` on w->expired */
/* 1024 records of 32 bytes: 32 KiB a chunk, two records a cache line. */
#define CHUNK_BITS 10
#define CHUNK_RECORDS (1u << CHUNK_BITS)
#define MAX_CHUNKS ((NIL >> CHUNK_BITS) - 1) /* every index stays below NIL */

struct edo__wheel_record {
    uint64_t tick;
    edo_timer_entry *entry;
    uint32_t next, prev;    /* neighbours in its slot's list (unused: next in the free list) */
    uint32_t where;         /* level * EDO__WHEEL_SLOTS + slot, or EXPIRED */
};

static inline uint64_t slot_ticks(unsigned level) { return (uint64_t)1 << (SLOT_BITS * level); }
static inline uint64_t level_ticks(unsigned level) { return slot_ticks(level + 1); }

static inline edo__wheel_record *record(const edo__wheel *w, uint32_t index)
{
    return &w->chunks[index >> CHUNK_BITS][index & (CHUNK_RECORDS - 1)];
}

void edo__wheel_init(edo__wheel *w, uint64_t start_tick)
{
    memset(w, 0, sizeof *w);
    memset(w->slots, 0xff, sizeof w->slots); /* every slot NIL */
    w->elapsed = start_tick;
    w->free_record = NIL;
    w->expired = NIL;
}

void edo__wheel_destroy(edo__wheel *w)
{
    for (uint32_t i = 0; i < w->nchunks; i++)
        free(w->chunks[i]);
    free(w->chunks);
    w->chunks = NULL;
    w->nchunks = w->chunks_cap = 0;
    w->fresh = 0;
    w->free_record = NIL;
}

/* Adds a chunk of records never used (taken in order by edo__wheel_insert, not threaded on the
 * free list: a record is first touched when it is filled). The chunks stay where they are: only the table of chunk
 * pointers is reallocated, and records are named by index. */
static int grow(edo__wheel *w)
{
    if (w->nchunks == MAX_CHUNKS)
        return -ENOMEM;
    if (w->nchunks == w->chunks_cap) {
        uint32_t cap = w->chunks_cap ? w->chunks_cap * 2 : 8;
        edo__wheel_record **chunks = realloc(w->chunks, cap * sizeof *chunks);
        if (!chunks)
            return -ENOMEM;
        w->chunks = chunks;
        w->chunks_cap = cap;
    }
    edo__wheel_record *chunk = aligned_alloc(64, CHUNK_RECORDS * sizeof *chunk);
    if (!chunk)
        return -ENOMEM;
    w->chunks[w->nchunks++] = chunk;
    return 0;
}

/* Level and slot for `tick` seen from w->elapsed: the level of the highest bit in which the
 * two differ (capped at the top level, whose slots wrap around). A tick further out than the top
 * level's turn goes to the top slot that comes due last, and is placed again from there. */
static unsigned place(const edo__wheel *w, uint64_t tick)
{
    const unsigned top = EDO__WHEEL_LEVELS - 1;
    if (tick - w->elapsed >= slot_ticks(top) * SLOT_MASK) {
        unsigned current = (unsigned)(w->elapsed >> (SLOT_BITS * top)) & SLOT_MASK;
        return top * EDO__WHEEL_SLOTS + ((current + SLOT_MASK) & SLOT_MASK);
    }
    uint64_t differ = (w->elapsed ^ tick) | SLOT_MASK;
    unsigned level = (unsigned)(63 - __builtin_clzll(differ)) / SLOT_BITS;
    if (level > top)
        level = top;
    unsigned slot = (unsigned)(tick >> (SLOT_BITS * level)) & SLOT_MASK;
    return level * EDO__WHEEL_SLOTS + slot;
}

/* Puts record `index` at the front of the list whose first index is at `head`. */
static void push_front(edo__wheel *w, uint32_t *head, uint32_t index, edo__wheel_record *r)
{
    r->prev = NIL;
    r->next = *head;
    if (*head != NIL)
        record(w, *head)->prev = index;
    *head = index;
}

/* Puts record `index` at the head of the slot its tick belongs in now. */
static void link(edo__wheel *w, uint32_t index, edo__wheel_record *r)
{
    unsigned where = place(w, r->tick);
    unsigned level = where / EDO__WHEEL_SLOTS, slot = where % EDO__WHEEL_SLOTS;
    r->where = where;
    push_front(w, &w->slots[level][slot], index, r);
    w->occupied[level] |= (uint64_t)1 << slot;
}

/* Puts record `index` at the head of the expired list (its tick has passed). */
static void link_expired(edo__wheel *w, uint32_t index, edo__wheel_record *r)
{
    r->where = EXPIRED;
    push_front(w, &w->expired, index, r);
}

static void unlink_record(edo__wheel *w, edo__wheel_record *r)
{
    if (r->next != NIL)
        record(w, r->next)->prev = r->prev;
    if (r->prev != NIL) {
        record(w, r->prev)->next = r->next;
        return;
    }
    if (r->where == EXPIRED) {
        w->expired = r->next;
        return;
    }
    unsigned level = r->where / EDO__WHEEL_SLOTS, slot = r->where % EDO__WHEEL_SLOTS;
    w->slots[level][slot] = r->next;
    if (r->next == NIL)
        w->occupied[level] &= ~((uint64_t)1 << slot);
}

/* Unlinks record `index` and puts it on the free list (last freed, first reused: still in cache). */
static void release(edo__wheel *w, uint32_t index, edo__wheel_record *r)
{
    unlink_record(w, r);
    r->next = w->free_record;
    w->free_record = index;
    w->count--;
}

int edo__wheel_insert(edo__wheel *w, edo_timer_entry *e)
{
    uint32_t index = w->free_record;
    edo__wheel_record *r;
    if (index != NIL) {
        r = record(w, index);
        w->free_record = r->next;
    } else {
        if (w->fresh == w->nchunks << CHUNK_BITS) {
            int rc = grow(w);
            if (rc < 0)
                return rc;
        }
        index = w->fresh++;
        r = record(w, index);
    }
    r->tick = e->tick_;
    r->entry = e;
    link(w, index, r);
    e->record_ = index;
    w->count++;
    return 0;
}

void edo__wheel_remove(edo__wheel *w, edo_timer_entry *e)
{
    release(w, e->record_, record(w, e->record_));
}

/* The tick at which level `level`'s first occupied slot comes due, and that slot. */
static uint64_t level_next_due(const edo__wheel *w, unsigned level, unsigned *slot_out)
{
    uint64_t occupied = w->occupied[level];
    if (!occupied)
        return EDO__WHEEL_NONE;
    unsigned shift = SLOT_BITS * level;
    unsigned current = (unsigned)(w->elapsed >> shift) & SLOT_MASK;
    /* Slots before the current one belong to the level's next turn. */
    uint64_t rotated = current ? (occupied >> current) | (occupied << (64 - current)) : occupied;
    unsigned slot = (current + (unsigned)__builtin_ctzll(rotated)) & SLOT_MASK;
    uint64_t due = (w->elapsed & ~(level_ticks(level) - 1)) + (uint64_t)slot * slot_ticks(level);
    if (slot < current)
        due += level_ticks(level);
    *slot_out = slot;
    return due;
}

/* The slot that comes due first: its tick, and its level and slot through the pointers. */
static uint64_t next_due(const edo__wheel *w, unsigned *level_out, unsigned *slot_out)
{
    uint64_t best = EDO__WHEEL_NONE;
    for (unsigned level = 0; level < EDO__WHEEL_LEVELS; level++) {
        unsigned slot;
        uint64_t due = level_next_due(w, level, &slot);
        if (due < best) {
            best = due;
            *level_out = level;
            *slot_out = slot;
        }
    }
    return best;
}

uint64_t edo__wheel_next_due(const edo__wheel *w)
{
    unsigned level, slot;
    if (w->expired != NIL)
        return w->elapsed; /* due already */
    return w->count ? next_due(w, &level, &slot) : EDO__WHEEL_NONE;
}

/* Empties the slot that came due at w->elapsed: its timers due by `now` go to the expired list,
 * the others to the slots they now belong in. The slot's list is taken whole, so no record is
 * unlinked from a neighbour: each record is read once (its successor prefetched meanwhile) and
 * written where it goes. */
static void empty_slot(edo__wheel *w, unsigned level, unsigned slot, uint64_t now)
{
    uint32_t index = w->slots[level][slot];
    w->slots[level][slot] = NIL;
    w->occupied[level] &= ~((uint64_t)1 << slot);
    while (index != NIL) {
        edo__wheel_record *r = record(w, index);
        uint32_t next = r->next;
        if (next != NIL)
            __builtin_prefetch(record(w, next), 1);
        if (r->tick <= now)
            link_expired(w, index, r);
        else
            link(w, index, r);
        index = next;
    }
}

edo_timer_entry *edo__wheel_pop_expired(edo__wheel *w, uint64_t now)
{
    while (w->expired == NIL) {
        unsigned level = 0, slot = 0;
        uint64_t due = w->count ? next_due(w, &level, &slot) : EDO__WHEEL_NONE;
        if (due > now) {
            if (now > w->elapsed)
                w->elapsed = now;
            return NULL;
        }
        w->elapsed = due;
        empty_slot(w, level, slot, now);
    }
    /* Left from an earlier call (the caller let go between batches), or just filled: either
     * way due by a `now` that has been read, so due now. */
    uint32_t index = w->expired;
    edo__wheel_record *r = record(w, index);
    edo_timer_entry *e = r->entry;
    release(w, index, r);
    return e;
}
