/* Workers: the run loop, scheduling a woken task, stealing, and parking.
 *
 * Where a task goes when it is woken:
 *  - woken by the task running on this worker: into the run-next (LIFO) slot, so a message
 *    handed from one task to another is processed while it is hot in cache; the slot's previous
 *    occupant moves to the back of the local queue. At most EDO__MAX_LIFO_POLLS run-next polls
 *    happen in a row, then the queue gets its turn;
 *  - a task that woke itself (a yield, or a spent coop budget) is deferred: it goes back to the
 *    local queue only after the next maintenance, so it runs after everything already waiting,
 *    the global queue, expired timers and ready I/O included (Tokio defers yield_now the same
 *    way);
 *  - woken by another task during its own poll: to the back of the local queue;
 *  - woken from any other thread: into the global queue, and a parked worker is woken if none
 *    is searching;
 *  - a pinned task, from anywhere: onto its home worker's own queue, waking that worker.
 * Where a worker looks for work: at each maintenance it fires expired timers, takes ready I/O
 * events and takes one task from the global queue first (so neither waits behind a busy local
 * queue); otherwise its run-next slot, its pinned queue and its ring in turns, its resumed
 * tasks, a batch from the global queue; then its deferred tasks, after a maintenance (a worker
 * with deferred tasks is not idle, so it does not steal); then stealing half of another
 * worker's ring; nothing at all: it parks.
 *
 * Maintenance comes by time as well as by count: every `maintenance_interval` polls, an
 * interval tuned from the mean poll time so that it comes about every
 * EDO__MAINTENANCE_TARGET_NS (a worker whose polls take a millisecond looks after every poll;
 * one whose polls take 50 ns after global_queue_interval of them). It also comes whenever the
 * worker runs out of other work with deferred tasks.
 */
#include <sched.h>
#include <stdlib.h>

#include "core/runtime.h"
#include "coro/coro.h"
#include "platform/thread.h"
#include "platform/tls.h"

static _Thread_local EDO__TLS_HOT edo__worker *current_worker;
static _Thread_local EDO__TLS_HOT edo_runtime *entered_runtime;

__attribute__((noinline)) edo__worker *edo__worker_current(void) { return current_worker; }
__attribute__((noinline)) void edo__worker_set_current(edo__worker *w) { current_worker = w; }
__attribute__((noinline)) edo_runtime *edo__runtime_entered(void) { return entered_runtime; }
__attribute__((noinline)) void edo__runtime_set_entered(edo_runtime *rt) { entered_runtime = rt; }

uint64_t edo__worker_next_id(edo__worker *w)
{
    if (w->next_id == w->id_limit) {
        w->next_id =
            atomic_fetch_add_explicit(&w->rt->next_id, EDO__ID_BLOCK, memory_order_relaxed);
        w->id_limit = w->next_id + EDO__ID_BLOCK;
    }
    return w->next_id++;
}

static void notify_parked(edo_runtime *rt)
{
    int index = edo__idle_worker_to_notify(&rt->idle);
    if (index >= 0)
        edo__parker_unpark(rt->workers[index].parker);
}

/* Queues `t` on this worker. Another worker is woken only when a backlog forms (a second task
 * queued behind the first, or an overflow into the global queue): a lone queued task is the
 * one this worker runs next anyway, and waking a helper for it would only move the work (and
 * its cache) to another core. Once woken, a helper that finds work wakes the next one, and a
 * worker going to sleep re-checks every queue, so the backlog keeps drawing help as it grows
 * without paying for the check (a full fence) on every push. */
static void push_local(edo__worker *w, edo__task *t)
{
    if (edo__local_push_back(&w->queue, t, &w->rt->global) || edo__local_len(&w->queue) == 2)
        notify_parked(w->rt);
}

/* Queues a pinned task on its home worker, waking that worker if it sleeps. The wake takes the
 * idle lock, which the home also takes to announce it parks and after which it re-checks its
 * pinned queue: either it sees this push or this sees it asleep. */
static void push_pinned(edo_runtime *rt, edo__task *t)
{
    edo__worker *home = &rt->workers[t->owner];
    edo__inject_push(&home->pinned, t);
    if (edo__worker_current() != home && edo__idle_wake_worker(&rt->idle, home->index))
        edo__parker_unpark(home->parker);
}

/* Queues `t` from a thread that is not one of the runtime's workers. The runtime stays
 * allocated until every task has completed, and `t` cannot complete before it is popped from
 * the global queue; the in-flight count also covers the notification after the push (shutdown
 * waits for it to reach zero). With `check_shutdown`, a spawn racing with shutdown either sees
 * the flag or is counted before shutdown's final look at the count. */
static bool schedule_remote(edo_runtime *rt, edo__task *t, bool check_shutdown)
{
    atomic_fetch_add_explicit(&rt->remote_in_flight, 1, memory_order_seq_cst);
    bool ok = !check_shutdown || !atomic_load_explicit(&rt->shutdown, memory_order_seq_cst);
    if (ok) {
        if (edo__blocking_is_task(t))
            edo__blocking_push(rt, t);
        else if (edo__task_is_pinned(t))
            push_pinned(rt, t);
        else {
            edo__global_push(&rt->global, t);
            notify_parked(rt);
        }
    }
    atomic_fetch_sub_explicit(&rt->remote_in_flight, 1, memory_order_release);
    return ok;
}

/* The run-next slot's part is modelled in queue.pml (worker): keep in step. */
static void schedule_local(edo__worker *w, edo__task *t, bool is_yield)
{
    if (edo__task_is_pinned(t)) {
        push_pinned(w->rt, t); /* never the stealable ring or run-next slot */
        return;
    }
    if (is_yield || !w->lifo_enabled) {
        push_local(w, t);
        return;
    }
    edo__task *prev = w->lifo;
    w->lifo = t;
    if (prev)
        push_local(w, prev);
}

static edo__worker *local_worker(edo_runtime *rt)
{
    edo__worker *w = edo__worker_current();
    return w && w->rt == rt ? w : NULL;
}

void edo__schedule(edo__task *t, bool is_yield)
{
    edo__worker *w = local_worker(t->rt);
    if (w && !edo__blocking_is_task(t))
        schedule_local(w, t, is_yield);
    else
        schedule_remote(t->rt, t, false);
}

/* Pops one pinned task of this worker's. */
static inline edo__task *pop_pinned(edo__worker *w)
{
    edo__task *t;
    if (edo__inject_is_empty(&w->pinned)) /* the common case, without a call */
        return NULL;
    return edo__inject_pop_batch(&w->pinned, &t, 1) == 1 ? t : NULL;
}

bool edo__spawn_schedule(edo__worker *w, edo__task *t)
{
    if (!w || edo__blocking_is_task(t))
        return schedule_remote(t->rt, t, true);
    /* A worker spawning while shutdown begins: its queues are drained after it stops. */
    schedule_local(w, t, false);
    return true;
}

/* Moves a fair share of the global queue into the local queue; returns one task to run. */
static edo__task *pop_global_batch(edo__worker *w)
{
    edo_runtime *rt = w->rt;
    size_t want = edo__global_len(&rt->global) / rt->nworkers + 1;
    size_t room = edo__local_free(&w->queue);
    if (want > room)
        want = room;
    if (want > EDO__LOCAL_CAP / 2)
        want = EDO__LOCAL_CAP / 2;
    edo__task *batch[EDO__LOCAL_CAP / 2];
    size_t n = edo__global_pop_batch(&rt->global, batch, want ? want : 1, false);
    if (n == 0)
        return NULL;
    for (size_t i = 1; i < n; i++)
        edo__local_push_back(&w->queue, batch[i], &rt->global);
    return batch[0];
}

/* Learns the mean poll time from the batch of polls since the last maintenance ended, and
 * sets the number of polls until the next one: about EDO__MAINTENANCE_TARGET_NS of polling,
 * but never so few that maintenance itself takes more than about 1/EDO__MAINTENANCE_SHARE of
 * the time (under ThreadSanitizer, with thousands of coroutines, one maintenance takes longer
 * than many polls). Both means lean towards a short interval, the fair side: the poll time
 * follows a longer poll at once (one long batch is enough to check the timers after every
 * poll) and a shorter one by an eighth; the maintenance time follows a shorter maintenance at
 * once and a longer one by an eighth (a worker preempted during one maintenance did not make
 * maintenance dear: taken at once, such a sample stretched the interval twentyfold for
 * hundreds of polls). */
/* A smoothed mean that follows a larger sample at once and a smaller one by an eighth. */
static inline uint64_t rise_at_once(uint64_t mean, uint64_t sample)
{
    return sample >= mean ? sample : mean - mean / 8 + sample / 8;
}

/* A smoothed mean that follows a smaller sample at once and a larger one by an eighth. */
static inline uint64_t fall_at_once(uint64_t mean, uint64_t sample)
{
    return sample <= mean ? sample : mean + (sample - mean) / 8;
}

static void tune_interval(edo__worker *w, uint64_t now, uint32_t polls)
{
    uint64_t start = w->batch_start;
    if (start == 0 || polls == 0 || now <= start)
        return; /* idled since (the batch would time the sleep too), or nothing ran */
    uint64_t sample = (now - start) / polls;
    w->poll_ns = rise_at_once(w->poll_ns, sample);
    uint64_t poll_ns = w->poll_ns ? w->poll_ns : 1;
    uint64_t interval = EDO__MAINTENANCE_TARGET_NS / poll_ns;
    uint64_t affordable = EDO__MAINTENANCE_SHARE * w->maintenance_ns / poll_ns;
    if (interval < affordable)
        interval = affordable;
    uint32_t max = w->rt->config.global_queue_interval;
    w->maintenance_interval = interval < 1 ? 1 : interval > max ? max : (uint32_t)interval;
}

static void refill_from_resumed(edo__worker *w, uint32_t n);

/* Yielded tasks run again when the worker has nothing else; a worker that never runs dry (its
 * queue refilled faster than it empties) would never get to them. So when they have waited
 * EDO__YIELD_WAIT_NS since the worker last got to them, they are resumed at a maintenance and
 * as many as fit join the ring (at least one). Only then: moving them in at every maintenance
 * (as Tokio does) let a busy worker's yielders be stolen back and forth, doubling the cost of
 * a yield. */
static void unstarve_yielders(edo__worker *w, uint64_t now)
{
    if (w->yielders_since == 0) {
        w->yielders_since = now;
        return;
    }
    if (now - w->yielders_since < EDO__YIELD_WAIT_NS)
        return;
    edo__fifo_append(&w->resumed, &w->deferred);
    uint32_t room = edo__local_free(&w->queue);
    refill_from_resumed(w, room ? room : 1);
    w->yielders_since = now;
}

/* Expired timers and I/O events (their tasks land in the queues), and the interval until the
 * next maintenance. Tuning reads the clock twice, so that the time maintenance takes is known
 * and not counted as polling. */
/* Polls since the last maintenance (unsigned: right across the tick's wrap). */
static inline uint32_t polls_since_maintenance(const edo__worker *w)
{
    return w->tick - w->maintenance_tick;
}

static void maintenance(edo__worker *w)
{
    bool tune = w->rt->tune_interval;
    bool yielders = !edo__fifo_is_empty(&w->deferred) || !edo__fifo_is_empty(&w->resumed);
    uint64_t start = tune || yielders ? edo__clock_ns() : 0;
    if (yielders)
        unstarve_yielders(w, start);
    else
        w->yielders_since = 0;
    if (tune)
        tune_interval(w, start, polls_since_maintenance(w));
    w->maintenance_tick = w->tick;
    edo__timers_fire(w->rt, w);
    edo__park_poll_io(w);
    edo__worker_flush_io(w); /* SQEs published this turn wait no longer than a maintenance */
    if (tune) {
        uint64_t end = edo__clock_ns();
        w->maintenance_ns = fall_at_once(w->maintenance_ns, end - start);
        w->batch_start = end;
    }
}

/* The worker has had no work since it last looked: the next batch starts when it finds some,
 * so the time it idled is not taken for time spent polling. */
static inline void worker_idled(edo__worker *w) { w->batch_start = 0; }

/* Moves up to `n` resumed tasks into the ring, where other workers can steal them. A pinned one
 * goes to this worker's pinned queue (it is its home). */
static void refill_from_resumed(edo__worker *w, uint32_t n)
{
    for (; n > 0 && w->resumed.head; n--) {
        edo__task *t = edo__fifo_pop(&w->resumed);
        edo__task_is_pinned(t) ? push_pinned(w->rt, t) : push_local(w, t);
    }
}

/* The next resumed task. While another worker is parked or searching, as many of the others as
 * fit move into the ring, where it can steal them (never more: a round of yields does not
 * spill into the global queue). While every worker is busy, nobody would steal them: they run
 * straight from the list, which spares each yield a push into the ring and a pop out of it
 * (the pop is an atomic read-modify-write), about a fifth of a yield's cost. */
static edo__task *take_resumed(edo__worker *w)
{
    edo__task *t = edo__fifo_pop(&w->resumed);
    w->yielders_since = 0; /* the worker got to them */
    if (!edo__idle_all_busy(&w->rt->idle))
        refill_from_resumed(w, edo__local_free(&w->queue));
    else if (w->resumed.head) {
        /* The one that runs after `t`: its task's lines, and a coroutine's stack lines. */
        edo__fifo_prefetch_head(&w->resumed);
        edo__coro_prefetch_resume(&w->resumed.head->future);
    }
    return t;
}

static edo__task *next_task(edo__worker *w)
{
    edo_runtime *rt = w->rt;
    edo__task *t;
    if (polls_since_maintenance(w) >= w->maintenance_interval) {
        /* Maintenance first (what it wakes lands in the queues below), then one task from
         * the global queue, so none waits behind a busy local queue. */
        maintenance(w);
        if (edo__global_pop_batch(&rt->global, &t, 1, ++w->global_turn & 1) == 1)
            return t;
    }
    if (w->lifo) {
        t = w->lifo;
        w->lifo = NULL;
        return t;
    }
    /* Pinned and ring tasks take turns (odd ticks favour the pinned queue). */
    if ((w->tick & 1) && (t = pop_pinned(w)))
        return t;
    if ((t = edo__local_pop(&w->queue))) {
        edo__local_prefetch_next(&w->queue);
        return t;
    }
    if ((t = pop_pinned(w)))
        return t;
    if (!edo__fifo_is_empty(&w->resumed))
        return take_resumed(w);
    return pop_global_batch(w);
}

/* Nothing else to run: a maintenance, then the deferred tasks are resumed, behind whatever the
 * maintenance woke. Returns the task to run next, or NULL when none were deferred. */
static edo__task *resume_deferred(edo__worker *w)
{
    if (edo__fifo_is_empty(&w->deferred))
        return NULL;
    maintenance(w);
    edo__task *woken = next_task(w); /* what the maintenance woke runs first */
    edo__fifo_append(&w->resumed, &w->deferred);
    w->yielders_since = 0;
    return woken ? woken : next_task(w);
}

static inline uint64_t next_random(edo__worker *w)
{
    /* xorshift64: cheap and good enough to spread steal attempts */
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return w->rng;
}

static edo__task *steal_work(edo__worker *w)
{
    edo_runtime *rt = w->rt;
    if (!w->searching) {
        if (!edo__idle_transition_to_searching(&rt->idle))
            return NULL;
        w->searching = true;
    }
    unsigned n = rt->nworkers;
    unsigned start = (unsigned)(next_random(w) % n);
    for (unsigned i = 0; i < n; i++) {
        unsigned victim = (start + i) % n;
        if (victim == w->index)
            continue;
        edo__task *t = edo__local_steal_into(&rt->workers[victim].queue, &w->queue);
        if (t)
            return t;
    }
    return pop_global_batch(w);
}

/* Polls `t`, then keeps polling what lands in the run-next slot while budget lasts. Inlined
 * into the loops that call it, so that polls are called from a frame that never returns
 * between two tasks (see edo__task_run). */
static inline __attribute__((always_inline)) void run_task(edo__worker *w, edo__task *t)
{
    edo_runtime *rt = w->rt;
    if (w->searching) {
        w->searching = false;
        /* The last searcher found work: there may be more, so wake another to look. */
        if (edo__idle_transition_from_searching(&rt->idle))
            notify_parked(rt);
    }
    uint32_t budget = EDO__COOP_BUDGET;
    unsigned lifo_polls = 0;
    w->lifo_enabled = true;
    for (;;) {
        w->tick++;
        if (t->owner == EDO__NO_OWNER) /* first poll: this worker answers for it at shutdown */
            edo__owned_insert(w, t);
        edo__run_result again = edo__task_run(t, &budget);
        if (again == EDO__RUN_YIELDED) /* it keeps its claim and notification meanwhile */
            edo__fifo_push(&w->deferred, t);
        else if (again == EDO__RUN_REQUEUE) /* woken while running: back of the queue */
            edo__task_is_pinned(t) ? push_pinned(rt, t) : push_local(w, t);
        t = w->lifo;
        /* Maintenance is due (long polls): the run-next task stays in its slot and runs right
         * after it. */
        if (!t || polls_since_maintenance(w) >= w->maintenance_interval)
            break;
        w->lifo = NULL;
        if (budget == 0 || ++lifo_polls > EDO__MAX_LIFO_POLLS ||
            atomic_load_explicit(&rt->shutdown, memory_order_relaxed)) {
            /* Out of turns: the run-next task waits its turn in the queue. */
            w->lifo_enabled = false;
            push_local(w, t);
            break;
        }
    }
    w->lifo_enabled = true;
}

static bool has_pending_work(edo_runtime *rt)
{
    if (!edo__global_is_empty(&rt->global))
        return true;
    for (unsigned i = 0; i < rt->nworkers; i++)
        if (edo__local_len(&rt->workers[i].queue) > 0)
            return true;
    return false;
}

/* Before sleeping, watch the queues for a few microseconds: work that arrives right after a
 * worker ran dry (a remote producer's next task, a wake from I/O) is then picked up without a
 * futex sleep and wake-up, which cost far more than the wait. A searching worker stays counted
 * as searching meanwhile, so producers don't wake anyone else for that work. The CPU is yielded
 * along the way, so on a busy machine the spin gives way to the producer.
 * A worker with a ring of its own (io_uring, `lane`) watches its ring too: its sockets' events
 * arrive there, seen in shared memory without a system call, and are taken at once. Without
 * that, each of two workers slept in its ring whenever its queue ran dry and was woken by the
 * kernel for its next socket event: a context switch each way, 13 to 25 per hundred echo
 * requests (docs/io-backends.md, "Two workers"). A lone worker does not watch its ring so:
 * it seldom slept there (under one switch per hundred requests), and the watch cost it more
 * CPU than the sleeps it saved. */
static bool spin_for_work(edo__worker *w, bool lane)
{
    for (unsigned i = 1; i <= EDO__SPIN_ROUNDS; i++) {
        if (has_pending_work(w->rt) || !edo__inject_is_empty(&w->pinned))
            return true;
        if (lane && edo__io_lane_news(&w->rt->io)) {
            edo__park_poll_io(w);
            return true;
        }
        if (i % 16 == 0)
            sched_yield();
        else
            edo__cpu_relax();
    }
    return false;
}

void edo__worker_park(edo__worker *w, edo__signal *sig)
{
    edo_runtime *rt = w->rt;
    if (edo__worker_flush_io(w))
        return; /* never sleep with SQEs the kernel has not seen; what they woke runs first */
    if (edo__timers_fire(rt, w) > 0)
        return; /* timers woke tasks: run them first */
    bool recheck = edo__idle_transition_to_parked(&rt->idle, w->index, w->searching);
    w->searching = false;
    if (!edo__inject_is_empty(&w->pinned)) {
        /* A pinned task arrived while we announced it: only we can run it. */
        w->searching = !edo__idle_unpark_self(&rt->idle, w->index);
        return;
    }
    if (recheck && has_pending_work(rt))
        notify_parked(rt);
    edo__park_sleep(w, sig);
}

unsigned edo__worker_run_some(edo__worker *w, unsigned max)
{
    unsigned ran = 0;
    while (ran < max && !atomic_load_explicit(&w->rt->shutdown, memory_order_relaxed)) {
        edo__task *t = next_task(w);
        if (!t && edo__worker_flush_io(w)) /* the turn's SQEs go in together */
            t = next_task(w);
        if (!t && !(t = resume_deferred(w))) {
            worker_idled(w);
            break;
        }
        run_task(w, t);
        ran++;
    }
    return ran;
}

void *edo__worker_main(void *arg)
{
    edo__worker *w = arg;
    edo_runtime *rt = w->rt;
    edo__thread_enter(rt, "w", w->index);
    edo__worker_set_current(w);
    /* A ring of its own where the backend has them (io_uring); without one (its error), the
     * worker uses the shared one, as other threads do. */
    (void)edo__io_attach(&rt->io);
    while (!atomic_load_explicit(&rt->shutdown, memory_order_acquire)) {
        edo__task *t = next_task(w);
        if (!t && edo__worker_flush_io(w)) /* the turn's SQEs go in together */
            t = next_task(w);
        if (!t)
            t = resume_deferred(w);
        if (!t)
            t = steal_work(w);
        if (t) {
            run_task(w, t);
            continue;
        }
        worker_idled(w);
        if (edo__timers_fire(rt, w) > 0)
            continue;
        /* Without watching a ring of its own the spin watches the queues only: with sockets
         * to serve, the work that comes next arrives through epoll (or the lone worker's
         * ring), which the spin cannot see, so go straight to it. */
        bool watch_ring = rt->nworkers > 1 && edo__io_has_lane(&rt->io);
        if ((!watch_ring && edo__io_active(&rt->io)) || !spin_for_work(w, watch_ring))
            edo__worker_park(w, NULL);
    }
    edo__worker_flush_io(w); /* what the last tasks published, before the ring goes */
    edo__io_detach(&rt->io);
    edo__worker_set_current(NULL);
    edo__thread_leave(rt);
    return NULL;
}
