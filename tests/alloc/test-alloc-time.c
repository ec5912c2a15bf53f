/* Allocation failures in the timers: sleeps, timeouts (the coroutine deadline and the timeout
 * future around a task's join) and intervals, on the paused clock of a current-thread runtime
 * and on the real clock of a multi-thread one, with many timers at once so the wheel fills
 * several slots and levels. See alloc_test.h for what every case checks. */
#include "alloc_test.h"

#include <stdint.h>

#define SLEEPERS 8

/* `rc` is `want`, or -ENOMEM after an injected failure (a timer the wheel had no record for). */
#define CHECK_OR_ENOMEM(rc, want) check_or_enomem((rc), (want), __FILE__, __LINE__)
static void check_or_enomem(int rc, int want, const char *file, int line)
{
    if (rc == want || (rc == -ENOMEM && allocations_failed() > 0))
        return;
    fprintf(stderr, "%s:%d: %d, expected %d\n", file, line, rc, want);
    abort();
}

static void *sleep_then_report(void *arg)
{
    uintptr_t i = (uintptr_t)arg;
    edo_instant start = edo_now();
    if (ALLOC_OK(edo_sleep(EDO_USEC(100) * (i + 1))))
        CHECK(edo_now() - start >= EDO_USEC(100) * (i + 1)); /* timers never fire early */
    return arg;
}

static void *sleepers(void *unused)
{
    (void)unused;
    edo_task *t[SLEEPERS];
    uintptr_t arg[SLEEPERS];
    int n = 0;
    for (uintptr_t i = 0; i < SLEEPERS; i++)
        if (ALLOC_OK(edo_spawn(sleep_then_report, (void *)(i * 37 % SLEEPERS), &t[n])))
            arg[n++] = i * 37 % SLEEPERS;
    ALLOC_OK(edo_sleep(EDO_MSEC(1)));
    for (int i = 0; i < n; i++) {
        void *out;
        CHECK_EQ(edo_task_join(t[i], &out), 0);
        CHECK_EQ((uintptr_t)out, arg[i]);
        edo_task_free(t[i]);
    }
    return NULL;
}

TEST(sleep)
{
    alloc_run(EDO_RUNTIME_CURRENT_THREAD, true, sleepers, NULL);
    alloc_run(EDO_RUNTIME_MULTI_THREAD, false, sleepers, NULL);
}

static int sleep_too_long(void *unused)
{
    (void)unused;
    return edo_sleep(EDO_SEC(3600));
}

/* A future that joins a task. */
typedef struct {
    edo_future base;
    edo_task *task;
    int rc;
} join_future;

static edo_poll join_poll(edo_future *f, edo_context *cx, void **out)
{
    join_future *j = (join_future *)f;
    return edo_task_poll_join(j->task, cx, &j->rc, out);
}
static const edo_future_vtable join_vtable = {join_poll, NULL};

static void *timeouts(void *unused)
{
    (void)unused;
    CHECK_OR_ENOMEM(edo_timeout(EDO_MSEC(2), sleep_too_long, NULL), -ETIMEDOUT);
    /* The timeout future around the join of a task that never ends, then the abort. */
    edo_future never = {&never_vtable};
    edo_task *t;
    if (ALLOC_OK(edo_spawn_future(&never, sizeof never, &t))) {
        join_future j = {{&join_vtable}, t, 0};
        edo_timeout_future to;
        CHECK_EQ(edo_timeout_future_init(&to, &j.base, EDO_MSEC(2)), 0);
        CHECK_EQ(edo_await(&to.base, NULL), 0);
        CHECK_OR_ENOMEM(to.result, -ETIMEDOUT);
        edo_future_drop(&to.base);
        CHECK_EQ(edo_task_abort(t), 0);
        CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
        edo_task_free(t);
    }
    return NULL;
}

TEST(timeout)
{
    alloc_run(EDO_RUNTIME_CURRENT_THREAD, true, timeouts, NULL);
    alloc_run(EDO_RUNTIME_MULTI_THREAD, false, timeouts, NULL);
}

static void *ticks(void *unused)
{
    (void)unused;
    edo_interval iv;
    CHECK_EQ(edo_interval_init(&iv, EDO_USEC(200), EDO_MISSED_TICK_BURST), 0);
    edo_instant last = 0;
    for (int i = 0; i < 5; i++) {
        edo_instant tick;
        if (!ALLOC_OK(edo_interval_tick(&iv, &tick))) {
            i--; /* no tick was taken: wait for it again */
            continue;
        }
        CHECK(i == 0 || tick == last + EDO_USEC(200));
        last = tick;
    }
    edo_interval_drop(&iv);
    return NULL;
}

TEST(interval)
{
    for (size_t i = 0; i < ALLOC_NFLAVORS; i++)
        alloc_run(alloc_flavors[i], alloc_flavors[i] == EDO_RUNTIME_CURRENT_THREAD, ticks, NULL);
}
