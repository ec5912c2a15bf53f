/* The run queues on their own (core/queue.h): the bounded local ring (FIFO, overflow into the
 * global queue, stealing) and the global inject queue. The queues only link and store task
 * pointers, so fake tasks (zeroed edo__task structs of which only ->next is used) stand in. */
#include <string.h>

#include "core/queue.h"
#include "core/task.h"
#include "harness.h"
#include "util.h"

/* `n` fake tasks; the index of a task is its position in the array. */
static edo__task *fake_tasks(size_t n)
{
    edo__task *t = calloc(n, sizeof *t);
    CHECK(t != NULL);
    return t;
}

#define IDX(base, t) ((long)((t) - (base)))

static edo__local_queue *local_new(void)
{
    edo__local_queue *q = aligned_alloc(64, (sizeof *q + 63) / 64 * 64);
    CHECK(q != NULL);
    edo__local_init(q);
    return q;
}

TEST(local_fifo_order)
{
    edo__task *t = fake_tasks(300);
    edo__local_queue *q = local_new();
    edo__global_queue gq;
    edo__global_init(&gq);
    CHECK(edo__local_pop(q) == NULL); /* empty */
    CHECK_EQ(edo__local_len(q), 0);
    CHECK_EQ(edo__local_free(q), EDO__LOCAL_CAP);
    /* Several rounds so the positions wrap around the ring. */
    long next_in = 0, next_out = 0;
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 100; i++)
            CHECK(!edo__local_push_back(q, &t[next_in++ % 300], &gq)); /* no overflow */
        CHECK_EQ(edo__local_len(q), 100);
        CHECK_EQ(edo__local_free(q), EDO__LOCAL_CAP - 100);
        for (int i = 0; i < 100; i++) {
            edo__task *p = edo__local_pop(q);
            CHECK(p != NULL);
            CHECK_EQ(IDX(t, p), next_out++ % 300);
        }
        CHECK(edo__local_pop(q) == NULL);
        CHECK_EQ(edo__local_len(q), 0);
    }
    CHECK(edo__global_is_empty(&gq)); /* nothing overflowed */
    free(q);
    free(t);
}

TEST(local_overflow_moves_half_to_inject)
{
    const unsigned cap = EDO__LOCAL_CAP, half = EDO__LOCAL_CAP / 2;
    edo__task *t = fake_tasks(3 * cap);
    edo__local_queue *q = local_new();
    edo__global_queue gq;
    edo__global_init(&gq);
    edo__inject *inj_started = &gq.started; /* fake tasks count as having run */
    for (unsigned i = 0; i < cap; i++)
        CHECK(!edo__local_push_back(q, &t[i], &gq));
    CHECK_EQ(edo__local_len(q), cap);
    CHECK_EQ(edo__local_free(q), 0);
    CHECK(edo__global_is_empty(&gq));

    /* One more: the oldest half and the new task go to the inject queue, in order. */
    CHECK(edo__local_push_back(q, &t[cap], &gq)); /* reports the overflow */
    CHECK_EQ(edo__local_len(q), cap - half);
    CHECK_EQ(edo__inject_len(inj_started), half + 1);
    static edo__task *out[3 * EDO__LOCAL_CAP];
    size_t n = edo__inject_pop_batch(inj_started, out, 1000);
    CHECK_EQ(n, half + 1);
    for (size_t i = 0; i < n; i++) {
        long want = i < half ? (long)i : (long)cap;
        CHECK_EQ(IDX(t, out[i]), want);
        CHECK(edo__task_next(out[i]) == NULL); /* popped tasks come unlinked */
    }
    CHECK(edo__global_is_empty(&gq));

    /* The newer half stayed, still in order, and pushing continues after it. */
    for (unsigned i = cap + 1; i < cap + 1 + half; i++)
        CHECK(!edo__local_push_back(q, &t[i], &gq));
    CHECK_EQ(edo__local_len(q), cap);
    CHECK(edo__global_is_empty(&gq));
    for (unsigned i = half; i < cap + 1 + half; i++) {
        if (i == cap)
            continue; /* went to the inject queue */
        edo__task *p = edo__local_pop(q);
        CHECK(p != NULL);
        CHECK_EQ(IDX(t, p), i);
    }
    CHECK(edo__local_pop(q) == NULL);

    /* Many overflows in a row: every task ends up in exactly one of the two queues, and each
     * queue keeps push order within what it got from one overflow. */
    static int seen[3 * EDO__LOCAL_CAP];
    memset(seen, 0, sizeof seen);
    int overflows = 0;
    for (unsigned i = 0; i < 3 * cap; i++)
        overflows += edo__local_push_back(q, &t[i], &gq);
    CHECK_EQ(overflows, (3 * cap - cap) / (half + 1) + 1); /* 512 pushes past a full ring */
    CHECK(edo__local_len(q) <= cap);
    size_t total = 0;
    edo__task *p;
    long last = -1;
    while ((p = edo__local_pop(q))) {
        CHECK(IDX(t, p) > last);
        last = IDX(t, p);
        seen[IDX(t, p)]++;
        total++;
    }
    while ((n = edo__inject_pop_batch(inj_started, out, 7)) > 0) {
        CHECK(n <= 7);
        for (size_t i = 0; i < n; i++) {
            seen[IDX(t, out[i])]++;
            total++;
        }
    }
    CHECK(edo__global_is_empty(&gq));
    CHECK_EQ(total, 3 * cap);
    for (unsigned i = 0; i < 3 * cap; i++)
        CHECK_EQ(seen[i], 1);
    free(q);
    free(t);
}

TEST(local_steal_half)
{
    edo__task *t = fake_tasks(EDO__LOCAL_CAP * 2);
    edo__local_queue *victim = local_new(), *dst = local_new();
    edo__global_queue gq;
    edo__global_init(&gq);

    CHECK(edo__local_steal_into(victim, dst) == NULL); /* empty victim */
    CHECK_EQ(edo__local_len(dst), 0);

    /* 10 queued: 5 stolen (the oldest), the last of them returned, 4 land in dst. */
    for (int i = 0; i < 10; i++)
        edo__local_push_back(victim, &t[i], &gq);
    edo__task *run = edo__local_steal_into(victim, dst);
    CHECK(run != NULL);
    CHECK_EQ(IDX(t, run), 4);
    CHECK_EQ(edo__local_len(victim), 5);
    CHECK_EQ(edo__local_len(dst), 4);
    for (int i = 0; i < 4; i++)
        CHECK_EQ(IDX(t, edo__local_pop(dst)), i);
    CHECK(edo__local_pop(dst) == NULL);

    /* 5 left: 3 stolen (rounded up). */
    run = edo__local_steal_into(victim, dst);
    CHECK(run != NULL);
    CHECK_EQ(IDX(t, run), 7);
    CHECK_EQ(edo__local_len(victim), 2);
    CHECK_EQ(edo__local_len(dst), 2);
    CHECK_EQ(IDX(t, edo__local_pop(dst)), 5);
    CHECK_EQ(IDX(t, edo__local_pop(dst)), 6);

    /* The victim's owner still pops the rest in order. */
    CHECK_EQ(IDX(t, edo__local_pop(victim)), 8);
    /* One left: stolen alone and returned, nothing lands in dst. */
    run = edo__local_steal_into(victim, dst);
    CHECK(run != NULL);
    CHECK_EQ(IDX(t, run), 9);
    CHECK_EQ(edo__local_len(dst), 0);
    CHECK_EQ(edo__local_len(victim), 0);
    CHECK(edo__local_pop(victim) == NULL);
    CHECK(edo__local_steal_into(victim, dst) == NULL);

    /* A full victim gives half its ring. */
    for (unsigned i = 0; i < EDO__LOCAL_CAP; i++)
        edo__local_push_back(victim, &t[i], &gq);
    run = edo__local_steal_into(victim, dst);
    CHECK(run != NULL);
    CHECK_EQ(IDX(t, run), EDO__LOCAL_CAP / 2 - 1);
    CHECK_EQ(edo__local_len(dst), EDO__LOCAL_CAP / 2 - 1);
    CHECK_EQ(edo__local_len(victim), EDO__LOCAL_CAP / 2);

    /* A destination with less than half a ring of room does not steal. */
    for (unsigned i = 0; i < 2; i++)
        edo__local_push_back(dst, &t[EDO__LOCAL_CAP + i], &gq);
    CHECK(edo__local_len(dst) > EDO__LOCAL_CAP / 2);
    CHECK(edo__local_steal_into(victim, dst) == NULL);
    CHECK_EQ(edo__local_len(victim), EDO__LOCAL_CAP / 2);
    CHECK(edo__global_is_empty(&gq));

    free(victim);
    free(dst);
    free(t);
}

TEST(inject_batches)
{
    edo__task *t = fake_tasks(100);
    edo__task *out[100];
    edo__inject inj;
    edo__inject_init(&inj);
    CHECK_EQ(edo__inject_pop_batch(&inj, out, 10), 0);
    CHECK(edo__inject_is_empty(&inj));
    CHECK_EQ(edo__inject_len(&inj), 0);

    edo__inject_push(&inj, &t[0]);
    edo__inject_push(&inj, &t[1]);
    /* A batch t[2..5], linked by the caller. */
    for (int i = 2; i < 5; i++)
        edo__task_set_next(&t[i], &t[i + 1]);
    edo__inject_push_batch(&inj, &t[2], &t[5], 4);
    edo__inject_push(&inj, &t[6]);
    CHECK_EQ(edo__inject_len(&inj), 7);
    CHECK(!edo__inject_is_empty(&inj));

    CHECK_EQ(edo__inject_pop_batch(&inj, out, 0), 0); /* max 0: nothing */
    CHECK_EQ(edo__inject_len(&inj), 7);

    CHECK_EQ(edo__inject_pop_batch(&inj, out, 3), 3);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(IDX(t, out[i]), i);
        CHECK(edo__task_next(out[i]) == NULL);
    }
    CHECK_EQ(edo__inject_len(&inj), 4);

    /* Pushing after a partial pop appends behind what is left. */
    edo__inject_push(&inj, &t[7]);
    CHECK_EQ(edo__inject_pop_batch(&inj, out, 100), 5);
    for (int i = 0; i < 5; i++)
        CHECK_EQ(IDX(t, out[i]), 3 + i);
    CHECK(edo__inject_is_empty(&inj));
    CHECK_EQ(edo__inject_pop_batch(&inj, out, 100), 0);

    /* Emptied down to the last task and refilled, many times: order and count hold. */
    long next_in = 0, next_out = 0;
    for (int round = 0; round < 50; round++) {
        int k = round % 5 + 1;
        for (int i = 0; i < k; i++)
            edo__inject_push(&inj, &t[next_in++ % 100]);
        CHECK_EQ(edo__inject_len(&inj), k);
        size_t got = 0;
        while (got < (size_t)k) {
            size_t n = edo__inject_pop_batch(&inj, out, 2);
            CHECK(n >= 1 && n <= 2);
            for (size_t i = 0; i < n; i++)
                CHECK_EQ(IDX(t, out[i]), next_out++ % 100);
            got += n;
        }
        CHECK(edo__inject_is_empty(&inj));
        CHECK_EQ(edo__inject_pop_batch(&inj, out, 2), 0);
    }
    free(t);
}

/* A batch takes every task that ran before, in order, but at most EDO__FRESH_BATCH never-run
 * ones: a timer's wake-up must not queue behind a long run of costly first polls. */
TEST(global_batch_caps_never_run_tasks)
{
    const size_t fresh = 3 * EDO__FRESH_BATCH, started = 5;
    edo__task *t = fake_tasks(fresh + started);
    edo__task *out[EDO__LOCAL_CAP];
    edo__global_queue gq;
    edo__global_init(&gq);
    for (size_t i = 0; i < fresh; i++) {
        t[i].owner = EDO__NO_OWNER;
        edo__global_push(&gq, &t[i]);
    }
    for (size_t i = fresh; i < fresh + started; i++)
        edo__global_push(&gq, &t[i]);
    CHECK_EQ(edo__global_len(&gq), fresh + started);
    /* Started ones first, then a capped run of fresh ones, oldest first. */
    size_t n = edo__global_pop_batch(&gq, out, EDO__LOCAL_CAP / 2, false);
    CHECK_EQ(n, started + EDO__FRESH_BATCH);
    for (size_t i = 0; i < started; i++)
        CHECK_EQ(IDX(t, out[i]), (long)(fresh + i));
    for (size_t i = 0; i < EDO__FRESH_BATCH; i++)
        CHECK_EQ(IDX(t, out[started + i]), (long)i);
    /* A smaller request than the cap is served in full; the rest stay queued, none lost. */
    CHECK_EQ(edo__global_pop_batch(&gq, out, 3, false), 3);
    CHECK_EQ(IDX(t, out[0]), (long)EDO__FRESH_BATCH);
    size_t left = fresh - EDO__FRESH_BATCH - 3, got = 0;
    while ((n = edo__global_pop_batch(&gq, out, EDO__LOCAL_CAP / 2, false)) > 0) {
        CHECK(n <= EDO__FRESH_BATCH);
        got += n;
    }
    CHECK_EQ(got, left);
    CHECK(edo__global_is_empty(&gq));
    free(t);
}

/* Plain threads push (singles and batches) while two consumers pop: every task comes out
 * exactly once, and each producer's tasks come out in the order it pushed them. */
typedef struct {
    edo__inject *inj;
    edo__task *tasks;
    long per_producer;
    int index;
    _Atomic int *go;
} inj_producer;

static void *inj_producer_main(void *arg)
{
    inj_producer *p = arg;
    while (!atomic_load(p->go))
        ;
    edo__task *mine = p->tasks + p->index * p->per_producer;
    for (long i = 0; i < p->per_producer;) {
        long batch = (i / 7) % 4 + 1;
        if (i + batch > p->per_producer)
            batch = p->per_producer - i;
        for (long k = 0; k + 1 < batch; k++)
            edo__task_set_next(&mine[i + k], &mine[i + k + 1]);
        if (batch == 1)
            edo__inject_push(p->inj, &mine[i]);
        else
            edo__inject_push_batch(p->inj, &mine[i], &mine[i + batch - 1], (size_t)batch);
        i += batch;
    }
    return NULL;
}

typedef struct {
    edo__inject *inj;
    edo__task *tasks;
    long per_producer, total;
    int producers;
    _Atomic long *taken;
    _Atomic int *seen;
    _Atomic int *go;
    long *last; /* per producer: the index last seen by this consumer */
} inj_consumer;

static void *inj_consumer_main(void *arg)
{
    inj_consumer *c = arg;
    while (!atomic_load(c->go))
        ;
    edo__task *out[16];
    double until = now_s() + 60.0;
    while (atomic_load(c->taken) < c->total) {
        size_t n = edo__inject_pop_batch(c->inj, out, 16);
        for (size_t i = 0; i < n; i++) {
            long idx = IDX(c->tasks, out[i]);
            CHECK(idx >= 0 && idx < c->total);
            CHECK_EQ(atomic_fetch_add(&c->seen[idx], 1), 0);
            long prod = idx / c->per_producer;
            CHECK(idx > c->last[prod]); /* FIFO per producer */
            c->last[prod] = idx;
        }
        atomic_fetch_add(c->taken, (long)n);
        if (!n) {
            CHECK(now_s() < until);
            sched_yield();
        }
    }
    return NULL;
}

TEST(inject_mpmc_race)
{
    enum { PRODUCERS = 3, CONSUMERS = 2 };
    const long per = SCALE(200000, 100000, 90000);
    const long total = per * PRODUCERS;
    edo__task *t = fake_tasks((size_t)total);
    _Atomic int *seen = calloc((size_t)total, sizeof *seen);
    CHECK(seen != NULL);
    edo__inject inj;
    edo__inject_init(&inj);
    _Atomic int go = 0;
    _Atomic long taken = 0;
    pthread_t pt[PRODUCERS], ct[CONSUMERS];
    inj_producer p[PRODUCERS];
    inj_consumer c[CONSUMERS];
    long last[CONSUMERS][PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++) {
        p[i] = (inj_producer){&inj, t, per, i, &go};
        CHECK_EQ(pthread_create(&pt[i], NULL, inj_producer_main, &p[i]), 0);
    }
    for (int i = 0; i < CONSUMERS; i++) {
        for (int k = 0; k < PRODUCERS; k++)
            last[i][k] = -1;
        c[i] = (inj_consumer){&inj, t, per, total, PRODUCERS, &taken, seen, &go, last[i]};
        CHECK_EQ(pthread_create(&ct[i], NULL, inj_consumer_main, &c[i]), 0);
    }
    double t0 = now_s();
    atomic_store(&go, 1);
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(pt[i], NULL);
    for (int i = 0; i < CONSUMERS; i++)
        pthread_join(ct[i], NULL);
    CHECK_EQ(atomic_load(&taken), total);
    for (long i = 0; i < total; i++)
        CHECK_EQ(atomic_load(&seen[i]), 1);
    CHECK(edo__inject_is_empty(&inj));
    fprintf(stderr, "  %ld tasks through the inject queue in %.2f s\n", total, now_s() - t0);
    free(seen);
    free(t);
}

/* ---- one owner pushing and popping, two stealers -------------------------------------- */

typedef struct {
    edo__local_queue *owner_q;
    edo__global_queue *inj;
    edo__task *tasks;
    long n;
    _Atomic int *seen;
    _Atomic long popped, stolen;
    _Atomic int owner_done;
    _Atomic int go;
} race_ctx;

typedef struct {
    race_ctx *c;
    edo__local_queue *q;
    long count;
} stealer_arg;

static void see(race_ctx *c, edo__task *p)
{
    long i = IDX(c->tasks, p);
    CHECK(i >= 0 && i < c->n);
    CHECK_EQ(atomic_fetch_add_explicit(&c->seen[i], 1, memory_order_relaxed), 0);
}

static void *owner_main(void *arg)
{
    race_ctx *c = arg;
    while (!atomic_load(&c->go))
        sched_yield();
    long pushed = 0, popped = 0;
    unsigned rng = 12345;
    while (pushed < c->n) {
        /* Bursts of pushes (sometimes past a full ring) and of pops, of varying length. */
        rng = rng * 1103515245u + 12345u;
        unsigned burst = (rng >> 16) % 300;
        for (unsigned i = 0; i < burst && pushed < c->n; i++)
            edo__local_push_back(c->owner_q, &c->tasks[pushed++], c->inj);
        rng = rng * 1103515245u + 12345u;
        unsigned pops = (rng >> 16) % 200;
        for (unsigned i = 0; i < pops; i++) {
            edo__task *p = edo__local_pop(c->owner_q);
            if (!p)
                break;
            see(c, p);
            popped++;
        }
    }
    edo__task *p;
    while ((p = edo__local_pop(c->owner_q))) {
        see(c, p);
        popped++;
    }
    atomic_store(&c->popped, popped);
    atomic_store(&c->owner_done, 1);
    return NULL;
}

static void *stealer_main(void *arg)
{
    stealer_arg *s = arg;
    race_ctx *c = s->c;
    while (!atomic_load(&c->go))
        sched_yield();
    for (;;) {
        /* Read before stealing: once the owner is done its ring is empty for good. */
        int done = atomic_load(&c->owner_done);
        edo__task *run = edo__local_steal_into(c->owner_q, s->q), *p;
        if (run) {
            see(c, run);
            s->count++;
        }
        while ((p = edo__local_pop(s->q))) {
            see(c, p);
            s->count++;
        }
        if (done)
            break;
        if (!run)
            sched_yield();
    }
    CHECK_EQ(edo__local_len(s->q), 0);
    return NULL;
}

TEST(steal_race)
{
    /* TSan runs the same interleavings ~20x slower: fewer items there. */
    const long n = SCALE(1000000, 300000, 300000);
    race_ctx c;
    memset(&c, 0, sizeof c);
    c.tasks = fake_tasks((size_t)n);
    c.n = n;
    c.seen = calloc((size_t)n, sizeof *c.seen);
    CHECK(c.seen != NULL);
    c.owner_q = local_new();
    edo__global_queue gq;
    edo__global_init(&gq);
    edo__inject *inj_started = &gq.started; /* fake tasks count as having run */
    c.inj = &gq;

    enum { STEALERS = 2 };
    pthread_t owner, th[STEALERS];
    stealer_arg sa[STEALERS];
    CHECK_EQ(pthread_create(&owner, NULL, owner_main, &c), 0);
    for (int i = 0; i < STEALERS; i++) {
        sa[i] = (stealer_arg){&c, local_new(), 0};
        CHECK_EQ(pthread_create(&th[i], NULL, stealer_main, &sa[i]), 0);
    }
    double t0 = now_s();
    atomic_store(&c.go, 1);
    pthread_join(owner, NULL);
    long stolen = 0;
    for (int i = 0; i < STEALERS; i++) {
        pthread_join(th[i], NULL);
        stolen += sa[i].count;
        free(sa[i].q);
    }
    long overflowed = 0;
    size_t got;
    edo__task *batch[64];
    while ((got = edo__inject_pop_batch(inj_started, batch, 64)) > 0) {
        for (size_t i = 0; i < got; i++) {
            see(&c, batch[i]);
            overflowed++;
        }
    }
    CHECK_EQ(atomic_load(&c.popped) + stolen + overflowed, n);
    for (long i = 0; i < n; i++)
        CHECK_EQ(atomic_load(&c.seen[i]), 1);
    fprintf(stderr, "  %ld items: owner popped %ld, stolen %ld, overflowed %ld (%.2f s)\n", n,
            (long)atomic_load(&c.popped), stolen, overflowed, now_s() - t0);
    CHECK(now_s() - t0 < 60.0); /* no livelock: it takes well under a second */
    free(c.owner_q);
    free(c.seen);
    free(c.tasks);
}
