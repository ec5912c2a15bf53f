/* Parking: the watcher role, sleeping in the I/O driver or on a futex until the next timer, and
 * waking the watcher (see park.h). */
#include "core/park.h"

#include <sched.h>

#include "core/runtime.h"
#include "platform/thread.h"

/* What a worker about to sleep is told, besides a system clock time to wake up at (the
 * watcher, with a deadline): */
#define PARK_FOREVER UINT64_MAX     /* not the watcher: sleep until woken */
#define PARK_WATCH (UINT64_MAX - 1) /* the watcher, no deadline: sleep until woken */
#define PARK_NOT 0                  /* don't sleep: a timer is due */
#define PARK_ADVANCE 1              /* paused clock, sockets registered: poll them without
                                       waiting, and only if nothing came advance the clock to the
                                       next timer */

void edo__park_init(edo__park *p)
{
    atomic_init(&p->watcher, -1);
    atomic_init(&p->brief, 0);
    p->advance_to = 0;
}

/* Waits in the I/O driver (see edo__io_wait) for no more events than the run queue has room
 * for: the tasks they wake then queue fairly behind the ones already there, and the rest stay
 * in the kernel's ready list (in the order they became ready) for the next turn. Taking them
 * all would spill the excess into the global queue, where they would wait behind every later
 * wake-up: a p99 of tens of milliseconds once a few hundred connections are ready at once. */
static int io_wait(edo__worker *w, uint64_t deadline)
{
    int room = (int)edo__local_free(&w->queue) - 1;
    int max = room < 1 ? 1 : room > EDO__IO_EVENTS ? EDO__IO_EVENTS : room;
    return edo__io_wait(&w->rt->io, w->io_events, max, deadline, w->parker);
}

static void leave_watcher(edo_runtime *rt, edo__worker *w)
{
    if (atomic_load_explicit(&rt->park.watcher, memory_order_relaxed) != (int)w->index)
        return;
    edo__timers_unwatch(&rt->timers);
    atomic_store_explicit(&rt->park.watcher, -1, memory_order_seq_cst);
}

void edo__park_poll_io(edo__worker *w)
{
    edo_runtime *rt = w->rt;
    if (edo__io_has_lane(&rt->io)) {
        /* Its own ring: nobody else looks there (a look without news costs no system call). */
        int events = io_wait(w, 0);
        if (events > 0)
            edo__io_dispatch(&rt->io, w->io_events, events);
        return;
    }
    if (!edo__io_active(&rt->io))
        return;
    /* Announced first, so a worker that fails to become the watcher meanwhile waits for us
     * instead of sleeping with nobody watching. */
    atomic_fetch_add_explicit(&rt->park.brief, 1, memory_order_seq_cst);
    int none = -1, events = 0;
    bool got = atomic_compare_exchange_strong_explicit(&rt->park.watcher, &none, (int)w->index,
                                                       memory_order_seq_cst, memory_order_relaxed);
    if (got) {
        events = io_wait(w, 0);
        leave_watcher(rt, w);
    }
    atomic_fetch_sub_explicit(&rt->park.brief, 1, memory_order_release);
    if (events > 0)
        edo__io_dispatch(&rt->io, w->io_events, events);
}

/* Takes the watcher role for worker `index`. A busy worker may hold it for a moment to poll
 * the driver without waiting: then wait for that to end rather than sleep without a watcher. */
static bool become_watcher(edo__park *p, unsigned index)
{
    for (int tries = 0;; tries++) {
        int none = -1;
        if (atomic_compare_exchange_strong_explicit(&p->watcher, &none, (int)index,
                                                    memory_order_seq_cst, memory_order_relaxed))
            return true;
        if (tries == 64 || atomic_load_explicit(&p->brief, memory_order_acquire) == 0)
            return false;
        sched_yield();
    }
}

/* Until when worker `w` sleeps: one of the PARK_ values, or a system clock time. */
static uint64_t plan(edo_runtime *rt, edo__worker *w)
{
    edo__timers *t = &rt->timers;
    if (!become_watcher(&rt->park, w->index))
        return PARK_FOREVER; /* another worker watches the clock */
    uint64_t due = edo__timers_watch(t);
    if (due == EDO__WHEEL_NONE)
        return PARK_WATCH;
    uint64_t when = edo__timers_tick_time(t, due);
    if (edo__timers_paused(t)) {
        /* Nothing to run: jump to the next deadline, unless a blocking call or an operation
         * in the completion ring is in progress (it may yet wake a task that arms an earlier
         * timer; look again in a while), or a
         * socket has news (its task runs first, as time would not pass meanwhile). */
        if (edo__blocking_busy(rt) || edo__io_completions_pending(&rt->io))
            return edo__clock_ns() + EDO__TICK_NS;
        if (edo__io_active(&rt->io)) {
            rt->park.advance_to = when;
            return PARK_ADVANCE;
        }
        edo__timers_advance_paused_to(t, when);
        return PARK_NOT;
    }
    uint64_t now = edo__timers_now(t);
    return when <= now ? PARK_NOT : edo__timers_system_time(t, when);
}

void edo__park_sleep(edo__worker *w, edo__signal *sig)
{
    edo_runtime *rt = w->rt;
    uint64_t wake_at = plan(rt, w);
    int events = 0;
    for (;;) {
        if (!edo__idle_is_sleeping(&rt->idle, w->index)) {
            w->searching = true; /* a notifier counted us as searching */
            break;
        }
        if (wake_at == PARK_ADVANCE) {
            /* Paused clock: time moves only when nothing else can happen, sockets included:
             * when another worker's ring holds news it has not collected, wait a tick for it
             * (its task may arm an earlier timer). */
            events = io_wait(w, 0);
            if (events == 0 && edo__io_lanes_pending(&rt->io)) {
                wake_at = edo__clock_ns() + EDO__TICK_NS;
            } else {
                if (events == 0)
                    edo__timers_advance_paused_to(&rt->timers, rt->park.advance_to);
                wake_at = PARK_NOT;
            }
        }
        if (wake_at == PARK_NOT || atomic_load_explicit(&rt->shutdown, memory_order_acquire) ||
            (sig && atomic_load_explicit(&sig->woken, memory_order_acquire))) {
            /* Woken for another reason than a notification. If a notifier took us off the
             * parked list meanwhile, it counted us as searching. */
            w->searching = !edo__idle_unpark_self(&rt->idle, w->index);
            break;
        }
        bool lane = edo__io_has_lane(&rt->io);
        if (wake_at == PARK_FOREVER && lane) {
            /* A worker with a ring of its own sleeps in it: its sockets' events are collected
             * only there. An unpark reaches it through the ring's eventfd. */
            events = io_wait(w, UINT64_MAX);
            wake_at = PARK_NOT;
        } else if (wake_at == PARK_FOREVER) {
            edo__parker_park(w->parker);
        } else {
            /* The watcher waits in the driver (when there are fds to watch) until the next
             * timer is due. Whether the deadline came, events arrived or someone woke it (an
             * earlier timer was armed), it gets up and looks again. */
            uint64_t until = wake_at == PARK_WATCH ? UINT64_MAX : wake_at;
            if (lane || edo__io_active(&rt->io))
                events = io_wait(w, until);
            else if (until == UINT64_MAX)
                edo__parker_park(w->parker);
            else
                edo__parker_park_until(w->parker, until);
            wake_at = PARK_NOT;
        }
    }
    leave_watcher(rt, w);
    /* Awake now (by the idle count): the tasks the events wake can draw other workers in. */
    if (events > 0)
        edo__io_dispatch(&rt->io, w->io_events, events);
}

void edo__park_wake_watcher(edo_runtime *rt)
{
    int watcher = atomic_load_explicit(&rt->park.watcher, memory_order_seq_cst);
    edo__worker *self = edo__worker_current();
    if (watcher >= 0 && !(self && self->rt == rt && (int)self->index == watcher))
        edo__parker_unpark(rt->workers[watcher].parker);
}
