/* Waiting on streams that wake their callers themselves (the duplex pair, the blocking-pool
 * kind) rather than through the reactor: the caller's waker lives in its edo_stream_waiter, and
 * the stream keeps a pointer to the waiter in a slot (one per direction), both under the
 * stream's lock. A wake takes the waiter out of its slots and moves its waker out under the
 * lock, and wakes it after unlocking: from then on the stream no longer touches the waiter. */
#ifndef EDO_STREAM_WAIT_H
#define EDO_STREAM_WAIT_H

#include <errno.h>

#include "edo/stream.h"

typedef struct edo__stream_wait {
    edo_waker waker;
} edo__stream_wait;

_Static_assert(sizeof(edo__stream_wait) <= sizeof(edo_stream_waiter),
               "edo_stream_waiter too small");

static inline edo__stream_wait *edo__stream_wait_of(edo_stream_waiter *w)
{
    return (edo__stream_wait *)(void *)w;
}

/* Under the lock: puts `w` in `slot` to be woken through cx's waker. The waker `w` held before,
 * when it named another task, goes to *old (drop it after unlocking). -EBUSY when another
 * waiter has the slot (two reads, or two writes, at once), else 0. */
static inline int edo__stream_wait_enqueue(edo_stream_waiter **slot, edo_stream_waiter *w,
                                           edo_context *cx, edo_waker *old)
{
    if (*slot && *slot != w)
        return -EBUSY;
    *slot = w;
    edo__stream_wait *sw = edo__stream_wait_of(w);
    const edo_waker *want = edo_context_waker(cx);
    if (!edo_waker_will_wake(&sw->waker, want)) {
        *old = sw->waker;
        sw->waker = edo_waker_clone(want);
    }
    return 0;
}

/* Under the lock, with `w` already out of every slot (or NULL): its waker, to wake after
 * unlocking. */
static inline edo_waker edo__stream_wait_take(edo_stream_waiter *w)
{
    if (!w)
        return EDO_WAKER_EMPTY;
    edo__stream_wait *sw = edo__stream_wait_of(w);
    edo_waker waker = sw->waker;
    sw->waker = EDO_WAKER_EMPTY;
    return waker;
}

/* After unlocking, with `w` out of every slot: releases the waker it kept. */
static inline void edo__stream_wait_drop(edo_stream_waiter *w)
{
    edo_waker_drop(&edo__stream_wait_of(w)->waker);
}

#endif
