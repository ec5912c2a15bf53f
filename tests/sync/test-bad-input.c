/* Bad input (issue 13): every function of edo/sync.h, edo/time.h, edo/coro.h, edo/future.h and
 * edo/error.h called with each kind of nonsense it can be handed (NULL handles and out-pointers,
 * 0 where it means nothing, counts above the documented maxima, durations and instants at the
 * end of time, unlocks of locks not held), checking the documented result. Run under ASan and
 * UBSan, a crash, a leak or undefined behaviour fails the test too. One test per area. */
#include <limits.h>
#include <string.h>

#include "harness.h"
#include "util.h"

static edo_context noop_cx(edo_waker *w)
{
    *w = edo_waker_noop();
    return (edo_context){w, NULL};
}

static bool permit_empty(const edo_permit *p) { return p->sem == NULL && p->n == 0; }

/* Polls future `f` once with a no-op waker: it must be ready. Drops it and returns its result. */
static int ready_result(edo_future *f, const int *result)
{
    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    CHECK_EQ(edo_future_poll(f, &cx, NULL), EDO_READY);
    int rc = *result;
    edo_future_drop(f);
    return rc;
}

/* ---- sync: semaphore, owned permits, mutex, rwlock ------------------------------------------ */

static void semaphore_calls(void)
{
    const size_t max = EDO_SEMAPHORE_MAX_PERMITS;
    edo_semaphore *s;
    CHECK_EQ(edo_semaphore_new(1, NULL), -EINVAL);
    CHECK_EQ(edo_semaphore_new(max + 1, &s), -EINVAL);
    CHECK_EQ(edo_semaphore_new(SIZE_MAX, &s), -EINVAL);
    CHECK_EQ(edo_semaphore_new(2, &s), 0);
    CHECK_EQ(edo_semaphore_acquire(NULL, 1), -EINVAL);
    CHECK_EQ(edo_semaphore_acquire(s, 0), -EINVAL);
    CHECK_EQ(edo_semaphore_acquire(s, max + 1), -EINVAL);
    CHECK_EQ(edo_semaphore_acquire(s, SIZE_MAX), -EINVAL);
    CHECK_EQ(edo_semaphore_try_acquire(NULL, 1), -EINVAL);
    CHECK_EQ(edo_semaphore_try_acquire(s, 0), -EINVAL);
    CHECK_EQ(edo_semaphore_try_acquire(s, max + 1), -EINVAL);
    CHECK_EQ(edo_semaphore_release(NULL, 1), -EINVAL);
    CHECK_EQ(edo_semaphore_release(s, max + 1), -EINVAL);
    CHECK_EQ(edo_semaphore_release(s, SIZE_MAX), -EINVAL);
    CHECK_EQ(edo_semaphore_release(s, max - 1), -EINVAL); /* 2 + max - 1 > max */
    CHECK_EQ(edo_semaphore_release(s, 0), 0);             /* nothing */
    CHECK_EQ(edo_semaphore_available(s), 2);              /* nothing changed */
    CHECK_EQ(edo_semaphore_release(s, max - 2), 0);       /* exactly the maximum */
    CHECK_EQ(edo_semaphore_available(s), max);
    CHECK_EQ(edo_semaphore_release(s, 1), -EINVAL);
    CHECK_EQ(edo_semaphore_try_acquire(s, max), 0);
    CHECK_EQ(edo_semaphore_available(s), 0);
    CHECK_EQ(edo_semaphore_available(NULL), 0);
    edo_semaphore_close(NULL);
    CHECK_EQ(edo_semaphore_acquire_blocking(NULL, 1, 0), -EINVAL);
    CHECK_EQ(edo_semaphore_acquire_blocking(s, 0, 0), -EINVAL); /* not -EDEADLK in a coroutine */
    CHECK_EQ(edo_semaphore_acquire_blocking(s, max + 1, EDO_WAIT_FOREVER), -EINVAL);

    /* The future form: NULL f does nothing; bad arguments give -EINVAL at the first poll. */
    edo_semaphore_acquire_future_init(NULL, s, 1);
    edo_semaphore_acquire_future f;
    const size_t bad_n[] = {0, max + 1, SIZE_MAX};
    for (size_t i = 0; i < 3; i++) {
        edo_semaphore_acquire_future_init(&f, s, bad_n[i]);
        CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    }
    edo_semaphore_acquire_future_init(&f, NULL, 1);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    edo_semaphore_close(s);
    CHECK_EQ(edo_semaphore_available(s), 0);
    edo_semaphore_free(s);
    edo_semaphore_free(NULL);
}

TEST(sync_semaphore_bad_input)
{
    semaphore_calls();
    in_coroutine(semaphore_calls);
}

static void permit_calls(void)
{
    const size_t max = EDO_SEMAPHORE_MAX_PERMITS;
    edo_semaphore *s, *other;
    CHECK_EQ(edo_semaphore_new(4, &s), 0);
    CHECK_EQ(edo_semaphore_new(4, &other), 0);
    edo_permit p = {(edo_semaphore *)&p, 7}; /* garbage: must be emptied on failure */
    CHECK_EQ(edo_semaphore_acquire_owned(NULL, 1, &p), -EINVAL);
    CHECK_EQ(edo_semaphore_acquire_owned(s, 1, NULL), -EINVAL);
    CHECK_EQ(edo_semaphore_try_acquire_owned(NULL, 1, &p), -EINVAL);
    CHECK_EQ(edo_semaphore_try_acquire_owned(s, 1, NULL), -EINVAL);
    const size_t bad_n[] = {0, max + 1, SIZE_MAX};
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ(edo_semaphore_acquire_owned(s, bad_n[i], &p), -EINVAL);
        CHECK_EQ(edo_semaphore_try_acquire_owned(s, bad_n[i], &p), -EINVAL);
    }
    CHECK_EQ(edo_semaphore_available(s), 4);
    edo_permit_release(NULL);
    edo_permit_forget(NULL);
    edo_permit empty = EDO_PERMIT_EMPTY;
    edo_permit_release(&empty);
    edo_permit_forget(&empty);

    CHECK_EQ(edo_semaphore_try_acquire_owned(s, 3, &p), 0);
    edo_permit q = EDO_PERMIT_EMPTY;
    CHECK_EQ(edo_permit_split(NULL, 1, &q), -EINVAL);
    CHECK_EQ(edo_permit_split(&p, 1, NULL), -EINVAL);
    CHECK_EQ(edo_permit_split(&p, 1, &p), -EINVAL);
    CHECK_EQ(edo_permit_split(&p, 0, &q), -EINVAL);
    CHECK_EQ(edo_permit_split(&p, 4, &q), -EINVAL);
    CHECK_EQ(edo_permit_split(&p, SIZE_MAX, &q), -EINVAL);
    CHECK_EQ(edo_permit_split(&empty, 1, &q), -EINVAL);
    CHECK(permit_empty(&q));
    CHECK_EQ(p.n, 3);
    edo_permit r;
    CHECK_EQ(edo_semaphore_try_acquire_owned(other, 1, &r), 0);
    CHECK_EQ(edo_permit_merge(NULL, &r), -EINVAL);
    CHECK_EQ(edo_permit_merge(&p, NULL), -EINVAL);
    CHECK_EQ(edo_permit_merge(&p, &p), -EINVAL);
    CHECK_EQ(edo_permit_merge(&p, &r), -EINVAL); /* different semaphores */
    CHECK_EQ(p.n, 3);
    CHECK_EQ(r.n, 1);
    edo_permit_release(&r);
    edo_permit_release(&r); /* emptied: a no-op */

    /* The future form. */
    edo_semaphore_acquire_owned_future_init(NULL, s, 1);
    edo_semaphore_acquire_owned_future f;
    edo_semaphore_acquire_owned_future_init(&f, NULL, 1);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    CHECK(permit_empty(&f.permit));
    for (size_t i = 0; i < 3; i++) {
        edo_semaphore_acquire_owned_future_init(&f, s, bad_n[i]);
        CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
        CHECK(permit_empty(&f.permit));
    }
    edo_semaphore_free(s); /* p keeps it alive */
    edo_permit_release(&p);
    CHECK(permit_empty(&p));
    edo_semaphore_free(other);
}

TEST(sync_permit_bad_input)
{
    permit_calls();
    in_coroutine(permit_calls);
}

static void mutex_calls(void)
{
    edo_mutex *m;
    CHECK_EQ(edo_mutex_new(NULL), -EINVAL);
    CHECK_EQ(edo_mutex_new(&m), 0);
    CHECK_EQ(edo_mutex_lock(NULL), -EINVAL);
    CHECK_EQ(edo_mutex_try_lock(NULL), -EINVAL);
    CHECK_EQ(edo_mutex_unlock(NULL), -EINVAL);
    /* Unlocking a mutex that is not locked is refused: it would then admit two holders. */
    CHECK_EQ(edo_mutex_unlock(m), -EINVAL);
    CHECK_EQ(edo_mutex_try_lock(m), 0);
    CHECK_EQ(edo_mutex_try_lock(m), -EAGAIN);
    CHECK_EQ(edo_mutex_unlock(m), 0);
    CHECK_EQ(edo_mutex_unlock(m), -EINVAL); /* twice */
    CHECK_EQ(edo_mutex_try_lock(m), 0);
    CHECK_EQ(edo_mutex_try_lock(m), -EAGAIN);
    CHECK_EQ(edo_mutex_unlock(m), 0);

    edo_mutex_lock_future_init(NULL, m);
    edo_semaphore_acquire_future f;
    edo_mutex_lock_future_init(&f, NULL);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    edo_mutex_free(m);
    edo_mutex_free(NULL);
}

TEST(sync_mutex_bad_input)
{
    mutex_calls();
    in_coroutine(mutex_calls);
}

static void rwlock_calls(void)
{
    edo_rwlock *rw;
    CHECK_EQ(edo_rwlock_new(0, NULL), -EINVAL);
    CHECK_EQ(edo_rwlock_new(EDO_SEMAPHORE_MAX_PERMITS + 1, &rw), -EINVAL);
    CHECK_EQ(edo_rwlock_new(SIZE_MAX, &rw), -EINVAL);
    CHECK_EQ(edo_rwlock_new(3, &rw), 0);
    CHECK_EQ(edo_rwlock_read_lock(NULL), -EINVAL);
    CHECK_EQ(edo_rwlock_write_lock(NULL), -EINVAL);
    CHECK_EQ(edo_rwlock_try_read_lock(NULL), -EINVAL);
    CHECK_EQ(edo_rwlock_try_write_lock(NULL), -EINVAL);
    CHECK_EQ(edo_rwlock_read_unlock(NULL), -EINVAL);
    CHECK_EQ(edo_rwlock_write_unlock(NULL), -EINVAL);
    CHECK_EQ(edo_rwlock_write_downgrade(NULL), -EINVAL);
    /* Unlocks of a lock not held are refused, and change nothing. */
    CHECK_EQ(edo_rwlock_read_unlock(rw), -EINVAL);
    CHECK_EQ(edo_rwlock_write_unlock(rw), -EINVAL);
    CHECK_EQ(edo_rwlock_write_downgrade(rw), -EINVAL);
    CHECK_EQ(edo_rwlock_try_read_lock(rw), 0);
    CHECK_EQ(edo_rwlock_write_unlock(rw), -EINVAL);    /* a reader is not the writer */
    CHECK_EQ(edo_rwlock_write_downgrade(rw), -EINVAL); /* nor can it downgrade */
    CHECK_EQ(edo_rwlock_try_write_lock(rw), -EAGAIN);  /* still: one reader inside */
    CHECK_EQ(edo_rwlock_read_unlock(rw), 0);
    CHECK_EQ(edo_rwlock_read_unlock(rw), -EINVAL);
    CHECK_EQ(edo_rwlock_try_write_lock(rw), 0);
    CHECK_EQ(edo_rwlock_try_read_lock(rw), -EAGAIN); /* no reader beside the writer */
    CHECK_EQ(edo_rwlock_write_downgrade(rw), 0);
    CHECK_EQ(edo_rwlock_write_downgrade(rw), -EINVAL); /* a read lock now */
    CHECK_EQ(edo_rwlock_try_write_lock(rw), -EAGAIN);
    CHECK_EQ(edo_rwlock_read_unlock(rw), 0);
    CHECK_EQ(edo_rwlock_try_write_lock(rw), 0);
    CHECK_EQ(edo_rwlock_write_unlock(rw), 0);
    CHECK_EQ(edo_rwlock_write_unlock(rw), -EINVAL); /* twice */
    CHECK_EQ(edo_rwlock_try_write_lock(rw), 0);
    CHECK_EQ(edo_rwlock_write_unlock(rw), 0);

    edo_rwlock_read_lock_future_init(NULL, rw);
    edo_rwlock_write_lock_future_init(NULL, rw);
    edo_semaphore_acquire_future f;
    edo_rwlock_read_lock_future_init(&f, NULL);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    edo_rwlock_write_lock_future_init(&f, NULL);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    edo_rwlock_free(rw);
    edo_rwlock_free(NULL);
}

TEST(sync_rwlock_bad_input)
{
    rwlock_calls();
    in_coroutine(rwlock_calls);
}

/* ---- sync: barrier, once-cell, notify, oneshot, cancellation tokens ------------------------- */

static void barrier_calls(void)
{
    edo_barrier *b;
    CHECK_EQ(edo_barrier_new(1, NULL), -EINVAL);
    CHECK_EQ(edo_barrier_new(0, &b), -EINVAL);
    CHECK_EQ(edo_barrier_new(1, &b), 0);
    CHECK_EQ(edo_barrier_wait(NULL), -EINVAL);
    edo_barrier_wait_future_init(NULL, b);
    edo_barrier_wait_future f;
    edo_barrier_wait_future_init(&f, NULL);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    edo_barrier_wait_future_init(&f, b); /* n 1: leads at once */
    CHECK_EQ(ready_result(&f.base, &f.result), EDO_BARRIER_LEADER);
    edo_barrier_free(b);
    edo_barrier_free(NULL);
}

TEST(sync_barrier_bad_input)
{
    barrier_calls();
    in_coroutine(barrier_calls);
}

static int init_fails(void *arg, void **value)
{
    (void)value;
    atomic_fetch_add((_Atomic int *)arg, 1);
    return -EIO;
}

static void once_cell_calls(void)
{
    edo_once_cell *c;
    CHECK_EQ(edo_once_cell_new(NULL), -EINVAL);
    CHECK_EQ(edo_once_cell_new(&c), 0);
    void *v = &v;
    CHECK_EQ(edo_once_cell_get(NULL, &v), -EINVAL);
    CHECK_EQ(edo_once_cell_set(NULL, &v), -EINVAL);
    _Atomic int inits = 0;
    CHECK_EQ(edo_once_cell_get_or_init(NULL, init_fails, &inits, &v), -EINVAL);
    CHECK_EQ(edo_once_cell_get_or_init(c, NULL, &inits, &v), -EINVAL);
    if (!edo_in_coroutine()) /* not set and nowhere to wait */
        CHECK_EQ(edo_once_cell_get_or_init(c, init_fails, &inits, &v), -EPERM);
    CHECK_EQ(atomic_load(&inits), 0);
    CHECK_EQ(edo_once_cell_future_set(NULL, &v), -EINVAL);
    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    edo_once_cell_future_init(NULL, c);
    edo_once_cell_future f;
    edo_once_cell_future_init(&f, NULL);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, -EINVAL);
    CHECK_EQ(edo_once_cell_future_set(&f, &v), -EINVAL);
    edo_future_drop(&f.base);
    edo_once_cell_future_init(&f, c);
    CHECK_EQ(edo_once_cell_future_set(&f, &v), -EINVAL); /* not polled: holds no turn */
    edo_future_drop(&f.base);
    CHECK_EQ(edo_once_cell_get(c, NULL), -EAGAIN);
    CHECK_EQ(edo_once_cell_set(c, &v), 0);
    CHECK_EQ(edo_once_cell_get(c, NULL), 0); /* value NULL: allowed */
    edo_once_cell_free(c, NULL);
    edo_once_cell_free(NULL, NULL);
}

TEST(sync_once_cell_bad_input)
{
    once_cell_calls();
    in_coroutine(once_cell_calls);
}

static void notify_calls(void)
{
    edo_notify *n;
    CHECK_EQ(edo_notify_new(NULL), -EINVAL);
    CHECK_EQ(edo_notify_new(&n), 0);
    edo_notify_one(NULL);
    edo_notify_all(NULL);
    CHECK_EQ(edo_notify_wait(NULL), -EINVAL);
    edo_notify_wait_future_init(NULL, n);
    edo_notify_wait_future f;
    edo_notify_wait_future_init(&f, NULL);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    edo_notify_free(n);
    edo_notify_free(NULL);
}

TEST(sync_notify_bad_input)
{
    notify_calls();
    in_coroutine(notify_calls);
}

static void oneshot_calls(void)
{
    edo_oneshot *o;
    CHECK_EQ(edo_oneshot_new(NULL), -EINVAL);
    void *v = NULL;
    CHECK_EQ(edo_oneshot_send(NULL, &v), -EINVAL);
    edo_oneshot_sender_close(NULL);
    CHECK_EQ(edo_oneshot_recv(NULL, &v), -EINVAL);
    CHECK_EQ(edo_oneshot_try_recv(NULL, &v), -EINVAL);
    CHECK(edo_oneshot_receiver_close(NULL) == NULL);
    CHECK_EQ(edo_oneshot_recv_blocking(NULL, &v, 0), -EINVAL);
    edo_oneshot_recv_future_init(NULL, NULL);
    edo_oneshot_recv_future f;
    edo_oneshot_recv_future_init(&f, NULL);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);

    /* A second send: refused while the receiver is open; the first value is delivered. */
    CHECK_EQ(edo_oneshot_new(&o), 0);
    CHECK_EQ(edo_oneshot_send(o, (void *)1), 0);
    CHECK_EQ(edo_oneshot_send(o, (void *)2), -EINVAL);
    edo_oneshot_sender_close(o); /* ended already: a no-op */
    CHECK_EQ(edo_oneshot_try_recv(o, &v), 0);
    CHECK_EQ((intptr_t)v, 1);

    /* Receives after the receiver side ended (the sender's still open) are refused, also by
     * the future form; the sender then learns nobody listens. */
    CHECK_EQ(edo_oneshot_new(&o), 0);
    CHECK(edo_oneshot_receiver_close(o) == NULL);
    CHECK_EQ(edo_oneshot_try_recv(o, &v), -EINVAL);
    CHECK_EQ(edo_oneshot_recv(o, &v), edo_in_coroutine() ? -EINVAL : -EPERM);
    edo_oneshot_recv_future_init(&f, o);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    CHECK_EQ(edo_oneshot_send(o, (void *)3), -EPIPE); /* frees the channel */
}

TEST(sync_oneshot_bad_input)
{
    oneshot_calls();
    in_coroutine(oneshot_calls);
}

static void cancel_calls(void)
{
    edo_cancel_token *t;
    CHECK_EQ(edo_cancel_token_new(NULL, NULL), -EINVAL);
    CHECK_EQ(edo_cancel_token_new(NULL, &t), 0);
    edo_cancel_token *child;
    CHECK_EQ(edo_cancel_token_new(t, NULL), -EINVAL);
    CHECK_EQ(edo_cancel_token_new(t, &child), 0);
    edo_cancel_token_cancel(NULL);
    CHECK_EQ(edo_cancel_token_is_cancelled(NULL), false);
    CHECK_EQ(edo_cancel_token_wait(NULL), -EINVAL);
    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    edo_cancel_token_wait_future_init(NULL, t);
    edo_cancel_token_wait_future f;
    edo_cancel_token_wait_future_init(&f, NULL);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    edo_cancel_token_wait_future_init(&f, child);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
    edo_cancel_token_cancel(t);
    edo_cancel_token_cancel(t); /* again: a no-op */
    CHECK_EQ(ready_result(&f.base, &f.result), 0);
    CHECK_EQ(edo_cancel_token_is_cancelled(child), 1);
    edo_cancel_token_free(t); /* the child keeps it */
    edo_cancel_token_free(child);
    edo_cancel_token_free(NULL);
}

TEST(sync_cancel_bad_input)
{
    cancel_calls();
    in_coroutine(cancel_calls);
}

/* ---- sync: mpsc, watch and broadcast channels, blocking forms ------------------------------- */

static _Atomic int unreceived;
static void count_unreceived(void *msg)
{
    (void)msg;
    atomic_fetch_add(&unreceived, 1);
}

static void chan_calls(void)
{
    edo_chan *ch;
    CHECK_EQ(edo_chan_new(1, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_chan_new(EDO_CHAN_MAX_CAPACITY + 1, NULL, &ch), -EINVAL);
    CHECK_EQ(edo_chan_new(EDO_SEMAPHORE_MAX_PERMITS, NULL, &ch), -EINVAL); /* ring would overflow */
    CHECK_EQ(edo_chan_new(SIZE_MAX, NULL, &ch), -EINVAL);
    void *m = NULL, *many[4];
    CHECK_EQ(edo_chan_send(NULL, m), -EINVAL);
    CHECK_EQ(edo_chan_try_send(NULL, m), -EINVAL);
    CHECK_EQ(edo_chan_reserve(NULL), -EINVAL);
    CHECK_EQ(edo_chan_send_reserved(NULL, m), -EINVAL);
    CHECK_EQ(edo_chan_recv(NULL, &m), -EINVAL);
    CHECK_EQ(edo_chan_try_recv(NULL, &m), -EINVAL);
    CHECK_EQ(edo_chan_recv_many(NULL, many, 4), -EINVAL);
    CHECK_EQ(edo_chan_len(NULL), 0);
    edo_chan_unreserve(NULL);
    edo_chan_sender_add(NULL);
    edo_chan_sender_close(NULL);
    edo_chan_receiver_close(NULL);

    const size_t caps[] = {0, 2}; /* unbounded, bounded */
    for (size_t i = 0; i < 2; i++) {
        atomic_store(&unreceived, 0);
        CHECK_EQ(edo_chan_new(caps[i], count_unreceived, &ch), 0);
        CHECK_EQ(edo_chan_recv(ch, NULL), -EINVAL);
        CHECK_EQ(edo_chan_try_recv(ch, NULL), -EINVAL);
        CHECK_EQ(edo_chan_recv_many(ch, NULL, 4), -EINVAL);
        CHECK_EQ(edo_chan_recv_many(ch, many, 0), -EINVAL);
        /* A claim given back that was never made changes nothing: the capacity holds. */
        edo_chan_unreserve(ch);
        edo_chan_unreserve(ch);
        CHECK_EQ(edo_chan_try_send(ch, (void *)1), 0);
        CHECK_EQ(edo_chan_try_send(ch, (void *)2), 0);
        CHECK_EQ(edo_chan_try_send(ch, (void *)3), caps[i] ? -EAGAIN : 0);
        CHECK_EQ(edo_chan_len(ch), caps[i] ? 2 : 3);
        CHECK_EQ(edo_chan_try_recv(ch, &m), 0);
        CHECK_EQ((intptr_t)m, 1);
        edo_chan_receiver_close(ch);
        edo_chan_unreserve(ch);
        edo_chan_sender_close(ch);
        CHECK_EQ(atomic_load(&unreceived), caps[i] ? 1 : 2); /* none lost */
    }

    edo_chan_recv_future_init(NULL, NULL);
    edo_chan_send_future_init(NULL, NULL, NULL);
    edo_chan_recv_future r;
    edo_chan_recv_future_init(&r, NULL);
    CHECK_EQ(ready_result(&r.base, &r.result), -EINVAL);
    edo_chan_send_future s;
    edo_chan_send_future_init(&s, NULL, &s);
    CHECK_EQ(ready_result(&s.base, &s.result), -EINVAL);
}

TEST(sync_chan_bad_input)
{
    chan_calls();
    in_coroutine(chan_calls);
}

static bool bump(void *value, void *arg)
{
    (void)arg;
    ++*(int *)value;
    return true;
}

static void watch_calls(void)
{
    edo_watch *w;
    int v = 7;
    CHECK_EQ(edo_watch_new(&v, sizeof v, NULL), -EINVAL);
    CHECK_EQ(edo_watch_new(NULL, sizeof v, &w), -EINVAL);
    CHECK_EQ(edo_watch_new(&v, 0, &w), -EINVAL);
    CHECK_EQ(edo_watch_new(&v, EDO_WATCH_MAX_SIZE + 1, &w), -EINVAL);
    CHECK_EQ(edo_watch_new(&v, SIZE_MAX, &w), -EINVAL);
    CHECK_EQ(edo_watch_send(NULL, &v), -EINVAL);
    CHECK_EQ(edo_watch_send_modify(NULL, bump, NULL), -EINVAL);
    edo_watch_sender_close(NULL);
    CHECK_EQ(edo_watch_receiver_count(NULL), 0);
    edo_watch_receiver *rx, *copy;
    CHECK_EQ(edo_watch_subscribe(NULL, &rx), -EINVAL);
    CHECK_EQ(edo_watch_receiver_clone(NULL, &copy), -EINVAL);
    edo_watch_receiver_close(NULL);
    CHECK_EQ(edo_watch_changed(NULL, &v), -EINVAL);
    CHECK_EQ(edo_watch_has_changed(NULL), -EINVAL);
    CHECK_EQ(edo_watch_get(NULL, &v), -EINVAL);
    CHECK_EQ(edo_watch_changed_blocking(NULL, &v, 0), -EINVAL);

    CHECK_EQ(edo_watch_new(&v, sizeof v, &w), 0);
    CHECK_EQ(edo_watch_send(w, NULL), -EINVAL);
    CHECK_EQ(edo_watch_send_modify(w, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_watch_subscribe(w, NULL), -EINVAL);
    CHECK_EQ(edo_watch_subscribe(w, &rx), 0);
    CHECK_EQ(edo_watch_receiver_clone(rx, NULL), -EINVAL);
    CHECK_EQ(edo_watch_get(rx, NULL), -EINVAL);
    CHECK_EQ(edo_watch_send_modify(w, bump, NULL), 1);
    CHECK_EQ(edo_watch_has_changed(rx), 1); /* the failed calls took nothing */
    CHECK_EQ(edo_watch_get(rx, &v), 0);
    CHECK_EQ(v, 8);

    edo_watch_changed_future_init(NULL, rx, &v);
    edo_watch_changed_future f;
    edo_watch_changed_future_init(&f, NULL, &v);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    edo_watch_receiver_close(rx);
    edo_watch_sender_close(w);
}

TEST(sync_watch_bad_input)
{
    watch_calls();
    in_coroutine(watch_calls);
}

static void broadcast_calls(void)
{
    edo_broadcast *b;
    CHECK_EQ(edo_broadcast_new(4, 8, NULL), -EINVAL);
    CHECK_EQ(edo_broadcast_new(0, 8, &b), -EINVAL);
    CHECK_EQ(edo_broadcast_new(4, 0, &b), -EINVAL);
    CHECK_EQ(edo_broadcast_new(EDO_BROADCAST_MAX_BYTES + 1, 1, &b), -EINVAL);
    CHECK_EQ(edo_broadcast_new(1, EDO_BROADCAST_MAX_BYTES + 1, &b), -EINVAL);
    CHECK_EQ(edo_broadcast_new(SIZE_MAX, SIZE_MAX, &b), -EINVAL); /* the product overflows */
    CHECK_EQ(edo_broadcast_new((SIZE_MAX >> 1) + 2, 2, &b), -EINVAL);
    long msg = 1;
    uint64_t missed = 0;
    edo_broadcast_sender_add(NULL);
    edo_broadcast_sender_close(NULL);
    CHECK_EQ(edo_broadcast_send(NULL, &msg), -EINVAL);
    CHECK_EQ(edo_broadcast_receiver_count(NULL), 0);
    edo_broadcast_receiver *rx;
    CHECK_EQ(edo_broadcast_subscribe(NULL, &rx), -EINVAL);
    edo_broadcast_receiver_close(NULL);
    CHECK_EQ(edo_broadcast_recv(NULL, &msg, &missed), -EINVAL);
    CHECK_EQ(edo_broadcast_try_recv(NULL, &msg, &missed), -EINVAL);
    CHECK_EQ(edo_broadcast_len(NULL), 0);
    CHECK_EQ(edo_broadcast_recv_blocking(NULL, &msg, &missed, 0), -EINVAL);

    CHECK_EQ(edo_broadcast_new(2, sizeof msg, &b), 0);
    CHECK_EQ(edo_broadcast_send(b, NULL), -EINVAL);
    CHECK_EQ(edo_broadcast_subscribe(b, NULL), -EINVAL);
    CHECK_EQ(edo_broadcast_subscribe(b, &rx), 0);
    CHECK_EQ(edo_broadcast_send(b, NULL), -EINVAL);
    CHECK_EQ(edo_broadcast_len(rx), 0); /* nothing was stored */
    CHECK_EQ(edo_broadcast_send(b, &msg), 0);
    CHECK_EQ(edo_broadcast_recv(rx, NULL, &missed), -EINVAL);
    CHECK_EQ(edo_broadcast_try_recv(rx, NULL, &missed), -EINVAL);
    CHECK_EQ(edo_broadcast_recv_blocking(rx, NULL, &missed, 0), -EINVAL);
    CHECK_EQ(edo_broadcast_len(rx), 1); /* nothing was taken */
    long got = 0;
    CHECK_EQ(edo_broadcast_try_recv(rx, &got, NULL), 0); /* missed may be NULL */
    CHECK_EQ(got, 1);

    edo_broadcast_recv_future_init(NULL, rx, &got);
    edo_broadcast_recv_future f;
    edo_broadcast_recv_future_init(&f, NULL, &got);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    edo_broadcast_recv_future_init(&f, rx, NULL);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    edo_broadcast_receiver_close(rx);
    edo_broadcast_sender_close(b);
}

TEST(sync_broadcast_bad_input)
{
    broadcast_calls();
    in_coroutine(broadcast_calls);
}

/* Bad arguments to the blocking forms are refused first, also where blocking is not allowed. */
static void blocking_calls(void)
{
    void *m;
    CHECK_EQ(edo_chan_send_blocking(NULL, NULL, 0), -EINVAL);
    CHECK_EQ(edo_chan_recv_blocking(NULL, &m, EDO_WAIT_FOREVER), -EINVAL);
    edo_chan *ch;
    CHECK_EQ(edo_chan_new(1, NULL, &ch), 0);
    CHECK_EQ(edo_chan_recv_blocking(ch, NULL, 0), -EINVAL);
    if (!edo_in_coroutine()) { /* a timeout past the end of time is "no limit"; 0 only tries */
        CHECK_EQ(edo_chan_send_blocking(ch, (void *)1, UINT64_MAX - 1), 0);
        CHECK_EQ(edo_chan_send_blocking(ch, (void *)2, 0), -ETIMEDOUT);
        CHECK_EQ(edo_chan_recv_blocking(ch, &m, UINT64_MAX - 1), 0);
        CHECK_EQ((intptr_t)m, 1);
    } else {
        CHECK_EQ(edo_chan_send_blocking(ch, (void *)1, 0), -EDEADLK);
    }
    edo_chan_receiver_close(ch);
    edo_chan_sender_close(ch);
    CHECK_EQ(edo_oneshot_recv_blocking(NULL, &m, 0), -EINVAL);
    CHECK_EQ(edo_semaphore_acquire_blocking(NULL, 1, 0), -EINVAL);
    CHECK_EQ(edo_watch_changed_blocking(NULL, NULL, 0), -EINVAL);
    CHECK_EQ(edo_broadcast_recv_blocking(NULL, &m, NULL, 0), -EINVAL);
}

TEST(sync_blocking_bad_input)
{
    blocking_calls();
    in_coroutine(blocking_calls);
}

/* ---- time: durations, sleeps, timeouts, deadlines, intervals, the paused clock -------------- */

TEST(time_durations_saturate)
{
    CHECK(EDO_USEC(3) == 3000u);
    CHECK(EDO_MSEC(3) == 3000000u);
    CHECK(EDO_SEC(3) == 3000000000u);
    CHECK(EDO_SEC(UINT64_MAX / 1000000000u) == UINT64_MAX / 1000000000u * 1000000000u);
    CHECK(EDO_USEC(UINT64_MAX) == UINT64_MAX); /* never, not a wrapped-around small duration */
    CHECK(EDO_MSEC(UINT64_MAX / 1000000u + 1) == UINT64_MAX);
    CHECK(EDO_SEC(UINT64_MAX / 1000000000u + 1) == UINT64_MAX);
    CHECK(EDO_SEC(SIZE_MAX) == UINT64_MAX);
    CHECK(edo_after(UINT64_MAX) == EDO_INSTANT_NEVER);
    CHECK(edo_after(EDO_INSTANT_NEVER - 1) == EDO_INSTANT_NEVER);
    edo_instant before = edo_now();
    CHECK(edo_after(0) >= before);
    CHECK(edo_deadline() == EDO_INSTANT_NEVER); /* outside a coroutine */
}

static void sleep_calls(void)
{
    edo_sleep_future_init(NULL, 1);
    edo_sleep_future_init_at(NULL, 1);
    edo_sleep_future_reset_at(NULL, 1);
    if (!edo_in_coroutine()) {
        CHECK_EQ(edo_sleep(0), -EPERM);
        CHECK_EQ(edo_sleep_at(0), -EPERM);
        return;
    }
    CHECK_EQ(edo_sleep(0), 0);
    CHECK_EQ(edo_sleep_at(0), 0); /* long past */
    /* Durations and instants at the end of time never come: the deadline cuts them short. */
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(2)), &saved), 0);
    CHECK_EQ(edo_sleep(UINT64_MAX), -ETIMEDOUT);
    CHECK_EQ(edo_sleep(UINT64_MAX - 1), -ETIMEDOUT);
    CHECK_EQ(edo_sleep_at(EDO_INSTANT_NEVER), -ETIMEDOUT);
    CHECK_EQ(edo_sleep_at(EDO_INSTANT_NEVER - 1), -ETIMEDOUT); /* a timer armed far out */
    CHECK_EQ(edo_deadline_pop(saved), 0);
    edo_sleep_future s;
    edo_sleep_future_init(&s, UINT64_MAX);
    edo_sleep_future_reset_at(&s, 0); /* pending again, due at once */
    CHECK_EQ(edo_await(&s.base, NULL), 0);
    CHECK_EQ(s.result, 0);
    edo_future_drop(&s.base);
}

TEST(time_sleep_bad_input)
{
    sleep_calls();
    in_coroutine(sleep_calls);
}

static int sleep_5ms(void *arg)
{
    *(edo_instant *)arg = edo_deadline();
    return edo_sleep(EDO_MSEC(5));
}

static void timeout_calls(void)
{
    edo_yield_future y;
    edo_yield_future_init(&y);
    edo_timeout_future t, untouched;
    memset(&untouched, 0xab, sizeof untouched);
    t = untouched;
    const edo_future_vtable no_poll = {NULL, NULL};
    edo_future bare = {NULL}, pollless = {&no_poll};
    CHECK_EQ(edo_timeout_future_init(NULL, &y.base, 1), -EINVAL);
    CHECK_EQ(edo_timeout_future_init(&t, NULL, 1), -EINVAL);
    CHECK_EQ(edo_timeout_future_init(&t, &bare, 1), -EINVAL);
    CHECK_EQ(edo_timeout_future_init(&t, &pollless, 1), -EINVAL);
    CHECK_EQ(edo_timeout_future_init(&t, &t.base, 1), -EINVAL); /* it would poll itself */
    CHECK_EQ(edo_timeout_future_init_at(NULL, &y.base, 1), -EINVAL);
    CHECK_EQ(edo_timeout_future_init_at(&t, NULL, 1), -EINVAL);
    CHECK_EQ(edo_timeout_future_init_at(&t, &t.base, 1), -EINVAL);
    CHECK(memcmp(&t, &untouched, sizeof t) == 0);
    /* A timeout that never passes: the inner future decides (outside a runtime no timer can be
     * armed for it, documented as -EPERM). */
    CHECK_EQ(edo_timeout_future_init(&t, &y.base, UINT64_MAX), 0);
    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    if (edo_in_coroutine()) {
        CHECK_EQ(edo_future_poll(&t.base, &cx, NULL), EDO_PENDING);
        CHECK_EQ(ready_result(&t.base, &t.result), 0);
    } else {
        CHECK_EQ(ready_result(&t.base, &t.result), -EPERM);
    }

    edo_instant seen = 0;
    CHECK_EQ(edo_timeout(1, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_timeout_at(1, NULL, NULL), -EINVAL);
    if (!edo_in_coroutine()) {
        CHECK_EQ(edo_timeout(1, sleep_5ms, &seen), -EPERM);
        CHECK_EQ(seen, 0); /* fn did not run */
        return;
    }
    CHECK_EQ(edo_timeout(UINT64_MAX, sleep_5ms, &seen), 0); /* no deadline at all */
    CHECK(seen == EDO_INSTANT_NEVER);
    CHECK_EQ(edo_timeout(0, sleep_5ms, &seen), -ETIMEDOUT); /* passed at once */
    CHECK_EQ(edo_timeout_at(0, sleep_5ms, &seen), -ETIMEDOUT);
    CHECK_EQ(edo_timeout_at(EDO_INSTANT_NEVER, sleep_5ms, &seen), 0);
    CHECK(edo_deadline() == EDO_INSTANT_NEVER); /* every deadline was popped */
}

TEST(time_timeout_bad_input)
{
    timeout_calls();
    in_coroutine(timeout_calls);
}

static void deadline_calls(void)
{
    edo_instant saved = 0;
    CHECK_EQ(edo_deadline_push(0, NULL), -EINVAL); /* before -EPERM */
    if (!edo_in_coroutine()) {
        CHECK_EQ(edo_deadline_push(0, &saved), -EPERM);
        CHECK_EQ(edo_deadline_pop(0), -EPERM);
        CHECK(edo_deadline() == EDO_INSTANT_NEVER);
        return;
    }
    CHECK(edo_deadline() == EDO_INSTANT_NEVER);
    CHECK_EQ(edo_deadline_push(0, &saved), 0); /* long past */
    CHECK(saved == EDO_INSTANT_NEVER);
    CHECK_EQ(edo_yield(), -ETIMEDOUT);
    CHECK_EQ(edo_deadline_pop(saved), 0);
    CHECK_EQ(edo_yield(), 0);
}

TEST(time_deadline_bad_input)
{
    deadline_calls();
    in_coroutine(deadline_calls);
}

static void interval_calls(void)
{
    edo_interval iv;
    const edo_missed_tick policies[] = {EDO_MISSED_TICK_SKIP, EDO_MISSED_TICK_BURST,
                                        EDO_MISSED_TICK_DELAY};
    CHECK_EQ(edo_interval_init(NULL, 1, EDO_MISSED_TICK_SKIP), -EINVAL);
    CHECK_EQ(edo_interval_init(&iv, 0, EDO_MISSED_TICK_SKIP), -EINVAL);
    CHECK_EQ(edo_interval_init(&iv, 1, (edo_missed_tick)3), -EINVAL);
    CHECK_EQ(edo_interval_init(&iv, 1, (edo_missed_tick)-1), -EINVAL);
    CHECK_EQ(edo_interval_init_at(NULL, 0, 1, EDO_MISSED_TICK_SKIP), -EINVAL);
    CHECK_EQ(edo_interval_init_at(&iv, 0, 0, EDO_MISSED_TICK_SKIP), -EINVAL);
    CHECK_EQ(edo_interval_init_at(&iv, 0, 1, (edo_missed_tick)99), -EINVAL);
    edo_instant tick = 0;
    CHECK_EQ(edo_interval_tick(NULL, &tick), -EINVAL);
    CHECK_EQ(edo_interval_reset(NULL), -EINVAL);
    CHECK_EQ(edo_interval_reset_at(NULL, 0), -EINVAL);
    CHECK_EQ(edo_interval_reset_after(NULL, 0), -EINVAL);
    edo_interval_drop(NULL);
    edo_interval_tick_future_init(NULL, &iv);
    edo_interval_tick_future f;
    edo_interval_tick_future_init(&f, NULL);
    CHECK_EQ(ready_result(&f.base, &f.result), -EINVAL);
    if (!edo_in_coroutine())
        return;
    /* A period past the end of time: one tick, then never; resets to the end of time too. */
    for (size_t i = 0; i < 3; i++) {
        CHECK_EQ(edo_interval_init(&iv, UINT64_MAX, policies[i]), 0);
        CHECK_EQ(edo_interval_tick(&iv, &tick), 0);
        edo_instant saved;
        CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(2)), &saved), 0);
        CHECK_EQ(edo_interval_tick(&iv, &tick), -ETIMEDOUT);
        CHECK_EQ(edo_interval_reset(&iv), 0);
        CHECK_EQ(edo_interval_tick(&iv, &tick), -ETIMEDOUT);
        CHECK_EQ(edo_interval_reset_after(&iv, UINT64_MAX), 0);
        CHECK_EQ(edo_interval_tick(&iv, &tick), -ETIMEDOUT);
        CHECK_EQ(edo_interval_reset_at(&iv, EDO_INSTANT_NEVER - 1), 0);
        CHECK_EQ(edo_interval_tick(&iv, &tick), -ETIMEDOUT);
        CHECK_EQ(edo_deadline_pop(saved), 0);
        CHECK_EQ(edo_interval_reset_at(&iv, 0), 0); /* long past: at once */
        CHECK_EQ(edo_interval_tick(&iv, &tick), 0);
        CHECK(tick == 0);
        edo_interval_drop(&iv);
    }
    CHECK_EQ(edo_interval_init_at(&iv, EDO_INSTANT_NEVER, 1, EDO_MISSED_TICK_SKIP), 0);
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(2)), &saved), 0);
    CHECK_EQ(edo_interval_tick(&iv, &tick), -ETIMEDOUT); /* never starts */
    CHECK_EQ(edo_deadline_pop(saved), 0);
    edo_interval_drop(&iv);
}

TEST(time_interval_bad_input)
{
    interval_calls();
    in_coroutine(interval_calls);
}

static void *sleep_to_the_end(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)edo_sleep_at(EDO_INSTANT_NEVER - 1);
}

/* The paused clock moved as far as it goes: it stops at the last instant, firing every timer
 * but those that never fire, and cannot run from there. */
static void clock_to_the_end(void)
{
    edo_runtime *rt = edo_runtime_current();
    CHECK(rt != NULL);
    edo_task *t;
    CHECK_EQ(edo_spawn(sleep_to_the_end, NULL, &t), 0);
    CHECK_EQ(edo_yield(), 0); /* it arms its timer */
    CHECK_EQ(edo_time_advance(rt, UINT64_MAX), 0);
    CHECK(edo_now() == EDO_INSTANT_NEVER - 1);
    CHECK_EQ(edo_time_advance(rt, UINT64_MAX), 0);
    CHECK(edo_now() == EDO_INSTANT_NEVER - 1);
    CHECK(edo_after(1) == EDO_INSTANT_NEVER);
    void *out = (void *)1;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK(out == NULL); /* its sleep returned 0 */
    edo_task_free(t);
    CHECK_EQ(edo_time_resume(rt), -EOVERFLOW);
    CHECK_EQ(edo_time_advance(rt, 1), 0); /* still paused */
}

TEST(time_paused_clock_bad_input)
{
    CHECK_EQ(edo_time_pause(NULL), -EINVAL);
    CHECK_EQ(edo_time_resume(NULL), -EINVAL);
    CHECK_EQ(edo_time_advance(NULL, 1), -EINVAL);
    in_coroutine(clock_to_the_end);
}

/* ---- coro: spawning, awaiting, yielding ------------------------------------------------------ */

static void *return_arg(void *arg) { return arg; }

static void spawn_calls(void)
{
    edo_runtime *rt = edo_runtime_current();
    edo_task *t = (edo_task *)&t; /* untouched on failure */
    edo_task *const before = t;
    const size_t bad_sizes[] = {1, EDO_MIN_STACK_SIZE - 1, EDO_MAX_STACK_SIZE + 1, SIZE_MAX};
    CHECK_EQ(edo_spawn(NULL, NULL, &t), -EINVAL);
    CHECK_EQ(edo_spawn_with(rt, NULL, NULL, NULL, &t), -EINVAL);
    CHECK_EQ(edo_spawn_local(NULL, NULL, NULL, &t), -EINVAL);
    for (size_t i = 0; i < 4; i++) {
        edo_spawn_options o = {.stack_size = bad_sizes[i]};
        CHECK_EQ(edo_spawn_with(rt, &o, return_arg, NULL, &t), -EINVAL);
        CHECK_EQ(edo_spawn_with(NULL, &o, return_arg, NULL, &t), -EINVAL); /* before -EPERM */
        CHECK_EQ(edo_spawn_local(&o, return_arg, NULL, &t), -EINVAL);
    }
    CHECK(t == before);
    if (!rt) {
        CHECK_EQ(edo_spawn(return_arg, NULL, &t), -EPERM);
        CHECK_EQ(edo_spawn_with(NULL, NULL, return_arg, NULL, &t), -EPERM);
        CHECK_EQ(edo_spawn_local(NULL, return_arg, NULL, &t), -EPERM);
        CHECK(t == before);
        return;
    }
    /* The bounds themselves are fine, and so is a handle not wanted (detached). */
    edo_spawn_options lo = {.stack_size = EDO_MIN_STACK_SIZE};
    edo_spawn_options hi = {.stack_size = EDO_MAX_STACK_SIZE};
    CHECK_EQ(edo_spawn_with(rt, &lo, return_arg, (void *)1, &t), 0);
    void *out = NULL;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK(out == (void *)1);
    edo_task_free(t);
    CHECK_EQ(edo_spawn_with(rt, &hi, return_arg, NULL, NULL), 0);
    CHECK_EQ(edo_spawn_local(NULL, return_arg, NULL, NULL), -EPERM); /* not a multi-thread one */
}

TEST(coro_spawn_bad_input)
{
    spawn_calls();
    in_coroutine(spawn_calls);
}

static void await_calls(void)
{
    const edo_future_vtable no_poll = {NULL, NULL};
    edo_future bare = {NULL}, pollless = {&no_poll};
    void *out = (void *)1;
    CHECK_EQ(edo_await(NULL, &out), -EINVAL); /* before -EPERM */
    CHECK_EQ(edo_await(&bare, &out), -EINVAL);
    CHECK_EQ(edo_await(&pollless, &out), -EINVAL);
    CHECK(out == (void *)1);
    int in = edo_in_coroutine();
    CHECK_EQ(edo_coro_is_cancelled(), false);
    CHECK_EQ(edo_yield(), in ? 0 : -EPERM);
    edo_yield_future y;
    edo_yield_future_init(&y);
    CHECK_EQ(edo_await(&y.base, NULL), in ? 0 : -EPERM); /* out may be NULL */
}

TEST(coro_await_bad_input)
{
    await_calls();
    in_coroutine(await_calls);
}

static int scope_body(edo_join_set *set, void *arg)
{
    (void)set;
    return (int)(intptr_t)arg;
}

static void scope_calls(void)
{
    CHECK_EQ(edo_scope(NULL, NULL, NULL), -EINVAL); /* before -EPERM */
    CHECK_EQ(edo_scope(scope_body, (void *)3, NULL), edo_in_coroutine() ? 3 : -EPERM);
}

TEST(coro_scope_bad_input)
{
    scope_calls();
    in_coroutine(scope_calls);
}

/* ---- future: wakers, contexts, polling, select and join ------------------------------------- */

TEST(future_waker_and_context_bad_input)
{
    edo_waker empty = EDO_WAKER_EMPTY, noop = edo_waker_noop();
    edo_waker c = edo_waker_clone(NULL);
    CHECK(c.vtable == NULL);
    c = edo_waker_clone(&empty);
    CHECK(c.vtable == NULL);
    edo_waker_wake(NULL);
    edo_waker_wake(&empty);
    edo_waker_wake_by_ref(NULL);
    edo_waker_wake_by_ref(&empty);
    edo_waker_drop(NULL);
    edo_waker_drop(&empty);
    CHECK(!edo_waker_will_wake(NULL, NULL));
    CHECK(!edo_waker_will_wake(&noop, NULL));
    CHECK(!edo_waker_will_wake(NULL, &noop));
    CHECK(!edo_waker_will_wake(&empty, &empty));
    CHECK(edo_waker_will_wake(&noop, &noop));

    edo_context_init(NULL, &noop, NULL);
    CHECK(edo_context_waker(NULL) == NULL);
    CHECK(edo_coop_proceed(NULL)); /* no budget */
    edo_context cx;
    edo_context_init(&cx, NULL, NULL); /* a NULL waker: as the empty one */
    CHECK(edo_context_waker(&cx) == NULL);
    CHECK(cx.budget == NULL);
    CHECK(edo_coop_proceed(&cx));
    edo_yield_future y;
    edo_yield_future_init(NULL);
    edo_yield_future_init(&y);
    CHECK_EQ(edo_future_poll(&y.base, &cx, NULL), EDO_PENDING); /* its wake goes nowhere */
    CHECK_EQ(edo_future_poll(&y.base, &cx, NULL), EDO_READY);
    uint32_t spent = 0;
    edo_context parent = {&noop, &spent}, child;
    edo_context_init(&child, NULL, &parent);
    CHECK(!edo_coop_proceed(&child)); /* spent budget, nobody to wake: no crash */

    const edo_future_vtable no_poll = {NULL, NULL};
    edo_future bare = {NULL}, pollless = {&no_poll};
    void *out = (void *)1;
    CHECK_EQ(edo_future_poll(NULL, &cx, &out), EDO_READY);
    CHECK_EQ(edo_future_poll(&bare, &cx, &out), EDO_READY);
    CHECK_EQ(edo_future_poll(&pollless, &cx, &out), EDO_READY);
    edo_yield_future_init(&y);
    CHECK_EQ(edo_future_poll(&y.base, NULL, &out), EDO_READY);
    CHECK(out == (void *)1); /* untouched */
    edo_future_drop(NULL);
    edo_future_drop(&bare);
    edo_future_drop(&pollless);
}

static void compose_calls(void)
{
    const edo_future_vtable no_poll = {NULL, NULL};
    edo_future bare = {NULL}, pollless = {&no_poll};
    _Atomic long polls = 0;
    count_future ready = count_new(&polls, (void *)7);
    edo_future *nulls[2] = {NULL, NULL};
    edo_future *with_bare[2] = {&bare, &ready.base};
    edo_future *with_pollless[2] = {&pollless, &ready.base};
    edo_future *with_null[2] = {&ready.base, NULL};
    void *out = NULL, *outs[2];
    int in = edo_in_coroutine();

    CHECK_EQ(edo_select(NULL, 2, EDO_SELECT_BIASED, &out), -EINVAL);
    CHECK_EQ(edo_select(with_null, 0, EDO_SELECT_BIASED, &out), -EINVAL);
    CHECK_EQ(edo_select(with_null, (size_t)INT_MAX + 1, EDO_SELECT_BIASED, &out), -EINVAL);
    CHECK_EQ(edo_select(with_bare, 2, EDO_SELECT_BIASED, &out), -EINVAL);
    CHECK_EQ(edo_select(with_pollless, 2, EDO_SELECT_FAIR, &out), -EINVAL);
    CHECK_EQ(edo_select(nulls, 2, EDO_SELECT_FAIR, &out), in ? -EINVAL : -EPERM);
    CHECK_EQ(edo_join(NULL, 2, outs), -EINVAL);
    CHECK_EQ(edo_join(with_null, 2, outs), -EINVAL);
    CHECK_EQ(edo_join(with_bare, 2, outs), -EINVAL);
    CHECK_EQ(edo_join(with_pollless, 2, outs), -EINVAL);
    size_t failed = 99;
    CHECK_EQ(edo_try_join(with_null, 1, outs, NULL, NULL, &failed), -EINVAL);
    CHECK_EQ(edo_try_join(NULL, 1, outs, NULL, NULL, &failed), -EINVAL);
    CHECK_EQ(failed, 99);
    CHECK_EQ(atomic_load(&polls), 0); /* nothing was polled */
    CHECK_EQ(edo_join(with_null, 0, NULL), in ? 0 : -EPERM); /* nothing to wait for */
    CHECK_EQ(edo_select(with_null, 2, EDO_SELECT_FAIR, NULL), in ? 0 : -EPERM); /* NULL skipped */

    /* The future form: nonsense makes it ready at once with index -EINVAL. */
    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    edo_select_future_init(NULL, with_null, 2, EDO_SELECT_BIASED);
    edo_select_future f;
    edo_future *const *arrays[] = {NULL, nulls, with_null, with_bare, with_pollless};
    const size_t sizes[] = {2, 2, (size_t)INT_MAX + 1, 2, 2};
    for (size_t i = 0; i < 5; i++) {
        edo_select_future_init(&f, arrays[i], sizes[i], EDO_SELECT_BIASED);
        CHECK_EQ(edo_future_poll(&f.base, &cx, &out), EDO_READY);
        CHECK_EQ(f.index, -EINVAL);
        edo_future_drop(&f.base);
    }
    edo_select_future_init(&f, with_null, 0, EDO_SELECT_FAIR);
    CHECK_EQ(edo_future_poll(&f.base, &cx, &out), EDO_READY);
    CHECK_EQ(f.index, -EINVAL);
}

TEST(future_compose_bad_input)
{
    compose_calls();
    in_coroutine(compose_calls);
}

/* ---- error ------------------------------------------------------------------------------------ */

TEST(error_strerror_bad_input)
{
    const int codes[] = {0, 1, -1, INT_MAX, -INT_MAX, INT_MIN, 4095, -4096, 10058, -10059, 100000};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const char *a = edo_strerror(codes[i]), *b = edo_strerror(codes[i]);
        CHECK(a != NULL && a[0] != '\0');
        CHECK(a == b); /* static, the same each time */
    }
    CHECK(strcmp(edo_strerror(INT_MIN), "Unknown error") == 0);
    CHECK(strcmp(edo_strerror(INT_MAX), "Unknown error") == 0);
    CHECK(strcmp(edo_strerror(-INT_MAX), "Unknown error") == 0);
    CHECK(strcmp(edo_strerror(0), "Success") == 0);
    CHECK(edo_strerror(-EINVAL) == edo_strerror(EINVAL)); /* the sign is ignored */
}
