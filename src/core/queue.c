#include "core/queue.h"

#include <stddef.h>

/* ---- global queue ---------------------------------------------------------------------- */

void edo__inject_init(edo__inject *q)
{
    atomic_init(&q->stub.next, NULL);
    atomic_init(&q->tail, &q->stub);
    atomic_init(&q->pushed, 0);
    atomic_init(&q->popped, 0);
    edo__spin_init(&q->pop_lock);
    q->head = &q->stub;
}

/* Modelled in queue.pml (link_batch, inject_push_batch, inject_pop): keep in step. */
static void link_batch(edo__inject *q, edo__task *first, edo__task *last)
{
    edo__task_set_next(last, NULL);
    edo__task *prev = atomic_exchange_explicit(&q->tail, last, memory_order_acq_rel);
    /* Until this store the batch is unreachable from the head: a consumer seeing the gap
     * treats the queue as momentarily empty. */
    atomic_store_explicit(&prev->next, first, memory_order_release);
}

void edo__inject_push_batch(edo__inject *q, edo__task *first, edo__task *last, size_t n)
{
    /* Counted before linking, so the length never reads negative (at worst it counts a task
     * that is still being linked). */
    atomic_fetch_add_explicit(&q->pushed, n, memory_order_seq_cst);
    link_batch(q, first, last);
}

void edo__inject_push(edo__inject *q, edo__task *t) { edo__inject_push_batch(q, t, t, 1); }

/* Consumer only (under pop_lock). */
static edo__task *pop_one(edo__inject *q)
{
    edo__task *head = q->head;
    edo__task *next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (head == &q->stub) {
        if (!next)
            return NULL;
        q->head = head = next;
        next = atomic_load_explicit(&head->next, memory_order_acquire);
    }
    if (next) {
        q->head = next;
        return head;
    }
    if (head != atomic_load_explicit(&q->tail, memory_order_acquire))
        return NULL; /* a producer is between its exchange and its link */
    /* `head` is the last task: put the stub behind it so it can be unlinked. */
    link_batch(q, &q->stub, &q->stub);
    next = atomic_load_explicit(&head->next, memory_order_acquire);
    if (next) {
        q->head = next;
        return head;
    }
    return NULL;
}

size_t edo__inject_pop_batch(edo__inject *q, edo__task **out, size_t max)
{
    if (max == 0 || edo__inject_is_empty(q))
        return 0;
    edo__spin_lock(&q->pop_lock);
    size_t n = 0;
    while (n < max) {
        edo__task *t = pop_one(q);
        if (!t)
            break;
        edo__task_set_next(t, NULL);
        out[n++] = t;
    }
    if (n)
        atomic_store_explicit(&q->popped,
                              atomic_load_explicit(&q->popped, memory_order_relaxed) + n,
                              memory_order_release);
    edo__spin_unlock(&q->pop_lock);
    return n;
}

/* ---- the global queue's two parts ------------------------------------------------------- */

void edo__global_init(edo__global_queue *g)
{
    edo__inject_init(&g->started);
    edo__inject_init(&g->fresh);
}

void edo__global_push(edo__global_queue *g, edo__task *t)
{
    edo__inject_push(edo__task_never_ran(t) ? &g->fresh : &g->started, t);
}

size_t edo__global_pop_batch(edo__global_queue *g, edo__task **out, size_t max, bool fresh_first)
{
    if (fresh_first && max == 1 && edo__inject_pop_batch(&g->fresh, out, 1) == 1)
        return 1;
    size_t n = edo__inject_pop_batch(&g->started, out, max);
    size_t fresh = max - n < EDO__FRESH_BATCH ? max - n : EDO__FRESH_BATCH;
    return n + edo__inject_pop_batch(&g->fresh, out + n, fresh);
}

/* ---- local ring (the owner's push and pop are inline, in queue.h) ------------------------ */

void edo__local_init(edo__local_queue *q)
{
    atomic_init(&q->head, 0);
    atomic_init(&q->tail, 0);
    for (unsigned i = 0; i < EDO__LOCAL_CAP; i++)
        atomic_init(&q->buf[i], NULL);
}

uint32_t edo__local_free(edo__local_queue *q) { return EDO__LOCAL_CAP - edo__local_len(q); }

/* Moves the oldest half of a full ring, plus `t`, to the global queue, each task to its part.
 * Returns false when a stealer is active or the owner raced with one; the caller then retries
 * the push. Modelled in queue.pml (push_overflow): keep in step. */
bool edo__local_push_overflow(edo__local_queue *q, edo__task *t, uint32_t head,
                              edo__global_queue *overflow)
{
    const uint32_t half = EDO__LOCAL_CAP / 2;
    uint64_t expected = edo__lq_pack(head, head);
    if (!atomic_compare_exchange_strong_explicit(&q->head, &expected,
                                                 edo__lq_pack(head + half, head + half),
                                                 memory_order_acq_rel, memory_order_acquire))
        return false;
    /* The claimed slots are ours now: each task (oldest first), then `t`, joins its part. */
    edo__task_fifo part[2] = {{NULL, NULL}, {NULL, NULL}};
    size_t n[2] = {0, 0};
    for (uint32_t i = 0; i <= half; i++) {
        edo__task *next = i < half ? edo__lq_load(q, head + i) : t;
        int fresh = edo__task_never_ran(next);
        edo__fifo_push(&part[fresh], next);
        n[fresh]++;
    }
    if (n[0])
        edo__inject_push_batch(&overflow->started, part[0].head, part[0].tail, n[0]);
    if (n[1])
        edo__inject_push_batch(&overflow->fresh, part[1].head, part[1].tail, n[1]);
    return true;
}

/* Modelled in queue.pml (steal_into, steal_release): keep in step. */
edo__task *edo__local_steal_into(edo__local_queue *victim, edo__local_queue *dst)
{
    uint32_t dst_tail = atomic_load_explicit(&dst->tail, memory_order_relaxed);
    uint64_t dst_head = atomic_load_explicit(&dst->head, memory_order_acquire);
    /* Only steal into a queue with room for half of any victim. */
    if (dst_tail - edo__lq_steal(dst_head) > EDO__LOCAL_CAP / 2)
        return NULL;

    uint64_t h = atomic_load_explicit(&victim->head, memory_order_acquire);
    uint32_t first, n;
    for (;;) {
        uint32_t steal = edo__lq_steal(h), real = edo__lq_real(h);
        if (steal != real)
            return NULL; /* another stealer is at work */
        uint32_t tail = atomic_load_explicit(&victim->tail, memory_order_acquire);
        n = tail - real;
        n -= n / 2;
        if (n == 0)
            return NULL;
        if (n > EDO__LOCAL_CAP / 2)
            n = EDO__LOCAL_CAP / 2;
        if (atomic_compare_exchange_weak_explicit(&victim->head, &h, edo__lq_pack(steal, real + n),
                                                  memory_order_acq_rel, memory_order_acquire)) {
            first = real;
            break;
        }
    }
    for (uint32_t i = 0; i < n; i++)
        edo__lq_store(dst, dst_tail + i, edo__lq_load(victim, first + i));
    /* Done copying: let steal catch up with real (the owner may have popped meanwhile). */
    h = atomic_load_explicit(&victim->head, memory_order_acquire);
    for (;;) {
        uint32_t real = edo__lq_real(h);
        if (atomic_compare_exchange_weak_explicit(&victim->head, &h, edo__lq_pack(real, real),
                                                  memory_order_acq_rel, memory_order_acquire))
            break;
    }
    /* Run the last stolen task now; publish the others. */
    n--;
    edo__task *run = edo__lq_load(dst, dst_tail + n);
    if (n)
        atomic_store_explicit(&dst->tail, dst_tail + n, memory_order_release);
    return run;
}
