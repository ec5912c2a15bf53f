/* edo's side of the contended synchronisation benchmarks (Tokio's in bench/tokio). */
#include "sync_workloads.h"
#include "bench.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CONTENDING_TASKS 10
#define CONTENDED_PERMITS 2

typedef struct {
    edo_mutex *mutex;
    edo_semaphore *sem;
    long rounds;
    long counter;
} contended;

static void *mutex_rounds(void *arg)
{
    contended *c = arg;
    for (long i = 0; i < c->rounds; i++) {
        must(edo_mutex_lock(c->mutex), "lock");
        c->counter++;
        edo_mutex_unlock(c->mutex);
    }
    return NULL;
}

static void *semaphore_rounds(void *arg)
{
    contended *c = arg;
    for (long i = 0; i < c->rounds; i++) {
        must(edo_semaphore_acquire(c->sem, 1), "acquire");
        edo_semaphore_release(c->sem, 1);
    }
    return NULL;
}

/* CONTENDING_TASKS coroutines share `n` rounds; returns the nanoseconds from the first spawn
 * until all are joined. */
static double contend(edo_runtime *rt, long n, void *(*body)(void *))
{
    contended c = {.rounds = n / CONTENDING_TASKS};
    must(edo_mutex_new(&c.mutex), "mutex");
    must(edo_semaphore_new(CONTENDED_PERMITS, &c.sem), "semaphore");
    edo_task *t[CONTENDING_TASKS];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < CONTENDING_TASKS; i++)
        must(edo_spawn_with(rt, NULL, body, &c, &t[i]), "spawn");
    for (int i = 0; i < CONTENDING_TASKS; i++) {
        must(edo_task_join(t[i], NULL), "join");
        edo_task_free(t[i]);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    if (body == mutex_rounds && c.counter != c.rounds * CONTENDING_TASKS) {
        fprintf(stderr, "edo-bench: mutex_contended lost updates\n");
        exit(1);
    }
    edo_mutex_free(c.mutex);
    edo_semaphore_free(c.sem);
    return (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
}

double mutex_contended(edo_runtime *rt, long n) { return contend(rt, n, mutex_rounds); }

double semaphore_contended(edo_runtime *rt, long n) { return contend(rt, n, semaphore_rounds); }

/* ---- ping_pong ---- */

#define PING_PAIRS 1000

static void *respond(void *arg)
{
    edo_oneshot **chans = arg; /* [0]: the ping, [1]: where to answer */
    edo_oneshot *answer = chans[1];
    must(edo_oneshot_recv(chans[0], NULL), "recv ping");
    must(edo_oneshot_send(answer, NULL), "send pong");
    return NULL;
}

static void *pinger(void *arg)
{
    long rounds = (long)(intptr_t)arg;
    for (long i = 0; i < rounds; i++) {
        edo_oneshot *chans[2];
        must(edo_oneshot_new(&chans[0]), "oneshot");
        must(edo_oneshot_new(&chans[1]), "oneshot");
        edo_oneshot *pong = chans[1];
        must(edo_spawn_detached(respond, chans), "spawn");
        must(edo_oneshot_send(chans[0], NULL), "send ping");
        must(edo_oneshot_recv(pong, NULL), "recv pong");
    }
    return NULL;
}

double ping_pong(edo_runtime *rt, long n)
{
    long rounds = n / PING_PAIRS;
    edo_task **t = malloc(PING_PAIRS * sizeof *t);
    if (!t)
        must(-ENOMEM, "malloc");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < PING_PAIRS; i++)
        must(edo_spawn_with(rt, NULL, pinger, (void *)(intptr_t)rounds, &t[i]), "spawn");
    for (int i = 0; i < PING_PAIRS; i++) {
        must(edo_task_join(t[i], NULL), "join");
        edo_task_free(t[i]);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    free(t);
    return (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
}

/* ---- ping_pong_pairs ---- */

/* PING_PAIRS long-lived pairs. Each round trip the pinger makes a new oneshot and sends it over
 * the pair's current one; the ponger receives it, makes the next oneshot and sends that back on
 * it (Tokio's `Ball(oneshot::Sender<Ball>)`). The pinger ends by closing its last sender without
 * sending, which ends the ponger. Two hops per round trip. */

static long pairs_rounds(long hops)
{
    long rounds = hops / (2 * PING_PAIRS);
    return rounds > 0 ? rounds : 1;
}

/* Spawns every pair (`pinger` and `ponger` make a pair's tasks from its first oneshot and its
 * round count), joins the pingers, and returns the nanoseconds that took. */
static double run_pairs(edo_runtime *rt, long rounds,
                        void (*pair)(edo_runtime *rt, edo_oneshot *first, long rounds,
                                     edo_task **pinger))
{
    edo_task **t = malloc(PING_PAIRS * sizeof *t);
    if (!t)
        must(-ENOMEM, "malloc");
    double t0 = clock_ns();
    for (int i = 0; i < PING_PAIRS; i++) {
        edo_oneshot *first;
        must(edo_oneshot_new(&first), "oneshot");
        pair(rt, first, rounds, &t[i]);
    }
    for (int i = 0; i < PING_PAIRS; i++) {
        must(edo_task_join(t[i], NULL), "join");
        edo_task_free(t[i]);
    }
    double ns = clock_ns() - t0;
    free(t);
    return ns;
}

/* The future form. */

typedef struct {
    edo_future base;
    edo_oneshot *to_ponger; /* the pair's current oneshot; this side sends on it */
    long left;
    bool waiting;
    edo_oneshot_recv_future reply;
} pinger_task;

static edo_poll pinger_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    pinger_task *p = (pinger_task *)f;
    for (;;) {
        if (p->waiting) {
            void *next;
            if (edo_future_poll(&p->reply.base, cx, &next) == EDO_PENDING)
                return EDO_PENDING;
            must(p->reply.result, "recv pong");
            p->to_ponger = next;
            p->waiting = false;
            p->left--;
        }
        if (p->left == 0) {
            edo_oneshot_sender_close(p->to_ponger);
            return EDO_READY;
        }
        edo_oneshot *back;
        must(edo_oneshot_new(&back), "oneshot");
        must(edo_oneshot_send(p->to_ponger, back), "send ping");
        edo_oneshot_recv_future_init(&p->reply, back);
        p->waiting = true;
    }
}
static const edo_future_vtable pinger_vtable = {pinger_poll, NULL};

typedef struct {
    edo_future base;
    edo_oneshot_recv_future inbox;
} ponger_task;

static edo_poll ponger_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)out;
    ponger_task *p = (ponger_task *)f;
    for (;;) {
        void *reply;
        if (edo_future_poll(&p->inbox.base, cx, &reply) == EDO_PENDING)
            return EDO_PENDING;
        if (p->inbox.result == -EPIPE)
            return EDO_READY; /* the pinger is done */
        must(p->inbox.result, "recv ping");
        edo_oneshot *next;
        must(edo_oneshot_new(&next), "oneshot");
        must(edo_oneshot_send(reply, next), "send pong");
        edo_oneshot_recv_future_init(&p->inbox, next);
    }
}
static const edo_future_vtable ponger_vtable = {ponger_poll, NULL};

static void future_pair(edo_runtime *rt, edo_oneshot *first, long rounds, edo_task **pinger)
{
    ponger_task po = {{&ponger_vtable}, {{NULL}, 0, NULL}};
    edo_oneshot_recv_future_init(&po.inbox, first);
    must(edo_spawn_future_on(rt, &po.base, sizeof po, NULL), "spawn");
    pinger_task pi = {{&pinger_vtable}, first, rounds, false, {{NULL}, 0, NULL}};
    must(edo_spawn_future_on(rt, &pi.base, sizeof pi, pinger), "spawn");
}

double ping_pong_pairs(edo_runtime *rt, long n)
{
    return run_pairs(rt, pairs_rounds(n), future_pair);
}

/* The coroutine form. */

typedef struct {
    edo_oneshot *first;
    long rounds;
} pair_start;

static void *pinger_coro(void *arg)
{
    pair_start *s = arg;
    edo_oneshot *to_ponger = s->first;
    for (long i = 0, rounds = s->rounds; i < rounds; i++) {
        edo_oneshot *back;
        void *next;
        must(edo_oneshot_new(&back), "oneshot");
        must(edo_oneshot_send(to_ponger, back), "send ping");
        must(edo_oneshot_recv(back, &next), "recv pong");
        to_ponger = next;
    }
    edo_oneshot_sender_close(to_ponger);
    free(s);
    return NULL;
}

static void *ponger_coro(void *arg)
{
    edo_oneshot *inbox = arg;
    for (;;) {
        void *reply;
        int rc = edo_oneshot_recv(inbox, &reply);
        if (rc == -EPIPE || rc == -ECANCELED)
            return NULL; /* the pinger is done, or the runtime is being freed */
        must(rc, "recv ping");
        must(edo_oneshot_new(&inbox), "oneshot");
        must(edo_oneshot_send(reply, inbox), "send pong");
    }
}

static void coro_pair(edo_runtime *rt, edo_oneshot *first, long rounds, edo_task **pinger)
{
    pair_start *s = malloc(sizeof *s);
    if (!s)
        must(-ENOMEM, "malloc");
    *s = (pair_start){first, rounds};
    must(edo_spawn_with(rt, NULL, ponger_coro, first, NULL), "spawn");
    must(edo_spawn_with(rt, NULL, pinger_coro, s, pinger), "spawn");
}

double coro_ping_pong_pairs(edo_runtime *rt, long n)
{
    return run_pairs(rt, pairs_rounds(n), coro_pair);
}

long ping_pong_pairs_hops(long n) { return pairs_rounds(n) * 2 * PING_PAIRS; }

/* ---- mpsc ---- */

#define MPSC_PRODUCERS 4
#define MPSC_CAPACITY 1024

typedef struct {
    edo_chan *ch;
    long count;
} mpsc_side;

static void *mpsc_produce(void *arg)
{
    mpsc_side *p = arg;
    for (long i = 0; i < p->count; i++)
        must(edo_chan_send(p->ch, (void *)(intptr_t)(i + 1)), "send");
    edo_chan_sender_close(p->ch);
    return NULL;
}

static void *mpsc_consume(void *arg)
{
    mpsc_side *c = arg;
    long got = 0;
    void *m;
    while (edo_chan_recv(c->ch, &m) == 0)
        got++;
    c->count = got;
    return NULL;
}

double mpsc(edo_runtime *rt, long n)
{
    long per = n / MPSC_PRODUCERS;
    edo_chan *ch;
    must(edo_chan_new(MPSC_CAPACITY, NULL, &ch), "chan");
    for (int i = 1; i < MPSC_PRODUCERS; i++)
        edo_chan_sender_add(ch);
    mpsc_side producer = {ch, per}, consumer = {ch, 0};
    edo_task *t[MPSC_PRODUCERS + 1];
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < MPSC_PRODUCERS; i++)
        must(edo_spawn_with(rt, NULL, mpsc_produce, &producer, &t[i]), "spawn");
    must(edo_spawn_with(rt, NULL, mpsc_consume, &consumer, &t[MPSC_PRODUCERS]), "spawn");
    for (int i = 0; i <= MPSC_PRODUCERS; i++) {
        must(edo_task_join(t[i], NULL), "join");
        edo_task_free(t[i]);
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    edo_chan_receiver_close(ch);
    if (consumer.count != per * MPSC_PRODUCERS) {
        fprintf(stderr, "edo-bench: mpsc lost messages\n");
        exit(1);
    }
    return (double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec);
}
