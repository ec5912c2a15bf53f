/* The completion ring (see completions.h): creation and probing, submission, reaping, the
 * eventfd wait, fixed-file slots, and a destruction that waits for every CQE. */
#include "io/uring/completions.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "platform/sanitizers.h"
#include "platform/thread.h"

#define TAG_IGNORE 0 /* user_data of the cancellations: no record is at address 0 */
#define TAG_LINK_TIMEOUT 1 /* of the linked timeouts: counted, never a record */
#define INDEX_MASK ((uint64_t)EDO__CRING_INDEXES - 1)
#define SLOTS 256 /* fixed-file slots: whole-file calls at once without a descriptor of ours */

_Static_assert((EDO__CRING_INDEXES & (EDO__CRING_INDEXES - 1)) == 0, "indexes: a power of 2");
_Static_assert(_Alignof(edo__cring_op) >= EDO__CRING_INDEXES, "index bits must be free");

/* The ring's shape for those made from now on (a CQ at least as large as the SQ). */
static _Atomic(edo__ring_params *) sizes;
static edo__ring_params default_sizes = {256, 1024, IORING_SETUP_SUBMIT_ALL};
static edo__ring_params test_sizes;

void edo__cring_set_sizes(unsigned sq_entries, unsigned cq_entries)
{
    if (!sq_entries) {
        atomic_store(&sizes, NULL);
        return;
    }
    test_sizes = (edo__ring_params){sq_entries, cq_entries > sq_entries ? cq_entries : sq_entries,
                                    IORING_SETUP_SUBMIT_ALL};
    atomic_store(&sizes, &test_sizes);
}

static int sys_register(int fd, unsigned op, void *arg, unsigned nr)
{
    long rc = syscall(__NR_io_uring_register, fd, op, arg, nr);
    return rc < 0 ? -errno : (int)rc;
}

/* A sparse table of fixed files, as the kernel allows: the newer call that needs no array,
 * else an array of -1 (empty slots). No table is fine: the callers then use descriptors. */
static void register_slots(edo__cring *c)
{
    struct io_uring_rsrc_register reg = {.nr = SLOTS, .flags = IORING_RSRC_REGISTER_SPARSE};
    int rc = sys_register(c->ring.fd, IORING_REGISTER_FILES2, &reg, sizeof reg);
    if (rc < 0) {
        int fds[SLOTS];
        for (unsigned i = 0; i < SLOTS; i++)
            fds[i] = -1;
        rc = sys_register(c->ring.fd, IORING_REGISTER_FILES, fds, SLOTS);
    }
    if (rc < 0 || !(c->free_slots = malloc(SLOTS * sizeof *c->free_slots)))
        return;
    c->nslots = c->nfree = SLOTS;
    for (unsigned i = 0; i < SLOTS; i++)
        c->free_slots[i] = SLOTS - 1 - i; /* slot 0 handed out first */
}

/* Turns the eventfd's notifications on or off (sq_lock held, or before the ring is shared).
 * Without the flag (older kernels) they stay on: correct, only dearer. */
static void set_notify(edo__cring *c, bool on)
{
    unsigned *flags = c->ring.cq_flags;
    if (!flags)
        return;
    unsigned f = __atomic_load_n(flags, __ATOMIC_RELAXED);
    f = on ? f & ~IORING_CQ_EVENTFD_DISABLED : f | IORING_CQ_EVENTFD_DISABLED;
    __atomic_store_n(flags, f, __ATOMIC_SEQ_CST);
}

/* What io_uring cannot do without blocking it hands to its own threads (io-wq), whose bounded
 * kind (regular files and block devices: buffered writes on file systems without non-blocking
 * ones, ext4's among them; fsync; opens that create) the kernel caps at min(SQ entries,
 * 4 x CPUs), 8 on 2 CPUs: a write then queued behind other files' fsyncs where the blocking
 * pool would have run it at once (fs_write_fsync through the ring: 8% slower than the pool
 * with 8, 6% faster with 64). The limit set on the ring holds for every thread that submits to
 * it, now and later, until someone sets another (tests set 1 to hold operations in flight);
 * io-wq being a thread's, shared by its rings, it also widens the creating thread's io-wq for
 * its other rings. The unbounded limit stays (0). A kernel without IORING_REGISTER_IOWQ_MAX_WORKERS keeps its
 * own. */
#define IOWQ_BOUNDED 64u

static void widen_iowq(edo__cring *c)
{
    unsigned limits[2] = {IOWQ_BOUNDED, 0};
    (void)sys_register(c->ring.fd, IORING_REGISTER_IOWQ_MAX_WORKERS, limits, 2);
}

int edo__cring_create(edo__cring **out, int (*reg)(void *ctx, int fd, edo_io **io), void *ctx)
{
    edo__cring *c = calloc(1, sizeof *c);
    if (!c)
        return -ENOMEM;
    edo__ring_params *p = atomic_load(&sizes);
    int rc = edo__ring_init(&c->ring, p ? p : &default_sizes);
    if (rc < 0) {
        free(c);
        return rc;
    }
    edo__spin_init(&c->sq_lock);
    edo__spin_init(&c->cq_lock);
    atomic_init(&c->inflight, 0);
    c->eventfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    /* Without NODROP an overflowing CQ would lose completions, and with them the records. */
    if (!(c->ring.features & IORING_FEAT_NODROP))
        rc = -ENOSYS;
    else if (c->eventfd < 0)
        rc = -errno;
    else if ((rc = sys_register(c->ring.fd, IORING_REGISTER_EVENTFD, &c->eventfd, 1)) == 0)
        rc = reg(ctx, c->eventfd, &c->io);
    if (rc < 0) {
        if (c->eventfd >= 0)
            close(c->eventfd);
        edo__ring_destroy(&c->ring);
        free(c);
        return rc;
    }
    register_slots(c);
    widen_iowq(c);
    if (edo__cring_has_op(c, IORING_OP_LINK_TIMEOUT))
        c->link_ts = calloc(c->ring.sq_entries, sizeof *c->link_ts); /* NULL: none linked */
    set_notify(c, c->notify = false);
    *out = c;
    return 0;
}

void edo__cring_destroy(edo__cring *c)
{
    /* Ask the kernel to end everything early, then take every CQE: a record is freed by its
     * last completion, and the kernel may write into it until then. */
    edo__cring_lock(c);
    struct io_uring_sqe *sqe;
    if (atomic_load(&c->inflight) && edo__cring_has_op(c, IORING_OP_ASYNC_CANCEL) &&
        edo__ring_get_sqe(&c->ring, &sqe) == 0) {
        sqe->opcode = IORING_OP_ASYNC_CANCEL;
        sqe->cancel_flags = IORING_ASYNC_CANCEL_ANY; /* refused by older kernels: then we wait */
        sqe->user_data = TAG_IGNORE;
    }
    edo__spin_unlock(&c->sq_lock);
    while (atomic_load(&c->inflight)) {
        edo__spin_lock(&c->sq_lock);
        edo__ring_submit_and_wait(&c->ring, 1, 100 * 1000 * 1000);
        edo__spin_unlock(&c->sq_lock);
        edo__cring_reap(c);
    }
    edo_io_deregister(c->io);
    edo__ring_destroy(&c->ring); /* the eventfd and file table go with it */
    close(c->eventfd);
    free(c->free_slots);
    free(c->link_ts);
    free(c);
}

/* ---- submitting ------------------------------------------------------------------------- */

/* What the caller wrote and read of its records so far goes out with the SQEs the kernel takes
 * next, for ThreadSanitizer to see (the `inflight` count's release; see completions.h): made
 * before every publication, as an operation's record is still read while its SQE is filled in,
 * after edo__cring_sqe counted it. Only read-modify-writes touch the count, so each reaper's
 * acquire sees every release before it. Without ThreadSanitizer nothing is needed (and a
 * publication makes no locked instruction for it): the SQ tail's release store, the kernel,
 * and the reaper's acquire load of the CQ tail order the record before its reaping. */
static void release_records(edo__cring *c)
{
#ifdef EDO_TSAN
    atomic_fetch_add_explicit(&c->inflight, 0, memory_order_release);
#else
    (void)c;
#endif
}

int edo__cring_sqe(edo__cring *c, edo__cring_op *op, unsigned index, struct io_uring_sqe **out)
{
    /* Counted first: taking an SQE may submit the ones before it. */
    atomic_fetch_add_explicit(&c->inflight, 1, memory_order_release);
    int rc = edo__ring_get_sqe(&c->ring, out);
    if (rc < 0) {
        atomic_fetch_sub_explicit(&c->inflight, 1, memory_order_relaxed);
        return rc;
    }
    (*out)->user_data = (uint64_t)(uintptr_t)op | (index & INDEX_MASK);
    return 0;
}

int edo__cring_reserve(edo__cring *c, unsigned n)
{
    edo__ring *r = &c->ring;
    if (n > r->sq_entries)
        return -EINVAL;
    if (r->sq_entries - (r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE)) >= n)
        return 0;
    release_records(c);
    int rc = edo__ring_submit(r);
    if (r->sq_entries - (r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE)) >= n)
        return 0;
    return rc < 0 ? rc : -EBUSY;
}

bool edo__cring_link_deadline(edo__cring *c, struct io_uring_sqe *sqe, uint64_t deadline_ns)
{
    edo__ring *r = &c->ring;
    /* A slot free now, so that taking it submits nothing (`sqe` would go in alone). */
    if (!c->link_ts || r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE) >= r->sq_entries)
        return false;
    struct io_uring_sqe *t;
    if (edo__ring_get_sqe(r, &t) < 0)
        return false;
    struct __kernel_timespec *ts = &c->link_ts[(unsigned)(t - r->sqes)];
    ts->tv_sec = (long long)(deadline_ns / 1000000000u);
    ts->tv_nsec = (long long)(deadline_ns % 1000000000u);
    sqe->flags |= IOSQE_IO_LINK;
    t->opcode = IORING_OP_LINK_TIMEOUT;
    t->addr = (uint64_t)(uintptr_t)ts;
    t->len = 1;
    t->timeout_flags = IORING_TIMEOUT_ABS; /* CLOCK_MONOTONIC, the default */
    t->user_data = TAG_LINK_TIMEOUT;
    atomic_fetch_add_explicit(&c->links, 1, memory_order_relaxed);
    return true;
}

bool edo__cring_timed_out(int32_t res, uint64_t deadline_ns)
{
    return (res == -ECANCELED || res == -EINTR) && edo__clock_ns() >= deadline_ns;
}

int edo__cring_cancel(edo__cring *c, edo__cring_op *op, unsigned index)
{
    struct io_uring_sqe *sqe;
    int rc = edo__ring_get_sqe(&c->ring, &sqe);
    if (rc < 0)
        return rc;
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->addr = (uint64_t)(uintptr_t)op | (index & INDEX_MASK);
    sqe->user_data = TAG_IGNORE;
    return 0;
}

/* Enters the ring with what is published (`pending` SQEs seen, or any), then reaps, and turns
 * the eventfd's notifications on or off for what is still in flight. */
static int enter_and_reap(edo__cring *c, unsigned pending)
{
    /* The system call is made outside the lock: on a warm cache the kernel runs the
     * operations inside io_uring_enter (an openat, a read), and a thread that only wants to
     * queue an SQE meanwhile must not spin for that long. The kernel takes what is published,
     * whoever enters (ring.h). It is told to take all of it, not the count seen here: another
     * thread's entry may have taken some of ours meanwhile, and a count gone stale would cut
     * a later chain in two. What is published always ends a chain. */
    int rc = pending ? edo__ring_enter(&c->ring, c->ring.sq_entries, 0, 0) : 0;
    if (rc < 0) {
        /* Nothing taken now: the driver's next look submits again (edo__cring_on_dispatch);
         * wake it so that it does. */
        atomic_store_explicit(&c->unsubmitted, true, memory_order_relaxed);
        uint64_t one = 1;
        ssize_t w = write(c->eventfd, &one, sizeof one);
        (void)w;
        return rc;
    }
    edo__cring_reap(c);
    /* What is still in flight must wake a parked worker when it completes: notifications on
     * (then look again, as what completed before they were on counted nothing). Off again
     * once nothing is in flight, so an inline completion wakes nobody. */
    edo__spin_lock(&c->sq_lock);
    bool want = atomic_load_explicit(&c->inflight, memory_order_relaxed) > 0;
    bool turned_on = want && !c->notify;
    if (want != c->notify)
        set_notify(c, c->notify = want);
    edo__spin_unlock(&c->sq_lock);
    if (turned_on)
        edo__cring_reap(c);
    return 0;
}

int edo__cring_submit_unlock(edo__cring *c)
{
    release_records(c);
    unsigned pending = edo__ring_publish(&c->ring);
    /* This entry takes what was published for a later one too: a flush has nothing left. */
    atomic_store_explicit(&c->unentered, false, memory_order_relaxed);
    edo__spin_unlock(&c->sq_lock);
    return enter_and_reap(c, pending);
}

void edo__cring_publish_unlock(edo__cring *c)
{
    release_records(c);
    if (edo__ring_publish(&c->ring))
        atomic_store_explicit(&c->unentered, true, memory_order_relaxed);
    edo__spin_unlock(&c->sq_lock);
}

bool edo__cring_flush(edo__cring *c)
{
    bool entered = false;
    /* The reap may run steps that publish again (the chain after a type check): each round
     * takes all of them in one entry. A round publishes only for calls that completed in the
     * one before, and every call has a bounded number of steps, so this ends. */
    while (atomic_exchange_explicit(&c->unentered, false, memory_order_relaxed)) {
        enter_and_reap(c, 1);
        entered = true;
    }
    return entered;
}

int edo__cring_slot_take(edo__cring *c)
{
    return c->nfree ? (int)c->free_slots[--c->nfree] : -ENFILE;
}

void edo__cring_slot_put(edo__cring *c, unsigned slot) { c->free_slots[c->nfree++] = slot; }

/* ---- reaping ---------------------------------------------------------------------------- */

/* Tells every operation whose CQE is in the CQ, flushing an overflow in as room allows. */
static void reap_locked(edo__cring *c)
{
    for (;;) {
        unsigned head;
        struct io_uring_cqe *cqe;
        /* One at a time: `complete` may submit, and its inline CQEs are seen by this loop. */
        edo__ring_for_each_cqe(&c->ring, head, cqe) {
            uint64_t data = cqe->user_data;
            int32_t res = cqe->res;
            uint32_t flags = cqe->flags;
            edo__ring_cq_advance(&c->ring, 1);
            if (data == TAG_LINK_TIMEOUT) {
                atomic_fetch_add_explicit(&c->links_reaped, 1, memory_order_relaxed);
                if (res == -ETIME)
                    atomic_fetch_add_explicit(&c->links_fired, 1, memory_order_relaxed);
                continue;
            }
            if (data == TAG_IGNORE)
                continue;
            atomic_fetch_sub_explicit(&c->inflight, 1, memory_order_acq_rel);
            edo__cring_op *op = (edo__cring_op *)(uintptr_t)(data & ~INDEX_MASK);
            op->complete(op, (unsigned)(data & INDEX_MASK), res, flags);
        }
        if (!edo__ring_cq_overflowed(&c->ring))
            return;
        edo__ring_flush_overflow(&c->ring); /* -EBADR cannot be: NODROP keeps them all */
    }
}

/* Whether there is something to reap. Both ends read atomically: another thread may be
 * moving the head. */
static bool cq_waiting(edo__cring *c)
{
    return __atomic_load_n(c->ring.cq_head, __ATOMIC_ACQUIRE) !=
               __atomic_load_n(c->ring.cq_tail, __ATOMIC_ACQUIRE) ||
           edo__ring_cq_overflowed(&c->ring);
}

void edo__cring_reap(edo__cring *c)
{
    /* A CQE posted while another thread reaps is its to take: it looks again after unlocking,
     * so the try-lock failing here never leaves one behind. */
    while (cq_waiting(c)) {
        if (!edo__spin_trylock(&c->cq_lock))
            return;
        reap_locked(c);
        edo__spin_unlock(&c->cq_lock);
    }
}

void edo__cring_on_dispatch(edo__cring *c)
{
    edo_io_event ev;
    bool woke = false;
    if (edo_io_try_ready(c->io, EDO_READABLE, &ev) > 0) {
        /* Empty the counter before clearing: a completion posted after the read counts it
         * up again, a new edge the clear keeps. */
        uint64_t count;
        ssize_t n = read(c->eventfd, &count, sizeof count);
        (void)n;
        edo_io_clear_ready(c->io, ev);
        woke = true;
    }
    if (atomic_load_explicit(&c->unsubmitted, memory_order_relaxed) &&
        edo__spin_trylock(&c->sq_lock)) { /* SQEs a failed submission left go now */
        atomic_store_explicit(&c->unsubmitted, edo__ring_submit(&c->ring) < 0,
                              memory_order_relaxed);
        edo__spin_unlock(&c->sq_lock);
        woke = true;
    }
    /* Only then: CQEs that signalled nobody were posted inside an entry, whose thread reaps
     * them next. A worker reaping another's ring at each of its looks ran that ring's next
     * steps and submitted them there, against the owner for the ring's kernel mutex (and the
     * completions' task work then ran on it, under the same mutex): fs_read_small took twice
     * the CPU in some runs. */
    if (woke)
        edo__cring_reap(c);
}
