/* Join sets: a bag of task handles whose results come out in the order the tasks finish.
 *
 * Each task in the set has an entry, and the entry is the task's join waker: the handle's
 * poll-join registers a waker whose data is the entry, so the task's completion moves the entry
 * from the set's `running` list to its `finished` list and wakes whoever waits in next. Nothing
 * in the task core knows about sets. An entry is alive while the set lists it or the task holds
 * its waker (a count of both); the set is alive while its owner has not freed it or an entry is
 * alive, so a task completing after the free still finds its set, and drops its output there.
 */
#include <errno.h>
#include <stdlib.h>

#include "edo/coro.h"
#include "edo/task.h"
#include "core/join_set.h"
#include "coro/coro.h"
#include "platform/list.h"
#include "platform/spinlock.h"

typedef struct entry entry;

struct edo_join_set {
    edo__spinlock lock;
    edo__list running;  /* tasks not known to have finished (newest first) */
    edo__list finished; /* woken: their results are ready to take (newest first) */
    size_t len;      /* entries on either list */
    edo_waker waiter; /* the task waiting in next, if any */
    void (*drop_output)(void *);
    _Atomic size_t refs; /* the owner (until freed) + every live entry */
    /* The owner freed it (written under the lock). A task of the set keeps it alive and may
     * still call on it: those calls are refused. Read without the lock only as a hint. */
    _Atomic bool freed;
    bool scoped; /* an edo_scope's set: only the scope frees it */
};

enum { RUNNING_LIST, FINISHED_LIST, UNLISTED };

struct entry {
    edo__list_node link; /* in running or finished (see where) */
    edo_join_set *set;
    edo_task *task;
    _Atomic unsigned refs; /* on a list (1) + the waker clones the task holds */
    int where;             /* RUNNING_LIST, FINISHED_LIST or UNLISTED (under the set's lock) */
    bool has_result;       /* the result was taken from the handle already (it was done when
                              added) and waits in `result` */
    edo_join_result result;
};

/* ---- lists (under set->lock) ---------------------------------------------------------------- */

static edo__list *list_of(edo_join_set *set, int where)
{
    return where == RUNNING_LIST ? &set->running : &set->finished;
}

static entry *entry_of(edo__list_node *n) { return n ? edo__list_entry(n, entry, link) : NULL; }

static void list_push(edo_join_set *set, entry *e, int where)
{
    edo__list_push_front(list_of(set, where), &e->link);
    e->where = where;
}

static void list_unlink(edo_join_set *set, entry *e)
{
    edo__list_remove(list_of(set, e->where), &e->link);
    e->where = UNLISTED;
}

static bool is_freed(const edo_join_set *set)
{
    return atomic_load_explicit(&((edo_join_set *)set)->freed, memory_order_relaxed);
}

/* ---- lifetimes ------------------------------------------------------------------------------ */

static void set_unref(edo_join_set *set)
{
    if (atomic_fetch_sub_explicit(&set->refs, 1, memory_order_acq_rel) == 1) {
        edo_waker_drop(&set->waiter);
        free(set);
    }
}

static void entry_unref(entry *e)
{
    if (atomic_fetch_sub_explicit(&e->refs, 1, memory_order_acq_rel) == 1) {
        edo_join_set *set = e->set;
        free(e);
        set_unref(set);
    }
}

/* Takes the finished task's result and releases the handle. The task has completed, so the
 * poll-join is ready at once (its waker is never used). */
static void take_result(entry *e, edo_join_result *r)
{
    if (e->has_result) {
        *r = e->result;
        edo_task_free(e->task);
        e->task = NULL;
        return;
    }
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    r->id = edo_task_id(e->task);
    r->output = NULL;
    if (edo_task_poll_join(e->task, &cx, &r->result, &r->output) == EDO_PENDING) {
        /* Not reachable: a join waker is only woken by completion. Treat as cancelled rather
         * than wait on a handle we are about to free. */
        edo_task_abort(e->task);
        r->result = -ECANCELED;
    }
    edo_task_free(e->task);
    e->task = NULL;
}

/* A completed task's output, or what a cancelled coroutine returned anyway. */
static void drop_result(edo_join_set *set, const edo_join_result *r)
{
    if ((r->result == 0 || r->output) && set->drop_output)
        set->drop_output(r->output);
}

/* A finished entry off the lists whose result nobody will take: drop it, and the entry. */
static void discard(edo_join_set *set, entry *e)
{
    edo_join_result r;
    take_result(e, &r);
    drop_result(set, &r);
    entry_unref(e); /* the list's reference */
}

/* ---- the entry as a waker ------------------------------------------------------------------- */

static edo_waker entry_clone(const void *data);
static void entry_wake_by_ref(const void *data);
static void entry_wake(const void *data)
{
    entry_wake_by_ref(data);
    entry_unref((entry *)data);
}
static void entry_drop(const void *data) { entry_unref((entry *)data); }

static const edo_waker_vtable entry_waker_vtable = {entry_clone, entry_wake, entry_wake_by_ref,
                                                    entry_drop};

static edo_waker entry_clone(const void *data)
{
    atomic_fetch_add_explicit(&((entry *)data)->refs, 1, memory_order_relaxed);
    return (edo_waker){&entry_waker_vtable, data};
}

/* The task finished: move its entry to the finished list and wake the waiter. Once the set has
 * been freed, nobody will take the result: drop it here. */
static void entry_wake_by_ref(const void *data)
{
    entry *e = (entry *)data;
    edo_join_set *set = e->set;
    edo__spin_lock(&set->lock);
    if (e->where != RUNNING_LIST) {
        edo__spin_unlock(&set->lock);
        return;
    }
    list_unlink(set, e);
    if (is_freed(set)) {
        set->len--;
        edo__spin_unlock(&set->lock);
        discard(set, e);
        return;
    }
    list_push(set, e, FINISHED_LIST);
    edo_waker w = set->waiter;
    set->waiter = EDO_WAKER_EMPTY;
    edo__spin_unlock(&set->lock);
    edo_waker_wake(&w);
}

/* ---- the set -------------------------------------------------------------------------------- */

int edo_join_set_new(void (*drop_output)(void *), edo_join_set **out)
{
    if (!out)
        return -EINVAL;
    edo_join_set *set = calloc(1, sizeof *set);
    if (!set)
        return -ENOMEM;
    edo__spin_init(&set->lock);
    set->drop_output = drop_output;
    atomic_init(&set->refs, 1);
    atomic_init(&set->freed, false);
    *out = set;
    return 0;
}

static entry *entry_new(edo_join_set *set)
{
    entry *e = calloc(1, sizeof *e);
    if (e) {
        e->set = set;
        e->where = UNLISTED;
        atomic_init(&e->refs, 1);
    }
    return e;
}

/* Lists `e` for `task` and registers it as the task's join waker. -EINVAL: a spent handle.
 * The caller saw the set not freed; a free since then (by another thread, while a task of the
 * set spawns into it) counts as coming after: the task is aborted, as the free would have. */
static int adopt(edo_join_set *set, entry *e, edo_task *task)
{
    e->task = task;
    atomic_fetch_add_explicit(&set->refs, 1, memory_order_relaxed);
    edo__spin_lock(&set->lock);
    list_push(set, e, RUNNING_LIST);
    set->len++;
    if (__builtin_expect(is_freed(set), 0))
        edo_task_abort(task);
    edo__spin_unlock(&set->lock);

    /* Register the entry as the join waker; a task that has already finished is ready now. */
    edo_waker w = {&entry_waker_vtable, e};
    edo_context cx;
    edo_context_init(&cx, &w, NULL);
    edo_join_result r = {0};
    if (edo_task_poll_join(task, &cx, &r.result, &r.output) == EDO_PENDING)
        return 0;
    if (r.result == -EALREADY || r.result == -EINVAL) {
        /* A spent handle: it can never give a result. */
        edo__spin_lock(&set->lock);
        list_unlink(set, e);
        set->len--;
        edo__spin_unlock(&set->lock);
        edo_task_free(task);
        e->task = NULL;
        entry_unref(e);
        return -EINVAL;
    }
    /* Finished already: the poll-join took its result, which now waits in the entry. */
    e->result = (edo_join_result){edo_task_id(task), r.result, r.output};
    e->has_result = true;
    entry_wake_by_ref(e);
    return 0;
}

int edo_join_set_add(edo_join_set *set, edo_task *task)
{
    if (!set || !task || is_freed(set))
        return -EINVAL;
    entry *e = entry_new(set);
    if (!e)
        return -ENOMEM;
    return adopt(set, e, task);
}

/* Spawning into a set makes the entry first, so that once the task is spawned nothing can fail:
 * new_entry, spawn, then attach with the spawn's result. */
static int attach(edo_join_set *set, entry *e, int spawn_rc, edo_task **task, uint64_t *id)
{
    if (spawn_rc < 0) {
        free(e);
        return spawn_rc;
    }
    if (id)
        *id = edo_task_id(*task);
    return adopt(set, e, *task);
}

int edo_join_set_spawn(edo_join_set *set, void *(*fn)(void *), void *arg, uint64_t *id)
{
    if (!set || is_freed(set))
        return -EINVAL;
    entry *e = entry_new(set);
    if (!e)
        return -ENOMEM;
    edo_task *t = NULL;
    return attach(set, e, edo_spawn(fn, arg, &t), &t, id);
}

int edo_join_set_spawn_future(edo_join_set *set, edo_future *future, size_t size, uint64_t *id)
{
    if (!set || is_freed(set))
        return -EINVAL;
    entry *e = entry_new(set);
    if (!e)
        return -ENOMEM;
    edo_task *t = NULL;
    return attach(set, e, edo_spawn_future(future, size, &t), &t, id);
}

/* Pops a finished entry, or says why there is none (-EAGAIN, -ECHILD, -EINVAL: the set was
 * freed); when there is none and `waker` is given, it is registered to be woken by the next task
 * to finish. */
static int pop_finished(edo_join_set *set, edo_join_result *r, const edo_waker *waker)
{
    edo__spin_lock(&set->lock);
    if (is_freed(set)) { /* nothing will be finished, nor wake a waiter */
        edo__spin_unlock(&set->lock);
        return -EINVAL;
    }
    entry *e = entry_of(set->finished.head);
    if (!e) {
        int rc = set->len ? -EAGAIN : -ECHILD;
        if (rc == -EAGAIN && waker && !edo_waker_will_wake(&set->waiter, waker)) {
            edo_waker_drop(&set->waiter);
            set->waiter = edo_waker_clone(waker);
        }
        edo__spin_unlock(&set->lock);
        return rc;
    }
    list_unlink(set, e);
    set->len--;
    edo__spin_unlock(&set->lock);
    take_result(e, r);
    entry_unref(e);
    return 0;
}

int edo_join_set_try_next(edo_join_set *set, edo_join_result *r)
{
    if (!set || !r)
        return -EINVAL;
    return pop_finished(set, r, NULL);
}

static edo_poll next_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_join_set_next_future *f = (edo_join_set_next_future *)self;
    if (!f->set) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    f->result = pop_finished(f->set, &f->r, cx->waker);
    return f->result == -EAGAIN ? EDO_PENDING : EDO_READY;
}

static const edo_future_vtable next_vtable = {next_poll, NULL};

void edo_join_set_next_future_init(edo_join_set_next_future *f, edo_join_set *set)
{
    if (f)
        *f = (edo_join_set_next_future){{&next_vtable}, -EINVAL, {0, 0, NULL}, set};
}

int edo_join_set_next(edo_join_set *set, edo_join_result *r)
{
    if (!set || !r || is_freed(set))
        return -EINVAL;
    edo_join_set_next_future f;
    edo_join_set_next_future_init(&f, set);
    /* a wait's error: nothing taken (a pop happens only in a poll that returns READY) */
    int rc = edo__coro_run(&f.base, NULL, &f.result);
    if (rc == 0)
        *r = f.r;
    return rc;
}

int edo_join_set_abort_all(edo_join_set *set)
{
    if (!set || is_freed(set)) /* freed: its tasks were aborted then */
        return -EINVAL;
    edo__spin_lock(&set->lock);
    /* Aborting never runs the task's code here (it is dropped on a worker), so the lock may
     * be held across it. */
    edo__list_for_each(n, &set->running)
        edo_task_abort(entry_of(n)->task);
    edo__spin_unlock(&set->lock);
    return 0;
}

size_t edo_join_set_len(const edo_join_set *set)
{
    if (!set)
        return 0;
    edo_join_set *s = (edo_join_set *)set;
    edo__spin_lock(&s->lock);
    size_t n = is_freed(s) ? 0 : s->len;
    edo__spin_unlock(&s->lock);
    return n;
}

/* Takes every result as tasks finish, dropping each, until the set is empty. `shielded`: the
 * wait ignores the caller's abort and deadline. Returns 0, or the wait's error. */
static int drop_all(edo_join_set *set, bool shielded)
{
    if (shielded)
        edo__coro_shield(true); /* one shield for the whole wait: an abort cannot cut in */
    int rc;
    for (;;) {
        edo_join_set_next_future f;
        edo_join_set_next_future_init(&f, set);
        /* Not edo__coro_run: the shielded form waits through aborts (no drop: none needed). */
        rc = shielded ? edo__await_shielded(&f.base, NULL) : edo_await(&f.base, NULL);
        if (rc < 0)
            break;
        if (f.result < 0) { /* -ECHILD: empty; -EINVAL: freed meanwhile (nothing to take) */
            rc = f.result == -ECHILD ? 0 : f.result;
            break;
        }
        drop_result(set, &f.r);
    }
    if (shielded)
        edo__coro_shield(false); /* an abort that came meanwhile takes effect here */
    return rc;
}

int edo__join_set_wait(edo_join_set *set) { return drop_all(set, false); }

int edo__join_set_drain(edo_join_set *set)
{
    edo_join_set_abort_all(set);
    return drop_all(set, true);
}

int edo_join_set_shutdown(edo_join_set *set)
{
    if (!set || is_freed(set))
        return -EINVAL;
    if (!edo__coro_running())
        return -EPERM;
    return edo__join_set_drain(set);
}

static void set_free(edo_join_set *set)
{
    edo__spin_lock(&set->lock);
    if (is_freed(set)) { /* a second free (by a task of the set, which keeps it alive) */
        edo__spin_unlock(&set->lock);
        return;
    }
    atomic_store_explicit(&set->freed, true, memory_order_relaxed);
    edo__list done = set->finished;
    set->finished = (edo__list){NULL, NULL};
    edo__list_for_each(n, &set->running)
        edo_task_abort(entry_of(n)->task);
    edo__spin_unlock(&set->lock);
    /* Finished results nobody took; running tasks drop theirs when they end (entry_wake). */
    edo__list_for_each(n, &done)
        discard(set, entry_of(n));
    set_unref(set);
}

void edo_join_set_free(edo_join_set *set)
{
    if (set && !set->scoped) /* a scope's set is the scope's to free */
        set_free(set);
}

int edo__join_set_new_scoped(void (*drop_output)(void *), edo_join_set **out)
{
    int rc = edo_join_set_new(drop_output, out);
    if (rc == 0)
        (*out)->scoped = true;
    return rc;
}

void edo__join_set_free_scoped(edo_join_set *set) { set_free(set); }
