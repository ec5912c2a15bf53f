/* Task lifecycle: the state-word transitions, the task's waker, running a poll, completing,
 * and the handle side (join, abort, free). The rules are in task.h.
 *
 * Every transition of the state word here is modelled in task_state.pml (spin;
 * docs/models.md), one atomic step per atomic operation, each under the name of the function
 * it mirrors: keep the two in step. */
#include "core/task.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/runtime.h"
#include "edo/error.h"
#include "platform/tls.h"

static _Thread_local EDO__TLS_HOT edo__task *current_task;
_Thread_local EDO__TLS_HOT bool edo__task_self_woken; /* task.h */
/* What the drop of a cancelled task left as its output (edo__task_set_cancelled_output). */
static _Thread_local void *cancelled_output;

__attribute__((noinline)) edo__task *edo__task_current(void) { return current_task; }

uint64_t edo_task_current_id(void)
{
    edo__task *t = edo__task_current();
    return t ? t->id : 0;
}

static inline uint64_t load_state(const edo__task *t)
{
    return atomic_load_explicit(&((edo__task *)t)->state, memory_order_acquire);
}

static inline bool cas_state(edo__task *t, uint64_t *expected, uint64_t desired)
{
    return atomic_compare_exchange_weak_explicit(&t->state, expected, desired,
                                                 memory_order_acq_rel, memory_order_acquire);
}

/* Frees the task; `state` is its last state word. */
static void task_dealloc(edo__task *t, uint64_t state)
{
    edo_runtime *rt = t->rt;
    edo_waker_drop(&t->join_waker);
    edo__block_free(t, t->size_class);
    if (__builtin_expect((state & EDO__RT_REF) != 0, 0))
        edo_runtime_unref(rt);
}

void edo__task_free_unspawned(edo__task *t)
{
    task_dealloc(t, atomic_load_explicit(&t->state, memory_order_relaxed));
}

void edo__task_hold_runtime(edo__task *t)
{
    uint64_t s = atomic_fetch_or_explicit(&t->state, EDO__RT_REF, memory_order_relaxed);
    if (!(s & EDO__RT_REF))
        edo_runtime_ref(t->rt);
}

static inline void ref_inc(edo__task *t)
{
    atomic_fetch_add_explicit(&t->state, EDO__REF_ONE, memory_order_relaxed);
}

static inline void ref_dec_n(edo__task *t, uint64_t n)
{
    uint64_t prev = atomic_fetch_sub_explicit(&t->state, n * EDO__REF_ONE, memory_order_acq_rel);
    if (EDO__REF_COUNT(prev) == n)
        task_dealloc(t, prev);
}

void edo__task_ref_dec(edo__task *t) { ref_dec_n(t, 1); }

/* ---- the task's waker: data is the task, each waker holds a reference ---------------------- */

static edo_waker waker_clone(const void *data);
static void waker_wake(const void *data);
static void waker_wake_by_ref(const void *data);
static void waker_drop(const void *data) { edo__task_ref_dec((edo__task *)data); }

static const edo_waker_vtable task_waker_vtable = {waker_clone, waker_wake, waker_wake_by_ref,
                                                   waker_drop};

static edo_waker waker_clone(const void *data)
{
    ref_inc((edo__task *)data);
    return (edo_waker){&task_waker_vtable, data};
}

/* Consumes the waker's reference: it becomes the notification's, or is dropped. Modelled in
 * task_state.pml (wake): keep in step. */
static void waker_wake(const void *data)
{
    edo__task *t = (edo__task *)data;
    if (t == current_task) {
        edo__task_self_woken = true;
        edo__task_ref_dec(t); /* never the last: the poll holds one */
        return;
    }
    uint64_t s = load_state(t), next;
    bool schedule;
    do {
        if (s & EDO__RUNNING) {
            /* The poller re-queues it when the poll returns; it holds its own reference. */
            next = (s | EDO__NOTIFIED) - EDO__REF_ONE;
            schedule = false;
        } else if (s & (EDO__COMPLETE | EDO__NOTIFIED)) {
            next = s - EDO__REF_ONE;
            schedule = false;
        } else {
            next = s | EDO__NOTIFIED;
            schedule = true;
        }
    } while (!cas_state(t, &s, next));
    if (schedule)
        edo__schedule(t, false);
    else if (EDO__REF_COUNT(next) == 0)
        task_dealloc(t, next);
}

/* Modelled in task_state.pml (wake_by_ref): keep in step. */
static void waker_wake_by_ref(const void *data)
{
    edo__task *t = (edo__task *)data;
    if (t == current_task) {
        edo__task_self_woken = true;
        return;
    }
    uint64_t s = load_state(t), next;
    bool schedule;
    do {
        if (s & (EDO__COMPLETE | EDO__NOTIFIED))
            return;
        if (s & EDO__RUNNING) {
            next = s | EDO__NOTIFIED;
            schedule = false;
        } else {
            next = (s | EDO__NOTIFIED) + EDO__REF_ONE;
            schedule = true;
        }
    } while (!cas_state(t, &s, next));
    if (schedule)
        edo__schedule(t, false);
}

/* ---- creating and running ---------------------------------------------------------------- */

edo__task *edo__task_new(struct edo_runtime *rt, const edo_future *future, size_t size,
                         uint64_t id, bool with_handle, bool pinned)
{
    uint32_t size_class;
    edo__task *t = edo__block_alloc(offsetof(edo__task, future) + size, &size_class);
    if (!t)
        return NULL;
    t->size_class = (uint16_t)size_class;
    uint64_t refs = with_handle ? 3 : 2; /* scheduler + notification (+ handle) */
    atomic_init(&t->state, refs * EDO__REF_ONE | EDO__NOTIFIED |
                               (with_handle ? EDO__JOIN_INTEREST : 0u) |
                               (pinned ? EDO__PINNED : 0u));
    t->rt = rt;
    atomic_init(&t->next, NULL);
    t->owner = EDO__NO_OWNER;
    t->owned_slot = 0;
    t->id = id;
    t->join_waker = EDO_WAKER_EMPTY;
    t->locals = NULL;
    memcpy(&t->future, future, size);
    return t;
}

/* The output of a completed task that no handle will take goes to the task's drop_output, for
 * the tasks that have one (blocking calls spawned with one). Called once, by whichever of the
 * completer and the handle's release comes second. */
static void drop_unclaimed_output(edo__task *t)
{
    if (!edo__blocking_is_task(t))
        return;
    void (*drop_output)(void *) = edo__blocking_output_drop(t);
    if (drop_output)
        drop_output(t->output);
}

/* A drop that returned with the task shielded did not drop the future: a coroutine being
 * cancelled entered a shielded wait (its join set waits for its tasks). The task goes back to
 * being polled, like an idle or re-notified one, holding the scheduler's reference; the abort
 * takes effect again once it unshields. The caller is the task's poller, holding the run's
 * reference; `self_woken`: the drop woke the task itself. */
static void drop_deferred(edo__task *t, bool self_woken)
{
    /* A task cancelled before any worker polled it is on no owned table; it lives on now, so
     * shutdown must find it. */
    if (t->owner == EDO__NO_OWNER && !edo__task_is_pinned(t))
        edo__owned_insert(&t->rt->workers[0], t);
    uint64_t s = load_state(t), next;
    bool reschedule;
    do {
        if ((s & EDO__NOTIFIED) || self_woken) {
            next = (s & ~(uint64_t)EDO__RUNNING) | EDO__NOTIFIED; /* the run's reference */
            reschedule = true;
        } else {
            next = (s & ~(uint64_t)EDO__RUNNING) - EDO__REF_ONE; /* never the last reference */
            reschedule = false;
        }
    } while (!cas_state(t, &s, next));
    if (reschedule)
        edo__schedule(t, false);
}

/* Publishes completion, hands the output to the handle (or wakes it), leaves the owned table and
 * drops the run's and the scheduler's references. The caller is the task's poller. Modelled in
 * task_state.pml (complete): keep in step. */
static void complete(edo__task *t, void *output, bool cancelled)
{
    /* Dropping runs user code (a cancelled coroutine unwinds): it runs as this task. */
    edo__task *outer = current_task;
    bool outer_self_woken = edo__task_self_woken;
    current_task = t;
    edo__task_self_woken = false;
    void *outer_cancelled_output = cancelled_output;
    cancelled_output = NULL;
    edo_future_drop(&t->future);
    if (cancelled)
        output = cancelled_output; /* a cancelled coroutine may still return a value */
    cancelled_output = outer_cancelled_output;
    bool deferred = (load_state(t) & EDO__SHIELDED) != 0;
    bool self_woken = edo__task_self_woken;
    if (!deferred)
        edo__task_locals_destroy(t); /* after the drop: unwinding code may still use them */
    current_task = outer;
    edo__task_self_woken = outer_self_woken;
    if (__builtin_expect(deferred, 0)) {
        drop_deferred(t, self_woken);
        return;
    }
    t->output = output;
    uint64_t s = load_state(t), next;
    do {
        next = (s & ~(uint64_t)EDO__RUNNING) | EDO__COMPLETE;
        next = cancelled ? next | EDO__CANCELLED : next & ~(uint64_t)EDO__CANCELLED;
    } while (!cas_state(t, &s, next));

    if (__builtin_expect(!(s & EDO__JOIN_INTEREST), 0) && !cancelled)
        drop_unclaimed_output(t); /* no handle (any more): nobody will take it */
    if ((s & EDO__JOIN_INTEREST) && (s & EDO__JOIN_WAKER)) {
        edo_waker_wake_by_ref(&t->join_waker);
        /* Give the waker field back to the handle, or drop the waker if the handle is gone. */
        uint64_t after = atomic_fetch_and_explicit(&t->state, ~(uint64_t)EDO__JOIN_WAKER,
                                                   memory_order_acq_rel);
        if (!(after & EDO__JOIN_INTEREST))
            edo_waker_drop(&t->join_waker);
    }
    edo__owned_remove(t);
    ref_dec_n(t, 2);
}

/* Claims the task for a poll. Returns its state after the claim. Modelled in task_state.pml
 * (worker, with poll_begin and poll_end): keep in step. */
static uint64_t transition_to_running(edo__task *t)
{
    uint64_t s = load_state(t), next;
    if (s & EDO__RUNNING) {
        /* Back from a yield: still claimed. A wake since then is answered by this poll. */
        if (s & EDO__NOTIFIED)
            s = atomic_fetch_and_explicit(&t->state, ~(uint64_t)EDO__NOTIFIED,
                                          memory_order_acq_rel) &
                ~(uint64_t)EDO__NOTIFIED;
        return s;
    }
    do {
        if (s & EDO__COMPLETE)
            return s;
        next = (s & ~(uint64_t)EDO__NOTIFIED) | EDO__RUNNING;
    } while (!cas_state(t, &s, next));
    return next;
}

/* A claim that found nothing to poll (state `s`): the task finished elsewhere meanwhile (just
 * drop the notification), or it was cancelled (complete it now). Out of line, so that the
 * usual claim saves no registers for these calls. */
__attribute__((noinline)) static bool nothing_to_poll(edo__task *t, uint64_t s)
{
    if (s & EDO__COMPLETE)
        edo__task_ref_dec(t);
    else
        complete(t, NULL, true);
    return false;
}

bool edo__task_poll_begin(edo__task *t, uint32_t *budget, edo__task_poll *p)
{
    uint64_t s = transition_to_running(t);
    if (__builtin_expect((s & EDO__COMPLETE) ||
                             (s & (EDO__CANCELLED | EDO__SHIELDED)) == EDO__CANCELLED,
                         0))
        return nothing_to_poll(t, s);
    p->waker = (edo_waker){&task_waker_vtable, t};
    p->cx = (edo_context){&p->waker, budget};
    p->out = NULL;
    p->outer = current_task;
    p->outer_self_woken = edo__task_self_woken;
    current_task = t;
    edo__task_self_woken = false;
    return true;
}

edo__run_result edo__task_poll_end(edo__task *t, edo_poll result, edo__task_poll *p)
{
    bool self_woken = edo__task_self_woken;
    current_task = p->outer;
    edo__task_self_woken = p->outer_self_woken;
    if (result == EDO_READY) {
        complete(t, p->out, false);
        return EDO__RUN_DONE;
    }

    uint64_t s = load_state(t), next;
    if (self_woken && (s & (EDO__CANCELLED | EDO__SHIELDED)) != EDO__CANCELLED) {
        /* A yield: the task keeps its RUNNING claim (and this run's reference) while it waits
         * in the queue, so neither leaving nor re-entering RUNNING writes the state word. Wakes
         * meanwhile only set NOTIFIED; an abort sets CANCELLED, seen when it runs again. */
        return EDO__RUN_YIELDED;
    }
    bool reschedule;
    do {
        if ((s & (EDO__CANCELLED | EDO__SHIELDED)) == EDO__CANCELLED) {
            complete(t, NULL, true);
            return EDO__RUN_DONE;
        }
        if (s & EDO__NOTIFIED) {
            /* our reference becomes the notification's */
            next = (s & ~(uint64_t)EDO__RUNNING) | EDO__NOTIFIED;
            reschedule = true;
        } else {
            /* the scheduler's reference keeps it alive */
            next = (s & ~(uint64_t)EDO__RUNNING) - EDO__REF_ONE;
            reschedule = false;
        }
    } while (!cas_state(t, &s, next));
    return reschedule ? EDO__RUN_REQUEUE : EDO__RUN_DONE;
}

void edo__task_shield_current(bool on)
{
    edo__task *t = current_task;
    if (on)
        atomic_fetch_or_explicit(&t->state, EDO__SHIELDED, memory_order_relaxed);
    else
        atomic_fetch_and_explicit(&t->state, ~(uint64_t)EDO__SHIELDED, memory_order_relaxed);
}

void edo__task_set_cancelled_output(void *output) { cancelled_output = output; }

edo_waker edo__task_current_waker(void)
{
    edo__task *t = current_task;
    return t ? (edo_waker){&task_waker_vtable, t} : edo_waker_noop();
}

bool edo__task_current_abort_requested(void)
{
    edo__task *t = current_task;
    return t && (load_state(t) & EDO__CANCELLED);
}

/* Modelled in task_state.pml (abort): keep in step. */
void edo__task_abort(edo__task *t)
{
    uint64_t s = load_state(t), next;
    bool schedule;
    do {
        if (s & (EDO__COMPLETE | EDO__CANCELLED))
            return;
        schedule = false;
        if (s & EDO__RUNNING)
            next = s | EDO__CANCELLED | EDO__NOTIFIED; /* the poller cancels after its poll */
        else if (s & EDO__NOTIFIED)
            next = s | EDO__CANCELLED; /* queued: the runner cancels instead of polling */
        else {
            next = (s | EDO__CANCELLED | EDO__NOTIFIED) + EDO__REF_ONE;
            schedule = true;
        }
    } while (!cas_state(t, &s, next));
    if (schedule)
        edo__schedule(t, false);
}

void edo__task_drop_notification(edo__task *t) { edo__task_ref_dec(t); }

/* ---- the handle ---------------------------------------------------------------------------- */

static inline edo__task *task_of(const edo_task *h) { return (edo__task *)h; }

static edo_poll take_result(edo__task *t, uint64_t s, int *rc, void **out)
{
    atomic_fetch_or_explicit(&t->state, EDO__JOINED, memory_order_relaxed);
    *rc = (s & EDO__CANCELLED) ? -ECANCELED : 0;
    if (out)
        *out = t->output; /* cancelled: NULL, or what a cancelled coroutine returned */
    return EDO_READY;
}

/* Stores a clone of `w` in the (handle-owned) waker field and hands the field to the task.
 * Returns false when the task completed first; the field is then the handle's again. Modelled,
 * with edo_task_poll_join, in task_state.pml (poll_join): keep in step. */
static bool set_join_waker(edo__task *t, const edo_waker *w)
{
    edo_waker_drop(&t->join_waker);
    t->join_waker = edo_waker_clone(w);
    uint64_t s = load_state(t);
    do {
        if (s & EDO__COMPLETE) {
            edo_waker_drop(&t->join_waker);
            return false;
        }
    } while (!cas_state(t, &s, s | EDO__JOIN_WAKER));
    return true;
}

edo_poll edo_task_poll_join(edo_task *task, edo_context *cx, int *rc, void **out)
{
    int dummy;
    if (!rc)
        rc = &dummy;
    if (!task || !cx) {
        *rc = -EINVAL;
        return EDO_READY;
    }
    edo__task *t = task_of(task);
    uint64_t s = load_state(t);
    if (s & EDO__JOINED) {
        *rc = -EALREADY;
        return EDO_READY;
    }
    if (s & EDO__COMPLETE)
        return take_result(t, s, rc, out);
    if (__builtin_expect(cx->waker && cx->waker->vtable == &task_waker_vtable &&
                             cx->waker->data == t, 0)) {
        *rc = -EDEADLK; /* the task waits for itself: it would never be woken */
        return EDO_READY;
    }

    if (s & EDO__JOIN_WAKER) {
        if (edo_waker_will_wake(&t->join_waker, cx->waker))
            return EDO_PENDING;
        /* Take the field back to replace the waker. */
        do {
            if (s & EDO__COMPLETE)
                return take_result(t, s, rc, out);
        } while (!cas_state(t, &s, s & ~(uint64_t)EDO__JOIN_WAKER));
    }
    if (!set_join_waker(t, cx->waker))
        return take_result(t, load_state(t), rc, out);
    return EDO_PENDING;
}

int edo_task_abort(edo_task *task)
{
    if (!task)
        return -EINVAL;
    edo__task_abort(task_of(task));
    return 0;
}

bool edo_task_is_finished(const edo_task *task)
{
    if (!task)
        return false;
    return (load_state(task_of(task)) & EDO__COMPLETE) != 0;
}

uint64_t edo_task_id(const edo_task *task) { return task ? task_of(task)->id : 0; }

/* Modelled in task_state.pml (task_free): keep in step. */
void edo_task_free(edo_task *task)
{
    if (!task)
        return;
    edo__task *t = task_of(task);
    uint64_t s = load_state(t), next;
    do {
        next = s & ~(uint64_t)EDO__JOIN_INTEREST;
        if (!(s & EDO__COMPLETE))
            next &= ~(uint64_t)EDO__JOIN_WAKER;
    } while (!cas_state(t, &s, next));
    /* The waker field is ours to drop unless the completer still holds it (it drops it then). */
    if (!(s & EDO__COMPLETE) || !(s & EDO__JOIN_WAKER))
        edo_waker_drop(&t->join_waker);
    /* Completed with an output nobody took: the handle was its last taker. (Not complete yet:
     * the completer sees JOIN_INTEREST gone and drops it.) */
    if ((s & (EDO__COMPLETE | EDO__CANCELLED | EDO__JOINED)) == EDO__COMPLETE)
        drop_unclaimed_output(t);
    edo__task_ref_dec(t);
}
