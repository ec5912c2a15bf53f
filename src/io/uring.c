/* The io_uring backend (see backend.h): readiness through rings, each watched fd a multishot
 * IORING_OP_POLL_ADD, and an eventfd polled in each ring for the wake.
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
#include "io/backend.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/poll_bits.h"
#include "io/wakefd.h"
#include "io/uring/buf_ring.h"
#include "io/uring/ring.h"

/* In a reaped pair, before it is translated: the poll ended (no IORING_CQE_F_MORE). */
#define ENDED (1ull << 63)
/* In a lane's mailbox, where ENDED's bit is never set otherwise: not a cancellation but a
 * reader's request to arm the receive of that poll's fd again (recv_ask). */
#define ASK ENDED
/* The user_data of a stream socket's multishot receive: RECV | rseq << 49 | fd; in a reaped
 * pair, where the completion names a provided buffer, HAS_BUF and the buffer's id at bit 32 are
 * added (a receive's user_data has zeros there). */
#define RECV (1ull << 62)
#define HAS_BUF (1ull << 48)
#define SEQ_MASK 0x3fffffffu /* neither ENDED's nor RECV's bit is a sequence bit */
#define RSEQ_MASK 0x1fffu
#define RSEQ_SHIFT 49
/* user_data of what is not an fd's poll: the wake's poll, and completions nobody reads (the
 * removals). An fd's poll never has these: its low half is an fd number, never 0xffffffff or
 * 0xfffffffe. Neither has ENDED's bit, which reap adds and translate takes off again (a tag
 * with that bit was not recognised after it: the wake's poll, once ended, was never armed
 * again, and a shutdown's wake-up could be lost). */
#define TAG_WAKE (~ENDED)
#define TAG_IGNORE (~ENDED - 1)
#define TAG_SHARED (~ENDED - 2) /* in a lane: the shared ring posted completions */
#define POLL_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI) /* the same bits as poll(2)'s */

/* Ring sizes (edo__io_uring_set_sizes): SQ 256, CQ 4096 by default. */
static _Atomic unsigned sq_size = 256, cq_size = 4096;
/* Each lane's provided buffers (edo__io_uring_set_recv_buffers): 256 of 4 KiB by default. A
 * buffer is given back as soon as its bytes are copied into their inbox, so a lane needs only
 * as many as the receives that complete between two reaps. */
static _Atomic unsigned recv_count = 256, recv_size = 4096;
#define RECV_BGID 0 /* the buffer group of a lane's provided buffers */
/* The events a stream socket's poll asks for while it is received by completion: not POLLIN
 * (each arrival would post a poll completion beside the receive's); its readability is its
 * inbox's news. */
#define STREAM_POLL_EVENTS (POLL_EVENTS & ~EPOLLIN)
typedef struct watch {
    uint64_t token;
    uint32_t seq;       /* of the current poll (31 bits) */
    uint32_t lane;      /* the ring its poll is in: 0 the shared one, else a lane's index */
    bool live;          /* added and not removed: its poll is re-armed when it ends */
    bool reported;      /* an event went to the driver since add */
    uint16_t rseq;      /* of the current receive (RSEQ_MASK bits) */
    edo__inbox *inbox;  /* received by completion into it (add_stream), else NULL */
} watch;

typedef struct uring_backend uring_backend;

/* A worker's own ring. Freed with the last reference to its wake (a parker may hold one). */
typedef struct lane {
    edo__io_wakefd wake; /* the owner's parker waker */
    edo__ring ring;      /* the owner's alone; closed when it detaches */
    uring_backend *b;
    uint32_t index;      /* 1, 2, ...: a watch's `lane` */
    bool open;           /* attached and not detached (under sq_lock) */
    _Atomic bool mail;   /* cancels has entries */
    uint64_t *cancels;   /* user_data of polls other threads removed (under sq_lock) */
    unsigned ncancels, cancels_cap;
    unsigned nlive;      /* mail slots of live watches: cancels_cap >= nlive + ncancels */
    bool recv;           /* receives by completion: `bufs` is registered */
    edo__buf_ring bufs;  /* its provided buffers (the owner's alone) */
} lane;

struct uring_backend {
    edo__io_backend base;
    edo__io_wakefd wake;
    edo__ring ring; /* the shared ring */
    pthread_mutex_t sq_lock;
    pthread_mutex_t cq_lock;
    watch *watches; /* by fd number, under sq_lock */
    unsigned nwatches;
    lane **lanes; /* every lane attached, open or not (under sq_lock) */
    unsigned nlanes;
    unsigned sq_entries, cq_entries; /* of every ring of this backend: the sizes at create */
    _Atomic uint64_t lane_overflows; /* edo__io_uring_lane_overflows */
    _Atomic uint64_t recv_rearms;    /* edo__io_uring_recv_rearms */
    int shared_efd; /* signalled by the shared ring for each completion: -1 until a lane */
    int scratch_epfd; /* asks whether a character device can be polled: -1 until needed */
    unsigned recv_count, recv_size; /* each lane's provided buffers: the sizes at create */
    _Atomic int recv_probe; /* multishot receive: 1 the kernel has it, 0 not, -1 not asked */
};

/* The lane of the calling thread, if it has one (a worker attached to some backend). */
static _Thread_local lane *my_lane;

static lane *own_lane(uring_backend *b)
{
    lane *l = my_lane;
    return l && l->b == b ? l : NULL;
}

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

uint64_t edo__io_uring_recv_rearms(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    return atomic_load_explicit(&b->recv_rearms, memory_order_relaxed);
}

uint64_t edo__io_uring_lane_overflows(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    return atomic_load_explicit(&b->lane_overflows, memory_order_relaxed);
}

/* ---- submissions (sq_lock held) --------------------------------------------------------- */

static uint64_t poll_data(int fd, uint32_t seq) { return (uint64_t)seq << 32 | (uint32_t)fd; }
static uint64_t recv_data(int fd, uint16_t rseq)
{
    return RECV | (uint64_t)(rseq & RSEQ_MASK) << RSEQ_SHIFT | (uint32_t)fd;
}
/* Whether `data` (ENDED's bit off) is a receive's: the tags have RECV's bit too, but their low
 * half is never an fd. */
static bool is_recv(uint64_t data) { return (data & RECV) && (int32_t)(uint32_t)data >= 0; }

/* Queues a multishot poll of `fd` for `events` under `user_data`. */
static int queue_poll_of(edo__ring *ring, int fd, uint64_t user_data, uint32_t events)
{
    struct io_uring_sqe *sqe;
    int rc = edo__ring_get_sqe(ring, &sqe);
    if (rc < 0)
        return rc;
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = fd;
    sqe->len = IORING_POLL_ADD_MULTI;
    sqe->poll32_events = events;
    sqe->user_data = user_data;
    return 0;
}

static int queue_poll(edo__ring *ring, int fd, uint64_t user_data)
{
    return queue_poll_of(ring, fd, user_data, POLL_EVENTS);
}

/* Queues the poll of watch `w` (on `fd`): without POLLIN where it is received by completion. */
static int queue_watch_poll(edo__ring *ring, int fd, const watch *w)
{
    return queue_poll_of(ring, fd, poll_data(fd, w->seq),
                         w->inbox ? STREAM_POLL_EVENTS : POLL_EVENTS);
}

/* Fills `sqe` with the multishot receive of watch `w` (on `fd`), with buffers from the lane's
 * group. */
static void fill_recv(struct io_uring_sqe *sqe, int fd, const watch *w)
{
    sqe->opcode = IORING_OP_RECV;
    sqe->fd = fd;
    sqe->ioprio = IORING_RECV_MULTISHOT;
    sqe->flags = IOSQE_BUFFER_SELECT;
    sqe->buf_group = RECV_BGID;
    sqe->user_data = recv_data(fd, w->rseq);
}

static int queue_recv(edo__ring *ring, int fd, const watch *w)
{
    struct io_uring_sqe *sqe;
    int rc = edo__ring_get_sqe(ring, &sqe);
    if (rc == 0)
        fill_recv(sqe, fd, w);
    return rc;
}

/* Queues the cancellation of the poll armed under `user_data`. IORING_OP_ASYNC_CANCEL, not
 * IORING_OP_POLL_REMOVE: a removal that finds the poll busy (its event's task work queued or
 * running) gives up with -EALREADY and leaves the poll armed, holding its file for good (a
 * closed pipe end that never reached its peer hung test-copy-splice); a cancellation marks the
 * poll cancelled, and whoever runs it next ends it. */
static int queue_cancel(edo__ring *ring, uint64_t user_data)
{
    struct io_uring_sqe *sqe;
    int rc = edo__ring_get_sqe(ring, &sqe);
    if (rc < 0)
        return rc;
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->addr = user_data;
    sqe->user_data = TAG_IGNORE;
    return 0;
}

/* Hands what is queued in the shared ring (l NULL) or lane `l` to the kernel. When it takes
 * nothing now (out of resources), the SQEs stay queued, and the ring's waiter is woken to
 * submit them with its next wait. */
static void submit(uring_backend *b, lane *l)
{
    if (edo__ring_submit(l ? &l->ring : &b->ring) < 0)
        edo__io_wakefd_interrupt(l ? &l->wake : &b->wake);
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
    atomic_init(&b->recv_probe, -1);
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
                edo__ring_probe_buf_ring(&l->ring, RECV_BGID) == 1;
        atomic_store_explicit(&b->recv_probe, probe, memory_order_release);
    }
    l->recv = probe && b->recv_count != EDO__IO_URING_NO_RECV &&
              edo__buf_ring_init(&l->bufs, &l->ring, RECV_BGID, b->recv_count, b->recv_size) == 0;
}

static int backend_attach(edo__io_backend *base)
{
    uring_backend *b = (uring_backend *)base;
    if (my_lane)
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
    my_lane = l;
    return 0;
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
    edo__ring_destroy(&l->ring); /* its polls end, their files let go */
    edo__buf_ring_destroy(&l->bufs);
    my_lane = NULL;
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

/* Whether a ring holds what nobody reaped yet: completions, task work, mail. */
static bool ring_busy(const edo__ring *r)
{
    return edo__ring_work_pending(r) ||
           __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE) !=
               __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
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

/* Whether `fd` can be watched at all, as epoll_ctl would say: 0, -EBADF, or -EPERM for what
 * has no poll method (files, directories, block devices, and the character devices without
 * one, such as /dev/null, which only epoll itself can tell from the others). */
static int pollable(uring_backend *b, int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode))
        return -EPERM;
    if (!S_ISCHR(st.st_mode))
        return 0; /* sockets, pipes, and the anonymous kinds (eventfd, pidfd, ...) */
    if (b->scratch_epfd < 0 && (b->scratch_epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
        return -errno;
    struct epoll_event ev = {.events = EPOLLIN};
    if (epoll_ctl(b->scratch_epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    epoll_ctl(b->scratch_epfd, EPOLL_CTL_DEL, fd, NULL);
    return 0;
}

static int grow(uring_backend *b, int fd)
{
    if ((unsigned)fd < b->nwatches)
        return 0;
    unsigned n = b->nwatches ? b->nwatches : 64;
    while (n <= (unsigned)fd)
        n *= 2;
    watch *w = realloc(b->watches, n * sizeof *w);
    if (!w)
        return -ENOMEM;
    memset(w + b->nwatches, 0, (n - b->nwatches) * sizeof *w);
    b->watches = w;
    b->nwatches = n;
    return 0;
}

/* The mail slots a watch keeps in its lane's mailbox: the cancellation of its poll, and where
 * it is received by completion, that of its receive and one request of its reader's. */
static unsigned mail_slots(const watch *w) { return w->inbox ? 3 : 1; }

/* Makes room in lane `l`'s mailbox for the mail of one more watch, `slots` entries (sq_lock
 * held): a removal from another thread then always has room for its mail, which it could not
 * report failing (the poll would hold its file until the worker stops), and so has a reader's
 * request. Every live watch and every entry not yet taken has its slot. */
static int reserve_mail(lane *l, unsigned slots)
{
    unsigned need = l->nlive + l->ncancels + slots;
    if (need <= l->cancels_cap)
        return 0;
    unsigned cap = l->cancels_cap ? 2 * l->cancels_cap : 16;
    while (cap < need)
        cap *= 2;
    uint64_t *c = realloc(l->cancels, cap * sizeof *c);
    if (!c)
        return -ENOMEM;
    l->cancels = c;
    l->cancels_cap = cap;
    return 0;
}

/* Sends the cancellation of a live poll in lane `l` to its owner (sq_lock held); its slot was
 * reserved when the poll was added (reserve_mail). */
static void mail_cancel(lane *l, uint64_t user_data)
{
    l->cancels[l->ncancels++] = user_data;
    atomic_store_explicit(&l->mail, true, memory_order_release);
}

/* Watches `fd` under `token`; with `inbox` (the calling thread's lane receives by
 * completion) also receives its bytes into it. 1 when it does, 0 when it watches readiness
 * only, or -errno. */
static int add_watch(uring_backend *b, lane *l, int fd, uint64_t token, edo__inbox *inbox)
{
    if (fd < 0)
        return -EBADF;
    pthread_mutex_lock(&b->sq_lock);
    int rc = pollable(b, fd);
    if (rc == 0)
        rc = grow(b, fd);
    watch *w = rc == 0 ? &b->watches[fd] : NULL;
    if (w && w->live)
        rc = -EEXIST;
    if (rc == 0 && l)
        rc = reserve_mail(l, inbox ? 3 : 1);
    if (rc == 0) {
        edo__ring *ring = l ? &l->ring : &b->ring;
        watch fresh = {token, (w->seq + 1) & SEQ_MASK, l ? l->index : 0, true, false,
                       (uint16_t)((w->rseq + 1) & RSEQ_MASK), inbox};
        /* The receive first: when it cannot be queued (the SQ is full and the kernel takes
         * nothing), the fd is watched for readiness only. When then the poll cannot be, the
         * receive queued is cancelled by mail to ourselves (its slot is free). */
        if (inbox && queue_recv(ring, fd, &fresh) < 0)
            fresh.inbox = NULL;
        if ((rc = queue_watch_poll(ring, fd, &fresh)) < 0 && fresh.inbox)
            mail_cancel(l, recv_data(fd, fresh.rseq));
        if (rc == 0) {
            *w = fresh;
            if (l)
                l->nlive += mail_slots(w);
            else
                submit(b, NULL);
        }
    }
    bool receiving = rc == 0 && w->inbox;
    pthread_mutex_unlock(&b->sq_lock);
    if (rc == 0 && l) /* the lane is ours alone: no lock needed to submit to it */
        submit(b, l);
    return rc < 0 ? rc : receiving;
}

static int backend_add(edo__io_backend *base, int fd, uint64_t token)
{
    uring_backend *b = (uring_backend *)base;
    int rc = add_watch(b, own_lane(b), fd, token, NULL);
    return rc < 0 ? rc : 0;
}

static int backend_add_stream(edo__io_backend *base, int fd, uint64_t token, edo__inbox *inbox)
{
    uring_backend *b = (uring_backend *)base;
    lane *l = own_lane(b);
    bool recv = l && l->recv; /* the shared ring has no buffers: readiness there */
    return add_watch(b, l, fd, token, recv ? inbox : NULL);
}

/* The live watch in lane `l` whose poll has user_data `data` (sq_lock held), or NULL. */
static watch *watch_of_poll(uring_backend *b, lane *l, uint64_t data)
{
    int fd = (int)(uint32_t)data;
    watch *w = fd >= 0 && (unsigned)fd < b->nwatches ? &b->watches[fd] : NULL;
    return w && w->live && w->lane == l->index && w->seq == (uint32_t)(data >> 32) ? w : NULL;
}

/* A reader's request (recv_ask) in lane `l` (sq_lock held): arms the receive of the poll
 * `data`'s fd again if its inbox still wants it. False when no SQE can be had now (the kernel
 * takes nothing): the request must be served later. */
static bool serve_ask(uring_backend *b, lane *l, uint64_t data)
{
    watch *w = watch_of_poll(b, l, data);
    if (!w || !w->inbox)
        return true; /* removed since */
    struct io_uring_sqe *sqe;
    if (edo__ring_get_sqe(&l->ring, &sqe) < 0)
        return false;
    if (edo__inbox_service(w->inbox) == EDO__INBOX_ARM) {
        w->rseq = (w->rseq + 1) & RSEQ_MASK;
        fill_recv(sqe, (int)(uint32_t)data, w);
    } else { /* armed again meanwhile (the reaper saw it drained): the SQE does nothing */
        sqe->opcode = IORING_OP_NOP;
        sqe->user_data = TAG_IGNORE;
    }
    return true;
}

/* Takes the caller's own lane's mail: cancels the polls and receives other threads removed
 * (and runs the task work that lets their files go), and serves its readers' requests. */
static void take_mail(uring_backend *b, lane *l)
{
    if (!atomic_load_explicit(&l->mail, memory_order_acquire))
        return;
    pthread_mutex_lock(&b->sq_lock);
    atomic_store_explicit(&l->mail, false, memory_order_relaxed);
    unsigned later = 0; /* requests kept for the next look */
    for (unsigned i = 0; i < l->ncancels; i++) {
        uint64_t data = l->cancels[i];
        if (data & ASK) {
            if (!serve_ask(b, l, data & ~ASK))
                l->cancels[later++] = data;
        } else if (queue_cancel(&l->ring, data) < 0) {
            edo__ring_cancel_sync(&l->ring, data);
        }
    }
    l->ncancels = later;
    if (later)
        atomic_store_explicit(&l->mail, true, memory_order_relaxed);
    pthread_mutex_unlock(&b->sq_lock);
    edo__ring_submit_run(&l->ring);
}

static void backend_remove(edo__io_backend *base, int fd, uint64_t token)
{
    uring_backend *b = (uring_backend *)base;
    lane *self = own_lane(b), *to_wake = NULL;
    bool run = false;
    pthread_mutex_lock(&b->sq_lock);
    watch *w = fd >= 0 && (unsigned)fd < b->nwatches ? &b->watches[fd] : NULL;
    if (w && w->live && w->token == token) {
        w->live = false;
        /* Its poll, and its receive where it has one (which may have ended already: the
         * cancellation then finds nothing). */
        uint64_t data[2] = {poll_data(fd, w->seq), recv_data(fd, w->rseq)};
        unsigned n = w->inbox ? 2 : 1;
        lane *owner = w->lane ? b->lanes[w->lane - 1] : NULL;
        edo__ring *ring = owner ? &owner->ring : &b->ring;
        if (owner)
            owner->nlive -= mail_slots(w); /* its mail slots pass to the cancellations */
        w->inbox = NULL; /* its reader's inbox: not touched from now on */
        for (unsigned i = 0; i < n; i++) {
            if (owner && owner != self) {
                /* Only its owner may submit to a lane (or cancel in it: the kernel refuses a
                 * synchronous cancellation from another thread too): mail it, and wake it to
                 * cancel now. A stopped worker's lane has no polls left to cancel. */
                if (owner->open) {
                    mail_cancel(owner, data[i]);
                    to_wake = owner;
                }
            } else if (queue_cancel(ring, data[i]) == 0) {
                if (owner)
                    run = true; /* our own lane: submitted below, its task work run too */
                else
                    submit(b, NULL);
            } else {
                /* The SQ is full and the kernel takes nothing: cancel without an SQE. */
                edo__ring_cancel_sync(ring, data[i]);
            }
        }
    }
    pthread_mutex_unlock(&b->sq_lock);
    if (run)
        edo__ring_submit_run(&self->ring); /* the poll's file is let go before we return */
    if (to_wake)
        edo__io_wakefd_interrupt(&to_wake->wake);
}

static void backend_recv_ask(edo__io_backend *base, int fd, uint64_t token)
{
    uring_backend *b = (uring_backend *)base;
    lane *self = own_lane(b), *to_wake = NULL;
    pthread_mutex_lock(&b->sq_lock);
    watch *w = fd >= 0 && (unsigned)fd < b->nwatches ? &b->watches[fd] : NULL;
    if (w && w->live && w->token == token && w->inbox) {
        lane *owner = b->lanes[w->lane - 1];
        if (owner->open) {
            /* Its slot: the inbox asks once until served (edo__inbox_take's *ask). */
            mail_cancel(owner, ASK | poll_data(fd, w->seq));
            if (owner != self) /* the owner itself takes its mail at its next look */
                to_wake = owner;
        }
    }
    pthread_mutex_unlock(&b->sq_lock);
    if (to_wake)
        edo__io_wakefd_interrupt(&to_wake->wake);
}

/* ---- reaping (the shared ring: cq_lock held; a lane: its owner) ------------------------- */

/* The whole readiness of `fd` now. A poll's completion carries the bits of the wake-up that
 * caused it (data arrived: IN), not the whole state as epoll's events do, and the state it
 * does carry (the first, when the poll is armed on a ready fd) is from when it was posted,
 * maybe before the registration's owner filled the socket's buffer. The driver takes the
 * first event of a registration as the whole state, which replaces the readiness assumed at
 * registration; so for that one the kernel is asked now, as epoll does for every event when it
 * collects it (and when nothing is ready now, there is no event). A live watch's fd is open:
 * its owner removes it before closing, and removal waits for sq_lock, which the caller holds. */
static uint32_t state_of(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLL_EVENTS};
    return poll(&p, 1, 0) > 0 ? (uint32_t)p.revents : 0;
}

/* A receive's completion in lane `l` (sq_lock held): copies its bytes into the inbox of its
 * watch and gives the buffer back at once (also for a receive since removed, whose bytes go
 * nowhere), arms the receive again where it ended without ending the stream, cancels it at the
 * inbox's cap. Stores the event for the reader in *out and returns 1, or returns 0. */
static int take_recv(uring_backend *b, lane *l, uint64_t data, bool ended, int32_t res,
                     edo__io_ready *out, bool *queued)
{
    int fd = (int)(uint32_t)data;
    watch *w = (unsigned)fd < b->nwatches ? &b->watches[fd] : NULL;
    if (w && (!w->live || !w->inbox || w->lane != l->index ||
              w->rseq != (uint16_t)((data >> RSEQ_SHIFT) & RSEQ_MASK)))
        w = NULL; /* a receive since removed, or one before the current */
    uint32_t bits = 0;
    if (data & HAS_BUF) { /* given back whatever the result, so the ring never loses one */
        unsigned bid = (unsigned)(data >> 32) & 0xffff;
        if (w && res > 0) {
            bits = EDO_READABLE;
            if (edo__inbox_put(w->inbox, edo__buf_ring_data(&l->bufs, bid), (size_t)res) ==
                EDO__INBOX_CANCEL)
                *queued |= queue_cancel(&l->ring, recv_data(fd, w->rseq)) == 0;
        }
        edo__buf_ring_put(&l->bufs, bid);
    }
    if (w && ended) {
        bool closed;
        if (edo__inbox_ended(w->inbox, res, &closed) == EDO__INBOX_ARM) {
            w->rseq = (w->rseq + 1) & RSEQ_MASK;
            *queued |= queue_recv(&l->ring, fd, w) == 0;
            atomic_fetch_add_explicit(&b->recv_rearms, 1, memory_order_relaxed);
        }
        if (closed) /* end of file, or the socket's error: read after the bytes before it */
            bits |= EDO_READABLE | EDO_READ_CLOSED;
    }
    if (!bits)
        return 0;
    *out = (edo__io_ready){w->token, bits};
    return 1;
}

/* Turns the raw pairs reaped from the shared ring (l NULL) or lane `l` into the driver's, in
 * place, dropping those of polls that are gone and the removals', and arms again the live polls
 * that ended. Returns how many are left. */
static int translate(uring_backend *b, lane *l, edo__io_ready *out, int n)
{
    edo__ring *ring = l ? &l->ring : &b->ring;
    uint32_t here = l ? l->index : 0;
    int kept = 0;
    bool queued = false;
    pthread_mutex_lock(&b->sq_lock);
    for (int i = 0; i < n; i++) {
        uint64_t data = out[i].token & ~ENDED;
        if (data == TAG_IGNORE)
            continue;
        bool ended = out[i].token & ENDED;
        int32_t res = (int32_t)out[i].bits;
        if (l && is_recv(data)) {
            kept += take_recv(b, l, data, ended, res, &out[kept], &queued);
            continue;
        }
        if (data == TAG_WAKE || data == TAG_SHARED) {
            if (ended) /* the wake's own poll, or the shared ring's eventfd in a lane */
                queued |= queue_poll(ring, data == TAG_WAKE ? (l ? l->wake.fd : b->wake.fd)
                                                            : b->shared_efd,
                                     data) == 0;
            if (data == TAG_WAKE)
                out[kept++] = (edo__io_ready){EDO__IO_WAKE_TOKEN, 0};
            continue;
        }
        int fd = (int)(uint32_t)data;
        watch *w = (unsigned)fd < b->nwatches ? &b->watches[fd] : NULL;
        if (!w || !w->live || w->lane != here || w->seq != (uint32_t)(data >> 32))
            continue; /* a poll since removed */
        if (res < 0 && res != -ECANCELED) {
            /* The poll failed (the fd was closed while registered, say): report an error
             * rather than arm a poll that would fail again. */
            out[kept++] = (edo__io_ready){w->token, EDO_READABLE | EDO_WRITABLE | EDO_IO_ERROR};
            continue;
        }
        if (ended) /* a full CQ or its thread's exit ended it: the new one reports the state */
            queued |= queue_watch_poll(ring, fd, w) == 0;
        if (res <= 0)
            continue;
        uint32_t events = (uint32_t)res;
        if (!w->reported && (events = state_of(fd)) == 0)
            continue;
        w->reported = true;
        out[kept++] = (edo__io_ready){w->token, edo__io_poll_bits(events)};
    }
    if (l && l->recv)
        edo__buf_ring_publish(&l->bufs); /* the buffers take_recv gave back */
    if (queued)
        submit(b, l);
    pthread_mutex_unlock(&b->sq_lock);
    return kept;
}

/* After the kernel dropped completions (-EBADR: it ran out of memory while the CQ overflowed),
 * an ended poll may never have said so: every live fd of the ring gets a fresh poll, the old
 * one removed, and the fresh one reports the fd's state. */
static void resync(uring_backend *b, lane *l)
{
    edo__ring *ring = l ? &l->ring : &b->ring;
    uint32_t here = l ? l->index : 0;
    pthread_mutex_lock(&b->sq_lock);
    for (unsigned fd = 0; fd < b->nwatches; fd++) {
        watch *w = &b->watches[fd];
        if (!w->live || w->lane != here || queue_cancel(ring, poll_data((int)fd, w->seq)) < 0)
            continue;
        w->seq = (w->seq + 1) & SEQ_MASK;
        queue_watch_poll(ring, (int)fd, w);
        /* Its receive too: the completions dropped may have been its end. Their bytes are
         * lost with them (the kernel had no memory to keep them). */
        if (w->inbox && queue_cancel(ring, recv_data((int)fd, w->rseq)) == 0 &&
            edo__inbox_ended(w->inbox, -ECANCELED, &(bool){false}) == EDO__INBOX_ARM) {
            w->rseq = (w->rseq + 1) & RSEQ_MASK;
            queue_recv(ring, (int)fd, w);
        }
    }
    queue_poll(ring, l ? l->wake.fd : b->wake.fd, TAG_WAKE);
    if (l)
        queue_poll(ring, b->shared_efd, TAG_SHARED);
    submit(b, l);
    pthread_mutex_unlock(&b->sq_lock);
}

/* Takes at most `max` completions of the shared ring (l NULL) or lane `l` into `out` as raw
 * pairs (user_data with ENDED, res in bits), then translates them. What the kernel kept back
 * on overflow is brought in as room allows. */
static int reap(uring_backend *b, lane *l, edo__io_ready *out, int max)
{
    edo__ring *ring = l ? &l->ring : &b->ring;
    int n = 0;
    for (;;) {
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        edo__ring_for_each_cqe(ring, head, cqe) {
            if (n == max)
                break;
            seen++;
            uint64_t ended = cqe->flags & IORING_CQE_F_MORE ? 0 : ENDED;
            uint64_t data = cqe->user_data;
            if (is_recv(data) && (cqe->flags & IORING_CQE_F_BUFFER)) /* the buffer it filled */
                data |= HAS_BUF | (uint64_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) << 32;
            out[n++] = (edo__io_ready){data | ended, (uint32_t)cqe->res};
        }
        edo__ring_cq_advance(ring, seen);
        if (n == max || !edo__ring_cq_overflowed(ring))
            break;
        if (l)
            atomic_fetch_add_explicit(&b->lane_overflows, 1, memory_order_relaxed);
        if (edo__ring_flush_overflow(ring) == -EBADR)
            resync(b, l);
    }
    return n ? translate(b, l, out, n) : 0;
}

/* A look at (or, with a timeout, a wait in) the shared ring. */
static int shared_wait(uring_backend *b, edo__io_ready *out, int max, uint64_t timeout_ns)
{
    if (timeout_ns == EDO__IO_NO_WAIT) {
        if (pthread_mutex_trylock(&b->cq_lock) != 0)
            return 0; /* another thread reaps: it takes these events */
    } else {
        pthread_mutex_lock(&b->cq_lock);
    }
    int n = reap(b, NULL, out, max);
    if (n == 0 && timeout_ns != EDO__IO_NO_WAIT) {
        pthread_mutex_lock(&b->sq_lock);
        unsigned pending = edo__ring_publish(&b->ring); /* what a failed submit left */
        pthread_mutex_unlock(&b->sq_lock);
        int rc = edo__ring_enter(&b->ring, pending, 1,
                                 timeout_ns == EDO__IO_FOREVER ? EDO__RING_FOREVER : timeout_ns);
        if (rc == -EBADR)
            resync(b, NULL);
        n = reap(b, NULL, out, max);
    }
    pthread_mutex_unlock(&b->cq_lock);
    return n;
}

/* What lane `l` holds, and then what the shared ring does: its signal (TAG_SHARED) may have
 * been among the lane's completions, so it is looked at after every reap of the lane. */
static int lane_reap(uring_backend *b, lane *l, edo__io_ready *out, int max)
{
    take_mail(b, l);
    int n = reap(b, l, out, max);
    if (n < max && ring_busy(&b->ring))
        n += shared_wait(b, out + n, max - n, EDO__IO_NO_WAIT);
    return n;
}

/* A worker's look at, or wait in, its own lane. A look runs the lane's task work only when the
 * kernel says there is some (no system call otherwise). */
static int lane_wait(uring_backend *b, lane *l, edo__io_ready *out, int max, uint64_t timeout_ns)
{
    if (edo__ring_work_pending(&l->ring) || edo__ring_publish(&l->ring) > 0)
        edo__ring_submit_run(&l->ring);
    int n = lane_reap(b, l, out, max);
    if (n == 0 && timeout_ns != EDO__IO_NO_WAIT) {
        int rc = edo__ring_enter(&l->ring, edo__ring_publish(&l->ring), 1,
                                 timeout_ns == EDO__IO_FOREVER ? EDO__RING_FOREVER : timeout_ns);
        if (rc == -EBADR)
            resync(b, l);
        n = lane_reap(b, l, out, max);
    }
    return n;
}

static int backend_wait(edo__io_backend *base, edo__io_ready *out, int max, uint64_t timeout_ns)
{
    uring_backend *b = (uring_backend *)base;
    lane *l = own_lane(b);
    return l ? lane_wait(b, l, out, max, timeout_ns) : shared_wait(b, out, max, timeout_ns);
}

const edo__io_backend_ops edo__io_uring = {
    .name = "io_uring",
    .create = backend_create,
    .destroy = backend_destroy,
    .add = backend_add,
    .remove = backend_remove,
    .wait = backend_wait,
    .attach = backend_attach,
    .detach = backend_detach,
    .waker = backend_waker,
    .has_lane = backend_has_lane,
    .pending = backend_pending,
    .add_stream = backend_add_stream,
    .can_receive = backend_can_receive,
    .recv_ask = backend_recv_ask,
};
