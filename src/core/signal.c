/* Wake targets for threads that wait outside the scheduler: a refcounted parker, and the
 * "signal" whose waker a blocked edo_block_on() hands to the future it polls. Both are
 * refcounted because a waker may outlive the call that created it (and even the runtime). */
#include <stdlib.h>

#include "core/runtime.h"

typedef struct shared_parker {
    edo__parker parker; /* first: edo__parker * and shared_parker * convert */
    _Atomic uint32_t refs;
} shared_parker;

edo__parker *edo__parker_new(void)
{
    shared_parker *sp = malloc(sizeof *sp);
    if (!sp)
        return NULL;
    edo__parker_init(&sp->parker);
    atomic_init(&sp->refs, 1);
    return &sp->parker;
}

void edo__parker_ref(edo__parker *p)
{
    atomic_fetch_add_explicit(&((shared_parker *)p)->refs, 1, memory_order_relaxed);
}

void edo__parker_unref(edo__parker *p)
{
    shared_parker *sp = (shared_parker *)p;
    if (atomic_fetch_sub_explicit(&sp->refs, 1, memory_order_acq_rel) == 1) {
        edo__parker_destroy(&sp->parker);
        free(sp);
    }
}

edo__signal *edo__signal_new(edo__parker *parker)
{
    edo__signal *s = malloc(sizeof *s);
    if (!s)
        return NULL;
    atomic_init(&s->refs, 1);
    atomic_init(&s->woken, true); /* poll once before waiting */
    edo__parker_ref(parker);
    s->parker = parker;
    s->next_waiter = NULL;
    return s;
}

edo__signal *edo__signal_new_own(void)
{
    edo__parker *parker = edo__parker_new();
    if (!parker)
        return NULL;
    edo__signal *sig = edo__signal_new(parker);
    edo__parker_unref(parker); /* the signal holds it now */
    return sig;
}

void edo__signal_unref(edo__signal *s)
{
    if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1) {
        edo__parker_unref(s->parker);
        free(s);
    }
}

static edo_waker signal_clone(const void *data);
static void signal_wake_by_ref(const void *data)
{
    edo__signal *s = (edo__signal *)data;
    atomic_store_explicit(&s->woken, true, memory_order_release);
    edo__parker_unpark(s->parker);
}
static void signal_drop(const void *data) { edo__signal_unref((edo__signal *)data); }
static void signal_wake(const void *data)
{
    signal_wake_by_ref(data);
    signal_drop(data);
}

static const edo_waker_vtable signal_vtable = {signal_clone, signal_wake, signal_wake_by_ref,
                                               signal_drop};

static edo_waker signal_clone(const void *data)
{
    atomic_fetch_add_explicit(&((edo__signal *)data)->refs, 1, memory_order_relaxed);
    return (edo_waker){&signal_vtable, data};
}

edo_waker edo__signal_waker(edo__signal *s) { return (edo_waker){&signal_vtable, s}; }
