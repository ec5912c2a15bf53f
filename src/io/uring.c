/* The io_uring backend (see backend.h): readiness through rings, each watched fd a multishot
 * IORING_OP_POLL_ADD, and an eventfd polled in each ring for the wake.
 *
 * Files: this one makes and ends the backend and its lanes; uring/watches.c adds and removes
 * fds and carries the lanes' mail; uring/reap.c reaps the rings and waits in them; their shared
 * state and the submission helpers are in uring/uring_internal.h.
 *
 * Rings. Each worker thread of a multi-thread runtime owns a ring, its *lane* (attach, on its
 * own thread: SINGLE_ISSUER | DEFER_TASKRUN, or COOP_TASKRUN | TASKRUN_FLAG where the kernel
 * has no DEFER_TASKRUN). An fd added by a worker is polled in that worker's lane, and only the
 * worker reaps it: a poll's wake-up is task work the kernel keeps for the lane until its owner
 * enters the ring (no interrupt of a running thread, the cost that made one shared ring dearer
 * than epoll), which it does in its wait (it parks in its lane, never on a futex: see
 * core/park.c) and in its look between tasks when the ring says work is waiting
 * (IORING_SQ_TASKRUN). Every other thread (a current-thread runtime's, block_on's, the blocking
 * pool's, a plain thread's) adds to the one *shared* ring, without those flags, under locks as
 * before: a current-thread runtime waits in it; with lanes, an eventfd the shared ring signals
 * for each completion is polled in every lane, so a parked worker wakes and reaps it.
 *
 * Removal. A removal reaches the kernel before it returns where it can (the poll holds a
 * reference to the file, and a socket stays open, unseen by its peer, until the poll is gone):
 * in the shared ring at once; in the caller's own lane at once, the cancellation's task work
 * run in the same entry (edo__ring_submit_run), so the file is let go before the caller
 * closes it. A lane's poll removed by another thread (only its owner may submit to it) is sent
 * to the owner as mail: the cancellation is queued in the lane's mailbox and the owner woken
 * through its eventfd; it cancels and runs the task work when it gets up, a moment after the
 * close. A lane whose worker stopped has no polls (its ring is closed with the thread).
 *
 * Locks: `sq_lock` guards the table of watched fds, the shared ring's submission side and the
 * lanes' list and mailboxes; `cq_lock` the shared ring's reaping (a look that must not wait
 * only tries it). A lane's ring is its owner's alone, with no lock.
 *
 * The table of watched fds (by fd number) says which poll is current for each fd: its token,
 * its ring, whether it is live, and a sequence number that tells a poll from the one before it
 * on the same fd number. A poll's user_data is (sequence << 32) | fd, so a completion of a poll
 * that was removed (the fd maybe closed and its number reused) is recognised and dropped.
 *
 * A multishot poll can end without being removed: the kernel ends it when it cannot post to a
 * full completion queue, or with -ECANCELED when the thread that armed it has exited. A live
 * fd whose poll ended is armed again (under sq_lock, so never after its removal), and the new
 * poll reports the fd's state as it is, so no edge is lost. The table also lets add refuse a
 * second registration of one fd (-EEXIST) as epoll does, and add refuses what epoll cannot
 * watch (-EPERM) too, which a poll in a ring would accept and report ready once and for all.
 */
#include "io/uring/uring_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* Ring sizes (edo__io_uring_set_sizes): SQ 256, CQ 4096 by default. */
static _Atomic unsigned sq_size = 256, cq_size = 4096;
/* Each lane's provided buffers (edo__io_uring_set_recv_buffers): 256 of 4 KiB by default. A
 * buffer is given back as soon as its bytes are copied into their inbox, so a lane needs only
 * as many as the receives that complete between two reaps take: bytes where the kernel consumes
 * buffers in parts, whole buffers (one per completion) where it does not. */
static _Atomic unsigned recv_count = 256, recv_size = 4096;
/* Whether lanes' buffers are consumed in parts where the kernel can
 * (edo__io_uring_set_recv_parts). */
static _Atomic bool recv_parts_knob = true;
/* Whether lanes accept by completion where the kernel can (edo__io_uring_set_accepts). */
static _Atomic bool accepts_knob = true;

_Thread_local EDO__TLS_HOT lane *edo__uring_my_lane;

void edo__io_uring_set_sizes(unsigned sq_entries, unsigned cq_entries)
{
    atomic_store_explicit(&sq_size, sq_entries ? sq_entries : 256, memory_order_relaxed);
    atomic_store_explicit(&cq_size, cq_entries ? cq_entries : 4096, memory_order_relaxed);
}

void edo__io_uring_set_recv_buffers(unsigned count, unsigned size)
{
    atomic_store_explicit(&recv_count, count ? count : 256, memory_order_relaxed);
    atomic_store_explicit(&recv_size, size ? size : 4096, memory_order_relaxed);
}

void edo__io_uring_set_recv_parts(bool on)
{
    atomic_store_explicit(&recv_parts_knob, on, memory_order_relaxed);
}

bool edo__io_uring_recv_in_parts(edo__io_backend *base)
{
    lane *l = own_lane((uring_backend *)base);
    return l && l->recv && l->bufs.parts;
}

void edo__io_uring_set_accepts(bool on)
{
    atomic_store_explicit(&accepts_knob, on, memory_order_relaxed);
}

uint64_t edo__io_uring_recv_rearms(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    return atomic_load_explicit(&b->recv_rearms, memory_order_relaxed);
}

unsigned edo__io_uring_refuse_recv_rearms(edo__io_backend *base, unsigned n)
{
    uring_backend *b = (uring_backend *)base;
    return atomic_exchange_explicit(&b->refuse_rearms, n, memory_order_relaxed);
}

void edo__io_uring_force_resync(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    atomic_store_explicit(&b->force_resync, true, memory_order_relaxed);
}

uint64_t edo__io_uring_end_probes(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    return atomic_load_explicit(&b->end_probes, memory_order_relaxed);
}

uint64_t edo__io_uring_polls_added(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    return atomic_load_explicit(&b->polls_added, memory_order_relaxed);
}

uint64_t edo__io_uring_arms_mailed(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    return atomic_load_explicit(&b->arms_mailed, memory_order_relaxed);
}

int edo__io_uring_lane_of(edo__io_backend *base, int fd)
{
    uring_backend *b = (uring_backend *)base;
    pthread_mutex_lock(&b->sq_lock);
    int at = fd >= 0 && (unsigned)fd < b->nwatches && b->watches[fd].live
                   ? (int)b->watches[fd].lane
                   : -1;
    pthread_mutex_unlock(&b->sq_lock);
    return at;
}

uint64_t edo__io_uring_lane_overflows(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    return atomic_load_explicit(&b->lane_overflows, memory_order_relaxed);
}

/* ---- the operations ------------------------------------------------------------------------ */

static void backend_destroy(edo__io_backend *base);

/* Ring sizes and flags asked for: the shared ring's, and with `flags` a lane's. The sizes are
 * the backend's, fixed when it was created: a lane is made later, when its worker starts, and a
 * test's tiny sizes, set back once the runtime is made, must still be its worker's. */
static edo__ring_params ring_params(const uring_backend *b, unsigned flags)
{
    edo__ring_params p = {.sq_entries = b->sq_entries,
                          .cq_entries = b->cq_entries,
                          .flags = IORING_SETUP_SUBMIT_ALL | flags};
    if (p.cq_entries < p.sq_entries)
        p.cq_entries = p.sq_entries;
    return p;
}

/* Arms the multishot poll of `fd` under `tag` in `ring` and submits it: 0, or the error the
 * kernel gave it. A kernel without multishot polls refuses the flag at once (-EINVAL), in the
 * submission itself, so the completion is there when the submission returns; the ring's CQ must
 * be empty (a new ring's). */
static int arm_first(edo__ring *ring, int fd, uint64_t tag)
{
    int rc = queue_poll(ring, fd, tag);
    if (rc == 0)
        rc = edo__ring_submit(ring);
    if (rc >= 0) {
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        edo__ring_for_each_cqe(ring, head, cqe) {
            seen++;
            if (cqe->res < 0)
                rc = cqe->res;
        }
        edo__ring_cq_advance(ring, seen);
    }
    return rc < 0 ? rc : 0;
}

static int backend_create(edo__io_backend **out)
{
    uring_backend *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    b->sq_entries = atomic_load_explicit(&sq_size, memory_order_relaxed);
    b->cq_entries = atomic_load_explicit(&cq_size, memory_order_relaxed);
    b->recv_count = atomic_load_explicit(&recv_count, memory_order_relaxed);
    b->recv_size = atomic_load_explicit(&recv_size, memory_order_relaxed);
    b->recv_parts = atomic_load_explicit(&recv_parts_knob, memory_order_relaxed);
    b->accepts = atomic_load_explicit(&accepts_knob, memory_order_relaxed);
    atomic_init(&b->recv_probe, -1);
    atomic_init(&b->accept_probe, -1);
    edo__ring_params p = ring_params(b, 0);
    int rc = edo__ring_init(&b->ring, &p);
    if (rc < 0) {
        free(b);
        return rc;
    }
    b->base = (edo__io_backend){&edo__io_uring, &b->wake.waker};
    pthread_mutex_init(&b->sq_lock, NULL);
    pthread_mutex_init(&b->cq_lock, NULL);
    b->scratch_epfd = -1;
    b->shared_efd = -1;
    b->wake.fd = -1;
    rc = edo__io_wakefd_init(&b->wake, b);
    /* What this backend needs of the kernel: a timeout on the wait without a timeout SQE
     * (5.11), completions kept on overflow, and multishot polls (arm_first tells). */
    if (rc == 0 && (!(b->ring.features & IORING_FEAT_EXT_ARG) ||
                    !(b->ring.features & IORING_FEAT_NODROP)))
        rc = -ENOSYS;
    if (rc == 0)
        rc = arm_first(&b->ring, b->wake.fd, TAG_WAKE);
    if (rc < 0) {
        backend_destroy(&b->base);
        return rc == -EINVAL ? -ENOSYS : rc;
    }
    *out = &b->base;
    return 0;
}

static void backend_destroy(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    edo__ring_destroy(&b->ring); /* the kernel cancels the polls and lets their files go */
    for (unsigned i = 0; i < b->nlanes; i++) {
        lane *l = b->lanes[i];
        if (l->open) { /* its worker never detached (it failed to start): close it here */
            edo__ring_destroy(&l->ring);
            edo__buf_ring_destroy(&l->bufs);
        }
        free(l->cancels);
        edo__io_wakefd_unref(&l->wake); /* a parker may hold the lane a while longer */
    }
    free(b->lanes);
    free(b->watches);
    if (b->shared_efd >= 0)
        close(b->shared_efd);
    if (b->scratch_epfd >= 0)
        close(b->scratch_epfd);
    pthread_mutex_destroy(&b->sq_lock);
    pthread_mutex_destroy(&b->cq_lock);
    if (b->wake.fd < 0) { /* the wake never opened: nobody else holds it */
        free(b);
        return;
    }
    edo__io_wakefd_unref(&b->wake); /* parkers that waited through it may still hold it */
}

/* The eventfd the shared ring signals for each completion, polled in every lane: made with
 * the first lane (sq_lock held). */
static int shared_eventfd(uring_backend *b)
{
    if (b->shared_efd >= 0)
        return b->shared_efd;
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0)
        return -errno;
    int rc = edo__ring_register_eventfd(&b->ring, fd);
    if (rc < 0) {
        close(fd);
        return rc;
    }
    return b->shared_efd = fd;
}

static int lanes_grow(uring_backend *b)
{
    lane **n = realloc(b->lanes, (b->nlanes + 1) * sizeof *n);
    if (!n)
        return -ENOMEM;
    b->lanes = n;
    return 0;
}

/* Gives lane `l` (a new ring, its CQ still empty) its provided buffers where the kernel has
 * multishot receive (asked once per backend) and provided-buffer rings: then its stream
 * sockets are received by completion. Otherwise, or when the buffers cannot be had, they are
 * read on readiness as any fd. */
static void set_up_recv(uring_backend *b, lane *l)
{
    int probe = atomic_load_explicit(&b->recv_probe, memory_order_acquire);
    if (probe < 0) {
        probe = edo__ring_probe_recv_multishot(&l->ring, RECV_BGID) == 1 &&
                edo__ring_probe_buf_ring(&l->ring, RECV_BGID, 0) == 1;
        atomic_store_explicit(&b->recv_probe, probe, memory_order_release);
    }
    l->recv = probe && b->recv_count != EDO__IO_URING_NO_RECV &&
              edo__buf_ring_init(&l->bufs, &l->ring, RECV_BGID, b->recv_count, b->recv_size,
                                 !b->recv_parts) == 0;
}

/* Lets lane `l` (a new ring, its CQ still empty) accept by completion where the kernel has
 * multishot accept (asked once per backend): then the listeners its owner registers do. */
static void set_up_accept(uring_backend *b, lane *l)
{
    int probe = atomic_load_explicit(&b->accept_probe, memory_order_acquire);
    if (probe < 0) {
        probe = edo__ring_probe_accept_multishot(&l->ring) == 1;
        atomic_store_explicit(&b->accept_probe, probe, memory_order_release);
    }
    l->accept = probe && b->accepts;
}

static int backend_attach(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    if (edo__uring_my_lane)
        return -EBUSY; /* a thread has one lane, in one backend */
    lane *l = calloc(1, sizeof *l);
    if (!l)
        return -ENOMEM;
    edo__ring_params p = ring_params(b, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                                     IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG);
    int rc = edo__ring_init(&l->ring, &p);
    if (rc < 0) {
        free(l);
        return rc;
    }
    if ((rc = edo__io_wakefd_init(&l->wake, l)) < 0) {
        edo__ring_destroy(&l->ring);
        free(l);
        return rc;
    }
    l->b = b;
    set_up_recv(b, l);
    set_up_accept(b, l);
    if ((rc = arm_first(&l->ring, l->wake.fd, TAG_WAKE)) == 0) {
        pthread_mutex_lock(&b->sq_lock);
        int efd = shared_eventfd(b);
        rc = efd < 0 ? efd : lanes_grow(b);
        if (rc == 0 && (rc = queue_poll(&l->ring, efd, TAG_SHARED)) == 0) {
            l->index = b->nlanes + 1;
            l->open = true;
            b->lanes[b->nlanes++] = l;
        }
        pthread_mutex_unlock(&b->sq_lock);
    }
    if (rc < 0) {
        edo__ring_destroy(&l->ring);
        edo__buf_ring_destroy(&l->bufs);
        edo__io_wakefd_unref(&l->wake);
        return rc;
    }
    submit(b, l);
    edo__uring_my_lane = l;
    return 0;
}

/* Lane `l` closes (its owner stops): its listeners' accepts are cancelled, and the
 * connections accepted that nobody reaped are closed (the ring's end would leave their fds
 * open, with nobody to know of them). */
static void close_unreaped_accepts(uring_backend *b, lane *l)
{
    pthread_mutex_lock(&b->sq_lock);
    for (unsigned fd = 0; fd < b->nwatches; fd++) {
        watch *w = &b->watches[fd];
        if (w->live && w->accepts && w->inbox && w->lane == l->index)
            queue_cancel(&l->ring, watch_recv_data((int)fd, w));
    }
    pthread_mutex_unlock(&b->sq_lock);
    edo__ring_submit_run(&l->ring);
    do {
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        edo__ring_for_each_cqe(&l->ring, head, cqe) {
            seen++;
            if (is_recv(cqe->user_data) && (cqe->user_data & ACCEPTS) && cqe->res >= 0)
                close(cqe->res);
        }
        edo__ring_cq_advance(&l->ring, seen);
    } while (edo__ring_cq_overflowed(&l->ring) && edo__ring_flush_overflow(&l->ring) == 0);
}

static void backend_detach(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    lane *l = own_lane(b);
    if (!l)
        return;
    pthread_mutex_lock(&b->sq_lock);
    l->open = false; /* removals from now on have nothing to cancel */
    l->ncancels = 0;
    pthread_mutex_unlock(&b->sq_lock);
    if (l->accept)
        close_unreaped_accepts(b, l);
    edo__ring_destroy(&l->ring); /* its polls end, their files let go */
    edo__buf_ring_destroy(&l->bufs);
    edo__uring_my_lane = NULL;
}

static edo__parker_waker *backend_waker(edo__io_backend *base)
{
    lane *l = own_lane((uring_backend *)base);
    return l ? &l->wake.waker : base->waker;
}

static bool backend_has_lane(edo__io_backend *base) { return own_lane((uring_backend *)base); }

static bool backend_can_receive(edo__io_backend *base)
{
    lane *l = own_lane((uring_backend *)base);
    return l && l->recv;
}

static bool backend_pending(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    lane *self = own_lane(b);
    pthread_mutex_lock(&b->sq_lock);
    bool busy = false;
    for (unsigned i = 0; i < b->nlanes && !busy; i++) {
        lane *l = b->lanes[i];
        busy = l != self && l->open &&
               (ring_busy(&l->ring) || atomic_load_explicit(&l->mail, memory_order_relaxed));
    }
    pthread_mutex_unlock(&b->sq_lock);
    return busy;
}

/* Only the lane's ring: what the shared ring posts and what other threads mail come with a
 * completion in the lane too (its poll of the shared ring's eventfd, of its own wake). Mail
 * kept back for want of SQEs is not news: it waits for the next look, as before, rather than
 * keep a worker from ever sleeping while the kernel has no room. */
static bool backend_news(edo__io_backend *base)
{
    lane *l = own_lane((uring_backend *)base);
    return l && ring_busy(&l->ring);
}

const edo__io_backend_ops edo__io_uring = {
    .name = "io_uring",
    .create = backend_create,
    .destroy = backend_destroy,
    .add = edo__uring_add,
    .remove = edo__uring_remove,
    .wait = edo__uring_wait,
    .attach = backend_attach,
    .detach = backend_detach,
    .waker = backend_waker,
    .has_lane = backend_has_lane,
    .pending = backend_pending,
    .news = backend_news,
    .add_stream = edo__uring_add_stream,
    .can_receive = backend_can_receive,
    .recv_ask = edo__uring_recv_ask,
    .add_listener = edo__uring_add_listener,
};
