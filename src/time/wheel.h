/* A hierarchical timing wheel: six levels of 64 slots over 1 ms ticks.
 *
 * Level 0 holds the timers due in the current 64-tick span, one slot per tick; level 1 those due
 * in the current 4096-tick span, one slot per 64 ticks; and so on up to level 5 (2^36 ticks, about
 * two years; later deadlines wait in level 5 and are placed again when their slot comes up). A
 * timer goes to the lowest level whose span contains both the wheel's time and its own tick, so
 * the lower the level the sooner the timer. When a slot of a higher level comes due, its timers
 * move down (or fire). Insertion and removal are O(1); finding the next deadline looks at one
 * 64-bit occupancy word per level.
 *
 * What the wheel walks lives in the wheel: each armed timer has a record (its tick, its entry and
 * the links of its slot's list) in chunks of records that the wheel allocates, and the entry
 * only knows its record's index. Entries sit wherever their owners put them, one per coroutine
 * stack page for coroutine sleeps: linking entries to each other made every cascade step and
 * every removal touch other entries' pages, a TLB and cache miss each. Records are dense, so
 * moving a slot down a level reads and writes a few cache lines of records and no entry at all;
 * an entry is touched only when it is armed, cancelled or fired.
 *
 * A wheel is a plain data structure: the caller serialises access (timers.c holds a lock).
 */
#ifndef EDO_TIME_WHEEL_H
#define EDO_TIME_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#include "edo/time.h"

#define EDO__WHEEL_LEVELS 6
#define EDO__WHEEL_SLOTS 64
#define EDO__WHEEL_NONE UINT64_MAX /* no deadline */

typedef struct edo__wheel_record edo__wheel_record;

typedef struct edo__wheel {
    uint64_t elapsed; /* the tick the wheel has been advanced to */
    uint64_t occupied[EDO__WHEEL_LEVELS];
    uint32_t slots[EDO__WHEEL_LEVELS][EDO__WHEEL_SLOTS]; /* first record of each slot's list */
    uint64_t count;
    edo__wheel_record **chunks; /* the records, a fixed number per chunk */
    uint32_t nchunks, chunks_cap;
    uint32_t fresh;       /* records below this index have been used */
    uint32_t free_record; /* the first record freed and not reused yet */
    uint32_t expired;     /* the first record of the timers due, taken from their slots */
} edo__wheel;

void edo__wheel_init(edo__wheel *w, uint64_t start_tick);
/* Frees the wheel's records (the entries still in it are left as they are). */
void edo__wheel_destroy(edo__wheel *w);
/* Files `e` at e->tick_, which must be later than w->elapsed. 0, or -ENOMEM (no memory for
 * another chunk of records; `e` is not filed). */
int edo__wheel_insert(edo__wheel *w, edo_timer_entry *e);
/* Takes `e` out of the wheel it is in. */
void edo__wheel_remove(edo__wheel *w, edo_timer_entry *e);
/* The tick at which the next slot comes due (its timers fire, or move down a level), or
 * EDO__WHEEL_NONE when the wheel is empty. Never later than the earliest timer's tick. */
uint64_t edo__wheel_next_due(const edo__wheel *w);
/* Advances the wheel towards `now` and returns one timer whose tick is at or before `now` (or
 * before the `now` of an earlier call: a slot that comes due is sorted at once, its due timers
 * kept aside for the calls that follow), removed from the wheel; NULL once none is left (the
 * wheel then stands at `now`). Timers of later ticks met on the way move to their new slots
 * (their entries untouched). */
edo_timer_entry *edo__wheel_pop_expired(edo__wheel *w, uint64_t now);

#endif
