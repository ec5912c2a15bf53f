/* edo's side of the contended synchronisation benchmarks (Tokio's in bench/tokio). */
#include "sync_workloads.h"
#include "bench.h"

#include <errno.h>
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
    must(edo_semaphore_new(&c.sem, CONTENDED_PERMITS), "semaphore");
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
    must(edo_chan_new(&ch, MPSC_CAPACITY, NULL), "chan");
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
