/* One io_uring instance, spoken to directly: io_uring_setup, io_uring_enter and
 * io_uring_register through syscall(2) over <linux/io_uring.h>, no liburing (one dependency
 * less, and the few dozen lines liburing would give are written here).
 *
 * What a user of the ring does:
 *
 *     edo__ring r;
 *     edo__ring_params p = {.sq_entries = 256, .cq_entries = 1024,
 *                           .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
 *     if ((rc = edo__ring_init(&r, &p)) < 0) ...;       // -ENOSYS, -EPERM: no io_uring here
 *     struct io_uring_sqe *sqe;
 *     if ((rc = edo__ring_get_sqe(&r, &sqe)) < 0) ...;   // a full SQ is submitted, not lost
 *     sqe->opcode = IORING_OP_NOP; sqe->user_data = 7;
 *     edo__ring_submit_and_wait(&r, 1, EDO__RING_FOREVER);
 *     unsigned head, seen = 0;
 *     struct io_uring_cqe *cqe;
 *     edo__ring_for_each_cqe(&r, head, cqe) { use(cqe->user_data, cqe->res); seen++; }
 *     edo__ring_cq_advance(&r, seen);
 *     if (edo__ring_cq_overflowed(&r)) edo__ring_flush_overflow(&r);   // then reap again
 *     edo__ring_destroy(&r);
 *
 * Threads: the ring keeps no lock. Its submission side (get_sqe, publish, submit) is used by
 * one thread at a time, and so is its completion side (for_each_cqe, cq_advance); the two
 * sides may run at once on different threads, and edo__ring_enter may be called by any thread
 * at any time (the kernel serialises submissions itself). edo__ring_submit_and_wait uses both
 * sides. A ring set up with IORING_SETUP_SINGLE_ISSUER accepts io_uring_enter from the thread
 * that created it only (-EEXIST from others): keep such a ring to one thread.
 */
#ifndef EDO_IO_URING_RING_H
#define EDO_IO_URING_RING_H

#include <linux/io_uring.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* edo__ring_submit_and_wait's timeout that means none. */
#define EDO__RING_FOREVER UINT64_MAX

/* What edo__ring_init is asked for. */
typedef struct edo__ring_params {
    unsigned sq_entries; /* submission queue slots, 1 to 32768 (the kernel rounds up to a
                            power of two); 0: 256 */
    unsigned cq_entries; /* completion queue slots, at least sq_entries (rounded up likewise);
                            0: the kernel's default, twice the SQ */
    /* IORING_SETUP_* flags wanted. Of these, the optional ones (SUBMIT_ALL, COOP_TASKRUN,
     * TASKRUN_FLAG, SINGLE_ISSUER, DEFER_TASKRUN) are dropped, newest first, when the kernel
     * refuses them: what the ring got is in edo__ring.setup_flags. Any other flag is passed
     * as it is, and its refusal is the error. */
    unsigned flags;
} edo__ring_params;

typedef struct edo__ring {
    int fd;
    unsigned setup_flags; /* IORING_SETUP_* the kernel accepted (CQSIZE when cq_entries set) */
    unsigned features;    /* IORING_FEAT_* the kernel reported */
    unsigned sq_entries, cq_entries; /* as the kernel sized them */

    /* Submission side. The kernel reads sq_tail and moves sq_head as it consumes. */
    unsigned *sq_head, *sq_tail, *sq_flags;
    unsigned sq_mask;
    struct io_uring_sqe *sqes;
    unsigned sqe_tail; /* SQEs handed out; those past *sq_tail are not yet published */

    /* Completion side. The kernel moves cq_tail as it posts; we move cq_head as we reap. */
    unsigned *cq_head, *cq_tail;
    unsigned *cq_flags; /* IORING_CQ_EVENTFD_DISABLED: ours to set; NULL on kernels without */
    unsigned cq_mask;
    struct io_uring_cqe *cqes;

    /* The mappings (cq_ring == sq_ring with IORING_FEAT_SINGLE_MMAP). */
    void *sq_ring, *cq_ring;
    size_t sq_ring_size, cq_ring_size, sqes_size;

    /* Opcodes the kernel supports (IORING_REGISTER_PROBE), one bit each. */
    uint64_t ops[4];
} edo__ring;

/* Sets up a ring as `params` asks (NULL: all defaults) and maps its queues. Returns 0, or
 *   -EINVAL  sq_entries above 32768, cq_entries below sq_entries, or a non-optional flag
 *            the kernel refuses;
 *   -ENOSYS  the kernel has no io_uring (or a seccomp filter says so, as container runtimes
 *            do);
 *   -EPERM   io_uring is disabled (/proc/sys/kernel/io_uring_disabled, or a filter);
 *   -ENOMEM, -EMFILE, -ENFILE: out of memory or descriptors.
 * On failure nothing is left open. */
int edo__ring_init(edo__ring *r, const edo__ring_params *params);
/* Unmaps and closes: the kernel cancels what is still in flight. */
void edo__ring_destroy(edo__ring *r);

/* ---- submission side -------------------------------------------------------------------- */

/* A zeroed SQE to fill in, in *out. When the SQ is full, what it holds is submitted first, so
 * that a full ring delays an operation but never drops it. Returns 0, or the error of that
 * submission when the kernel took none of it (-EAGAIN, -EBUSY: out of resources; the SQ
 * stays full and intact, and the caller may reap completions and try again). */
int edo__ring_get_sqe(edo__ring *r, struct io_uring_sqe **out);
/* Makes the SQEs handed out visible to the kernel; returns how many it has not consumed. */
unsigned edo__ring_publish(edo__ring *r);
/* Publishes and submits: the number the kernel consumed (0 when there was nothing), or -errno
 * (-EAGAIN, -EBUSY: resources; the SQEs stay queued for the next submission). */
int edo__ring_submit(edo__ring *r);

/* Cancels the requests submitted with `user_data` without an SQE (IORING_REGISTER_SYNC_CANCEL,
 * Linux 6.0), waiting until they are gone: for when the SQ is full and the kernel takes
 * nothing, and a cancellation cannot wait. 0, -ENOENT (none in flight), or -errno. */
int edo__ring_cancel_sync(edo__ring *r, uint64_t user_data);

/* ---- both sides ------------------------------------------------------------------------- */

/* io_uring_enter: submits up to `to_submit` published SQEs and, with wait_nr > 0, waits until
 * the CQ holds at least wait_nr completions or `timeout_ns` passes (EDO__RING_FOREVER: no
 * limit; IORING_ENTER_EXT_ARG, so no timeout SQE is used). Touches neither side's userspace
 * state: safe from any thread. Returns the number submitted, or -ETIME (the timeout passed),
 * -EINTR (a signal came), -EBADR (the kernel had to drop completions: out of memory while the
 * CQ overflowed; reported once), or another -errno. */
int edo__ring_enter(edo__ring *r, unsigned to_submit, unsigned wait_nr, uint64_t timeout_ns);
/* Publishes, submits and waits, as edo__ring_enter. */
int edo__ring_submit_and_wait(edo__ring *r, unsigned wait_nr, uint64_t timeout_ns);

/* ---- completion side -------------------------------------------------------------------- */

/* Visits each completion the CQ holds, oldest first, without consuming it: `head` (unsigned)
 * is the cursor, `cqe` (struct io_uring_cqe *) the completion. Consume them with
 * edo__ring_cq_advance once their contents were used (the kernel may reuse the slots then). */
#define edo__ring_for_each_cqe(r, head, cqe)                                                   \
    for ((head) = *(r)->cq_head;                                                               \
         (head) != __atomic_load_n((r)->cq_tail, __ATOMIC_ACQUIRE) &&                          \
         ((cqe) = &(r)->cqes[(head) & (r)->cq_mask], 1);                                       \
         (head)++)

/* How many completions the CQ holds. */
static inline unsigned edo__ring_cq_ready(const edo__ring *r)
{
    return __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE) - *r->cq_head;
}

/* Consumes the `n` oldest completions. */
static inline void edo__ring_cq_advance(edo__ring *r, unsigned n)
{
    if (n)
        __atomic_store_n(r->cq_head, *r->cq_head + n, __ATOMIC_RELEASE);
}

/* Whether the kernel holds completions that did not fit in the CQ (IORING_SQ_CQ_OVERFLOW;
 * with IORING_FEAT_NODROP it keeps them rather than dropping them). */
static inline bool edo__ring_cq_overflowed(const edo__ring *r)
{
    return __atomic_load_n(r->sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_CQ_OVERFLOW;
}

/* Moves the completions the kernel holds into the CQ, as far as it has room (after reaping):
 * 0, or -EBADR when some were dropped (see edo__ring_enter), or another -errno. */
int edo__ring_flush_overflow(edo__ring *r);

/* Publishes, submits, and runs the task work the kernel holds for the ring (with
 * IORING_SETUP_DEFER_TASKRUN or COOP_TASKRUN it runs only when the ring's thread enters with
 * GETEVENTS): completions it posts are in the CQ when this returns, and what they held (a
 * cancelled poll's file) is let go. Without waiting. The number submitted, or -errno. Under
 * SINGLE_ISSUER, from the ring's thread only. */
int edo__ring_submit_run(edo__ring *r);

/* Flags newer than the system's headers may be (Linux 6.12): a provided-buffer ring whose
 * buffers the kernel consumes a part at a time (IOU_PBUF_RING_INC), and a completion's note that
 * its buffer has room left and stays at the ring's head (IORING_CQE_F_BUF_MORE). */
#define EDO__PBUF_RING_INC 2u
#define EDO__CQE_F_BUF_MORE (1u << 4)

/* Registers the provided-buffer ring at `mem` (page-aligned, `entries` struct io_uring_buf,
 * a power of two) as buffer group `bgid` (IORING_REGISTER_PBUF_RING, Linux 5.19) with `flags`
 * (0, or EDO__PBUF_RING_INC): 0 or -errno (-EINVAL: the kernel has none, or not with these
 * flags, or the arguments are wrong). The kernel keeps it until the ring is closed. */
int edo__ring_register_buf_ring(edo__ring *r, void *mem, unsigned entries, uint16_t bgid,
                                uint16_t flags);

/* Has the kernel signal eventfd `fd` whenever it posts a completion (IORING_REGISTER_EVENTFD):
 * 0 or -errno (-EBUSY: one is registered already). */
int edo__ring_register_eventfd(edo__ring *r, int fd);

/* Whether the kernel holds task work for the ring that only an entry with GETEVENTS runs
 * (IORING_SQ_TASKRUN, kept up to date with IORING_SETUP_TASKRUN_FLAG). Any thread may ask. */
static inline bool edo__ring_work_pending(const edo__ring *r)
{
    return __atomic_load_n(r->sq_flags, __ATOMIC_ACQUIRE) & IORING_SQ_TASKRUN;
}

/* ---- what the kernel can do ------------------------------------------------------------- */

/* Whether the kernel supports opcode `op` (IORING_OP_*), as the probe at init found. */
static inline bool edo__ring_has_op(const edo__ring *r, unsigned op)
{
    return op < 256 && (r->ops[op / 64] >> (op % 64) & 1);
}

/* Whether the kernel takes provided-buffer rings (IORING_REGISTER_PBUF_RING) with `flags`
 * (0, or EDO__PBUF_RING_INC: consumed in parts): registers and unregisters a one-entry ring in
 * buffer group `bgid` (one the caller does not use). 1 or 0 (-ENOMEM: no page to try with).
 * Uses only the register call: safe at any time, from the submission side's thread. */
int edo__ring_probe_buf_ring(edo__ring *r, uint16_t bgid, uint16_t flags);
/* Whether the kernel has multishot receive (IORING_RECV_MULTISHOT): submits one on a socket
 * pair with buffer selection from group `bgid`, which must have no buffers (the kernel then
 * ends it with -ENOBUFS; an older kernel refuses it with -EINVAL), and waits for it. 1, 0, or
 * -errno. Reaps its own completion: call it before the ring carries anything else (its CQ
 * must be empty), from the thread that uses both sides. */
int edo__ring_probe_recv_multishot(edo__ring *r, uint16_t bgid);
/* Whether the kernel has multishot accept (IORING_ACCEPT_MULTISHOT): arms one on a listening
 * Unix socket with a connection waiting, and cancels it once it said it goes on (an older
 * kernel refuses the flag with -EINVAL). 1, 0, or -errno. Reaps its own completions, with the
 * same conditions as edo__ring_probe_recv_multishot. */
int edo__ring_probe_accept_multishot(edo__ring *r);

#endif
