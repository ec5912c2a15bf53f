/* The io_uring backend (see backend.h): readiness through one ring per driver, each watched fd
 * a multishot IORING_OP_POLL_ADD, and an eventfd polled in the same ring for the wake.
 *
 * Threads. backend.h lets add and remove come from any thread while wait runs on others (busy
 * workers look without waiting while the watcher blocks). So the ring is one per driver, not
 * one per worker, and has neither SINGLE_ISSUER nor DEFER_TASKRUN (both tie the ring to one
 * thread), nor COOP_TASKRUN: a poll's completion runs as task work on the thread that armed
 * it, and with COOP_TASKRUN a thread asleep on its futex would not be woken to run it, so an
 * event (or a removal, which releases the file) could wait for that thread's next system call.
 * Two locks:
 *  - `sq_lock`, the submission side and the table of watched fds: add, remove and the re-arms
 *    fill SQEs and submit them at once, under it (a removal must reach the kernel before the
 *    caller closes the fd: the poll holds a reference to the file, and a socket stays open,
 *    unseen by its peer, until the poll is gone; it is gone once its cancellation ran as task
 *    work on the thread that armed it, a moment later when that is another thread: see
 *    docs/io-backends.md, Not yet done);
 *  - `cq_lock`, the completion side: one thread reaps at a time. A look that must not wait
 *    (EDO__IO_NO_WAIT) only tries it, and finds nothing when another thread reaps; a blocking
 *    wait takes it. The reaper takes sq_lock inside it (cq_lock, then sq_lock), once per batch.
 * A look with nothing in the completion queue makes no system call at all: completions are
 * posted to the shared queue without us asking.
 *
 * The table of watched fds (by fd number) says which poll is current for each fd: its token,
 * whether it is live, and a sequence number that tells a poll from the one before it on the
 * same fd number. A poll's user_data is (sequence << 32) | fd, so a completion of a poll that
 * was removed (the fd maybe closed and its number reused) is recognised and dropped.
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
#include <sys/stat.h>
#include <unistd.h>

#include "io/poll_bits.h"
#include "io/wakefd.h"
#include "io/uring/ring.h"

/* In a reaped pair, before it is translated: the poll ended (no IORING_CQE_F_MORE). */
#define ENDED (1ull << 63)
#define SEQ_MASK 0x7fffffffu /* ENDED's bit is not a sequence bit */
/* user_data of what is not an fd's poll: the wake's poll, and completions nobody reads (the
 * removals). An fd's poll never has these: its low half is an fd number, never 0xffffffff or
 * 0xfffffffe. Neither has ENDED's bit, which reap adds and translate takes off again (a tag
 * with that bit was not recognised after it: the wake's poll, once ended, was never armed
 * again, and a shutdown's wake-up could be lost). */
#define TAG_WAKE (~ENDED)
#define TAG_IGNORE (~ENDED - 1)
#define POLL_EVENTS (EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLPRI) /* the same bits as poll(2)'s */

/* Ring sizes (edo__io_uring_set_sizes): SQ 256, CQ 4096 by default. */
static _Atomic unsigned sq_size = 256, cq_size = 4096;

typedef struct watch {
    uint64_t token;
    uint32_t seq;       /* of the current poll (31 bits) */
    bool live;          /* added and not removed: its poll is re-armed when it ends */
    bool reported;      /* an event went to the driver since add */
} watch;

typedef struct uring_backend {
    edo__io_backend base;
    edo__io_wakefd wake;
    edo__ring ring;
    pthread_mutex_t sq_lock;
    pthread_mutex_t cq_lock;
    watch *watches; /* by fd number, under sq_lock */
    unsigned nwatches;
    int scratch_epfd; /* asks whether a character device can be polled: -1 until needed */
} uring_backend;

void edo__io_uring_set_sizes(unsigned sq_entries, unsigned cq_entries)
{
    atomic_store_explicit(&sq_size, sq_entries ? sq_entries : 256, memory_order_relaxed);
    atomic_store_explicit(&cq_size, cq_entries ? cq_entries : 4096, memory_order_relaxed);
}

/* ---- submissions (sq_lock held) --------------------------------------------------------- */

static uint64_t poll_data(int fd, uint32_t seq) { return (uint64_t)seq << 32 | (uint32_t)fd; }

/* Queues a multishot poll of `fd` under `user_data`. */
static int queue_poll(uring_backend *b, int fd, uint64_t user_data)
{
    struct io_uring_sqe *sqe;
    int rc = edo__ring_get_sqe(&b->ring, &sqe);
    if (rc < 0)
        return rc;
    sqe->opcode = IORING_OP_POLL_ADD;
    sqe->fd = fd;
    sqe->len = IORING_POLL_ADD_MULTI;
    sqe->poll32_events = POLL_EVENTS;
    sqe->user_data = user_data;
    return 0;
}

/* Queues the cancellation of the poll armed under `user_data`. IORING_OP_ASYNC_CANCEL, not
 * IORING_OP_POLL_REMOVE: a removal that finds the poll busy (its event's task work queued or
 * running) gives up with -EALREADY and leaves the poll armed, holding its file for good (a
 * closed pipe end that never reached its peer hung test-copy-splice); a cancellation marks the
 * poll cancelled, and whoever runs it next ends it. */
static int queue_cancel(uring_backend *b, uint64_t user_data)
{
    struct io_uring_sqe *sqe;
    int rc = edo__ring_get_sqe(&b->ring, &sqe);
    if (rc < 0)
        return rc;
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->addr = user_data;
    sqe->user_data = TAG_IGNORE;
    return 0;
}

/* Hands what is queued to the kernel. When it takes nothing now (out of resources), the SQEs
 * stay queued, and the waiter is woken to submit them with its next wait. */
static void submit(uring_backend *b)
{
    if (edo__ring_submit(&b->ring) < 0)
        edo__io_wakefd_interrupt(&b->wake);
}

/* ---- the operations ------------------------------------------------------------------------ */

static void backend_destroy(edo__io_backend *base);

static int backend_create(edo__io_backend **out)
{
    uring_backend *b = calloc(1, sizeof *b);
    if (!b)
        return -ENOMEM;
    edo__ring_params p = {.sq_entries = atomic_load_explicit(&sq_size, memory_order_relaxed),
                          .cq_entries = atomic_load_explicit(&cq_size, memory_order_relaxed),
                          .flags = IORING_SETUP_SUBMIT_ALL};
    if (p.cq_entries < p.sq_entries)
        p.cq_entries = p.sq_entries;
    int rc = edo__ring_init(&b->ring, &p);
    if (rc < 0) {
        free(b);
        return rc;
    }
    b->base = (edo__io_backend){&edo__io_uring, &b->wake.waker};
    pthread_mutex_init(&b->sq_lock, NULL);
    pthread_mutex_init(&b->cq_lock, NULL);
    b->scratch_epfd = -1;
    b->wake.fd = -1;
    rc = edo__io_wakefd_init(&b->wake, b);
    /* What this backend needs of the kernel: a timeout on the wait without a timeout SQE
     * (5.11), completions kept on overflow, and multishot polls. The last is told by arming
     * the wake's poll: a kernel without it refuses the flag at once (-EINVAL), in the
     * submission itself, so its completion is there when the submission returns. */
    if (rc == 0 && (!(b->ring.features & IORING_FEAT_EXT_ARG) ||
                    !(b->ring.features & IORING_FEAT_NODROP)))
        rc = -ENOSYS;
    if (rc == 0 && (rc = queue_poll(b, b->wake.fd, TAG_WAKE)) == 0)
        rc = edo__ring_submit(&b->ring);
    if (rc >= 0) {
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        edo__ring_for_each_cqe(&b->ring, head, cqe) {
            seen++;
            if (cqe->res < 0)
                rc = cqe->res;
        }
        edo__ring_cq_advance(&b->ring, seen);
    }
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
    free(b->watches);
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

static int backend_add(edo__io_backend *base, int fd, uint64_t token)
{
    uring_backend *b = (uring_backend *)base;
    if (fd < 0)
        return -EBADF;
    pthread_mutex_lock(&b->sq_lock);
    int rc = pollable(b, fd);
    if (rc == 0)
        rc = grow(b, fd);
    watch *w = rc == 0 ? &b->watches[fd] : NULL;
    if (w && w->live)
        rc = -EEXIST;
    if (rc == 0) {
        uint32_t seq = (w->seq + 1) & SEQ_MASK;
        if ((rc = queue_poll(b, fd, poll_data(fd, seq))) == 0) {
            *w = (watch){token, seq, true, false};
            submit(b);
        }
    }
    pthread_mutex_unlock(&b->sq_lock);
    return rc;
}

static void backend_remove(edo__io_backend *base, int fd, uint64_t token)
{
    uring_backend *b = (uring_backend *)base;
    pthread_mutex_lock(&b->sq_lock);
    watch *w = fd >= 0 && (unsigned)fd < b->nwatches ? &b->watches[fd] : NULL;
    if (w && w->live && w->token == token) {
        w->live = false;
        if (queue_cancel(b, poll_data(fd, w->seq)) == 0) {
            submit(b);
        } else {
            /* The SQ is full and the kernel takes nothing: cancel without an SQE, waiting. */
            edo__ring_cancel_sync(&b->ring, poll_data(fd, w->seq));
        }
    }
    pthread_mutex_unlock(&b->sq_lock);
}

/* ---- reaping (cq_lock held) ------------------------------------------------------------- */

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

/* Turns the raw pairs reap collected into the driver's, in place, dropping those of polls
 * that are gone and the removals', and arms again the live polls that ended. Returns how many
 * are left. */
static int translate(uring_backend *b, edo__io_ready *out, int n)
{
    int kept = 0;
    bool queued = false;
    pthread_mutex_lock(&b->sq_lock);
    for (int i = 0; i < n; i++) {
        uint64_t data = out[i].token & ~ENDED;
        if (data == TAG_IGNORE)
            continue;
        bool ended = out[i].token & ENDED;
        int32_t res = (int32_t)out[i].bits;
        if (data == TAG_WAKE) {
            if (ended)
                queued |= queue_poll(b, b->wake.fd, TAG_WAKE) == 0;
            out[kept++] = (edo__io_ready){EDO__IO_WAKE_TOKEN, 0};
            continue;
        }
        int fd = (int)(uint32_t)data;
        watch *w = (unsigned)fd < b->nwatches ? &b->watches[fd] : NULL;
        if (!w || !w->live || w->seq != (uint32_t)(data >> 32))
            continue; /* a poll since removed */
        if (res < 0 && res != -ECANCELED) {
            /* The poll failed (the fd was closed while registered, say): report an error
             * rather than arm a poll that would fail again. */
            out[kept++] = (edo__io_ready){w->token, EDO_READABLE | EDO_WRITABLE | EDO_IO_ERROR};
            continue;
        }
        if (ended) /* a full CQ or its thread's exit ended it: the new one reports the state */
            queued |= queue_poll(b, fd, data) == 0;
        if (res <= 0)
            continue;
        uint32_t events = (uint32_t)res;
        if (!w->reported && (events = state_of(fd)) == 0)
            continue;
        w->reported = true;
        out[kept++] = (edo__io_ready){w->token, edo__io_poll_bits(events)};
    }
    if (queued)
        submit(b);
    pthread_mutex_unlock(&b->sq_lock);
    return kept;
}

/* After the kernel dropped completions (-EBADR: it ran out of memory while the CQ overflowed),
 * an ended poll may never have said so: every live fd gets a fresh poll, the old one removed,
 * and the fresh one reports the fd's state. */
static void resync(uring_backend *b)
{
    pthread_mutex_lock(&b->sq_lock);
    for (unsigned fd = 0; fd < b->nwatches; fd++) {
        watch *w = &b->watches[fd];
        if (!w->live || queue_cancel(b, poll_data((int)fd, w->seq)) < 0)
            continue;
        w->seq = (w->seq + 1) & SEQ_MASK;
        queue_poll(b, (int)fd, poll_data((int)fd, w->seq));
    }
    queue_poll(b, b->wake.fd, TAG_WAKE);
    submit(b);
    pthread_mutex_unlock(&b->sq_lock);
}

/* Takes at most `max` completions into `out` as raw pairs (user_data with ENDED, res in bits),
 * then translates them. What the kernel kept back on overflow is brought in as room allows. */
static int reap(uring_backend *b, edo__io_ready *out, int max)
{
    int n = 0;
    for (;;) {
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        edo__ring_for_each_cqe(&b->ring, head, cqe) {
            if (n == max)
                break;
            seen++;
            uint64_t ended = cqe->flags & IORING_CQE_F_MORE ? 0 : ENDED;
            out[n++] = (edo__io_ready){cqe->user_data | ended, (uint32_t)cqe->res};
        }
        edo__ring_cq_advance(&b->ring, seen);
        if (n == max || !edo__ring_cq_overflowed(&b->ring))
            break;
        if (edo__ring_flush_overflow(&b->ring) == -EBADR)
            resync(b);
    }
    return n ? translate(b, out, n) : 0;
}

static int backend_wait(edo__io_backend *base, edo__io_ready *out, int max, uint64_t timeout_ns)
{
    uring_backend *b = (uring_backend *)base;
    if (timeout_ns == EDO__IO_NO_WAIT) {
        if (pthread_mutex_trylock(&b->cq_lock) != 0)
            return 0; /* another thread reaps: it takes these events */
    } else {
        pthread_mutex_lock(&b->cq_lock);
    }
    int n = reap(b, out, max);
    if (n == 0 && timeout_ns != EDO__IO_NO_WAIT) {
        pthread_mutex_lock(&b->sq_lock);
        unsigned pending = edo__ring_publish(&b->ring); /* what a failed submit left */
        pthread_mutex_unlock(&b->sq_lock);
        int rc = edo__ring_enter(&b->ring, pending, 1,
                                 timeout_ns == EDO__IO_FOREVER ? EDO__RING_FOREVER : timeout_ns);
        if (rc == -EBADR)
            resync(b);
        n = reap(b, out, max);
    }
    pthread_mutex_unlock(&b->cq_lock);
    return n;
}

const edo__io_backend_ops edo__io_uring = {
    "io_uring", backend_create, backend_destroy, backend_add, backend_remove, backend_wait,
};
