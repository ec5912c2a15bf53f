/* The runtime's timers: wheels, the clock, firing, and the watcher hand-off (see timers.h). */
#include "time/timers.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>

#include "core/runtime.h"
#include "platform/thread.h"

#define FIRE_BATCH 32 /* wakers collected under a wheel's lock, woken after it is released */

int edo__timers_init(edo_runtime *rt, unsigned nworkers, bool start_paused,
                     void (*on_earlier)(struct edo_runtime *rt))
{
    edo__timers *t = &rt->timers;
    t->on_earlier = on_earlier;
    t->nwheels = nworkers + 1;
    t->wheels = aligned_alloc(_Alignof(edo__timer_wheel), t->nwheels * sizeof *t->wheels);
    if (!t->wheels)
        return -ENOMEM;
    for (unsigned i = 0; i < t->nwheels; i++) {
        edo__spin_init(&t->wheels[i].lock);
        atomic_init(&t->wheels[i].next_due, EDO__WHEEL_NONE);
        edo__wheel_init(&t->wheels[i].wheel, 0);
    }
    t->origin = edo__clock_ns();
    atomic_init(&t->watch_until, EDO__WHEEL_NONE);
    pthread_mutex_init(&t->clock_lock, NULL);
    atomic_init(&t->shifted, start_paused);
    atomic_init(&t->paused, start_paused);
    atomic_init(&t->frozen, t->origin);
    atomic_init(&t->offset, 0);
    return 0;
}

void edo__timers_destroy(edo__timers *t)
{
    if (!t->wheels)
        return;
    pthread_mutex_destroy(&t->clock_lock);
    for (unsigned i = 0; i < t->nwheels; i++)
        edo__wheel_destroy(&t->wheels[i].wheel);
    free(t->wheels);
    t->wheels = NULL;
}

/* ---- the clock ---------------------------------------------------------------------------- */

uint64_t edo__timers_now(edo__timers *t)
{
    if (!atomic_load_explicit(&t->shifted, memory_order_acquire))
        return edo__clock_ns();
    if (atomic_load_explicit(&t->paused, memory_order_acquire))
        return atomic_load_explicit(&t->frozen, memory_order_acquire);
    return edo__clock_ns() + (uint64_t)atomic_load_explicit(&t->offset, memory_order_acquire);
}

uint64_t edo__timers_system_time(edo__timers *t, uint64_t when)
{
    if (!atomic_load_explicit(&t->shifted, memory_order_acquire))
        return when;
    return when - (uint64_t)atomic_load_explicit(&t->offset, memory_order_acquire);
}

static uint64_t now_tick(edo__timers *t)
{
    uint64_t now = edo__timers_now(t);
    if (now <= t->origin)
        return 0;
    uint64_t since = now - t->origin;
    /* A paused clock moved to the last instant goes no further: the tick it is in counts as
     * elapsed, so that every timer with a deadline (none is later than now) fires. */
    if (now == EDO_INSTANT_NEVER - 1)
        return since / EDO__TICK_NS + (since % EDO__TICK_NS != 0);
    return since / EDO__TICK_NS;
}

/* The instant tick `tick` starts; the last instant (EDO_INSTANT_NEVER - 1) for ticks past it. */
static uint64_t tick_time(edo__timers *t, uint64_t tick)
{
    if (tick > (EDO_INSTANT_NEVER - 1 - t->origin) / EDO__TICK_NS)
        return EDO_INSTANT_NEVER - 1;
    return t->origin + tick * EDO__TICK_NS;
}

edo_instant edo_now(void)
{
    edo__worker *w = edo__worker_current();
    edo_runtime *rt = w ? w->rt : edo__runtime_entered();
    return rt ? edo__timers_now(&rt->timers) : edo__clock_ns();
}

edo_instant edo_after(uint64_t duration)
{
    edo_instant now = edo_now();
    return duration >= EDO_INSTANT_NEVER - now ? EDO_INSTANT_NEVER : now + duration;
}

int edo_time_pause(edo_runtime *rt)
{
    if (!rt)
        return -EINVAL;
    if (rt->config.flavor != EDO_RUNTIME_CURRENT_THREAD)
        return -ENOTSUP;
    edo__timers *t = &rt->timers;
    pthread_mutex_lock(&t->clock_lock);
    if (!atomic_load_explicit(&t->paused, memory_order_relaxed)) {
        atomic_store_explicit(&t->frozen, edo__timers_now(t), memory_order_relaxed);
        atomic_store_explicit(&t->shifted, true, memory_order_release);
        atomic_store_explicit(&t->paused, true, memory_order_release);
    }
    pthread_mutex_unlock(&t->clock_lock);
    return 0;
}

int edo_time_resume(edo_runtime *rt)
{
    if (!rt)
        return -EINVAL;
    edo__timers *t = &rt->timers;
    pthread_mutex_lock(&t->clock_lock);
    bool paused = atomic_load_explicit(&t->paused, memory_order_relaxed);
    int rc = paused ? 0 : -EINVAL;
    if (paused) {
        uint64_t frozen = atomic_load_explicit(&t->frozen, memory_order_relaxed);
        uint64_t system = edo__clock_ns();
        if (frozen > system && frozen - system > (uint64_t)INT64_MAX) {
            rc = -EOVERFLOW; /* a running clock cannot be that far ahead: it stays paused */
        } else {
            atomic_store_explicit(&t->offset, (int64_t)(frozen - system), memory_order_relaxed);
            atomic_store_explicit(&t->paused, false, memory_order_release);
        }
    }
    pthread_mutex_unlock(&t->clock_lock);
    return rc;
}

int edo_time_advance(edo_runtime *rt, uint64_t duration)
{
    if (!rt)
        return -EINVAL;
    edo__timers *t = &rt->timers;
    pthread_mutex_lock(&t->clock_lock);
    bool paused = atomic_load_explicit(&t->paused, memory_order_relaxed);
    if (paused) {
        uint64_t frozen = atomic_load_explicit(&t->frozen, memory_order_relaxed);
        /* Saturating at the last instant: the clock never reaches EDO_INSTANT_NEVER. */
        const uint64_t last = EDO_INSTANT_NEVER - 1;
        uint64_t to = duration >= last - frozen ? last : frozen + duration;
        atomic_store_explicit(&t->frozen, to, memory_order_release);
    }
    pthread_mutex_unlock(&t->clock_lock);
    if (!paused)
        return -EINVAL;
    edo__timers_fire(rt, NULL); /* waiting for every wheel's lock: none is skipped */
    return 0;
}

/* ---- firing ------------------------------------------------------------------------------- */

static uint64_t earliest_due(edo__timers *t)
{
    uint64_t due = EDO__WHEEL_NONE;
    for (unsigned i = 0; i < t->nwheels; i++) {
        uint64_t d = atomic_load_explicit(&t->wheels[i].next_due, memory_order_seq_cst);
        if (d < due)
            due = d;
    }
    return due;
}

static void publish_next_due(edo__timer_wheel *tw)
{
    atomic_store_explicit(&tw->next_due, edo__wheel_next_due(&tw->wheel), memory_order_seq_cst);
}

static void wake_all(edo_waker *wakers, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        edo_waker_wake(&wakers[i]);
}

/* Fires `tw`'s timers due by tick `now`. The wakers are woken outside the lock: a wake may
 * schedule a task, and a task's drop may cancel a timer of this very wheel. A batch is popped
 * first and its entries read after: each pop prefetches its entry (on a coroutine's stack, a
 * page of its own, seldom in cache), so the batch's misses overlap instead of queueing. */
static unsigned fire_wheel(edo__timer_wheel *tw, uint64_t now, bool wait_for_lock)
{
    if (wait_for_lock)
        edo__spin_lock(&tw->lock);
    else if (!edo__spin_trylock(&tw->lock))
        return 0; /* another thread is at it */
    edo_timer_entry *due[FIRE_BATCH];
    edo_waker batch[FIRE_BATCH];
    unsigned fired = 0;
    for (;;) {
        unsigned n = 0;
        edo_timer_entry *e = NULL;
        while (n < FIRE_BATCH && (e = edo__wheel_pop_expired(&tw->wheel, now))) {
            __builtin_prefetch(&e->waker_, 1);
            __builtin_prefetch(&e->state_, 1); /* the same line, or the next */
            due[n++] = e;
        }
        for (unsigned i = 0; i < n; i++) {
            batch[i] = due[i]->waker_; /* the waker is ours now: the entry's owner sees FIRED */
            __atomic_store_n(&due[i]->state_, EDO__TIMER_FIRED, __ATOMIC_RELEASE);
        }
        fired += n;
        publish_next_due(tw);
        edo__spin_unlock(&tw->lock);
        wake_all(batch, n);
        if (!e)
            return fired;
        edo__spin_lock(&tw->lock);
    }
}

unsigned edo__timers_fire(edo_runtime *rt, edo__worker *w)
{
    edo__timers *t = &rt->timers;
    if (earliest_due(t) == EDO__WHEEL_NONE)
        return 0;
    uint64_t now = now_tick(t);
    unsigned fired = 0;
    for (unsigned i = 0; i < t->nwheels; i++) {
        edo__timer_wheel *tw = &t->wheels[i];
        if (atomic_load_explicit(&tw->next_due, memory_order_acquire) <= now)
            fired += fire_wheel(tw, now, !w || i == w->index);
    }
    return fired;
}

/* ---- what a sleeping waiter is told ------------------------------------------------------- */

void edo__timers_advance_paused_to(edo__timers *t, uint64_t when)
{
    pthread_mutex_lock(&t->clock_lock);
    if (atomic_load_explicit(&t->paused, memory_order_relaxed) &&
        atomic_load_explicit(&t->frozen, memory_order_relaxed) < when)
        atomic_store_explicit(&t->frozen, when, memory_order_release);
    pthread_mutex_unlock(&t->clock_lock);
}

uint64_t edo__timers_watch(edo__timers *t)
{
    /* Publish the wake tick, then look again: a timer armed meanwhile either shows up here or
     * its arming thread sees the wake tick and calls on_earlier. */
    uint64_t due = earliest_due(t);
    for (;;) {
        atomic_store_explicit(&t->watch_until, due, memory_order_seq_cst);
        uint64_t again = earliest_due(t);
        if (again >= due)
            return due;
        due = again;
    }
}

void edo__timers_unwatch(edo__timers *t)
{
    atomic_store_explicit(&t->watch_until, EDO__WHEEL_NONE, memory_order_seq_cst);
}

uint64_t edo__timers_tick_time(edo__timers *t, uint64_t tick) { return tick_time(t, tick); }

/* ---- timer entries ------------------------------------------------------------------------- */

void edo__timer_init(edo_timer_entry *e, uint64_t deadline, uint64_t after)
{
    e->deadline = deadline;
    e->duration_ = after;
    e->tick_ = 0;
    e->waker_ = EDO_WAKER_EMPTY;
    e->wheel_ = NULL;
    e->record_ = 0;
    e->state_ = EDO__TIMER_IDLE;
}

static uint32_t state_of(const edo_timer_entry *e)
{
    return __atomic_load_n(&e->state_, __ATOMIC_ACQUIRE);
}

/* Files `e` in the calling thread's wheel. 1: its deadline has passed; 0: armed; -ENOMEM: no
 * memory for the wheel's record of it (left idle). */
static int arm(edo_runtime *rt, edo__worker *w, edo_timer_entry *e, edo_context *cx)
{
    edo__timers *t = &rt->timers;
    uint64_t now = edo__timers_now(t);
    if (e->duration_) {
        /* A relative deadline starts now: one clock reading does for both. */
        e->deadline = e->duration_ >= EDO_INSTANT_NEVER - now ? EDO_INSTANT_NEVER
                                                              : now + e->duration_;
        e->duration_ = 0;
        if (e->deadline == EDO_INSTANT_NEVER)
            return 0; /* never fires: nothing to arm */
    }
    if (e->deadline <= now)
        return 1;
    /* Round up: a timer fires at the first tick at or after its deadline, never before it. */
    uint64_t since = e->deadline - t->origin; /* (without overflow near the end of time) */
    uint64_t tick = since / EDO__TICK_NS + (since % EDO__TICK_NS != 0);
    unsigned index = w ? w->index : t->nwheels - 1;
    edo__timer_wheel *tw = &t->wheels[index];
    edo__spin_lock(&tw->lock);
    if (tick <= tw->wheel.elapsed) {
        edo__spin_unlock(&tw->lock);
        return 1;
    }
    e->tick_ = tick;
    int rc = edo__wheel_insert(&tw->wheel, e);
    if (rc < 0) {
        edo__spin_unlock(&tw->lock);
        return rc;
    }
    e->waker_ = edo_waker_clone(cx->waker);
    e->wheel_ = tw;
    __atomic_store_n(&e->state_, EDO__TIMER_ARMED, __ATOMIC_RELAXED);
    publish_next_due(tw);
    edo__spin_unlock(&tw->lock);
    /* Earlier than the sleeping waiter's wake-up: tell whoever parks it, so it looks again. */
    if (tick < atomic_load_explicit(&t->watch_until, memory_order_seq_cst))
        t->on_earlier(rt);
    return 0;
}

int edo__timer_poll(edo_timer_entry *e, edo_context *cx)
{
    uint32_t state = state_of(e);
    if (state == EDO__TIMER_FIRED)
        return 1;
    if (state == EDO__TIMER_ARMED) {
        if (edo_waker_will_wake(&e->waker_, cx->waker))
            return 0;
        /* Polled by another task than the one that armed it: swap the waker, unless the
         * timer fires meanwhile (then the firing thread owns the old waker). */
        edo__timer_wheel *tw = e->wheel_;
        edo__spin_lock(&tw->lock);
        bool armed = state_of(e) == EDO__TIMER_ARMED;
        edo_waker old = e->waker_;
        if (armed)
            e->waker_ = edo_waker_clone(cx->waker);
        edo__spin_unlock(&tw->lock);
        if (!armed)
            return 1;
        edo_waker_drop(&old);
        return 0;
    }
    if (e->deadline == EDO_INSTANT_NEVER && !e->duration_)
        return 0; /* never fires: nothing to arm */
    edo__worker *w = edo__worker_current();
    edo_runtime *rt = w ? w->rt : edo__runtime_entered();
    if (!rt)
        return -EPERM;
    if (w && w->rt != rt)
        w = NULL;
    int rc = arm(rt, w, e, cx);
    if (rc <= 0)
        return rc;
    __atomic_store_n(&e->state_, EDO__TIMER_FIRED, __ATOMIC_RELAXED);
    return 1;
}

edo_waker edo__timer_disarm(edo_timer_entry *e)
{
    edo_waker waker = EDO_WAKER_EMPTY;
    if (state_of(e) == EDO__TIMER_ARMED) {
        edo__timer_wheel *tw = e->wheel_;
        edo__spin_lock(&tw->lock);
        bool armed = state_of(e) == EDO__TIMER_ARMED;
        if (armed) {
            edo__wheel_remove(&tw->wheel, e);
            publish_next_due(tw);
        }
        edo__spin_unlock(&tw->lock);
        if (armed)
            waker = e->waker_;
    }
    e->waker_ = EDO_WAKER_EMPTY;
    e->wheel_ = NULL;
    __atomic_store_n(&e->state_, EDO__TIMER_IDLE, __ATOMIC_RELAXED);
    return waker;
}

void edo__timer_cancel(edo_timer_entry *e)
{
    edo_waker waker = edo__timer_disarm(e);
    edo_waker_drop(&waker);
}
