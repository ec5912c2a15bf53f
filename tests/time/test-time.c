/* Time: the paused clock, sleeps at every wheel level, timeouts, intervals, deadlines, timer
 * cancellation before, during and after firing (also from other workers), a million timers. */
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

static edo_runtime *paused_rt(void)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_CURRENT_THREAD, .start_paused = true};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    return rt;
}

/* ---- the paused clock ------------------------------------------------------------------------ */

static void *sleep_an_hour(void *arg)
{
    (void)arg;
    edo_instant start = edo_now();
    CHECK_EQ(edo_sleep(EDO_SEC(3600)), 0);
    CHECK_EQ(edo_now() - start, EDO_SEC(3600)); /* the clock jumped exactly to the deadline */
    return NULL;
}

TEST(paused_clock_jumps_to_the_next_deadline)
{
    edo_runtime *rt = paused_rt();
    double t0 = now_s();
    run_on(rt, sleep_an_hour, NULL);
    CHECK(now_s() - t0 < 30.0); /* an hour of sleep took (much) less than real seconds */
    edo_runtime_free(rt);
}

static void *clock_stands_still(void *arg)
{
    edo_runtime *rt = arg;
    edo_instant a = edo_now();
    for (int i = 0; i < 100; i++)
        edo_yield();
    CHECK_EQ(edo_now(), a); /* busy, not waiting: paused time does not move */
    CHECK_EQ(edo_time_advance(rt, EDO_MSEC(250)), 0);
    CHECK_EQ(edo_now(), a + EDO_MSEC(250));
    CHECK_EQ(edo_time_resume(rt), 0);
    edo_instant b = edo_now();
    CHECK(b >= a + EDO_MSEC(250)); /* resumes from where it stood */
    CHECK_EQ(edo_time_resume(rt), -EINVAL);
    CHECK_EQ(edo_time_advance(rt, 1), -EINVAL);
    CHECK_EQ(edo_time_pause(rt), 0);
    CHECK_EQ(edo_time_pause(rt), 0); /* pausing twice is fine */
    CHECK(edo_now() >= b);
    return NULL;
}

TEST(paused_clock_advance_and_resume)
{
    edo_runtime *rt = paused_rt();
    run_on(rt, clock_stands_still, rt);
    edo_runtime_free(rt);
}

TEST(paused_clock_bad_input)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_MULTI_THREAD, .start_paused = true};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), -EINVAL);
    rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
    CHECK_EQ(edo_time_pause(rt), -ENOTSUP);
    CHECK_EQ(edo_time_advance(rt, 1), -EINVAL);
    CHECK_EQ(edo_time_resume(rt), -EINVAL);
    edo_runtime_free(rt);
    CHECK_EQ(edo_time_pause(NULL), -EINVAL);
    CHECK_EQ(edo_time_resume(NULL), -EINVAL);
    CHECK_EQ(edo_time_advance(NULL, 1), -EINVAL);
}

/* ---- sleeps ---------------------------------------------------------------------------------- */

/* Durations at and around every level boundary of the wheel (1 ms ticks, 64 slots a level),
 * and far beyond the top level. */
static const uint64_t level_durations_ms[] = {
    1,        2,        63,        64,        65,         4095,       4096,      4097,
    262143,   262144,   262145,    16777215,  16777216,   16777217,   1073741823, 1073741824,
    1073741825, 68719476735ull, 68719476736ull, 68719476737ull, 100000000000ull,
};
#define NLEVEL_DURATIONS (sizeof level_durations_ms / sizeof *level_durations_ms)

typedef struct {
    uint64_t duration;
    edo_instant start, woke;
    _Atomic int *order;
    int rank;
} sleeper;

static void *sleep_and_record(void *arg)
{
    sleeper *s = arg;
    s->start = edo_now();
    CHECK_EQ(edo_sleep(s->duration), 0);
    s->woke = edo_now();
    s->rank = atomic_fetch_add(s->order, 1);
    return NULL;
}

TEST(sleeps_fire_at_their_tick_on_every_level)
{
    edo_runtime *rt = paused_rt();
    enum { N = NLEVEL_DURATIONS };
    sleeper s[N];
    edo_task *t[N];
    _Atomic int order = 0;
    for (size_t i = 0; i < N; i++) {
        /* Spawned in reverse, so the order of completion is the wheel's doing. */
        size_t k = N - 1 - i;
        s[k] = (sleeper){EDO_MSEC(level_durations_ms[k]), 0, 0, &order, -1};
        CHECK_EQ(edo_spawn_with(rt, NULL, sleep_and_record, &s[k], &t[k]), 0);
    }
    for (size_t i = 0; i < N; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    for (size_t i = 0; i < N; i++) {
        /* All started at the same paused instant, on a tick: each wakes exactly at its
         * deadline, and they finish in order of duration. */
        CHECK_EQ(s[i].woke - s[i].start, s[i].duration);
        CHECK_EQ(s[i].rank, (int)i);
    }
    edo_runtime_free(rt);
}

static void *sleep_off_tick(void *arg)
{
    (void)arg;
    edo_runtime *rt = edo_runtime_current();
    /* Start between ticks: the timer rounds up to the next tick, never down. */
    CHECK_EQ(edo_time_advance(rt, EDO_USEC(300)), 0);
    edo_instant start = edo_now();
    CHECK_EQ(edo_sleep(EDO_USEC(1500)), 0);
    edo_instant woke = edo_now();
    CHECK(woke - start >= EDO_USEC(1500));
    CHECK(woke - start < EDO_USEC(1500) + EDO_MSEC(1));
    CHECK_EQ(edo_sleep(0), 0);                  /* due now: no wait */
    CHECK_EQ(edo_sleep_at(start), 0);        /* in the past: no wait */
    CHECK_EQ(edo_now(), woke);
    return NULL;
}

TEST(sleep_rounds_up_never_down)
{
    edo_runtime *rt = paused_rt();
    run_on(rt, sleep_off_tick, NULL);
    edo_runtime_free(rt);
}

TEST(sleep_outside_a_coroutine_is_refused)
{
    CHECK_EQ(edo_sleep(1), -EPERM);
    CHECK_EQ(edo_sleep_at(0), -EPERM);
    /* The future form polled with no runtime at hand completes with -EPERM. */
    edo_sleep_future s;
    edo_sleep_future_init(&s, EDO_SEC(10));
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    CHECK_EQ(edo_future_poll(&s.base, &cx, NULL), EDO_READY);
    CHECK_EQ(s.result, -EPERM);
    edo_future_drop(&s.base);
}

/* Real clock, both flavours: a sleep never ends early, and ends in reasonable time. */
static void *sleep_real(void *arg)
{
    uint64_t ms = (uint64_t)(uintptr_t)arg;
    edo_instant start = edo_now();
    CHECK_EQ(edo_sleep(EDO_MSEC(ms)), 0);
    uint64_t took = edo_now() - start;
    CHECK(took >= EDO_MSEC(ms));
    return (void *)(uintptr_t)took;
}

static void real_sleeps(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    enum { N = 40 };
    edo_task *t[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, sleep_real, (void *)(uintptr_t)(1 + i % 20), &t[i]), 0);
    for (int i = 0; i < N; i++) {
        void *took;
        CHECK_EQ(edo_task_join(t[i], &took), 0);
        CHECK((uint64_t)(uintptr_t)took < EDO_SEC(10)); /* generous: a loaded machine */
        edo_task_free(t[i]);
    }
    edo_runtime_free(rt);
}

TEST(real_sleeps_multi_thread) { real_sleeps(EDO_RUNTIME_MULTI_THREAD); }
TEST(real_sleeps_current_thread) { real_sleeps(EDO_RUNTIME_CURRENT_THREAD); }

/* A plain thread blocks on a sleep future: the timer goes to the wheel for outside threads,
 * and the parked workers wake for it. */
static void block_on_sleep(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    edo_sleep_future s;
    edo_instant start = edo_now();
    edo_sleep_future_init_at(&s, start + EDO_MSEC(20));
    CHECK_EQ(edo_block_on(rt, &s.base, NULL), 0);
    CHECK_EQ(s.result, 0);
    CHECK(edo_now() >= start + EDO_MSEC(20));
    edo_future_drop(&s.base);
    edo_runtime_free(rt);
}

TEST(block_on_sleep_multi_thread) { block_on_sleep(EDO_RUNTIME_MULTI_THREAD); }
TEST(block_on_sleep_current_thread) { block_on_sleep(EDO_RUNTIME_CURRENT_THREAD); }

/* A future task: sleeps twice with one sleep future, reset in between. */
typedef struct {
    edo_future base;
    edo_sleep_future sleep;
    int stage;
    edo_instant *woke; /* [2] */
} twice_future;

static edo_poll twice_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    twice_future *tf = (twice_future *)f;
    while (tf->stage < 2) {
        if (edo_future_poll(&tf->sleep.base, cx, NULL) == EDO_PENDING)
            return EDO_PENDING;
        tf->woke[tf->stage++] = edo_now();
        edo_sleep_future_reset_at(&tf->sleep, edo_after(EDO_MSEC(500)));
    }
    return EDO_READY;
}

static void twice_drop(edo_future *f) { edo_future_drop(&((twice_future *)f)->sleep.base); }
static const edo_future_vtable twice_vtable = {twice_poll, twice_drop};

TEST(sleep_future_reset_in_a_future_task)
{
    edo_runtime *rt = paused_rt();
    edo_instant woke[2];
    twice_future tf = {.base = {&twice_vtable}, .woke = woke};
    edo_sleep_future_init(&tf.sleep, EDO_MSEC(100));
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &tf.base, sizeof tf, &t), 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    CHECK_EQ(woke[1] - woke[0], EDO_MSEC(500));
    edo_runtime_free(rt);
}

/* ---- cancellation ------------------------------------------------------------------------------ */

/* A future task that sleeps; counts its polls. */
typedef struct {
    edo_future base;
    edo_sleep_future sleep;
    _Atomic int *polls;
} counted_sleep;

static edo_poll counted_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    counted_sleep *c = (counted_sleep *)f;
    atomic_fetch_add(c->polls, 1);
    return edo_future_poll(&c->sleep.base, cx, NULL);
}

static void counted_drop(edo_future *f) { edo_future_drop(&((counted_sleep *)f)->sleep.base); }
static const edo_future_vtable counted_vtable = {counted_poll, counted_drop};

static void *abort_sleeper_then_pass_its_deadline(void *arg)
{
    edo_runtime *rt = arg;
    _Atomic int polls = 0;
    counted_sleep c = {.base = {&counted_vtable}, .polls = &polls};
    edo_sleep_future_init(&c.sleep, EDO_MSEC(50));
    edo_task *t;
    CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, &t), 0);
    CHECK_EQ(edo_yield(), 0); /* it runs once and arms its timer */
    CHECK_EQ(atomic_load(&polls), 1);
    edo_task_abort(t); /* cancel before firing: the timer leaves the wheel */
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
    CHECK_EQ(edo_time_advance(rt, EDO_MSEC(100)), 0);
    CHECK_EQ(edo_yield(), 0);
    CHECK_EQ(atomic_load(&polls), 1); /* never woken */
    /* With nothing else armed, waiting now has no deadline to jump to: a sleep of ours is the
     * only timer, and it fires at its own deadline. */
    edo_instant before = edo_now();
    CHECK_EQ(edo_sleep(EDO_MSEC(7)), 0);
    CHECK_EQ(edo_now() - before, EDO_MSEC(7));
    return NULL;
}

TEST(cancel_before_firing)
{
    edo_runtime *rt = paused_rt();
    run_on(rt, abort_sleeper_then_pass_its_deadline, rt);
    edo_runtime_free(rt);
}

static void *cancel_after_firing(void *arg)
{
    edo_runtime *rt = arg;
    edo_sleep_future s;
    edo_sleep_future_init(&s, EDO_MSEC(10));
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    CHECK_EQ(edo_future_poll(&s.base, &cx, NULL), EDO_PENDING); /* armed */
    CHECK_EQ(edo_time_advance(rt, EDO_MSEC(10)), 0);              /* fired, not yet polled */
    edo_future_drop(&s.base);                                    /* dropped after firing */
    /* And dropping one that was never polled, or already completed. */
    edo_sleep_future_init(&s, EDO_MSEC(10));
    edo_future_drop(&s.base);
    edo_sleep_future_init_at(&s, edo_now());
    CHECK_EQ(edo_future_poll(&s.base, &cx, NULL), EDO_READY);
    edo_future_drop(&s.base);
    return NULL;
}

TEST(cancel_after_firing)
{
    edo_runtime *rt = paused_rt();
    run_on(rt, cancel_after_firing, rt);
    edo_runtime_free(rt);
}

static void *abort_sleeping_coroutine(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)edo_sleep(EDO_SEC(3600));
}

/* Starts fn as a coroutine, aborts it while it waits, and checks it ends cancelled. */
static void abort_while_waiting(void *(*fn)(void *))
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, fn, NULL, &t), 0);
    usleep(10000); /* it may or may not have started waiting: both must end cancelled */
    edo_task_abort(t);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
    edo_runtime_free(rt);
}

TEST(abort_a_sleeping_coroutine) { abort_while_waiting(abort_sleeping_coroutine); }

/* Timers armed on one worker and cancelled on another while they fire: tasks with short
 * timeouts around gates that other threads open near the deadline, and aborts from outside. */
typedef struct {
    edo_future base;
    edo_timeout_future timeout;
    gate_future inner;
} gated_timeout;

static edo_poll gated_poll(edo_future *f, edo_context *cx, void **out)
{
    gated_timeout *g = (gated_timeout *)f;
    if (edo_future_poll(&g->timeout.base, cx, out) == EDO_PENDING)
        return EDO_PENDING;
    *out = (void *)(intptr_t)g->timeout.result;
    return EDO_READY;
}

static void gated_drop(edo_future *f) { edo_future_drop(&((gated_timeout *)f)->timeout.base); }
static const edo_future_vtable gated_vtable = {gated_poll, gated_drop};

TEST(cross_worker_cancel_race)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    enum { N = 64 };
    const int rounds = SCALE(40, 10, 5);
    gate gates[N];
    for (int r = 0; r < rounds; r++) {
        edo_task *t[N];
        for (int i = 0; i < N; i++) {
            gate_init(&gates[i]);
            gated_timeout g = {.base = {&gated_vtable}, .inner = gate_future_new(&gates[i], NULL)};
            /* The inner future sits after the timeout in the struct: the offset survives the
             * move into the task. */
            CHECK_EQ(edo_timeout_future_init(&g.timeout, &g.inner.base, EDO_MSEC(1 + i % 3)),
                     0);
            CHECK_EQ(edo_spawn_future_on(rt, &g.base, sizeof g, &t[i]), 0);
        }
        usleep((useconds_t)(500 + (r % 5) * 400));
        for (int i = 0; i < N; i++) {
            if (i % 3 == 0)
                gate_open(&gates[i]);
            else if (i % 3 == 1)
                edo_task_abort(t[i]);
        }
        int timed_out = 0, opened = 0, cancelled = 0;
        for (int i = 0; i < N; i++) {
            void *out = NULL;
            int rc = edo_task_join(t[i], &out);
            if (rc == -ECANCELED) {
                cancelled++;
            } else {
                CHECK_EQ(rc, 0);
                int result = (int)(intptr_t)out;
                CHECK(result == 0 || result == -ETIMEDOUT);
                result == 0 ? opened++ : timed_out++;
                CHECK(result == -ETIMEDOUT || i % 3 == 0); /* only opened gates complete */
            }
            edo_task_free(t[i]);
        }
        CHECK_EQ(timed_out + opened + cancelled, N);
        for (int i = 0; i < N; i++) {
            CHECK_EQ(atomic_load(&gates[i].dropped), 1); /* each inner dropped exactly once */
            gate_destroy(&gates[i]);
        }
    }
    edo_runtime_free(rt);
}

/* Tasks still sleeping at shutdown are dropped, their timers cancelled. */
TEST(shutdown_with_armed_timers)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    for (int i = 0; i < 100; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, abort_sleeping_coroutine, NULL, NULL), 0);
    usleep(20000);
    edo_runtime_free(rt);
}

/* ---- timeouts ------------------------------------------------------------------------------------ */

static void *timeout_future_cases(void *arg)
{
    (void)arg;
    gate g;
    gate_init(&g);
    /* A pending inner future: cut off at the deadline, exactly. */
    gate_future inner = gate_future_new(&g, (void *)7);
    edo_timeout_future t;
    edo_instant start = edo_now();
    CHECK_EQ(edo_timeout_future_init_at(&t, &inner.base, start + EDO_MSEC(30)), 0);
    void *out = (void *)1;
    CHECK_EQ(edo_await(&t.base, &out), 0);
    CHECK_EQ(t.result, -ETIMEDOUT);
    CHECK(out == NULL);
    CHECK_EQ(edo_now() - start, EDO_MSEC(30));
    edo_future_drop(&t.base); /* drops the inner future too */
    CHECK_EQ(atomic_load(&g.dropped), 1);
    /* A ready inner future wins even past its deadline. */
    g.open = 1;
    inner = gate_future_new(&g, (void *)7);
    CHECK_EQ(edo_timeout_future_init_at(&t, &inner.base, start), 0);
    CHECK_EQ(edo_await(&t.base, &out), 0);
    CHECK_EQ(t.result, 0);
    CHECK_EQ((intptr_t)out, 7);
    edo_future_drop(&t.base);
    CHECK_EQ(edo_timeout_future_init(NULL, &inner.base, 0), -EINVAL);
    CHECK_EQ(edo_timeout_future_init(&t, NULL, 0), -EINVAL);
    gate_destroy(&g);
    return NULL;
}

TEST(timeout_future)
{
    edo_runtime *rt = paused_rt();
    run_on(rt, timeout_future_cases, NULL);
    edo_runtime_free(rt);
}

/* ---- deadlines ------------------------------------------------------------------------------------ */

static int sleep_long(void *arg)
{
    (void)arg;
    return edo_sleep(EDO_SEC(60));
}

static int nested_longer(void *arg)
{
    (void)arg;
    /* An inner deadline later than the outer one does not extend it. */
    return edo_timeout(EDO_SEC(600), sleep_long, NULL);
}

static void *deadline_cases(void *arg)
{
    (void)arg;
    edo_instant start = edo_now();
    CHECK_EQ(edo_deadline(), EDO_INSTANT_NEVER);
    CHECK_EQ(edo_timeout(EDO_MSEC(100), sleep_long, NULL), -ETIMEDOUT);
    CHECK_EQ(edo_now() - start, EDO_MSEC(100));
    CHECK_EQ(edo_deadline(), EDO_INSTANT_NEVER); /* restored */

    start = edo_now();
    CHECK_EQ(edo_timeout(EDO_MSEC(50), nested_longer, NULL), -ETIMEDOUT);
    CHECK_EQ(edo_now() - start, EDO_MSEC(50));

    /* Past the deadline: waits fail at once, what is ready still completes. */
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_now(), &saved), 0);
    CHECK_EQ(edo_sleep(EDO_MSEC(1)), -ETIMEDOUT);
    CHECK_EQ(edo_yield(), -ETIMEDOUT);
    count_future ready = count_new(NULL, (void *)5);
    void *out = NULL;
    CHECK_EQ(edo_await(&ready.base, &out), 0);
    CHECK_EQ((intptr_t)out, 5);
    CHECK_EQ(edo_sleep_at(0), 0); /* a sleep already due does not wait either */
    CHECK_EQ(edo_deadline_pop(saved), 0);
    CHECK_EQ(edo_yield(), 0);
    /* A deadline not due yet: the yield suspends and comes back as usual. */
    CHECK_EQ(edo_deadline_push(edo_now() + EDO_MSEC(100), &saved), 0);
    CHECK_EQ(edo_yield(), 0);
    CHECK_EQ(edo_deadline_pop(saved), 0);

    /* A join bounded by a deadline; the task joined goes on. */
    edo_task *t;
    CHECK_EQ(edo_spawn(abort_sleeping_coroutine, NULL, &t), 0);
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(20)), &saved), 0);
    CHECK_EQ(edo_task_join(t, NULL), -ETIMEDOUT);
    CHECK_EQ(edo_deadline_pop(saved), 0);
    CHECK_EQ(edo_task_is_finished(t), 0);
    edo_task_abort(t);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);

    CHECK_EQ(edo_deadline_push(0, NULL), -EINVAL);
    CHECK_EQ(edo_timeout(1, NULL, NULL), -EINVAL);
    return NULL;
}

TEST(coroutine_deadlines)
{
    edo_runtime *rt = paused_rt();
    run_on(rt, deadline_cases, NULL);
    edo_runtime_free(rt);
}

TEST(deadlines_outside_a_coroutine)
{
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(0, &saved), -EPERM);
    CHECK_EQ(edo_deadline_pop(0), -EPERM);
    CHECK_EQ(edo_deadline(), EDO_INSTANT_NEVER);
    CHECK_EQ(edo_timeout(1, sleep_long, NULL), -EPERM);
}

/* An abort during a wait under a deadline is a cancellation, not a timeout. */
static void *wait_under_deadline(void *arg)
{
    (void)arg;
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_SEC(3600)), &saved), 0);
    int rc = edo_sleep(EDO_SEC(7200));
    edo_deadline_pop(saved);
    return (void *)(intptr_t)rc;
}

TEST(abort_under_a_deadline) { abort_while_waiting(wait_under_deadline); }

/* ---- intervals -------------------------------------------------------------------------------- */

static const edo_missed_tick policies[] = {EDO_MISSED_TICK_SKIP, EDO_MISSED_TICK_BURST,
                                           EDO_MISSED_TICK_DELAY};

/* After the first tick the task is busy for 3.5 periods (10 ms each); the six ticks taken
 * after that, in ms after the first, for each policy (in the order of `policies`). */
static const uint64_t after_stall[3][6] = {
    {10, 40, 50, 60, 70, 80}, /* skip: the next tick of the schedule after 35 */
    {10, 20, 30, 40, 50, 60}, /* burst: 10, 20, 30 at once, then on schedule */
    {10, 45, 55, 65, 75, 85}, /* delay: 10 at once, then a period after each */
};

typedef struct {
    edo_missed_tick missed;
    edo_instant ticks[6]; /* after the first, relative to it */
} stall_case;

static void *stall_in_a_coroutine(void *arg)
{
    stall_case *c = arg;
    edo_runtime *rt = edo_runtime_current();
    edo_interval iv;
    edo_instant start = edo_now();
    CHECK_EQ(edo_interval_init_at(&iv, start, EDO_MSEC(10), c->missed), 0);
    edo_instant due;
    CHECK_EQ(edo_interval_tick(&iv, &due), 0); /* the first tick is at once */
    CHECK_EQ(due, start);
    CHECK_EQ(edo_now(), start);
    CHECK_EQ(edo_time_advance(rt, EDO_MSEC(35)), 0);
    for (int i = 0; i < 6; i++) {
        CHECK_EQ(edo_interval_tick(&iv, &due), 0);
        c->ticks[i] = due - start;
        CHECK(edo_now() >= due);
    }
    edo_interval_drop(&iv);
    return NULL;
}

TEST(interval_missed_tick_policies_coroutine)
{
    for (int k = 0; k < 3; k++) {
        stall_case c = {policies[k], {0}};
        run_paused(stall_in_a_coroutine, &c);
        for (int i = 0; i < 6; i++)
            CHECK_EQ(c.ticks[i], EDO_MSEC(after_stall[k][i]));
    }
}

/* A future task around an interval and a tick future; dropping it drops both. */
typedef struct {
    edo_future base;
    edo_interval iv;
    edo_interval_tick_future tick;
    int waiting; /* `tick` is initialised */
} interval_task;

static void interval_task_drop(edo_future *f)
{
    interval_task *t = (interval_task *)f;
    if (t->waiting)
        edo_future_drop(&t->tick.base);
    edo_interval_drop(&t->iv);
}

/* The same in a future task, with tick futures, on an interval started by its first wait. */
typedef struct {
    interval_task it;
    int taken;
    edo_runtime *rt;
    edo_instant first;
    stall_case *c;
} stall_task;

static edo_poll stall_task_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    stall_task *t = (stall_task *)f;
    interval_task *it = &t->it;
    while (t->taken < 7) {
        if (!it->waiting) {
            edo_interval_tick_future_init(&it->tick, &it->iv);
            it->waiting = 1;
        }
        if (edo_future_poll(&it->tick.base, cx, NULL) == EDO_PENDING)
            return EDO_PENDING;
        edo_future_drop(&it->tick.base);
        it->waiting = 0;
        CHECK_EQ(it->tick.result, 0);
        CHECK(edo_now() >= it->tick.tick);
        if (t->taken++ == 0) {
            t->first = it->tick.tick;
            CHECK_EQ(t->first, edo_now()); /* due at the first wait */
            CHECK_EQ(edo_time_advance(t->rt, EDO_MSEC(35)), 0);
        } else {
            t->c->ticks[t->taken - 2] = it->tick.tick - t->first;
        }
    }
    return EDO_READY;
}

static const edo_future_vtable stall_task_vtable = {stall_task_poll, interval_task_drop};

TEST(interval_missed_tick_policies_future_task)
{
    for (int k = 0; k < 3; k++) {
        edo_runtime *rt = paused_rt();
        stall_case c = {policies[k], {0}};
        stall_task t = {.it = {.base = {&stall_task_vtable}}, .rt = rt, .c = &c};
        CHECK_EQ(edo_interval_init(&t.it.iv, EDO_MSEC(10), policies[k]), 0);
        edo_task *task;
        CHECK_EQ(edo_spawn_future_on(rt, &t.it.base, sizeof t, &task), 0);
        CHECK_EQ(edo_task_join(task, NULL), 0);
        edo_task_free(task);
        edo_runtime_free(rt);
        for (int i = 0; i < 6; i++)
            CHECK_EQ(c.ticks[i], EDO_MSEC(after_stall[k][i]));
    }
}

/* Late by less than a period, and by exactly one: only DELAY moves its schedule for a tick
 * 5 ms or more late; SKIP never takes two ticks at the same instant. */
static void *late_ticks(void *arg)
{
    stall_case *c = arg;
    edo_runtime *rt = edo_runtime_current();
    edo_interval iv;
    edo_instant start = edo_now(), due;
    CHECK_EQ(edo_interval_init_at(&iv, start, EDO_MSEC(10), c->missed), 0);
    static const uint64_t busy_ms[6] = {13, 0, 17, 0, 20, 0}; /* before each tick after the first */
    CHECK_EQ(edo_interval_tick(&iv, &due), 0);
    for (int i = 0; i < 6; i++) {
        if (busy_ms[i])
            CHECK_EQ(edo_time_advance(rt, EDO_MSEC(busy_ms[i])), 0);
        CHECK_EQ(edo_interval_tick(&iv, &due), 0);
        c->ticks[i] = due - start;
    }
    edo_interval_drop(&iv);
    return NULL;
}

TEST(interval_late_ticks_and_the_delay_slack)
{
    static const uint64_t want[3][6] = {
        {10, 20, 30, 40, 50, 70}, /* skip: 50 taken at 60, so 60 is skipped */
        {10, 20, 30, 40, 50, 60},
        {10, 20, 30, 47, 57, 77}, /* delay: 3 ms late keeps the schedule, 7 ms moves it */
    };
    for (int k = 0; k < 3; k++) {
        stall_case c = {policies[k], {0}};
        run_paused(late_ticks, &c);
        for (int i = 0; i < 6; i++)
            CHECK_EQ(c.ticks[i], EDO_MSEC(want[k][i]));
    }
}

static void *resets(void *arg)
{
    (void)arg;
    edo_runtime *rt = edo_runtime_current();
    edo_interval iv;
    edo_instant start = edo_now(), due;
    CHECK_EQ(edo_interval_init_at(&iv, start, EDO_MSEC(10), EDO_MISSED_TICK_BURST), 0);
    CHECK_EQ(edo_interval_tick(&iv, &due), 0);
    CHECK_EQ(edo_time_advance(rt, EDO_MSEC(4)), 0);
    CHECK_EQ(edo_interval_reset(&iv), 0); /* a period from now */
    CHECK_EQ(edo_interval_tick(&iv, &due), 0);
    CHECK_EQ(due - start, EDO_MSEC(14));
    CHECK_EQ(edo_interval_tick(&iv, &due), 0);
    CHECK_EQ(due - start, EDO_MSEC(24));
    CHECK_EQ(edo_interval_reset_at(&iv, start + EDO_MSEC(100)), 0);
    CHECK_EQ(edo_interval_tick(&iv, &due), 0);
    CHECK_EQ(due - start, EDO_MSEC(100));
    CHECK_EQ(edo_now() - start, EDO_MSEC(100));
    CHECK_EQ(edo_time_advance(rt, EDO_MSEC(3)), 0);
    CHECK_EQ(edo_interval_reset_after(&iv, 0), 0); /* at once */
    CHECK_EQ(edo_interval_tick(&iv, &due), 0);
    CHECK_EQ(due - start, EDO_MSEC(103));
    CHECK_EQ(edo_now() - start, EDO_MSEC(103));
    CHECK_EQ(edo_interval_reset_after(&iv, EDO_MSEC(5)), 0);
    CHECK_EQ(edo_interval_tick(&iv, &due), 0);
    CHECK_EQ(due - start, EDO_MSEC(108));
    CHECK_EQ(edo_interval_tick(&iv, &due), 0);
    CHECK_EQ(due - start, EDO_MSEC(118));
    /* A delay past the end of time: never. A sleep wins against it. */
    CHECK_EQ(edo_interval_reset_after(&iv, UINT64_MAX), 0);
    edo_interval_tick_future tick;
    edo_interval_tick_future_init(&tick, &iv);
    edo_sleep_future hour;
    edo_sleep_future_init(&hour, EDO_SEC(3600));
    edo_future *either[] = {&tick.base, &hour.base};
    CHECK_EQ(edo_select(either, 2, EDO_SELECT_BIASED, NULL), 1);
    edo_future_drop(&tick.base);
    edo_future_drop(&hour.base);
    CHECK_EQ(edo_interval_reset(NULL), -EINVAL);
    CHECK_EQ(edo_interval_reset_at(NULL, 0), -EINVAL);
    CHECK_EQ(edo_interval_reset_after(NULL, 0), -EINVAL);
    edo_interval_drop(&iv);
    return NULL;
}

TEST(interval_reset) { run_paused(resets, NULL); }

/* A future task whose tick future is pending resets the interval and returns pending without
 * polling it again: the reset wakes it, and it waits for the new tick. */
typedef struct {
    interval_task it;
    edo_instant *got; /* [2]: the tick taken, and the instant the reset asked for */
} reset_task;

static edo_poll reset_task_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    reset_task *t = (reset_task *)f;
    interval_task *it = &t->it;
    if (!it->waiting) {
        edo_interval_tick_future_init(&it->tick, &it->iv);
        CHECK_EQ(edo_future_poll(&it->tick.base, cx, NULL), EDO_READY); /* the first, at once */
        edo_future_drop(&it->tick.base);
        edo_interval_tick_future_init(&it->tick, &it->iv);
        it->waiting = 1;
        CHECK_EQ(edo_future_poll(&it->tick.base, cx, NULL), EDO_PENDING); /* due in 10 ms */
        t->got[1] = edo_after(EDO_MSEC(50));
        CHECK_EQ(edo_interval_reset_at(&it->iv, t->got[1]), 0);
        return EDO_PENDING;
    }
    if (edo_future_poll(&it->tick.base, cx, NULL) == EDO_PENDING)
        return EDO_PENDING;
    CHECK_EQ(it->tick.result, 0);
    t->got[0] = it->tick.tick;
    CHECK_EQ(edo_now(), it->tick.tick);
    return EDO_READY;
}

static const edo_future_vtable reset_task_vtable = {reset_task_poll, interval_task_drop};

static void *reset_wakes_the_waiter(void *arg)
{
    (void)arg;
    edo_runtime *rt = edo_runtime_current();
    edo_instant got[2] = {0, 0};
    reset_task t = {.it = {.base = {&reset_task_vtable}}, .got = got};
    CHECK_EQ(edo_interval_init(&t.it.iv, EDO_MSEC(10), EDO_MISSED_TICK_SKIP), 0);
    edo_task *task;
    CHECK_EQ(edo_spawn_future_on(rt, &t.it.base, sizeof t, &task), 0);
    CHECK_EQ(edo_sleep(EDO_SEC(1)), 0); /* long past the new tick */
    CHECK_EQ(edo_task_is_finished(task), 1); /* not stranded by the reset */
    CHECK_EQ(edo_task_join(task, NULL), 0);
    edo_task_free(task);
    CHECK(got[1] != 0);
    CHECK_EQ(got[0], got[1]);
    return NULL;
}

TEST(interval_reset_wakes_a_pending_tick_future) { run_paused(reset_wakes_the_waiter, NULL); }

/* In edo_select next to a sleep: the tick futures that lose are dropped, and the tick they
 * waited for is taken by the next one, on time. */
static void *select_ticks(void *arg)
{
    (void)arg;
    edo_interval iv;
    CHECK_EQ(edo_interval_init(&iv, EDO_MSEC(10), EDO_MISSED_TICK_SKIP), 0);
    edo_sleep_future nap;
    edo_sleep_future_init(&nap, EDO_MSEC(25));
    edo_instant start = edo_now();
    static const struct {
        int which;
        uint64_t at_ms;
    } want[] = {{0, 0}, {0, 10}, {0, 20}, {1, 25}, {0, 30}, {0, 40}};
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        edo_interval_tick_future tick;
        edo_interval_tick_future_init(&tick, &iv);
        edo_future *either[] = {&tick.base, want[i].at_ms > 25 ? NULL : &nap.base};
        int which = edo_select(either, 2, EDO_SELECT_BIASED, NULL);
        edo_future_drop(&tick.base);
        CHECK_EQ(which, want[i].which);
        CHECK_EQ(edo_now() - start, EDO_MSEC(want[i].at_ms));
        if (which == 0) {
            CHECK_EQ(tick.result, 0);
            CHECK_EQ(tick.tick - start, EDO_MSEC(want[i].at_ms));
        }
    }
    edo_future_drop(&nap.base);
    edo_interval_drop(&iv);
    return NULL;
}

TEST(interval_tick_future_in_select) { run_paused(select_ticks, NULL); }

/* A waker that counts its wakes. */
static _Atomic int counted_wakes;
static edo_waker counting_clone(const void *data);
static void counting_wake(const void *data)
{
    (void)data;
    atomic_fetch_add(&counted_wakes, 1);
}
static void counting_drop(const void *data) { (void)data; }
static const edo_waker_vtable counting_vtable = {counting_clone, counting_wake, counting_wake,
                                                 counting_drop};
static edo_waker counting_clone(const void *data) { return (edo_waker){&counting_vtable, data}; }

/* A tick future dropped while pending: its timer is cancelled (its waker is never woken), and
 * the tick it waited for is still due, for the next wait, at its own instant. */
static void *drop_pending_tick(void *arg)
{
    (void)arg;
    edo_runtime *rt = edo_runtime_current();
    edo_interval iv;
    edo_instant start = edo_now(), due;
    CHECK_EQ(edo_interval_init_at(&iv, start, EDO_MSEC(10), EDO_MISSED_TICK_SKIP), 0);
    CHECK_EQ(edo_interval_tick(&iv, &due), 0);
    edo_waker counting = {&counting_vtable, NULL};
    edo_context cx;
    edo_context_init(&cx, &counting, NULL);
    edo_interval_tick_future tick;
    edo_interval_tick_future_init(&tick, &iv);
    CHECK_EQ(edo_future_poll(&tick.base, &cx, NULL), EDO_PENDING);
    edo_future_drop(&tick.base);
    CHECK_EQ(edo_time_advance(rt, EDO_MSEC(15)), 0); /* past the tick: fires what is armed */
    CHECK_EQ(edo_yield(), 0);
    CHECK_EQ(atomic_load(&counted_wakes), 0);
    CHECK_EQ(edo_interval_tick(&iv, &due), 0); /* at once: the tick at 10 was kept */
    CHECK_EQ(due - start, EDO_MSEC(10));
    CHECK_EQ(edo_now() - start, EDO_MSEC(15));
    /* A tick future never polled, and one that completed, leave the interval alone when
     * dropped. */
    edo_interval_tick_future_init(&tick, &iv);
    edo_future_drop(&tick.base);
    edo_interval_tick_future_init(&tick, &iv);
    CHECK_EQ(edo_future_poll(&tick.base, &cx, NULL), EDO_PENDING);
    CHECK_EQ(edo_time_advance(rt, EDO_MSEC(5)), 0);
    CHECK_EQ(atomic_load(&counted_wakes), 1); /* not dropped: woken at 20 */
    CHECK_EQ(edo_future_poll(&tick.base, &cx, NULL), EDO_READY);
    CHECK_EQ(tick.tick - start, EDO_MSEC(20));
    edo_future_drop(&tick.base);
    CHECK_EQ(edo_interval_tick(&iv, &due), 0);
    CHECK_EQ(due - start, EDO_MSEC(30));
    edo_interval_drop(&iv);
    return NULL;
}

TEST(interval_dropping_a_pending_tick_future) { run_paused(drop_pending_tick, NULL); }

/* A coroutine's deadline cuts a tick wait short; the tick is not lost. */
static void *tick_under_deadline(void *arg)
{
    (void)arg;
    edo_interval iv;
    edo_instant start = edo_now(), due = 0, saved;
    CHECK_EQ(edo_interval_init(&iv, EDO_MSEC(10), EDO_MISSED_TICK_SKIP), 0);
    CHECK_EQ(edo_interval_tick(&iv, &due), 0);
    CHECK_EQ(due, start);
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_interval_tick(&iv, &due), -ETIMEDOUT);
    CHECK_EQ(edo_deadline_pop(saved), 0);
    CHECK_EQ(edo_now() - start, EDO_MSEC(5));
    CHECK_EQ(edo_interval_tick(&iv, &due), 0);
    CHECK_EQ(due - start, EDO_MSEC(10));
    CHECK_EQ(edo_now() - start, EDO_MSEC(10));
    edo_interval_drop(&iv);
    return NULL;
}

TEST(interval_tick_cut_short_keeps_the_tick) { run_paused(tick_under_deadline, NULL); }

static void *first_tick_inside(void *arg)
{
    edo_interval *iv = arg;
    edo_instant due;
    CHECK_EQ(edo_interval_tick(iv, &due), 0);
    CHECK_EQ(due, edo_now()); /* due at the first wait that could take it */
    return NULL;
}

TEST(interval_bad_input)
{
    edo_interval iv;
    CHECK_EQ(edo_interval_init(NULL, 1, EDO_MISSED_TICK_SKIP), -EINVAL);
    CHECK_EQ(edo_interval_init(&iv, 0, EDO_MISSED_TICK_SKIP), -EINVAL);
    CHECK_EQ(edo_interval_init(&iv, 1, (edo_missed_tick)7), -EINVAL);
    CHECK_EQ(edo_interval_init(&iv, 1, (edo_missed_tick)-1), -EINVAL);
    CHECK_EQ(edo_interval_init_at(NULL, 0, 1, EDO_MISSED_TICK_BURST), -EINVAL);
    CHECK_EQ(edo_interval_init_at(&iv, 0, 0, EDO_MISSED_TICK_BURST), -EINVAL);
    CHECK_EQ(edo_interval_init_at(&iv, 0, 1, (edo_missed_tick)3), -EINVAL);
    CHECK_EQ(edo_interval_tick(NULL, NULL), -EINVAL);
    edo_interval_drop(NULL);
    edo_interval_tick_future_init(NULL, &iv);
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    edo_interval_tick_future tick;
    edo_interval_tick_future_init(&tick, NULL);
    CHECK_EQ(edo_future_poll(&tick.base, &cx, NULL), EDO_READY);
    CHECK_EQ(tick.result, -EINVAL);
    edo_future_drop(&tick.base);
    /* Outside a runtime: refused, and no tick is taken. */
    CHECK_EQ(edo_interval_init(&iv, EDO_MSEC(1), EDO_MISSED_TICK_SKIP), 0);
    CHECK_EQ(edo_interval_tick(&iv, NULL), -EPERM);
    edo_interval_tick_future_init(&tick, &iv);
    CHECK_EQ(edo_future_poll(&tick.base, &cx, NULL), EDO_READY);
    CHECK_EQ(tick.result, -EPERM);
    edo_future_drop(&tick.base);
    run_paused(first_tick_inside, &iv);
    edo_interval_drop(&iv);
}

/* ---- the paused clock and the blocking pool ------------------------------------------------------ */

static void *slow_blocking(void *arg)
{
    usleep(30000);
    atomic_store((_Atomic int *)arg, 1);
    return NULL;
}

static void *sleep_while_blocking_runs(void *arg)
{
    _Atomic int *done = arg;
    edo_task *b;
    CHECK_EQ(edo_spawn_blocking(slow_blocking, (void *)done, &b), 0);
    /* While the blocking call runs, the clock does not jump: it may still wake us sooner. */
    CHECK_EQ(edo_sleep(EDO_SEC(10)), 0);
    CHECK_EQ(atomic_load(done), 1);
    CHECK_EQ(edo_task_join(b, NULL), 0);
    edo_task_free(b);
    return NULL;
}

TEST(paused_clock_waits_for_blocking_calls)
{
    edo_runtime *rt = paused_rt();
    _Atomic int done = 0;
    run_on(rt, sleep_while_blocking_runs, &done);
    edo_runtime_free(rt);
}

/* ---- many timers ------------------------------------------------------------------------------- */

/* A future task that sleeps until its deadline and checks it did not wake early. */
typedef struct {
    edo_future base;
    edo_sleep_future sleep;
    _Atomic long *late_ms_total, *done;
} checked_sleep;

static edo_poll checked_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    checked_sleep *c = (checked_sleep *)f;
    if (edo_future_poll(&c->sleep.base, cx, NULL) == EDO_PENDING)
        return EDO_PENDING;
    edo_instant now = edo_now();
    CHECK(now >= c->sleep.entry.deadline);
    atomic_fetch_add(c->late_ms_total, (long)((now - c->sleep.entry.deadline) / EDO_MSEC(1)));
    atomic_fetch_add(c->done, 1);
    return EDO_READY;
}

static void checked_drop(edo_future *f) { edo_future_drop(&((checked_sleep *)f)->sleep.base); }
static const edo_future_vtable checked_vtable = {checked_poll, checked_drop};

typedef struct {
    _Atomic long *done;
    long n;
    edo_instant until;
} million_wait;

static void *wait_for_all(void *arg)
{
    million_wait *m = arg;
    CHECK_EQ(edo_sleep_at(m->until), 0);
    while (atomic_load(m->done) < m->n)
        CHECK_EQ(edo_yield(), 0);
    return NULL;
}

TEST(million_timers)
{
    edo_runtime *rt = paused_rt();
    const long n = SCALE(1000000, 200000, 50000);
    _Atomic long late = 0, done = 0;
    edo_instant start = edo_now();
    uint64_t x = 88172645463325252ull;
    for (long i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        checked_sleep c = {.base = {&checked_vtable}, .late_ms_total = &late, .done = &done};
        /* Deadlines off the tick grid, up to ~3 hours: every level below the top. */
        edo_sleep_future_init_at(&c.sleep, start + 1 + x % EDO_SEC(10000));
        CHECK_EQ(edo_spawn_future_on(rt, &c.base, sizeof c, NULL), 0);
    }
    million_wait m = {&done, n, start + EDO_SEC(10000) + EDO_MSEC(2)};
    run_on(rt, wait_for_all, &m);
    /* On the paused clock each fires exactly at its rounded-up tick: less than 1 ms late. */
    CHECK_EQ(atomic_load(&late), 0);
    edo_runtime_free(rt);
}
