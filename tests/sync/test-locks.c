/* RwLock, owned permits, barrier and once-cell: who gets in and in what order (on the paused
 * clock), cancellation at every wait, the future forms, bad input, and randomized races across
 * workers that check each primitive's invariant with atomics. */
#include <string.h>

#include "harness.h"
#include "util.h"

static edo_context noop_cx(edo_waker *w)
{
    *w = edo_waker_noop();
    return (edo_context){w, NULL};
}

static void join_ok(edo_task *t, void **out)
{
    CHECK_EQ(edo_task_join(t, out), 0);
    edo_task_free(t);
}

static void join_cancelled(edo_task *t)
{
    edo_task_abort(t);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
}

static void yield_n(int n)
{
    for (int i = 0; i < n; i++)
        CHECK_EQ(edo_yield(), 0);
}

/* ---- rwlock ------------------------------------------------------------------------------------ */

typedef struct {
    edo_rwlock *rw;
    _Atomic int readers, writers, max_readers;
    _Atomic int order;
    int log[16]; /* ids in the order they got in */
} lockers;

typedef struct {
    lockers *l;
    int id;
    int write;
    int hold; /* yields while inside */
} locker;

static void enter(lockers *l, const locker *k)
{
    if (k->write) {
        CHECK_EQ(atomic_fetch_add(&l->writers, 1), 0);
        CHECK_EQ(atomic_load(&l->readers), 0);
    } else {
        int r = atomic_fetch_add(&l->readers, 1) + 1;
        CHECK_EQ(atomic_load(&l->writers), 0);
        int m = atomic_load(&l->max_readers);
        while (r > m && !atomic_compare_exchange_weak(&l->max_readers, &m, r))
            ;
    }
    int at = atomic_fetch_add(&l->order, 1);
    if (at < (int)(sizeof l->log / sizeof l->log[0]))
        l->log[at] = k->id;
}

static void leave(lockers *l, const locker *k)
{
    atomic_fetch_sub(k->write ? &l->writers : &l->readers, 1);
}

static void *lock_hold_unlock(void *arg)
{
    locker *k = arg;
    int rc = k->write ? edo_rwlock_write_lock(k->l->rw) : edo_rwlock_read_lock(k->l->rw);
    if (rc < 0)
        return (void *)(intptr_t)rc;
    enter(k->l, k);
    for (int i = 0; i < k->hold && edo_yield() == 0; i++) /* an abort cuts the stay short */
        ;
    leave(k->l, k);
    CHECK_EQ(k->write ? edo_rwlock_write_unlock(k->l->rw) : edo_rwlock_read_unlock(k->l->rw), 0);
    return NULL;
}

/* The log of R0 R1 W2 R3: R0 and R1 (woken together, in either order), W2, R3. */
static void check_log(const lockers *l)
{
    CHECK_EQ(atomic_load(&l->order), 4);
    CHECK(l->log[0] != l->log[1] && l->log[0] < 2 && l->log[1] < 2);
    CHECK_EQ(l->log[2], 2);
    CHECK_EQ(l->log[3], 3);
}

/* Ten readers that each hold the lock across yields are all inside at once; with a cap of 3,
 * never more than 3. */
static void *many_readers(void *arg)
{
    size_t cap = (size_t)(uintptr_t)arg;
    lockers l = {0};
    CHECK_EQ(edo_rwlock_new(cap, &l.rw), 0);
    enum { N = 10 };
    locker k[N];
    edo_task *h[N];
    for (int i = 0; i < N; i++) {
        k[i] = (locker){&l, i, 0, 5};
        CHECK_EQ(edo_spawn(lock_hold_unlock, &k[i], &h[i]), 0);
    }
    for (int i = 0; i < N; i++)
        join_ok(h[i], NULL);
    CHECK_EQ(atomic_load(&l.max_readers), cap ? (int)cap : N);
    CHECK_EQ(edo_rwlock_try_write_lock(l.rw), 0); /* all gone */
    CHECK_EQ(edo_rwlock_write_unlock(l.rw), 0);
    edo_rwlock_free(l.rw);
    return NULL;
}

TEST(rwlock_many_readers_at_once)
{
    run_paused(many_readers, (void *)(uintptr_t)0);
    run_paused(many_readers, (void *)(uintptr_t)3);
}

/* A writer keeps readers and writers out; queued lockers are served in the order they came,
 * the readers at the head together: R0 R1 W2 R3 -> R0 and R1 at once, then W2, then R3. */
static void *writer_excludes_fifo(void *arg)
{
    (void)arg;
    lockers l = {0};
    CHECK_EQ(edo_rwlock_new(0, &l.rw), 0);
    CHECK_EQ(edo_rwlock_write_lock(l.rw), 0);
    CHECK_EQ(edo_rwlock_try_read_lock(l.rw), -EAGAIN);
    CHECK_EQ(edo_rwlock_try_write_lock(l.rw), -EAGAIN);
    enum { N = 4 };
    locker k[N] = {{&l, 0, 0, 3}, {&l, 1, 0, 3}, {&l, 2, 1, 3}, {&l, 3, 0, 3}};
    edo_task *h[N];
    for (int i = 0; i < N; i++) {
        CHECK_EQ(edo_spawn(lock_hold_unlock, &k[i], &h[i]), 0);
        yield_n(1); /* queues before the next one comes */
    }
    yield_n(5);
    CHECK_EQ(atomic_load(&l.order), 0); /* nobody got past the writer */
    CHECK_EQ(edo_rwlock_write_unlock(l.rw), 0);
    for (int i = 0; i < N; i++)
        join_ok(h[i], NULL);
    check_log(&l);
    CHECK_EQ(atomic_load(&l.max_readers), 2); /* R0 and R1 were in together; R3 came alone */
    edo_rwlock_free(l.rw);
    return NULL;
}

TEST(rwlock_writer_excludes_and_fifo_order) { run_paused(writer_excludes_fifo, NULL); }

/* A stream of readers (one every millisecond, each reading 5 ms, so the lock is never free of
 * readers) cannot starve a writer: it gets in once the readers present when it queued have
 * left, and every reader that came after it waits for its unlock. */
enum { STREAM = 60 };

typedef struct {
    edo_rwlock *rw;
    edo_instant arrived[STREAM], entered[STREAM];
    int next;
} stream;

typedef struct {
    stream *s;
    int i;
} stream_reader;

static void *timed_reader(void *arg)
{
    stream_reader *r = arg;
    r->s->arrived[r->i] = edo_now();
    CHECK_EQ(edo_rwlock_read_lock(r->s->rw), 0);
    r->s->entered[r->i] = edo_now();
    CHECK_EQ(edo_sleep(EDO_MSEC(5)), 0);
    CHECK_EQ(edo_rwlock_read_unlock(r->s->rw), 0);
    return NULL;
}

static void *reader_stream(void *arg)
{
    stream *s = arg;
    stream_reader r[STREAM];
    edo_task *h[STREAM];
    for (int i = 0; i < STREAM; i++) {
        r[i] = (stream_reader){s, i};
        CHECK_EQ(edo_spawn(timed_reader, &r[i], &h[i]), 0);
        CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0);
    }
    for (int i = 0; i < STREAM; i++)
        join_ok(h[i], NULL);
    return NULL;
}

static void *writer_not_starved(void *arg)
{
    (void)arg;
    stream s = {0};
    CHECK_EQ(edo_rwlock_new(0, &s.rw), 0);
    edo_task *st;
    CHECK_EQ(edo_spawn(reader_stream, &s, &st), 0);
    CHECK_EQ(edo_sleep(EDO_USEC(10500)), 0); /* between two readers' arrivals */
    edo_instant queued = edo_now();
    CHECK_EQ(edo_rwlock_write_lock(s.rw), 0);
    edo_instant got = edo_now();
    CHECK(got - queued <= EDO_MSEC(6)); /* the readers inside when it queued, and no others */
    CHECK_EQ(edo_sleep(EDO_MSEC(3)), 0);
    edo_instant released = edo_now();
    CHECK_EQ(edo_rwlock_write_unlock(s.rw), 0);
    join_ok(st, NULL);
    int before = 0, after = 0;
    for (int i = 0; i < STREAM; i++) {
        if (s.arrived[i] < queued) {
            before++;
            CHECK(s.entered[i] < got);
        } else if (s.arrived[i] > queued) { /* (one arriving in the same tick could go first) */
            after++;
            CHECK(s.entered[i] >= released);
        }
    }
    CHECK(before >= 10);
    CHECK(after >= 40);
    edo_rwlock_free(s.rw);
    return NULL;
}

TEST(rwlock_writer_not_starved_by_readers) { run_paused(writer_not_starved, NULL); }

/* A queued writer that is cancelled lets the readers queued behind it in at once, whether it is
 * aborted, its deadline passes or its future is dropped, and it leaves no permit behind. */
static void *cancel_queued_writer(void *arg)
{
    (void)arg;
    lockers l = {0};
    CHECK_EQ(edo_rwlock_new(4, &l.rw), 0);
    CHECK_EQ(edo_rwlock_read_lock(l.rw), 0);
    locker w = {&l, 9, 1, 0}, r[2] = {{&l, 0, 0, 0}, {&l, 1, 0, 0}};
    edo_task *hw, *hr[2];
    CHECK_EQ(edo_spawn(lock_hold_unlock, &w, &hw), 0);
    yield_n(1); /* the writer queues, holding the 3 free permits */
    for (int i = 0; i < 2; i++)
        CHECK_EQ(edo_spawn(lock_hold_unlock, &r[i], &hr[i]), 0);
    yield_n(3);
    CHECK_EQ(atomic_load(&l.order), 0);
    CHECK_EQ(edo_rwlock_try_read_lock(l.rw), -EAGAIN);
    join_cancelled(hw);
    for (int i = 0; i < 2; i++)
        join_ok(hr[i], NULL); /* in while we still read */
    CHECK_EQ(atomic_load(&l.order), 2);

    /* A deadline cuts the writer's wait short the same way. */
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_rwlock_write_lock(l.rw), -ETIMEDOUT);
    edo_deadline_pop(saved);

    /* And dropping the future. */
    edo_semaphore_acquire_future f;
    edo_rwlock_write_lock_future_init(&f, l.rw);
    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
    CHECK_EQ(edo_rwlock_try_read_lock(l.rw), -EAGAIN);
    edo_future_drop(&f.base);
    for (int i = 0; i < 3; i++) /* 3 more readers fit beside ours: the permits all came back */
        CHECK_EQ(edo_rwlock_try_read_lock(l.rw), 0);
    CHECK_EQ(edo_rwlock_try_read_lock(l.rw), -EAGAIN);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(edo_rwlock_read_unlock(l.rw), 0);
    CHECK_EQ(edo_rwlock_try_write_lock(l.rw), 0);
    CHECK_EQ(edo_rwlock_write_unlock(l.rw), 0);
    edo_rwlock_free(l.rw);
    return NULL;
}

TEST(rwlock_cancelled_writer_lets_readers_in) { run_paused(cancel_queued_writer, NULL); }

/* A downgrade keeps the lock for reading (no writer gets in between) and lets the readers at
 * the head of the queue in; a writer queued after them still waits, and the reader behind it
 * waits for it. */
static void *downgrade(void *arg)
{
    (void)arg;
    lockers l = {0};
    CHECK_EQ(edo_rwlock_new(0, &l.rw), 0);
    CHECK_EQ(edo_rwlock_write_lock(l.rw), 0);
    enum { N = 4 };
    locker k[N] = {{&l, 0, 0, 1}, {&l, 1, 0, 1}, {&l, 2, 1, 1}, {&l, 3, 0, 1}};
    edo_task *h[N];
    for (int i = 0; i < N; i++) {
        CHECK_EQ(edo_spawn(lock_hold_unlock, &k[i], &h[i]), 0);
        yield_n(1);
    }
    CHECK_EQ(edo_rwlock_write_downgrade(l.rw), 0);
    atomic_fetch_add(&l.readers, 1); /* we read now */
    yield_n(5);
    CHECK_EQ(atomic_load(&l.order), 2); /* R0 and R1 came in and left; W2 waits for us */
    CHECK_EQ(edo_rwlock_try_write_lock(l.rw), -EAGAIN);
    atomic_fetch_sub(&l.readers, 1);
    CHECK_EQ(edo_rwlock_read_unlock(l.rw), 0);
    for (int i = 0; i < N; i++)
        join_ok(h[i], NULL);
    check_log(&l);
    CHECK_EQ(atomic_load(&l.max_readers), 3); /* us, R0 and R1 */
    edo_rwlock_free(l.rw);

    /* With one reader at most, a downgrade hands nothing on. */
    CHECK_EQ(edo_rwlock_new(1, &l.rw), 0);
    CHECK_EQ(edo_rwlock_write_lock(l.rw), 0);
    CHECK_EQ(edo_rwlock_write_downgrade(l.rw), 0);
    CHECK_EQ(edo_rwlock_try_read_lock(l.rw), -EAGAIN);
    CHECK_EQ(edo_rwlock_read_unlock(l.rw), 0);
    CHECK_EQ(edo_rwlock_try_read_lock(l.rw), 0);
    CHECK_EQ(edo_rwlock_read_unlock(l.rw), 0);
    edo_rwlock_free(l.rw);
    return NULL;
}

TEST(rwlock_downgrade) { run_paused(downgrade, NULL); }

TEST(rwlock_future_form_and_bad_input)
{
    edo_rwlock *rw;
    CHECK_EQ(edo_rwlock_new(0, NULL), -EINVAL);
    CHECK_EQ(edo_rwlock_new(EDO_SEMAPHORE_MAX_PERMITS + 1, &rw), -EINVAL);
    CHECK_EQ(edo_rwlock_new(0, &rw), 0);
    CHECK_EQ(edo_rwlock_read_lock(rw), -EPERM); /* not in a coroutine */
    CHECK_EQ(edo_rwlock_write_lock(rw), -EPERM);
    /* (NULL handles and unlocks of a lock not held: test-bad-input.c.) */

    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    edo_semaphore_acquire_future r, w;
    edo_rwlock_read_lock_future_init(&r, rw);
    CHECK_EQ(edo_future_poll(&r.base, &cx, NULL), EDO_READY);
    CHECK_EQ(r.result, 0);
    edo_future_drop(&r.base); /* completed: the read lock stays ours */
    edo_rwlock_write_lock_future_init(&w, rw);
    CHECK_EQ(edo_future_poll(&w.base, &cx, NULL), EDO_PENDING);
    CHECK_EQ(edo_rwlock_read_unlock(rw), 0);
    CHECK_EQ(edo_future_poll(&w.base, &cx, NULL), EDO_READY);
    CHECK_EQ(w.result, 0);
    edo_future_drop(&w.base);
    CHECK_EQ(edo_rwlock_try_read_lock(rw), -EAGAIN);
    CHECK_EQ(edo_rwlock_write_unlock(rw), 0);
    edo_rwlock_read_lock_future_init(&r, NULL);
    CHECK_EQ(edo_future_poll(&r.base, &cx, NULL), EDO_READY);
    CHECK_EQ(r.result, -EINVAL);
    edo_future_drop(&r.base);
    edo_rwlock_write_lock_future_init(&w, NULL);
    CHECK_EQ(edo_future_poll(&w.base, &cx, NULL), EDO_READY);
    CHECK_EQ(w.result, -EINVAL);
    edo_future_drop(&w.base);
    edo_rwlock_free(rw);
}

/* Random reads and writes (some aborted) across two workers: never a writer with anyone else
 * inside, never more readers than the cap, and every permit back at the end. */
typedef struct {
    lockers l;
    _Atomic uint64_t seed;
} rw_stress;

static void *random_locker(void *arg)
{
    rw_stress *st = arg;
    uint64_t x = atomic_fetch_add(&st->seed, 0x9e3779b97f4a7c15ull) | 1;
    for (int i = 0; i < SCALE(300, 100, 40); i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        locker k = {&st->l, 0, (x & 3) == 0, (int)((x >> 8) % 3)};
        if (lock_hold_unlock(&k) != NULL)
            return NULL; /* aborted */
        CHECK(atomic_load(&st->l.max_readers) <= 3);
    }
    return NULL;
}

TEST(rwlock_stress)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    rw_stress *st = calloc(1, sizeof *st);
    CHECK(st != NULL);
    atomic_init(&st->seed, 42);
    CHECK_EQ(edo_rwlock_new(3, &st->l.rw), 0);
    enum { N = 32 };
    edo_task *h[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, random_locker, st, &h[i]), 0);
    for (int i = 0; i < N; i += 7)
        edo_task_abort(h[i]);
    for (int i = 0; i < N; i++) {
        int rc = edo_task_join(h[i], NULL);
        CHECK(rc == 0 || rc == -ECANCELED);
        edo_task_free(h[i]);
    }
    CHECK_EQ(atomic_load(&st->l.readers) + atomic_load(&st->l.writers), 0);
    CHECK_EQ(edo_rwlock_try_write_lock(st->l.rw), 0); /* every permit is back */
    CHECK_EQ(edo_rwlock_write_unlock(st->l.rw), 0);
    edo_rwlock_free(st->l.rw);
    free(st);
    edo_runtime_free(rt);
}

/* ---- owned permits ------------------------------------------------------------------------------ */

static void *release_later(void *arg)
{
    edo_permit *p = arg;
    CHECK_EQ(edo_sleep(EDO_MSEC(2)), 0);
    edo_permit_release(p);
    return NULL;
}

static void *acquire_owned_two(void *arg)
{
    edo_permit p;
    int rc = edo_semaphore_acquire_owned(arg, 2, &p);
    if (rc == 0) {
        CHECK(p.sem == arg && p.n == 2);
        edo_permit_release(&p);
    } else {
        CHECK(p.sem == NULL && p.n == 0);
    }
    return (void *)(intptr_t)rc;
}

/* The semaphore outlives its creator's free while permits (and owned waits) hold it: a permit
 * moved into another task is released there, a waiting owned acquire is served after the free,
 * and the memory goes with the last permit (ASan proves both: no use after free, no leak). */
static void *outlives_creator(void *arg)
{
    (void)arg;
    edo_semaphore *s;
    CHECK_EQ(edo_semaphore_new(3, &s), 0);
    edo_permit mine, moved;
    CHECK_EQ(edo_semaphore_acquire_owned(s, 1, &mine), 0);
    CHECK_EQ(edo_semaphore_try_acquire_owned(s, 2, &moved), 0);
    CHECK_EQ(edo_semaphore_available(s), 0);
    edo_task *waiter, *mover;
    CHECK_EQ(edo_spawn(acquire_owned_two, s, &waiter), 0);
    yield_n(1); /* queued for 2 */
    edo_permit *box = malloc(sizeof *box);
    CHECK(box != NULL);
    *box = moved; /* the move: the original is emptied */
    moved = EDO_PERMIT_EMPTY;
    CHECK_EQ(edo_spawn(release_later, box, &mover), 0);
    edo_semaphore_free(s); /* the creator is done; the permits are not */
    join_ok(mover, NULL);  /* released 2 there: they went to the waiter */
    free(box);
    void *rc;
    join_ok(waiter, &rc);
    CHECK_EQ((intptr_t)rc, 0);
    CHECK_EQ(edo_semaphore_available(mine.sem), 2);
    edo_permit_release(&mine); /* the last reference: the semaphore goes */
    CHECK(mine.sem == NULL && mine.n == 0);
    return NULL;
}

TEST(permit_outlives_semaphore_free) { run_paused(outlives_creator, NULL); }

TEST(permit_split_merge_release_forget)
{
    edo_semaphore *s, *other;
    CHECK_EQ(edo_semaphore_new(10, &s), 0);
    CHECK_EQ(edo_semaphore_new(1, &other), 0);
    edo_permit p, q, r, o;
    CHECK_EQ(edo_semaphore_try_acquire_owned(s, 6, &p), 0);
    CHECK_EQ(edo_semaphore_try_acquire_owned(s, 5, &q), -EAGAIN);
    CHECK(q.sem == NULL && q.n == 0);
    CHECK_EQ(edo_permit_split(&p, 2, &q), 0);
    CHECK(p.sem == s && p.n == 4 && q.sem == s && q.n == 2);
    CHECK_EQ(edo_permit_split(&p, 5, &r), -EINVAL); /* more than it has: nothing changes */
    CHECK_EQ(edo_permit_split(&p, 0, &r), -EINVAL);
    CHECK_EQ(edo_permit_split(&p, 1, &p), -EINVAL);
    CHECK_EQ(p.n, 4);
    edo_permit_release(&q);
    CHECK_EQ(edo_semaphore_available(s), 6);
    edo_permit_release(&q); /* released twice: the second is a no-op */
    CHECK_EQ(edo_semaphore_available(s), 6);
    CHECK_EQ(edo_permit_split(&p, 4, &r), 0); /* all of them: p is left empty */
    CHECK(p.sem == NULL && p.n == 0 && r.sem == s && r.n == 4);
    CHECK_EQ(edo_permit_merge(&p, &r), 0); /* into an empty permit: a move */
    CHECK(p.sem == s && p.n == 4 && r.sem == NULL);
    CHECK_EQ(edo_permit_merge(&p, &r), 0); /* from an empty one: nothing */
    CHECK_EQ(p.n, 4);
    CHECK_EQ(edo_permit_split(&p, 1, &r), 0);
    CHECK_EQ(edo_permit_merge(&p, &r), 0);
    CHECK(p.n == 4 && r.sem == NULL && r.n == 0);
    CHECK_EQ(edo_semaphore_try_acquire_owned(other, 1, &o), 0);
    CHECK_EQ(edo_permit_merge(&p, &o), -EINVAL); /* different semaphores */
    CHECK_EQ(edo_permit_merge(&p, &p), -EINVAL);
    CHECK_EQ(edo_permit_merge(NULL, &o), -EINVAL);
    CHECK(p.n == 4 && o.sem == other && o.n == 1);
    /* forget: the permits vanish from the semaphore, the reference goes. */
    CHECK_EQ(edo_permit_split(&p, 1, &r), 0);
    edo_permit_forget(&r);
    CHECK(r.sem == NULL && r.n == 0);
    edo_permit_forget(&r);
    edo_permit_release(&p);
    CHECK_EQ(edo_semaphore_available(s), 9);
    edo_semaphore_free(s);
    edo_permit_forget(&o); /* `other` still has its creator's reference */
    CHECK_EQ(edo_semaphore_available(other), 0);
    edo_semaphore_free(other);
    edo_permit_release(NULL);
    edo_permit_forget(NULL);
}

static void *owned_timeouts(void *arg)
{
    (void)arg;
    edo_semaphore *s;
    CHECK_EQ(edo_semaphore_new(1, &s), 0);
    edo_permit p = {s, 99}; /* garbage in *out is overwritten */
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_semaphore_acquire_owned(s, 2, &p), -ETIMEDOUT);
    edo_deadline_pop(saved);
    CHECK(p.sem == NULL && p.n == 0);
    CHECK_EQ(edo_semaphore_available(s), 1); /* its partial grant came back */
    edo_task *t;
    CHECK_EQ(edo_spawn(acquire_owned_two, s, &t), 0);
    yield_n(1);
    join_cancelled(t);
    CHECK_EQ(edo_semaphore_available(s), 1);
    edo_semaphore_close(s);
    CHECK_EQ(edo_semaphore_acquire_owned(s, 1, &p), -ESHUTDOWN);
    CHECK_EQ(edo_semaphore_try_acquire_owned(s, 1, &p), -ESHUTDOWN);
    edo_semaphore_free(s); /* the failed waits dropped their references: this is the last */
    return NULL;
}

TEST(permit_cancelled_owned_acquire) { run_paused(owned_timeouts, NULL); }

TEST(permit_future_form_and_bad_input)
{
    edo_semaphore *s;
    CHECK_EQ(edo_semaphore_new(3, &s), 0);
    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    edo_semaphore_acquire_owned_future a, b;
    edo_semaphore_acquire_owned_future_init(&a, s, 2);
    CHECK_EQ(edo_future_poll(&a.base, &cx, NULL), EDO_READY);
    CHECK_EQ(a.result, 0);
    CHECK(a.permit.sem == s && a.permit.n == 2);
    edo_permit p = a.permit, keep;
    edo_future_drop(&a.base); /* completed: the permit stays ours */
    CHECK_EQ(edo_permit_split(&p, 1, &keep), 0);
    edo_semaphore_acquire_owned_future_init(&b, s, 3);
    CHECK_EQ(edo_future_poll(&b.base, &cx, NULL), EDO_PENDING); /* holds 1 of 3 */
    edo_semaphore_free(s);                                      /* b keeps it alive */
    edo_permit_release(&p);                                     /* 1 more to b */
    CHECK_EQ(edo_future_poll(&b.base, &cx, NULL), EDO_PENDING);
    edo_future_drop(&b.base); /* gives its 2 back, and its reference */
    CHECK_EQ(edo_semaphore_available(keep.sem), 2);
    edo_semaphore_acquire_owned_future_init(&b, keep.sem, 2);
    CHECK_EQ(edo_future_poll(&b.base, &cx, NULL), EDO_READY);
    CHECK_EQ(b.result, 0);
    p = b.permit;
    edo_future_drop(&b.base);
    CHECK_EQ(edo_permit_merge(&keep, &p), 0);
    CHECK_EQ(keep.n, 3);
    edo_semaphore_close(keep.sem);
    edo_semaphore_acquire_owned_future_init(&b, keep.sem, 1);
    CHECK_EQ(edo_future_poll(&b.base, &cx, NULL), EDO_READY);
    CHECK_EQ(b.result, -ESHUTDOWN);
    CHECK(b.permit.sem == NULL);
    edo_future_drop(&b.base);
    edo_permit_release(&keep); /* the last reference */

    /* Bad input: a clear error, nothing taken, no reference left behind. */
    CHECK_EQ(edo_semaphore_new(1, &s), 0);
    CHECK_EQ(edo_semaphore_acquire_owned(s, 1, &p), -EPERM); /* not in a coroutine */
    CHECK(p.sem == NULL);
    CHECK_EQ(edo_semaphore_acquire_owned(NULL, 1, &p), -EINVAL);
    CHECK_EQ(edo_semaphore_acquire_owned(s, 0, &p), -EINVAL);
    CHECK_EQ(edo_semaphore_acquire_owned(s, 1, NULL), -EINVAL);
    CHECK_EQ(edo_semaphore_try_acquire_owned(s, EDO_SEMAPHORE_MAX_PERMITS + 1, &p), -EINVAL);
    CHECK_EQ(edo_semaphore_try_acquire_owned(s, 1, NULL), -EINVAL);
    CHECK_EQ(edo_permit_split(NULL, 1, &p), -EINVAL);
    CHECK_EQ(edo_permit_split(&p, 1, NULL), -EINVAL);
    CHECK_EQ(edo_permit_merge(&p, NULL), -EINVAL);
    edo_semaphore_acquire_owned_future_init(&b, s, 0);
    CHECK_EQ(edo_future_poll(&b.base, &cx, NULL), EDO_READY);
    CHECK_EQ(b.result, -EINVAL);
    edo_future_drop(&b.base);
    edo_semaphore_acquire_owned_future_init(&b, NULL, 1);
    CHECK_EQ(edo_future_poll(&b.base, &cx, NULL), EDO_READY);
    CHECK_EQ(b.result, -EINVAL);
    edo_future_drop(&b.base);
    CHECK_EQ(edo_semaphore_available(s), 1);
    edo_semaphore_free(s);
}

/* ---- barrier ------------------------------------------------------------------------------------ */

enum { MAX_ROUNDS = 200 };

typedef struct {
    edo_barrier *b;
    size_t n;
    int rounds;
    _Atomic int arrived[MAX_ROUNDS];
    _Atomic int leaders[MAX_ROUNDS];
} rounds;

/* Every round: nobody passes before all n have arrived, and exactly one is the leader. */
static void *run_rounds(void *arg)
{
    rounds *r = arg;
    for (int i = 0; i < r->rounds; i++) {
        atomic_fetch_add(&r->arrived[i], 1);
        int rc = edo_barrier_wait(r->b);
        CHECK(rc == 0 || rc == EDO_BARRIER_LEADER);
        CHECK_EQ(atomic_load(&r->arrived[i]), r->n);
        if (rc == EDO_BARRIER_LEADER)
            atomic_fetch_add(&r->leaders[i], 1);
    }
    return NULL;
}

static void rounds_run_and_check(edo_runtime *rt, size_t n, int nrounds)
{
    rounds *r = calloc(1, sizeof *r);
    CHECK(r != NULL);
    r->n = n;
    r->rounds = nrounds;
    CHECK_EQ(edo_barrier_new(n, &r->b), 0);
    edo_task *h[8];
    for (size_t i = 0; i < n; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, run_rounds, r, &h[i]), 0);
    for (size_t i = 0; i < n; i++)
        join_ok(h[i], NULL);
    for (int i = 0; i < nrounds; i++)
        CHECK_EQ(atomic_load(&r->leaders[i]), 1);
    edo_barrier_free(r->b);
    free(r);
}

static void *generations(void *arg)
{
    (void)arg;
    rounds_run_and_check(NULL, 3, 5);
    rounds_run_and_check(NULL, 1, 3); /* n = 1: every arrival leads its own round */
    return NULL;
}

TEST(barrier_generations_reuse) { run_paused(generations, NULL); }

TEST(barrier_leader_race)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    rounds_run_and_check(rt, 4, SCALE(MAX_ROUNDS, 100, 30));
    edo_runtime_free(rt);
}

typedef struct {
    edo_barrier *b;
    int rc;
    _Atomic int done;
} barrier_waiter;

static void *wait_and_record(void *arg)
{
    barrier_waiter *w = arg;
    w->rc = edo_barrier_wait(w->b);
    atomic_store(&w->done, 1);
    return NULL;
}

/* A waiter cancelled before its round completes withdraws its arrival: the round still needs
 * n live arrivals. One whose round completed before the cancel has passed (its wait returns 0)
 * and the next round starts from zero. */
static void *cancel_withdraws(void *arg)
{
    (void)arg;
    edo_barrier *b;
    CHECK_EQ(edo_barrier_new(3, &b), 0);
    barrier_waiter a = {b, -1, 0}, x = {b, -1, 0}, c = {b, -1, 0};
    edo_task *ha, *hx, *hc;
    CHECK_EQ(edo_spawn(wait_and_record, &a, &ha), 0);
    CHECK_EQ(edo_spawn(wait_and_record, &x, &hx), 0);
    yield_n(3);
    CHECK(!atomic_load(&a.done) && !atomic_load(&x.done)); /* both wait: 2 of 3 */
    join_cancelled(hx);                                    /* withdrawn: 1 arrival left */
    CHECK_EQ(x.rc, -ECANCELED);
    edo_instant saved; /* a deadline withdraws too: we are the second, not the third */
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_barrier_wait(b), -ETIMEDOUT);
    edo_deadline_pop(saved);
    CHECK_EQ(edo_spawn(wait_and_record, &c, &hc), 0);
    yield_n(3);
    CHECK(!atomic_load(&a.done) && !atomic_load(&c.done)); /* 2 of 3 again */
    CHECK_EQ(edo_barrier_wait(b), EDO_BARRIER_LEADER);     /* the third live arrival */
    join_ok(ha, NULL);
    join_ok(hc, NULL);
    CHECK_EQ(a.rc, 0);
    CHECK_EQ(c.rc, 0);

    /* Released, then aborted before it ran: it passed. */
    edo_barrier_free(b);
    CHECK_EQ(edo_barrier_new(2, &b), 0);
    a = (barrier_waiter){b, -1, 0};
    CHECK_EQ(edo_spawn(wait_and_record, &a, &ha), 0);
    yield_n(1);
    CHECK_EQ(edo_barrier_wait(b), EDO_BARRIER_LEADER);
    join_cancelled(ha);
    CHECK_EQ(a.rc, 0);
    /* The next round starts from zero arrivals: one waiter is not enough, two are. */
    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    edo_barrier_wait_future f, g;
    edo_barrier_wait_future_init(&f, b);
    edo_barrier_wait_future_init(&g, b);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
    edo_future_drop(&f.base); /* a dropped future withdraws as well */
    edo_barrier_wait_future_init(&f, b);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
    CHECK_EQ(edo_future_poll(&g.base, &cx, NULL), EDO_READY);
    CHECK_EQ(g.result, EDO_BARRIER_LEADER);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, 0);
    edo_future_drop(&f.base);
    edo_future_drop(&g.base);
    edo_barrier_free(b);
    return NULL;
}

TEST(barrier_cancel_withdraws_arrival) { run_paused(cancel_withdraws, NULL); }

TEST(barrier_future_form_and_bad_input)
{
    edo_barrier *b;
    CHECK_EQ(edo_barrier_new(2, NULL), -EINVAL);
    CHECK_EQ(edo_barrier_new(0, &b), -EINVAL);
    CHECK_EQ(edo_barrier_wait(NULL), -EINVAL);
    CHECK_EQ(edo_barrier_new(2, &b), 0);
    CHECK_EQ(edo_barrier_wait(b), -EPERM); /* not in a coroutine: no arrival */
    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    edo_barrier_wait_future f, g;
    edo_barrier_wait_future_init(&f, b);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
    edo_barrier_wait_future_init(&g, b);
    CHECK_EQ(edo_future_poll(&g.base, &cx, NULL), EDO_READY);
    CHECK_EQ(g.result, EDO_BARRIER_LEADER);
    edo_future_drop(&f.base); /* released but never polled again: it passed */
    edo_future_drop(&g.base);
    edo_barrier_wait_future_init(&f, b); /* a new round: f alone does not complete it */
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
    edo_future_drop(&f.base);
    edo_barrier_free(b);
    edo_barrier_wait_future_init(&f, NULL);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    edo_barrier_free(NULL);
}

/* ---- once-cell ---------------------------------------------------------------------------------- */

typedef struct {
    edo_once_cell *cell;
    _Atomic int inits;    /* init calls */
    _Atomic int inside;   /* inits running now */
    int fail_first;       /* how many init calls fail (-EIO) before one succeeds */
    uint64_t init_sleep;  /* init sleeps this long (paused clock), or yields when 0 */
    int value;            /* the value init makes: &value */
} lazy;

static int make_value(void *arg, void **value)
{
    lazy *z = arg;
    int call = atomic_fetch_add(&z->inits, 1);
    CHECK_EQ(atomic_fetch_add(&z->inside, 1), 0); /* one initialiser at a time */
    int rc = z->init_sleep ? edo_sleep(z->init_sleep) : edo_yield();
    atomic_fetch_sub(&z->inside, 1);
    if (rc < 0)
        return rc; /* cancelled in the middle */
    if (call < z->fail_first)
        return -EIO;
    *value = &z->value;
    return 0;
}

static void *get_or_init(void *arg)
{
    lazy *z = arg;
    void *v = NULL;
    int rc = edo_once_cell_get_or_init(z->cell, make_value, z, &v);
    CHECK(rc < 0 || v == &z->value);
    return (void *)(intptr_t)rc;
}

/* 100 tasks on two workers race to initialise: init runs once, everyone gets its value. */
TEST(once_cell_init_race)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    lazy z = {0};
    CHECK_EQ(edo_once_cell_new(&z.cell), 0);
    enum { N = 100 };
    edo_task *h[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, get_or_init, &z, &h[i]), 0);
    for (int i = 0; i < N; i++) {
        void *rc;
        join_ok(h[i], &rc);
        CHECK_EQ((intptr_t)rc, 0);
    }
    CHECK_EQ(atomic_load(&z.inits), 1);
    void *v;
    CHECK_EQ(edo_once_cell_get(z.cell, &v), 0);
    CHECK(v == &z.value);
    edo_once_cell_free(z.cell, NULL);
    edo_runtime_free(rt);
}

/* Failing inits hand the turn on in order; the first success is everyone's value. A cancelled
 * initialiser hands it on too, and so does a waiter handed the turn but cancelled before it
 * ran. */
static void *failing_then_cancelled(void *arg)
{
    (void)arg;
    lazy z = {.fail_first = 2, .init_sleep = EDO_MSEC(1)};
    CHECK_EQ(edo_once_cell_new(&z.cell), 0);
    enum { N = 4 };
    edo_task *h[N];
    for (int i = 0; i < N; i++) {
        CHECK_EQ(edo_spawn(get_or_init, &z, &h[i]), 0);
        yield_n(1); /* in this order */
    }
    for (int i = 0; i < N; i++) {
        void *rc;
        join_ok(h[i], &rc);
        CHECK_EQ((intptr_t)rc, i < 2 ? -EIO : 0); /* two failures, one success, one waiter */
    }
    CHECK_EQ(atomic_load(&z.inits), 3);
    edo_once_cell_free(z.cell, NULL);

    /* The initialiser is aborted in its init: the next waiter runs init and succeeds. */
    z = (lazy){.init_sleep = EDO_MSEC(10)};
    CHECK_EQ(edo_once_cell_new(&z.cell), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(edo_spawn(get_or_init, &z, &h[i]), 0);
        yield_n(1);
    }
    CHECK_EQ(edo_sleep(EDO_MSEC(2)), 0);
    CHECK_EQ(atomic_load(&z.inits), 1);
    join_cancelled(h[0]);
    void *rc;
    for (int i = 1; i < 3; i++) {
        join_ok(h[i], &rc);
        CHECK_EQ((intptr_t)rc, 0);
    }
    CHECK_EQ(atomic_load(&z.inits), 2);
    edo_once_cell_free(z.cell, NULL);

    /* A waiter handed the turn, aborted before it ran, passes it on. */
    z = (lazy){.fail_first = 1, .init_sleep = EDO_MSEC(1)};
    CHECK_EQ(edo_once_cell_new(&z.cell), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(edo_spawn(get_or_init, &z, &h[i]), 0);
        yield_n(1);
    }
    join_ok(h[0], &rc); /* failed: the turn went to h[1], which has not run yet */
    CHECK_EQ((intptr_t)rc, -EIO);
    join_cancelled(h[1]);
    join_ok(h[2], &rc);
    CHECK_EQ((intptr_t)rc, 0);
    CHECK_EQ(atomic_load(&z.inits), 2);

    /* A waiter whose deadline passes leaves the line; nothing else changes. */
    edo_once_cell_free(z.cell, NULL);
    z = (lazy){.init_sleep = EDO_MSEC(10)};
    CHECK_EQ(edo_once_cell_new(&z.cell), 0);
    CHECK_EQ(edo_spawn(get_or_init, &z, &h[0]), 0);
    yield_n(1);
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(3)), &saved), 0);
    void *v = NULL;
    CHECK_EQ(edo_once_cell_get_or_init(z.cell, make_value, &z, &v), -ETIMEDOUT);
    edo_deadline_pop(saved);
    join_ok(h[0], &rc);
    CHECK_EQ((intptr_t)rc, 0);
    CHECK_EQ(edo_once_cell_get_or_init(z.cell, make_value, &z, &v), 0);
    CHECK(v == &z.value);
    CHECK_EQ(atomic_load(&z.inits), 1);
    edo_once_cell_free(z.cell, NULL);
    return NULL;
}

TEST(once_cell_failed_or_cancelled_init_hands_over) { run_paused(failing_then_cancelled, NULL); }

static int destroyed;
static void destroy(void *value)
{
    CHECK_EQ(*(int *)value, 7);
    destroyed++;
}

/* The future form by hand: the turn, abandoned, passes in order (also past a waiter dropped
 * while holding it); set from the holder wakes the rest with the value. */
TEST(once_cell_future_form_get_set)
{
    edo_once_cell *c;
    CHECK_EQ(edo_once_cell_new(&c), 0);
    edo_waker nw;
    edo_context cx = noop_cx(&nw);
    edo_once_cell_future f[4];
    for (int i = 0; i < 4; i++)
        edo_once_cell_future_init(&f[i], c);
    CHECK_EQ(edo_future_poll(&f[0].base, &cx, NULL), EDO_READY);
    CHECK_EQ(f[0].result, EDO_ONCE_CELL_YOUR_TURN);
    for (int i = 1; i < 4; i++)
        CHECK_EQ(edo_future_poll(&f[i].base, &cx, NULL), EDO_PENDING);
    CHECK_EQ(edo_once_cell_set(c, NULL), -EEXIST); /* an initialiser holds the turn */
    CHECK_EQ(edo_once_cell_future_set(&f[1], NULL), -EINVAL); /* not its turn */
    edo_future_drop(&f[0].base);                               /* gives up: f[1]'s turn */
    CHECK_EQ(edo_once_cell_set(c, NULL), -EEXIST);             /* handed over, still busy */
    edo_future_drop(&f[1].base); /* dropped before it saw its turn: f[2]'s */
    CHECK_EQ(edo_future_poll(&f[2].base, &cx, NULL), EDO_READY);
    CHECK_EQ(f[2].result, EDO_ONCE_CELL_YOUR_TURN);
    int seven = 7;
    void *out = NULL;
    CHECK_EQ(edo_once_cell_get(c, &out), -EAGAIN);
    CHECK_EQ(edo_once_cell_future_set(&f[2], &seven), 0);
    CHECK_EQ(edo_once_cell_future_set(&f[2], &seven), -EINVAL); /* once */
    edo_future_drop(&f[2].base);
    CHECK_EQ(edo_future_poll(&f[3].base, &cx, &out), EDO_READY);
    CHECK_EQ(f[3].result, 0);
    CHECK(f[3].value == &seven && out == &seven);
    edo_future_drop(&f[3].base);
    CHECK_EQ(edo_once_cell_get(c, &out), 0);
    CHECK(out == &seven);
    CHECK_EQ(edo_once_cell_get(c, NULL), 0);
    CHECK_EQ(edo_once_cell_set(c, NULL), -EEXIST);
    /* Set: get_or_init answers at once, even outside a coroutine, and runs no init. */
    lazy z = {0};
    CHECK_EQ(edo_once_cell_get_or_init(c, make_value, &z, &out), 0);
    CHECK(out == &seven);
    CHECK_EQ(atomic_load(&z.inits), 0);
    edo_once_cell_future_init(&f[0], c);
    CHECK_EQ(edo_future_poll(&f[0].base, &cx, NULL), EDO_READY);
    CHECK_EQ(f[0].result, 0);
    edo_future_drop(&f[0].base);
    destroyed = 0;
    edo_once_cell_free(c, destroy);
    CHECK_EQ(destroyed, 1);

    /* set on an empty cell; a dropped turn with nobody waiting empties the cell again. */
    CHECK_EQ(edo_once_cell_new(&c), 0);
    edo_once_cell_future_init(&f[0], c);
    CHECK_EQ(edo_future_poll(&f[0].base, &cx, NULL), EDO_READY);
    CHECK_EQ(f[0].result, EDO_ONCE_CELL_YOUR_TURN);
    edo_future_drop(&f[0].base);
    CHECK_EQ(edo_once_cell_set(c, &seven), 0);
    CHECK_EQ(edo_once_cell_set(c, &seven), -EEXIST);
    CHECK_EQ(edo_once_cell_get(c, &out), 0);
    CHECK(out == &seven);
    edo_once_cell_free(c, destroy);
    CHECK_EQ(destroyed, 2);
    CHECK_EQ(edo_once_cell_new(&c), 0);
    edo_once_cell_free(c, destroy); /* never set: not destroyed */
    CHECK_EQ(destroyed, 2);
}
