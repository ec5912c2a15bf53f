/* The timing wheel on its own (time/wheel.h): every timer fires at its tick, never earlier and
 * never later, across every level and level boundary, with removals and large time jumps, checked
 * against a plain list of the live timers. */
#include <string.h>

#include "harness.h"
#include "time/wheel.h"
#include "util.h"

/* A deterministic generator, so a failure reproduces. */
static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

typedef struct {
    edo__wheel wheel;
    edo_timer_entry *entries;
    bool *live;
    size_t n;
} model;

static void model_init(model *m, size_t n, uint64_t start)
{
    edo__wheel_init(&m->wheel, start);
    m->entries = calloc(n, sizeof *m->entries);
    m->live = calloc(n, sizeof *m->live);
    CHECK(m->entries && m->live);
    m->n = n;
}

static void model_free(model *m)
{
    edo__wheel_destroy(&m->wheel);
    free(m->entries);
    free(m->live);
}

static void add(model *m, size_t i, uint64_t tick)
{
    CHECK(!m->live[i]);
    CHECK(tick > m->wheel.elapsed);
    m->entries[i].tick_ = tick;
    CHECK_EQ(edo__wheel_insert(&m->wheel, &m->entries[i]), 0);
    m->live[i] = true;
}

static void del(model *m, size_t i)
{
    CHECK(m->live[i]);
    edo__wheel_remove(&m->wheel, &m->entries[i]);
    m->live[i] = false;
}

/* Advances to `now`: exactly the live timers with tick <= now come out, and the next due tick
 * stays at or before the earliest timer left. */
static size_t advance(model *m, uint64_t now)
{
    size_t fired = 0;
    edo_timer_entry *e;
    while ((e = edo__wheel_pop_expired(&m->wheel, now))) {
        size_t i = (size_t)(e - m->entries);
        CHECK(i < m->n && m->live[i]);
        CHECK(e->tick_ <= now);
        m->live[i] = false;
        fired++;
    }
    CHECK_EQ(m->wheel.elapsed, now);
    uint64_t earliest = EDO__WHEEL_NONE;
    size_t left = 0;
    for (size_t i = 0; i < m->n; i++) {
        if (!m->live[i])
            continue;
        CHECK(m->entries[i].tick_ > now); /* nothing due was left behind */
        if (m->entries[i].tick_ < earliest)
            earliest = m->entries[i].tick_;
        left++;
    }
    CHECK_EQ(m->wheel.count, left);
    uint64_t due = edo__wheel_next_due(&m->wheel);
    CHECK(due <= earliest);
    CHECK(left == 0 || due > now);
    return fired;
}

TEST(empty_wheel_has_no_deadline)
{
    edo__wheel w;
    edo__wheel_init(&w, 5);
    CHECK_EQ(edo__wheel_next_due(&w), EDO__WHEEL_NONE);
    CHECK(edo__wheel_pop_expired(&w, 1000) == NULL);
    CHECK_EQ(w.elapsed, 1000);
    edo__wheel_destroy(&w);
}

/* A timer at each distance around every level boundary fires exactly at its tick when time
 * moves one tick at a time. */
TEST(fires_exactly_at_each_level_boundary)
{
    static const uint64_t bases[] = {1, 64, 4096, 262144, 16777216};
    for (size_t b = 0; b < sizeof bases / sizeof *bases; b++) {
        for (int64_t delta = -2; delta <= 2; delta++) {
            if ((int64_t)bases[b] + delta <= 0)
                continue;
            for (uint64_t start = 0; start < 130; start += 43) {
                model m;
                model_init(&m, 1, start);
                uint64_t tick = start + (uint64_t)((int64_t)bases[b] + delta);
                add(&m, 0, tick);
                /* Jump close, then step: the jump crosses levels, the steps check the tick. */
                if (tick - start > 3)
                    CHECK_EQ(advance(&m, tick - 3), 0);
                for (uint64_t now = m.wheel.elapsed + 1; now < tick; now++)
                    CHECK_EQ(advance(&m, now), 0);
                CHECK_EQ(advance(&m, tick), 1);
                model_free(&m);
            }
        }
    }
}

/* Ticks beyond the top level's reach (over 2^36 ticks away) wait and are placed again. */
TEST(far_deadlines_fire_on_time)
{
    model m;
    model_init(&m, 3, 7);
    uint64_t far = (uint64_t)1 << 40, farther = ((uint64_t)1 << 50) + 12345;
    add(&m, 0, far);
    add(&m, 1, farther);
    add(&m, 2, ((uint64_t)1 << 36) + 3); /* crosses the top level's wrap */
    uint64_t now = 7;
    size_t fired = 0;
    while (m.wheel.count) {
        uint64_t due = edo__wheel_next_due(&m.wheel);
        CHECK(due > now);
        /* Step to just before the next due slot, then onto it. */
        if (due - 1 > now)
            CHECK_EQ(advance(&m, due - 1), 0);
        now = due;
        fired += advance(&m, now);
        for (size_t i = 0; i < 3; i++)
            CHECK(m.live[i] || m.entries[i].tick_ <= now);
    }
    CHECK_EQ(fired, 3);
    CHECK_EQ(now, farther); /* the last one fired at its own tick, not later */
    model_free(&m);
}

/* Random timers, removals and advances of every size, checked against the model. */
TEST(random_against_model)
{
    const size_t n = 4096;
    for (int round = 0; round < SCALE(40, 10, 4); round++) {
        model m;
        uint64_t start = rnd() % 100000;
        model_init(&m, n, start);
        uint64_t now = start;
        for (int step = 0; step < 400; step++) {
            unsigned op = (unsigned)(rnd() % 10);
            size_t i = (size_t)(rnd() % n);
            if (op < 5 && !m.live[i]) {
                /* Distances spread over the levels: 1..2^k for a random k up to 40. */
                unsigned bits = (unsigned)(rnd() % 41);
                uint64_t span = bits ? ((uint64_t)1 << bits) : 1;
                add(&m, i, now + 1 + rnd() % span);
            } else if (op < 7 && m.live[i]) {
                del(&m, i);
            } else {
                unsigned bits = (unsigned)(rnd() % 24);
                now += rnd() % ((uint64_t)1 << bits);
                advance(&m, now);
            }
        }
        /* Drain: every timer still live fires at its tick. */
        while (m.wheel.count) {
            uint64_t due = edo__wheel_next_due(&m.wheel);
            CHECK(due > now);
            now = due;
            advance(&m, now);
        }
        model_free(&m);
    }
}

/* Many timers on the same tick, and removal from the middle of a slot's list. */
TEST(same_tick_and_removal_in_slot)
{
    model m;
    model_init(&m, 100, 0);
    for (size_t i = 0; i < 100; i++)
        add(&m, i, 5000);
    for (size_t i = 0; i < 100; i += 3)
        del(&m, i);
    CHECK_EQ(advance(&m, 4999), 0);
    CHECK_EQ(advance(&m, 5000), 66);
    CHECK_EQ(m.wheel.count, 0);
    CHECK_EQ(edo__wheel_next_due(&m.wheel), EDO__WHEEL_NONE);
    model_free(&m);
}

/* More timers than one chunk of records holds, with records freed and reused in between. */
TEST(many_timers_across_record_chunks)
{
    const size_t n = 5000;
    model m;
    model_init(&m, n, 0);
    for (size_t i = 0; i < n; i++)
        add(&m, i, 1 + rnd() % 300000);
    for (size_t i = 0; i < n; i += 2)
        del(&m, i);
    for (size_t i = 0; i < n; i += 4)
        add(&m, i, 1 + rnd() % 300000); /* takes freed records */
    size_t fired = 0;
    for (uint64_t now = 0; m.wheel.count;) {
        now = edo__wheel_next_due(&m.wheel);
        fired += advance(&m, now);
    }
    CHECK_EQ(fired, n / 2 + n / 4);
    model_free(&m);
}

/* The wheel keeps what it walks in its own records: from insertion until it fires, a timer's
 * entry is not written, however often its timer moves down a level or its neighbours come and
 * go (entries on coroutine stacks sit a page apart each; touching them is what made the walk
 * slow). */
TEST(entries_untouched_while_filed)
{
    const size_t n = 64;
    model m;
    model_init(&m, n, 0);
    for (size_t i = 0; i < n; i++)
        add(&m, i, 100 + i * 997); /* spread over levels 1 and 2 */
    edo_timer_entry *copy = malloc(n * sizeof *copy);
    CHECK(copy);
    memcpy(copy, m.entries, n * sizeof *copy);
    for (size_t i = 0; i < n; i += 5)
        del(&m, i);
    for (uint64_t now = 0; m.wheel.count;) {
        now = edo__wheel_next_due(&m.wheel);
        edo_timer_entry *e;
        while ((e = edo__wheel_pop_expired(&m.wheel, now))) {
            size_t i = (size_t)(e - m.entries);
            CHECK(m.live[i]);
            m.live[i] = false;
            /* Every entry still filed reads as it did when it was filed. */
            for (size_t j = 0; j < n; j++)
                if (m.live[j])
                    CHECK(memcmp(&m.entries[j], &copy[j], sizeof copy[j]) == 0);
        }
    }
    free(copy);
    model_free(&m);
}

/* Timers whose slot came due wait aside until popped (the firing thread lets go of the wheel
 * between batches): they can still be removed, and the next due tick says they are due. */
TEST(removal_between_pops_of_a_due_slot)
{
    model m;
    model_init(&m, 10, 0);
    for (size_t i = 0; i < 10; i++)
        add(&m, i, 70 + i % 2); /* one level-1 slot, due at tick 64, holds them all */
    edo_timer_entry *e = edo__wheel_pop_expired(&m.wheel, 71);
    CHECK(e != NULL);
    m.live[e - m.entries] = false;
    CHECK_EQ(edo__wheel_next_due(&m.wheel), m.wheel.elapsed); /* the rest are due already */
    for (size_t i = 0; i < 10; i += 3)
        if (m.live[i])
            del(&m, i);
    size_t left = m.wheel.count;
    CHECK(left > 0 && left < 9);
    CHECK_EQ(advance(&m, 71), left); /* exactly the ones not removed */
    CHECK_EQ(m.wheel.count, 0);
    CHECK_EQ(edo__wheel_next_due(&m.wheel), EDO__WHEEL_NONE);
    model_free(&m);
}
