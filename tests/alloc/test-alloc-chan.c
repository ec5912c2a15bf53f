/* Allocation failures in the channels: mpsc (bounded and unbounded), oneshot, broadcast and
 * watch, each between coroutines on a multi-thread runtime. See alloc_test.h for what every case
 * checks; here also: no message lost (each one sent is received, or handed to on_unreceived,
 * which frees it: a lost message is a leak). */
#include "alloc_test.h"

#include <stdint.h>

#define MESSAGES 16

typedef struct {
    edo_chan *ch;
    int sent;
} producer;

static void *produce(void *arg)
{
    producer *p = arg;
    for (int i = 0; i < MESSAGES; i++) {
        int *msg = malloc(sizeof *msg);
        CHECK(msg);
        *msg = i;
        int rc = edo_chan_send(p->ch, msg);
        if (rc == -EPIPE) { /* the receiver stopped early */
            free(msg);
            break;
        }
        if (!ALLOC_OK(rc)) { /* an unbounded ring that could not grow */
            free(msg);
            continue;
        }
        p->sent++;
    }
    edo_chan_sender_close(p->ch);
    return NULL;
}

/* Two producers, one consumer; the consumer stops half-way through when `stop_early`, leaving
 * the rest to on_unreceived (free). */
static void mpsc(size_t capacity, bool stop_early)
{
    edo_chan *ch;
    if (!ALLOC_OK(edo_chan_new(capacity, free, &ch)))
        return;
    edo_chan_sender_add(ch);
    /* Unbounded: more messages queued at once than its first ring holds (16), so it grows. */
    int queued = 0;
    for (int i = 0; capacity == 0 && i < 20; i++) {
        int *msg = malloc(sizeof *msg);
        CHECK(msg);
        *msg = i % MESSAGES;
        if (ALLOC_OK(edo_chan_try_send(ch, msg)))
            queued++;
        else
            free(msg);
    }
    producer p[2] = {{ch, 0}, {ch, 0}};
    edo_task *t[2];
    int n = 0;
    for (int i = 0; i < 2; i++) {
        if (ALLOC_OK(edo_spawn(produce, &p[i], &t[n])))
            n++;
        else
            edo_chan_sender_close(ch); /* the producer that did not start */
    }
    int received = 0;
    void *msg;
    int rc;
    while ((!stop_early || received < MESSAGES / 2) && (rc = edo_chan_recv(ch, &msg)) == 0) {
        CHECK(*(int *)msg >= 0 && *(int *)msg < MESSAGES);
        free(msg);
        received++;
    }
    edo_chan_receiver_close(ch);
    for (int i = 0; i < n; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    if (!stop_early)
        CHECK_EQ(received, queued + p[0].sent + p[1].sent);
}

static void *mpsc_body(void *unused)
{
    (void)unused;
    mpsc(4, false);
    mpsc(0, false); /* unbounded: grows from its first ring */
    mpsc(0, true);
    return NULL;
}

TEST(mpsc)
{
    alloc_run(EDO_RUNTIME_MULTI_THREAD, false, mpsc_body, NULL);
}

static void *send_oneshot(void *arg)
{
    int *value = malloc(sizeof *value);
    CHECK(value);
    *value = 42;
    if (edo_oneshot_send(arg, value) < 0)
        free(value); /* the receiver closed first: still ours */
    return NULL;
}

static void *oneshot_body(void *unused)
{
    (void)unused;
    for (int round = 0; round < 2; round++) {
        edo_oneshot *o;
        if (!ALLOC_OK(edo_oneshot_new(&o)))
            continue;
        edo_task *t;
        if (!ALLOC_OK(edo_spawn(send_oneshot, o, &t))) {
            edo_oneshot_sender_close(o);
            CHECK_EQ(edo_oneshot_recv(o, NULL), -EPIPE);
            continue;
        }
        if (round == 0) {
            void *value = NULL;
            CHECK_EQ(edo_oneshot_recv(o, &value), 0);
            CHECK_EQ(*(int *)value, 42);
            free(value);
        } else {
            free(edo_oneshot_receiver_close(o)); /* the value, if it came first */
        }
        CHECK_EQ(edo_task_join(t, NULL), 0);
        edo_task_free(t);
    }
    return NULL;
}

TEST(oneshot)
{
    alloc_run(EDO_RUNTIME_MULTI_THREAD, false, oneshot_body, NULL);
}

static void *broadcast_listen(void *arg)
{
    edo_broadcast_receiver *rx = arg;
    uint64_t msg, next = 0, missed;
    int rc;
    while ((rc = edo_broadcast_recv(rx, &msg, &missed)) != -EPIPE) {
        if (rc == -EOVERFLOW) {
            next += missed;
            continue;
        }
        CHECK_EQ(rc, 0);
        CHECK_EQ(msg, next);
        next++;
    }
    edo_broadcast_receiver_close(rx);
    return (void *)(uintptr_t)next;
}

static void *broadcast_body(void *unused)
{
    (void)unused;
    edo_broadcast *b;
    if (!ALLOC_OK(edo_broadcast_new(4, sizeof(uint64_t), &b)))
        return NULL;
    edo_task *t[2];
    int n = 0;
    for (int i = 0; i < 2; i++) {
        edo_broadcast_receiver *rx;
        if (!ALLOC_OK(edo_broadcast_subscribe(b, &rx)))
            continue;
        if (ALLOC_OK(edo_spawn(broadcast_listen, rx, &t[n])))
            n++;
        else
            edo_broadcast_receiver_close(rx);
    }
    for (uint64_t i = 0; i < MESSAGES && n > 0; i++) {
        CHECK_EQ(edo_broadcast_send(b, &i), 0);
        if (i % 4 == 3)
            CHECK_EQ(edo_yield(), 0);
    }
    edo_broadcast_sender_close(b);
    for (int i = 0; i < n; i++) {
        void *got;
        CHECK_EQ(edo_task_join(t[i], &got), 0);
        CHECK_EQ((uintptr_t)got, MESSAGES); /* received or counted as missed, each one */
        edo_task_free(t[i]);
    }
    return NULL;
}

TEST(broadcast)
{
    alloc_run(EDO_RUNTIME_MULTI_THREAD, false, broadcast_body, NULL);
}

static void *watch_listen(void *arg)
{
    edo_watch_receiver *rx = arg;
    int value = 0, last = 0;
    while (edo_watch_changed(rx, &value) == 0) {
        CHECK(value > last); /* versions only move forward */
        last = value;
    }
    edo_watch_receiver_close(rx);
    return (void *)(intptr_t)last;
}

static void *watch_body(void *unused)
{
    (void)unused;
    int value = 0;
    edo_watch *w;
    if (!ALLOC_OK(edo_watch_new(&value, sizeof value, &w)))
        return NULL;
    edo_task *t[2];
    int n = 0;
    edo_watch_receiver *first = NULL;
    if (ALLOC_OK(edo_watch_subscribe(w, &first))) {
        edo_watch_receiver *second;
        if (ALLOC_OK(edo_watch_receiver_clone(first, &second))) {
            if (ALLOC_OK(edo_spawn(watch_listen, second, &t[n])))
                n++;
            else
                edo_watch_receiver_close(second);
        }
        if (ALLOC_OK(edo_spawn(watch_listen, first, &t[n])))
            n++;
        else
            edo_watch_receiver_close(first);
    }
    for (value = 1; value <= MESSAGES && n > 0; value++) {
        CHECK_EQ(edo_watch_send(w, &value), 0);
        CHECK_EQ(edo_yield(), 0);
    }
    edo_watch_sender_close(w);
    for (int i = 0; i < n; i++) {
        void *last;
        CHECK_EQ(edo_task_join(t[i], &last), 0);
        CHECK_EQ((intptr_t)last, MESSAGES); /* the last value is always seen */
        edo_task_free(t[i]);
    }
    return NULL;
}

TEST(watch)
{
    alloc_run(EDO_RUNTIME_MULTI_THREAD, false, watch_body, NULL);
}
