/* Watch and broadcast channels, and the blocking forms of channel operations: latest-value and
 * ordered delivery, lag counts, close, cancellation at every wait without losing anything,
 * randomized races across workers (TSan), plain threads feeding tasks and the reverse on both
 * runtime flavours, bad input. */
#include <string.h>

#include "harness.h"
#include "util.h"

static edo_waker noop_waker;
static edo_context noop_cx(void)
{
    noop_waker = edo_waker_noop();
    edo_context cx = {&noop_waker, NULL};
    return cx;
}

/* ---- watch ------------------------------------------------------------------------------------- */

typedef struct {
    uint64_t n, check; /* check == ~n: a torn copy would not match */
} versioned;

static versioned ver(uint64_t n) { return (versioned){n, ~n}; }

static bool bump(void *value, void *arg)
{
    versioned *v = value;
    if (!arg)
        return false;
    *v = ver(v->n + 1);
    return true;
}

static void *watch_basics(void *arg)
{
    (void)arg;
    versioned v = ver(0), got;
    edo_watch *w;
    CHECK_EQ(edo_watch_new(&v, sizeof v, &w), 0);
    CHECK_EQ(edo_watch_receiver_count(w), 0);
    v = ver(1);
    CHECK_EQ(edo_watch_send(w, &v), -EPIPE); /* nobody listens: not stored */
    edo_watch_receiver *a, *b;
    CHECK_EQ(edo_watch_subscribe(w, &a), 0);
    CHECK_EQ(edo_watch_subscribe(w, &b), 0);
    CHECK_EQ(edo_watch_receiver_count(w), 2);
    CHECK_EQ(edo_watch_get(a, &got), 0);
    CHECK_EQ(got.n, 0);
    CHECK_EQ(edo_watch_has_changed(a), 0); /* subscribing marks the current value seen */
    for (uint64_t i = 1; i <= 3; i++) {
        v = ver(i);
        CHECK_EQ(edo_watch_send(w, &v), 0);
    }
    CHECK_EQ(edo_watch_has_changed(a), 1);
    CHECK_EQ(edo_watch_changed(a, &got), 0); /* 1 and 2 skipped, never stale */
    CHECK_EQ(got.n, 3);
    CHECK_EQ(edo_watch_has_changed(a), 0);
    CHECK_EQ(edo_watch_has_changed(b), 1); /* each receiver has its own "seen" */
    CHECK_EQ(edo_watch_changed(b, NULL), 0);
    /* send_modify: in place; "not modified" tells nobody. */
    CHECK_EQ(edo_watch_send_modify(w, bump, NULL), 0);
    CHECK_EQ(edo_watch_has_changed(a), 0);
    CHECK_EQ(edo_watch_send_modify(w, bump, w), 1);
    edo_watch_receiver *c;
    CHECK_EQ(edo_watch_receiver_clone(a, &c), 0); /* has seen what a has seen: not 4 yet */
    CHECK_EQ(edo_watch_changed(c, &got), 0);
    CHECK_EQ(got.n, 4);
    CHECK_EQ(edo_watch_changed(a, &got), 0);
    CHECK_EQ(got.n, 4);
    CHECK_EQ(edo_watch_receiver_count(w), 3);
    edo_watch_receiver_close(b);
    edo_watch_receiver_close(c);
    edo_watch_receiver_close(a);
    CHECK_EQ(edo_watch_receiver_count(w), 0);
    CHECK_EQ(edo_watch_send(w, &v), -EPIPE);
    CHECK_EQ(edo_watch_send_modify(w, bump, w), 1); /* stores, with or without receivers */
    edo_watch_sender_close(w);
    return NULL;
}

TEST(watch_latest_value_skips_never_stale) { run_paused(watch_basics, NULL); }

typedef struct {
    edo_watch_receiver *rx;
    versioned got[4];
    int n;
    int rc;
} watcher;

static void *watch_until_closed(void *arg)
{
    watcher *wt = arg;
    versioned v;
    while ((wt->rc = edo_watch_changed(wt->rx, &v)) == 0)
        wt->got[wt->n++] = v;
    return NULL;
}

static void *watch_close_cases(void *arg)
{
    (void)arg;
    versioned v = ver(0);
    edo_watch *w;
    CHECK_EQ(edo_watch_new(&v, sizeof v, &w), 0);
    watcher wt[2] = {{0}, {0}};
    edo_task *t[2];
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(edo_watch_subscribe(w, &wt[i].rx), 0);
        CHECK_EQ(edo_spawn(watch_until_closed, &wt[i], &t[i]), 0);
    }
    CHECK_EQ(edo_yield(), 0); /* both wait */
    v = ver(7);
    CHECK_EQ(edo_watch_send(w, &v), 0);
    v = ver(8);
    CHECK_EQ(edo_watch_send(w, &v), 0); /* before they ran: they see 8 only */
    edo_watch_sender_close(w);          /* the last value still arrives, then -EPIPE */
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
        CHECK_EQ(wt[i].n, 1);
        CHECK_EQ(wt[i].got[0].n, 8);
        CHECK_EQ(wt[i].rc, -EPIPE);
        CHECK_EQ(edo_watch_has_changed(wt[i].rx), -EPIPE);
        versioned got;
        CHECK_EQ(edo_watch_get(wt[i].rx, &got), 0); /* the value stays readable */
        CHECK_EQ(got.n, 8);
        edo_watch_receiver_close(wt[i].rx); /* the last one frees the channel */
    }
    return NULL;
}

TEST(watch_close_while_waiting) { run_paused(watch_close_cases, NULL); }

static void *changed_once(void *arg) { return (void *)(intptr_t)edo_watch_changed(arg, NULL); }

static void *watch_cancel_cases(void *arg)
{
    (void)arg;
    versioned v = ver(0), got;
    edo_watch *w;
    edo_watch_receiver *rx;
    CHECK_EQ(edo_watch_new(&v, sizeof v, &w), 0);
    CHECK_EQ(edo_watch_subscribe(w, &rx), 0);
    /* A deadline cuts the wait short; the change that comes later is still reported. */
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_watch_changed(rx, &got), -ETIMEDOUT);
    edo_deadline_pop(saved);
    v = ver(1);
    CHECK_EQ(edo_watch_send(w, &v), 0);
    /* The future form is ready at once for a change not seen yet. */
    edo_context cx = noop_cx();
    edo_watch_changed_future f;
    edo_watch_changed_future_init(&f, rx, &got);
    got = ver(99);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY); /* already changed */
    CHECK_EQ(f.result, 0);
    CHECK_EQ(got.n, 1);
    edo_future_drop(&f.base);
    edo_watch_changed_future_init(&f, rx, &got);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
    v = ver(2);
    CHECK_EQ(edo_watch_send(w, &v), 0);
    edo_future_drop(&f.base); /* dropped before its ready poll */
    CHECK_EQ(got.n, 1);       /* nothing copied */
    CHECK_EQ(edo_watch_has_changed(rx), 1);
    /* An aborted waiter (its own receiver, a clone) loses nothing either. */
    edo_watch_receiver *clone;
    CHECK_EQ(edo_watch_receiver_clone(rx, &clone), 0);
    CHECK_EQ(edo_watch_changed(clone, NULL), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn(changed_once, clone, &t), 0);
    CHECK_EQ(edo_yield(), 0);
    edo_task_abort(t);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
    v = ver(3);
    CHECK_EQ(edo_watch_send(w, &v), 0);
    CHECK_EQ(edo_watch_changed(clone, &got), 0);
    CHECK_EQ(got.n, 3);
    CHECK_EQ(edo_watch_changed(rx, &got), 0);
    CHECK_EQ(got.n, 3);
    edo_watch_receiver_close(clone);
    edo_watch_sender_close(w);
    CHECK_EQ(edo_watch_changed(rx, &got), -EPIPE);
    edo_watch_receiver_close(rx);
    return NULL;
}

TEST(watch_cancelled_changed_loses_nothing) { run_paused(watch_cancel_cases, NULL); }

/* One sender streams versions; receivers on other workers check every value they see is whole,
 * newer than the last, and that they end on the last one. */
typedef struct {
    edo_watch *w;
    edo_watch_receiver *rx[4];
    uint64_t last;
} watch_race_state;

static void *watch_race_receiver(void *arg)
{
    edo_watch_receiver *rx = arg;
    versioned v, prev = ver(0);
    uint64_t seen = 0;
    int rc;
    while ((rc = edo_watch_changed(rx, &v)) == 0) {
        CHECK_EQ(v.check, ~v.n);
        CHECK(v.n > prev.n);
        prev = v;
        if (++seen % 3 == 0)
            CHECK_EQ(edo_yield(), 0); /* fall behind now and then */
    }
    CHECK_EQ(rc, -EPIPE);
    edo_watch_receiver_close(rx);
    return (void *)(uintptr_t)prev.n;
}

static void *watch_race_sender(void *arg)
{
    watch_race_state *st = arg;
    for (uint64_t i = 1; i <= st->last; i++) {
        versioned v = ver(i);
        CHECK_EQ(edo_watch_send(st->w, &v), 0);
        if (i % 16 == 0)
            CHECK_EQ(edo_yield(), 0);
    }
    edo_watch_sender_close(st->w);
    return NULL;
}

static void *watch_race_main(void *arg)
{
    watch_race_state *st = arg;
    edo_task *r[4], *s;
    for (int i = 0; i < 4; i++)
        CHECK_EQ(edo_spawn(watch_race_receiver, st->rx[i], &r[i]), 0);
    CHECK_EQ(edo_spawn(watch_race_sender, st, &s), 0);
    CHECK_EQ(edo_task_join(s, NULL), 0);
    edo_task_free(s);
    for (int i = 0; i < 4; i++) {
        void *last;
        CHECK_EQ(edo_task_join(r[i], &last), 0);
        CHECK_EQ((uintptr_t)last, st->last); /* the final value always arrives */
        edo_task_free(r[i]);
    }
    return NULL;
}

TEST(watch_multi_worker_race)
{
    versioned v = ver(0);
    watch_race_state st = {.last = SCALE(20000, 5000, 1000)};
    CHECK_EQ(edo_watch_new(&v, sizeof v, &st.w), 0);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(edo_watch_subscribe(st.w, &st.rx[i]), 0);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, watch_race_main, &st);
}

TEST(watch_bad_input)
{
    versioned v = ver(0);
    edo_watch *w;
    edo_watch_receiver *rx;
    CHECK_EQ(edo_watch_new(&v, sizeof v, NULL), -EINVAL);
    CHECK_EQ(edo_watch_new(NULL, sizeof v, &w), -EINVAL);
    CHECK_EQ(edo_watch_new(&v, 0, &w), -EINVAL);
    CHECK_EQ(edo_watch_new(&v, EDO_WATCH_MAX_SIZE + 1, &w), -EINVAL);
    CHECK_EQ(edo_watch_new(&v, sizeof v, &w), 0);
    CHECK_EQ(edo_watch_send(NULL, &v), -EINVAL);
    CHECK_EQ(edo_watch_send(w, NULL), -EINVAL);
    CHECK_EQ(edo_watch_send_modify(w, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_watch_send_modify(NULL, bump, w), -EINVAL);
    CHECK_EQ(edo_watch_subscribe(NULL, &rx), -EINVAL);
    CHECK_EQ(edo_watch_subscribe(w, NULL), -EINVAL);
    CHECK_EQ(edo_watch_subscribe(w, &rx), 0);
    CHECK_EQ(edo_watch_receiver_clone(NULL, &rx), -EINVAL);
    CHECK_EQ(edo_watch_receiver_clone(rx, NULL), -EINVAL);
    CHECK_EQ(edo_watch_changed(NULL, &v), -EINVAL);
    CHECK_EQ(edo_watch_changed(rx, &v), -EPERM); /* not in a coroutine */
    CHECK_EQ(edo_watch_has_changed(NULL), -EINVAL);
    CHECK_EQ(edo_watch_get(NULL, &v), -EINVAL);
    CHECK_EQ(edo_watch_get(rx, NULL), -EINVAL);
    CHECK_EQ(edo_watch_receiver_count(NULL), 0);
    edo_context cx = noop_cx();
    edo_watch_changed_future f;
    edo_watch_changed_future_init(&f, NULL, NULL);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    edo_watch_receiver_close(NULL);
    edo_watch_sender_close(NULL);
    edo_watch_receiver_close(rx);
    edo_watch_sender_close(w);
}

/* ---- broadcast ---------------------------------------------------------------------------------- */

typedef struct {
    edo_broadcast_receiver *rx;
    int got[16];
    int n, rc;
} listener;

static void *listen_until_closed(void *arg)
{
    listener *l = arg;
    int m;
    while ((l->rc = edo_broadcast_recv(l->rx, &m, NULL)) == 0)
        l->got[l->n++] = m;
    return NULL;
}

static void *broadcast_order_cases(void *arg)
{
    (void)arg;
    edo_broadcast *b;
    CHECK_EQ(edo_broadcast_new(8, sizeof(int), &b), 0);
    int m = -1;
    CHECK_EQ(edo_broadcast_send(b, &m), -EPIPE); /* no receiver: nothing stored */
    enum { R = 3 };
    listener l[R] = {{0}, {0}, {0}};
    edo_task *t[R];
    for (int i = 0; i < R; i++) {
        CHECK_EQ(edo_broadcast_subscribe(b, &l[i].rx), 0);
        CHECK_EQ(edo_spawn(listen_until_closed, &l[i], &t[i]), 0);
    }
    CHECK_EQ(edo_broadcast_receiver_count(b), R);
    CHECK_EQ(edo_yield(), 0); /* they wait */
    for (m = 0; m < 5; m++) {
        CHECK_EQ(edo_broadcast_send(b, &m), 0);
        if (m == 2)
            CHECK_EQ(edo_yield(), 0); /* some arrive while they wait, some queue */
    }
    /* A receiver added now sees only what comes from now on. */
    edo_broadcast_receiver *late;
    CHECK_EQ(edo_broadcast_subscribe(b, &late), 0);
    CHECK_EQ(edo_broadcast_len(late), 0);
    CHECK_EQ(edo_broadcast_try_recv(late, &m, NULL), -EAGAIN);
    /* A second sender; the channel closes when both have. */
    edo_broadcast_sender_add(b);
    m = 5;
    CHECK_EQ(edo_broadcast_send(b, &m), 0);
    edo_broadcast_sender_close(b);
    m = 6;
    CHECK_EQ(edo_broadcast_send(b, &m), 0);
    CHECK_EQ(edo_broadcast_len(late), 2);
    edo_broadcast_sender_close(b); /* receivers drain 5 and 6, then -EPIPE */
    for (int i = 0; i < R; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
        CHECK_EQ(l[i].rc, -EPIPE);
        CHECK_EQ(l[i].n, 7);
        for (int k = 0; k < 7; k++)
            CHECK_EQ(l[i].got[k], k);
        edo_broadcast_receiver_close(l[i].rx);
    }
    CHECK_EQ(edo_broadcast_recv(late, &m, NULL), 0);
    CHECK_EQ(m, 5);
    CHECK_EQ(edo_broadcast_try_recv(late, &m, NULL), 0);
    CHECK_EQ(m, 6);
    CHECK_EQ(edo_broadcast_try_recv(late, &m, NULL), -EPIPE);
    CHECK_EQ(edo_broadcast_recv(late, &m, NULL), -EPIPE);
    edo_broadcast_receiver_close(late); /* the last side: frees it */
    return NULL;
}

TEST(broadcast_ordered_to_every_receiver_late_and_close) { run_paused(broadcast_order_cases, NULL); }

TEST(broadcast_lag_count_exact)
{
    edo_broadcast *b;
    edo_broadcast_receiver *slow, *fast;
    CHECK_EQ(edo_broadcast_new(4, sizeof(int), &b), 0);
    CHECK_EQ(edo_broadcast_subscribe(b, &slow), 0);
    CHECK_EQ(edo_broadcast_subscribe(b, &fast), 0);
    int m;
    uint64_t missed = 0;
    for (int i = 0; i < 10; i++) {
        CHECK_EQ(edo_broadcast_send(b, &i), 0);
        CHECK_EQ(edo_broadcast_try_recv(fast, &m, &missed), 0); /* keeps up: never lags */
        CHECK_EQ(m, i);
    }
    CHECK_EQ(edo_broadcast_len(slow), 4); /* only 6..9 are still held */
    CHECK_EQ(edo_broadcast_try_recv(slow, &m, &missed), -EOVERFLOW);
    CHECK_EQ(missed, 6);
    for (int i = 6; i < 10; i++) {
        CHECK_EQ(edo_broadcast_try_recv(slow, &m, &missed), 0);
        CHECK_EQ(m, i);
    }
    CHECK_EQ(edo_broadcast_try_recv(slow, &m, NULL), -EAGAIN);
    /* Lagging again, by exactly one; a NULL `missed` is allowed. */
    for (int i = 10; i < 15; i++)
        CHECK_EQ(edo_broadcast_send(b, &i), 0);
    edo_context cx = noop_cx();
    edo_broadcast_recv_future f;
    edo_broadcast_recv_future_init(&f, slow, &m);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, -EOVERFLOW);
    CHECK_EQ(f.missed, 1);
    edo_future_drop(&f.base);
    CHECK_EQ(edo_broadcast_try_recv(slow, &m, NULL), 0);
    CHECK_EQ(m, 11);
    edo_broadcast_receiver_close(slow);
    edo_broadcast_receiver_close(fast);
    edo_broadcast_sender_close(b);
}

static void *recv_once(void *arg)
{
    int m;
    return (void *)(intptr_t)edo_broadcast_recv(arg, &m, NULL);
}

static void *broadcast_cancel_cases(void *arg)
{
    (void)arg;
    edo_broadcast *b;
    edo_broadcast_receiver *rx;
    CHECK_EQ(edo_broadcast_new(4, sizeof(int), &b), 0);
    CHECK_EQ(edo_broadcast_subscribe(b, &rx), 0);
    int m = 0;
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_broadcast_recv(rx, &m, NULL), -ETIMEDOUT);
    edo_deadline_pop(saved);
    /* Aborted while waiting: takes nothing. */
    edo_task *t;
    CHECK_EQ(edo_spawn(recv_once, rx, &t), 0);
    CHECK_EQ(edo_yield(), 0);
    edo_task_abort(t);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
    /* A future woken by the send but dropped before its next poll takes nothing. */
    edo_context cx = noop_cx();
    edo_broadcast_recv_future f;
    int into = -1;
    edo_broadcast_recv_future_init(&f, rx, &into);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
    m = 41;
    CHECK_EQ(edo_broadcast_send(b, &m), 0);
    edo_future_drop(&f.base);
    CHECK_EQ(into, -1);
    CHECK_EQ(edo_broadcast_len(rx), 1);
    CHECK_EQ(edo_broadcast_recv(rx, &m, NULL), 0);
    CHECK_EQ(m, 41);
    edo_broadcast_sender_close(b);
    CHECK_EQ(edo_broadcast_recv(rx, &m, NULL), -EPIPE);
    edo_broadcast_receiver_close(rx);
    return NULL;
}

TEST(broadcast_cancelled_recv_takes_nothing) { run_paused(broadcast_cancel_cases, NULL); }

/* Two senders (on other workers) stream tagged sequences through a small ring; receivers that
 * yield at random fall behind. Each sees every sender's sequence strictly increasing, and counts
 * every message: received + missed == sent. */
typedef struct {
    edo_broadcast *b;
    int per_sender;
    uint64_t seed;
} bc_stress;

typedef struct {
    uint32_t sender, seq;
} tagged;

static void *bc_stress_sender(void *arg)
{
    bc_stress *st = arg;
    uint32_t id = (uint32_t)atomic_fetch_add((_Atomic uint64_t *)&st->seed, 1) & 1;
    for (int i = 0; i < st->per_sender; i++) {
        tagged m = {id, (uint32_t)i};
        CHECK_EQ(edo_broadcast_send(st->b, &m), 0);
        if (i % 8 == 0)
            CHECK_EQ(edo_yield(), 0);
    }
    edo_broadcast_sender_close(st->b);
    return NULL;
}

static void *bc_stress_receiver(void *arg)
{
    edo_broadcast_receiver *rx = arg;
    uint64_t x = (uint64_t)(uintptr_t)rx | 1;
    int64_t last[2] = {-1, -1};
    uint64_t received = 0, missed_total = 0, missed;
    tagged m;
    for (int rc;;) {
        rc = edo_broadcast_recv(rx, &m, &missed);
        if (rc == -EPIPE)
            break;
        if (rc == -EOVERFLOW) {
            CHECK(missed > 0);
            missed_total += missed;
            continue;
        }
        CHECK_EQ(rc, 0);
        CHECK(m.sender < 2);
        CHECK((int64_t)m.seq > last[m.sender]);
        last[m.sender] = m.seq;
        received++;
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        if (x % 5 == 0)
            CHECK_EQ(edo_yield(), 0);
    }
    edo_broadcast_receiver_close(rx);
    return (void *)(uintptr_t)(received + missed_total);
}

TEST(broadcast_randomized_stress)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    bc_stress st = {.per_sender = SCALE(20000, 5000, 1500)};
    CHECK_EQ(edo_broadcast_new(8, sizeof(tagged), &st.b), 0);
    enum { R = 4 };
    edo_task *r[R], *s[2];
    for (int i = 0; i < R; i++) {
        edo_broadcast_receiver *rx;
        CHECK_EQ(edo_broadcast_subscribe(st.b, &rx), 0);
        CHECK_EQ(edo_spawn_with(rt, NULL, bc_stress_receiver, rx, &r[i]), 0);
    }
    edo_broadcast_sender_add(st.b); /* one per sender task; the creator's is closed below */
    edo_broadcast_sender_add(st.b);
    for (int i = 0; i < 2; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, bc_stress_sender, &st, &s[i]), 0);
    edo_broadcast_sender_close(st.b);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ(edo_task_join(s[i], NULL), 0);
        edo_task_free(s[i]);
    }
    for (int i = 0; i < R; i++) {
        void *counted;
        CHECK_EQ(edo_task_join(r[i], &counted), 0);
        CHECK_EQ((uintptr_t)counted, 2u * (unsigned)st.per_sender);
        edo_task_free(r[i]);
    }
    edo_runtime_free(rt);
}

TEST(broadcast_bad_input)
{
    edo_broadcast *b;
    edo_broadcast_receiver *rx;
    int m = 0;
    CHECK_EQ(edo_broadcast_new(4, 4, NULL), -EINVAL);
    CHECK_EQ(edo_broadcast_new(0, 4, &b), -EINVAL);
    CHECK_EQ(edo_broadcast_new(4, 0, &b), -EINVAL);
    CHECK_EQ(edo_broadcast_new(SIZE_MAX / 2, 4, &b), -EINVAL); /* the ring would overflow */
    CHECK_EQ(edo_broadcast_new(EDO_BROADCAST_MAX_BYTES / 4 + 1, 4, &b), -EINVAL);
    CHECK_EQ(edo_broadcast_new(4, sizeof m, &b), 0);
    CHECK_EQ(edo_broadcast_send(NULL, &m), -EINVAL);
    CHECK_EQ(edo_broadcast_send(b, NULL), -EINVAL);
    CHECK_EQ(edo_broadcast_subscribe(NULL, &rx), -EINVAL);
    CHECK_EQ(edo_broadcast_subscribe(b, NULL), -EINVAL);
    CHECK_EQ(edo_broadcast_subscribe(b, &rx), 0);
    CHECK_EQ(edo_broadcast_recv(NULL, &m, NULL), -EINVAL);
    CHECK_EQ(edo_broadcast_recv(rx, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_broadcast_recv(rx, &m, NULL), -EPERM);
    CHECK_EQ(edo_broadcast_try_recv(NULL, &m, NULL), -EINVAL);
    CHECK_EQ(edo_broadcast_try_recv(rx, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_broadcast_len(NULL), 0);
    CHECK_EQ(edo_broadcast_receiver_count(NULL), 0);
    edo_context cx = noop_cx();
    edo_broadcast_recv_future f;
    edo_broadcast_recv_future_init(&f, rx, NULL);
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_READY);
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    edo_broadcast_sender_add(NULL);
    edo_broadcast_sender_close(NULL);
    edo_broadcast_receiver_close(NULL);
    edo_broadcast_sender_close(b);
    edo_broadcast_receiver_close(rx);
}

/* ---- blocking forms -------------------------------------------------------------------------- */

enum { FEED = 200 };

/* A plain thread sends FEED messages (through a channel of 2, so it blocks on room), then
 * closes its sender. */
static void *thread_feeds(void *arg)
{
    edo_chan *ch = arg;
    for (intptr_t i = 1; i <= FEED; i++)
        CHECK_EQ(edo_chan_send_blocking(ch, (void *)i, EDO_WAIT_FOREVER), 0);
    edo_chan_sender_close(ch);
    return NULL;
}

static void *coro_consumes(void *arg)
{
    edo_chan *ch = arg;
    void *msg;
    intptr_t expect = 1;
    int rc;
    while ((rc = edo_chan_recv(ch, &msg)) == 0)
        CHECK_EQ((intptr_t)msg, expect++);
    CHECK_EQ(rc, -EPIPE);
    CHECK_EQ(expect, FEED + 1);
    edo_chan_receiver_close(ch);
    return NULL;
}

/* A coroutine feeds a plain thread: mpsc, then oneshot, broadcast and watch. */
typedef struct {
    edo_chan *ch;
    edo_oneshot *o;
    edo_broadcast *b;
    edo_broadcast_receiver *brx;
    edo_watch *w;
    edo_watch_receiver *wrx;
} feeds;

/* A channel of `capacity`, a oneshot, a broadcast of 4 ints and a watch of a versioned 0, with
 * a receiver each. */
static void feeds_new(feeds *f, size_t capacity)
{
    versioned v = ver(0);
    CHECK_EQ(edo_chan_new(capacity, NULL, &f->ch), 0);
    CHECK_EQ(edo_oneshot_new(&f->o), 0);
    CHECK_EQ(edo_broadcast_new(4, sizeof(int), &f->b), 0);
    CHECK_EQ(edo_broadcast_subscribe(f->b, &f->brx), 0);
    CHECK_EQ(edo_watch_new(&v, sizeof v, &f->w), 0);
    CHECK_EQ(edo_watch_subscribe(f->w, &f->wrx), 0);
}

static void *coro_feeds(void *arg)
{
    feeds *f = arg;
    for (intptr_t i = 1; i <= FEED; i++)
        CHECK_EQ(edo_chan_send(f->ch, (void *)i), 0);
    edo_chan_sender_close(f->ch);
    CHECK_EQ(edo_oneshot_send(f->o, (void *)77), 0);
    for (int i = 0; i < 3; i++)
        CHECK_EQ(edo_broadcast_send(f->b, &i), 0);
    edo_broadcast_sender_close(f->b);
    /* The thread waits for the watch; give it time to park (either way is correct). */
    CHECK_EQ(edo_sleep(EDO_MSEC(2)), 0);
    versioned v = ver(5);
    CHECK_EQ(edo_watch_send(f->w, &v), 0);
    edo_watch_sender_close(f->w);
    return NULL;
}

static void *thread_consumes(void *arg)
{
    feeds *f = arg;
    void *msg;
    intptr_t expect = 1;
    int rc;
    while ((rc = edo_chan_recv_blocking(f->ch, &msg, EDO_WAIT_FOREVER)) == 0)
        CHECK_EQ((intptr_t)msg, expect++);
    CHECK_EQ(rc, -EPIPE);
    CHECK_EQ(expect, FEED + 1);
    edo_chan_receiver_close(f->ch);
    CHECK_EQ(edo_oneshot_recv_blocking(f->o, &msg, EDO_WAIT_FOREVER), 0);
    CHECK_EQ((intptr_t)msg, 77);
    int m;
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(edo_broadcast_recv_blocking(f->brx, &m, NULL, EDO_WAIT_FOREVER), 0);
        CHECK_EQ(m, i);
    }
    CHECK_EQ(edo_broadcast_recv_blocking(f->brx, &m, NULL, EDO_WAIT_FOREVER), -EPIPE);
    edo_broadcast_receiver_close(f->brx);
    versioned v;
    CHECK_EQ(edo_watch_changed_blocking(f->wrx, &v, EDO_WAIT_FOREVER), 0);
    CHECK_EQ(v.n, 5);
    CHECK_EQ(edo_watch_changed_blocking(f->wrx, &v, EDO_WAIT_FOREVER), -EPIPE);
    edo_watch_receiver_close(f->wrx);
    return NULL;
}

static void threads_and_tasks(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    /* thread -> coroutine */
    edo_chan *ch;
    CHECK_EQ(edo_chan_new(2, NULL, &ch), 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, thread_feeds, ch), 0);
    run_on(rt, coro_consumes, ch);
    CHECK_EQ(pthread_join(th, NULL), 0);
    /* coroutine -> thread */
    feeds f;
    feeds_new(&f, 2);
    CHECK_EQ(pthread_create(&th, NULL, thread_consumes, &f), 0);
    run_on(rt, coro_feeds, &f);
    CHECK_EQ(pthread_join(th, NULL), 0);
    edo_runtime_free(rt);
}

TEST(blocking_threads_and_tasks_multi_thread) { threads_and_tasks(EDO_RUNTIME_MULTI_THREAD); }
TEST(blocking_threads_and_tasks_current_thread) { threads_and_tasks(EDO_RUNTIME_CURRENT_THREAD); }

/* A thread blocked in each receive is woken with -EPIPE when the other side closes. */
typedef struct {
    edo_chan *ch;
    edo_oneshot *o;
    _Atomic int done;
} closing;

static void *blocked_until_closed(void *arg)
{
    closing *c = arg;
    void *msg;
    CHECK_EQ(edo_chan_recv_blocking(c->ch, &msg, EDO_WAIT_FOREVER), -EPIPE);
    CHECK_EQ(edo_oneshot_recv_blocking(c->o, &msg, EDO_WAIT_FOREVER), -EPIPE);
    atomic_store(&c->done, 1);
    return NULL;
}

static void *close_them(void *arg)
{
    closing *c = arg;
    CHECK_EQ(edo_sleep(EDO_MSEC(5)), 0); /* the thread parks meanwhile (not required) */
    edo_chan_sender_close(c->ch);
    CHECK_EQ(edo_sleep(EDO_MSEC(5)), 0);
    CHECK_EQ(atomic_load(&c->done), 0); /* still waiting for the oneshot */
    edo_oneshot_sender_close(c->o);
    return NULL;
}

TEST(blocking_close_wakes_thread)
{
    closing c = {.done = 0};
    CHECK_EQ(edo_chan_new(0, NULL, &c.ch), 0);
    CHECK_EQ(edo_oneshot_new(&c.o), 0);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, blocked_until_closed, &c), 0);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, close_them, &c);
    CHECK_EQ(pthread_join(th, NULL), 0);
    CHECK_EQ(atomic_load(&c.done), 1);
    edo_chan_receiver_close(c.ch);
}

/* Inside the runtime they refuse to block; outside, a timeout undoes everything. */
static void *deadlock_cases(void *arg)
{
    feeds *f = arg;
    void *msg;
    int m;
    versioned v;
    CHECK_EQ(edo_chan_send_blocking(f->ch, NULL, EDO_WAIT_FOREVER), -EDEADLK);
    CHECK_EQ(edo_chan_recv_blocking(f->ch, &msg, 0), -EDEADLK);
    CHECK_EQ(edo_oneshot_recv_blocking(f->o, &msg, 0), -EDEADLK);
    CHECK_EQ(edo_broadcast_recv_blocking(f->brx, &m, NULL, 0), -EDEADLK);
    CHECK_EQ(edo_watch_changed_blocking(f->wrx, &v, 0), -EDEADLK);
    CHECK_EQ(edo_chan_len(f->ch), 0); /* the refused send did nothing */
    return NULL;
}

TEST(blocking_deadlock_timeout_and_bad_input)
{
    feeds f;
    feeds_new(&f, 1);
    versioned v;
    run_coro(EDO_RUNTIME_CURRENT_THREAD, 0, deadlock_cases, &f);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 1, deadlock_cases, &f);

    /* Timeouts on a plain thread: 0 only tries; a wait that times out has done nothing. */
    void *msg;
    int m;
    CHECK_EQ(edo_chan_recv_blocking(f.ch, &msg, 0), -ETIMEDOUT);
    CHECK_EQ(edo_chan_send_blocking(f.ch, (void *)1, 0), 0); /* room for one */
    double t0 = now_s();
    CHECK_EQ(edo_chan_send_blocking(f.ch, (void *)2, EDO_MSEC(20)), -ETIMEDOUT); /* full */
    CHECK(now_s() - t0 >= 0.019);
    CHECK_EQ(edo_chan_len(f.ch), 1);
    CHECK_EQ(edo_chan_recv_blocking(f.ch, &msg, EDO_MSEC(20)), 0);
    CHECK_EQ((intptr_t)msg, 1);
    CHECK_EQ(edo_chan_try_recv(f.ch, &msg), -EAGAIN); /* the timed-out send sent nothing */
    CHECK_EQ(edo_oneshot_recv_blocking(f.o, &msg, EDO_MSEC(1)), -ETIMEDOUT);
    CHECK_EQ(edo_oneshot_send(f.o, (void *)3), 0); /* the receiver side is still open */
    CHECK_EQ(edo_oneshot_recv_blocking(f.o, &msg, 0), 0);
    CHECK_EQ((intptr_t)msg, 3);
    CHECK_EQ(edo_broadcast_recv_blocking(f.brx, &m, NULL, EDO_MSEC(1)), -ETIMEDOUT);
    CHECK_EQ(edo_watch_changed_blocking(f.wrx, &v, EDO_MSEC(1)), -ETIMEDOUT);
    v = ver(1);
    CHECK_EQ(edo_watch_send(f.w, &v), 0);
    CHECK_EQ(edo_watch_changed_blocking(f.wrx, &v, 0), 0); /* the change was not lost */
    CHECK_EQ(v.n, 1);
    /* Lag is reported by the blocking form too. */
    for (int i = 0; i < 6; i++)
        CHECK_EQ(edo_broadcast_send(f.b, &i), 0);
    uint64_t missed = 0;
    CHECK_EQ(edo_broadcast_recv_blocking(f.brx, &m, &missed, 0), -EOVERFLOW);
    CHECK_EQ(missed, 2);
    CHECK_EQ(edo_broadcast_recv_blocking(f.brx, &m, &missed, 0), 0);
    CHECK_EQ(m, 2);
    /* The semaphore's: a timed-out acquire holds nothing. */
    edo_semaphore *s;
    CHECK_EQ(edo_semaphore_new(1, &s), 0);
    CHECK_EQ(edo_semaphore_acquire_blocking(s, 2, EDO_MSEC(1)), -ETIMEDOUT);
    CHECK_EQ(edo_semaphore_available(s), 1);
    CHECK_EQ(edo_semaphore_acquire_blocking(s, 1, EDO_WAIT_FOREVER), 0);
    CHECK_EQ(edo_semaphore_available(s), 0);
    CHECK_EQ(edo_semaphore_acquire_blocking(s, 0, 0), -EINVAL);
    edo_semaphore_free(s);
    /* Bad input. */
    CHECK_EQ(edo_chan_send_blocking(NULL, NULL, 0), -EINVAL);
    CHECK_EQ(edo_chan_recv_blocking(NULL, &msg, 0), -EINVAL);
    CHECK_EQ(edo_chan_recv_blocking(f.ch, NULL, 0), -EINVAL);
    CHECK_EQ(edo_oneshot_recv_blocking(NULL, &msg, 0), -EINVAL);
    CHECK_EQ(edo_semaphore_acquire_blocking(NULL, 1, 0), -EINVAL);
    CHECK_EQ(edo_watch_changed_blocking(NULL, &v, 0), -EINVAL);
    CHECK_EQ(edo_broadcast_recv_blocking(NULL, &m, NULL, 0), -EINVAL);
    CHECK_EQ(edo_broadcast_recv_blocking(f.brx, NULL, NULL, 0), -EINVAL);
    edo_chan_sender_close(f.ch);
    edo_chan_receiver_close(f.ch);
    edo_broadcast_receiver_close(f.brx);
    edo_broadcast_sender_close(f.b);
    edo_watch_receiver_close(f.wrx);
    edo_watch_sender_close(f.w);
}
