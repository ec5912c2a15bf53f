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
 * A wheel is a plain data structure: the caller serialises access (timer.c holds a lock).
 */
#ifndef EDO_TIME_WHEEL_H
#define EDO_TIME_WHEEL_H

#include <stdbool.h>
#include <stdint.h>

#include "edo/time.h"

#define EDO__WHEEL_LEVELS 6
#define EDO__WHEEL_SLOTS 64
#define EDO__WHEEL_NONE UINT64_MAX /* no deadline */

typedef struct edo__wheel {
    uint64_t elapsed; /* the tick the wheel has been advanced to */
    uint64_t occupied[EDO__WHEEL_LEVELS];
    edo_timer_entry *slots[EDO__WHEEL_LEVELS][EDO__WHEEL_SLOTS];
    uint64_t count;
} edo__wheel;

void edo__wheel_init(edo__wheel *w, uint64_t start_tick);
/* Files `e`, whose tick must be later than w->elapsed. */
void edo__wheel_insert(edo__wheel *w, edo_timer_entry *e);
/* Takes `e` out of the wheel it is in. */
void edo__wheel_remove(edo__wheel *w, edo_timer_entry *e);
/* The tick at which the next slot comes due (its timers fire, or move down a level), or
 * EDO__WHEEL_NONE when the wheel is empty. Never later than the earliest timer's tick. */
uint64_t edo__wheel_next_due(const edo__wheel *w);
/* Advances the wheel towards `now` and returns one timer whose tick is at or before `now`,
 * removed from the wheel; NULL once none is left (the wheel then stands at `now`). Timers of
 * later ticks met on the way move to their new slots. */
edo_timer_entry *edo__wheel_pop_expired(edo__wheel *w, uint64_t now);

#endif
