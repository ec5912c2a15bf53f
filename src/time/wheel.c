#include "time/wheel.h"

#include <string.h>

#define SLOT_BITS 6
#define SLOT_MASK (EDO__WHEEL_SLOTS - 1)

static inline uint64_t slot_ticks(unsigned level) { return (uint64_t)1 << (SLOT_BITS * level); }
static inline uint64_t level_ticks(unsigned level) { return slot_ticks(level + 1); }

void edo__wheel_init(edo__wheel *w, uint64_t start_tick)
{
    memset(w, 0, sizeof *w);
    w->elapsed = start_tick;
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

/* Not platform/list.h: the links are edo_timer_entry's own typed fields in the public
 * edo/time.h (kept: ABI, and timers.c reads them), and a slot is a bare head pointer (a tail
 * would double the slot arrays). */
void edo__wheel_insert(edo__wheel *w, edo_timer_entry *e)
{
    unsigned where = place(w, e->tick_);
    unsigned level = where / EDO__WHEEL_SLOTS, slot = where % EDO__WHEEL_SLOTS;
    edo_timer_entry **head = &w->slots[level][slot];
    e->slot_ = where;
    e->prev_ = NULL;
    e->next_ = *head;
    if (*head)
        (*head)->prev_ = e;
    *head = e;
    w->occupied[level] |= (uint64_t)1 << slot;
    w->count++;
}

void edo__wheel_remove(edo__wheel *w, edo_timer_entry *e)
{
    unsigned level = e->slot_ / EDO__WHEEL_SLOTS, slot = e->slot_ % EDO__WHEEL_SLOTS;
    if (e->prev_)
        e->prev_->next_ = e->next_;
    else
        w->slots[level][slot] = e->next_;
    if (e->next_)
        e->next_->prev_ = e->prev_;
    if (!w->slots[level][slot])
        w->occupied[level] &= ~((uint64_t)1 << slot);
    e->next_ = e->prev_ = NULL;
    w->count--;
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
    return w->count ? next_due(w, &level, &slot) : EDO__WHEEL_NONE;
}

edo_timer_entry *edo__wheel_pop_expired(edo__wheel *w, uint64_t now)
{
    for (;;) {
        unsigned level = 0, slot = 0;
        uint64_t due = w->count ? next_due(w, &level, &slot) : EDO__WHEEL_NONE;
        if (due > now) {
            if (now > w->elapsed)
                w->elapsed = now;
            return NULL;
        }
        w->elapsed = due;
        /* Fire what is due in this slot; move the rest down to the slots they now belong in. */
        edo_timer_entry *e;
        while ((e = w->slots[level][slot])) {
            edo__wheel_remove(w, e);
            if (e->tick_ <= now)
                return e;
            edo__wheel_insert(w, e);
        }
    }
}
