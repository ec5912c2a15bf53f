/* One io_uring instance (see ring.h): setup with the best flags the kernel takes, the mapped
 * queues, submission, waiting, overflow, and what the kernel supports. */
#include "io/uring/ring.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* Flags a ring can do without, newest first: the order they are given up in when the kernel
 * refuses a setup with -EINVAL (an older kernel knows fewer of them). DEFER_TASKRUN needs
 * SINGLE_ISSUER, so it goes first. */
static const unsigned optional_flags[] = {
    IORING_SETUP_DEFER_TASKRUN, IORING_SETUP_SINGLE_ISSUER, IORING_SETUP_TASKRUN_FLAG,
    IORING_SETUP_COOP_TASKRUN,  IORING_SETUP_SUBMIT_ALL,    IORING_SETUP_CQSIZE,
};

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
    long rc = syscall(__NR_io_uring_setup, entries, p);
    return rc < 0 ? -errno : (int)rc;
}

static int sys_enter(int fd, unsigned to_submit, unsigned wait_nr, unsigned flags, void *arg,
                     size_t argsz)
{
    long rc = syscall(__NR_io_uring_enter, fd, to_submit, wait_nr, flags, arg, argsz);
    return rc < 0 ? -errno : (int)rc;
}

static int sys_register(int fd, unsigned op, void *arg, unsigned nr)
{
    long rc = syscall(__NR_io_uring_register, fd, op, arg, nr);
    return rc < 0 ? -errno : (int)rc;
}

/* Sets up with `flags`, giving up optional ones while the kernel says -EINVAL. */
static int setup(unsigned entries, unsigned cq_entries, unsigned flags,
                 struct io_uring_params *p)
{
    if (cq_entries)
        flags |= IORING_SETUP_CQSIZE;
    size_t next = 0;
    for (;;) {
        memset(p, 0, sizeof *p);
        p->flags = flags;
        p->cq_entries = cq_entries;
        int fd = sys_setup(entries, p);
        if (fd != -EINVAL)
            return fd;
        /* Give up the newest optional flag still asked for. Without CQSIZE the kernel picks
         * twice the SQ: smaller than asked, still a working ring. */
        while (next < sizeof optional_flags / sizeof *optional_flags &&
               !(flags & optional_flags[next]))
            next++;
        if (next == sizeof optional_flags / sizeof *optional_flags)
            return -EINVAL;
        flags &= ~optional_flags[next++];
    }
}

static void *map(int fd, size_t size, off_t offset)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset);
    return p == MAP_FAILED ? NULL : p;
}

static void probe_ops(edo__ring *r)
{
    size_t size = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
    struct io_uring_probe *probe = calloc(1, size);
    memset(r->ops, 0, sizeof r->ops);
    if (!probe)
        return; /* no opcode known: callers fall back, nothing breaks */
    if (sys_register(r->fd, IORING_REGISTER_PROBE, probe, 256) >= 0) {
        for (unsigned i = 0; i < probe->ops_len && i < 256; i++)
            if (probe->ops[i].flags & IO_URING_OP_SUPPORTED)
                r->ops[probe->ops[i].op / 64] |= 1ull << (probe->ops[i].op % 64);
    }
    free(probe);
}

int edo__ring_init(edo__ring *r, const edo__ring_params *params)
{
    edo__ring_params dflt = {0};
    if (!params)
        params = &dflt;
    unsigned entries = params->sq_entries ? params->sq_entries : 256;
    if (entries > 32768 || (params->cq_entries && params->cq_entries < entries))
        return -EINVAL;
    memset(r, 0, sizeof *r);
    struct io_uring_params p;
    int fd = setup(entries, params->cq_entries, params->flags, &p);
    if (fd < 0)
        return fd;
    r->fd = fd;
    r->setup_flags = p.flags;
    r->features = p.features;
    r->sq_entries = p.sq_entries;
    r->cq_entries = p.cq_entries;

    r->sq_ring_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_ring_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    if (p.features & IORING_FEAT_SINGLE_MMAP) {
        if (r->cq_ring_size > r->sq_ring_size)
            r->sq_ring_size = r->cq_ring_size;
        r->cq_ring_size = r->sq_ring_size;
    }
    r->sq_ring = map(fd, r->sq_ring_size, IORING_OFF_SQ_RING);
    r->cq_ring = !r->sq_ring                            ? NULL
                 : p.features & IORING_FEAT_SINGLE_MMAP ? r->sq_ring
                                                        : map(fd, r->cq_ring_size, IORING_OFF_CQ_RING);
    r->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = r->cq_ring ? map(fd, r->sqes_size, IORING_OFF_SQES) : NULL;
    if (!r->sqes) {
        int rc = -errno;
        edo__ring_destroy(r);
        return rc;
    }

    char *sq = r->sq_ring, *cq = r->cq_ring;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_flags = (unsigned *)(sq + p.sq_off.flags);
    r->sq_mask = *(unsigned *)(sq + p.sq_off.ring_mask);
    r->sqe_tail = *r->sq_tail;
    /* The indirection array, set once to the identity: SQE i sits in slot i. */
    unsigned *array = (unsigned *)(sq + p.sq_off.array);
    for (unsigned i = 0; i < p.sq_entries; i++)
        array[i] = i;
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_flags = p.cq_off.flags ? (unsigned *)(cq + p.cq_off.flags) : NULL;
    r->cq_mask = *(unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    probe_ops(r);
    return 0;
}

void edo__ring_destroy(edo__ring *r)
{
    if (r->sqes)
        munmap(r->sqes, r->sqes_size);
    if (r->cq_ring && r->cq_ring != r->sq_ring)
        munmap(r->cq_ring, r->cq_ring_size);
    if (r->sq_ring)
        munmap(r->sq_ring, r->sq_ring_size);
    if (r->fd >= 0)
        close(r->fd);
    r->sqes = NULL;
    r->sq_ring = r->cq_ring = NULL;
    r->fd = -1;
}

/* ---- submission side -------------------------------------------------------------------- */

unsigned edo__ring_publish(edo__ring *r)
{
    if (*r->sq_tail != r->sqe_tail) /* the SQE contents before the tail that shows them */
        __atomic_store_n(r->sq_tail, r->sqe_tail, __ATOMIC_RELEASE);
    return r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
}

int edo__ring_submit(edo__ring *r)
{
    unsigned pending = edo__ring_publish(r);
    return pending ? edo__ring_enter(r, pending, 0, 0) : 0;
}

int edo__ring_get_sqe(edo__ring *r, struct io_uring_sqe **out)
{
    /* The kernel moves the head once it has read an SQE: a slot behind it is free. */
    if (r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE) >= r->sq_entries) {
        int rc = edo__ring_submit(r);
        if (r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE) >= r->sq_entries)
            return rc < 0 ? rc : -EBUSY; /* took none: rc is why */
    }
    struct io_uring_sqe *sqe = &r->sqes[r->sqe_tail & r->sq_mask];
    r->sqe_tail++;
    memset(sqe, 0, sizeof *sqe);
    *out = sqe;
    return 0;
}

int edo__ring_cancel_sync(edo__ring *r, uint64_t user_data)
{
    struct io_uring_sync_cancel_reg reg = {.addr = user_data, .timeout = {-1, -1}};
    int rc = sys_register(r->fd, IORING_REGISTER_SYNC_CANCEL, &reg, 1);
    return rc < 0 ? rc : 0;
}

/* ---- both sides ------------------------------------------------------------------------- */

int edo__ring_enter(edo__ring *r, unsigned to_submit, unsigned wait_nr, uint64_t timeout_ns)
{
    unsigned flags = wait_nr ? IORING_ENTER_GETEVENTS : 0;
    if (!wait_nr || timeout_ns == EDO__RING_FOREVER) {
        for (;;) {
            int rc = sys_enter(r->fd, to_submit, wait_nr, flags, NULL, _NSIG / 8);
            if (rc != -EINTR || wait_nr) /* a submission alone is retried; a wait reports it */
                return rc;
        }
    }
    struct __kernel_timespec ts = {.tv_sec = (long long)(timeout_ns / 1000000000),
                                   .tv_nsec = (long long)(timeout_ns % 1000000000)};
    struct io_uring_getevents_arg arg = {.sigmask = 0, .sigmask_sz = _NSIG / 8,
                                         .ts = (uint64_t)(uintptr_t)&ts};
    return sys_enter(r->fd, to_submit, wait_nr, flags | IORING_ENTER_EXT_ARG, &arg, sizeof arg);
}

int edo__ring_submit_and_wait(edo__ring *r, unsigned wait_nr, uint64_t timeout_ns)
{
    return edo__ring_enter(r, edo__ring_publish(r), wait_nr, timeout_ns);
}

/* ---- completion side -------------------------------------------------------------------- */

int edo__ring_flush_overflow(edo__ring *r)
{
    /* GETEVENTS with nothing to wait for: the kernel flushes what it holds, and returns. */
    int rc = sys_enter(r->fd, 0, 0, IORING_ENTER_GETEVENTS, NULL, _NSIG / 8);
    return rc < 0 ? rc : 0;
}

int edo__ring_submit_run(edo__ring *r)
{
    /* GETEVENTS with nothing to wait for runs the ring's deferred task work, after the
     * submission, in the same call. */
    for (;;) {
        int rc = sys_enter(r->fd, edo__ring_publish(r), 0, IORING_ENTER_GETEVENTS, NULL,
                           _NSIG / 8);
        if (rc != -EINTR)
            return rc;
    }
}

int edo__ring_register_buf_ring(edo__ring *r, void *mem, unsigned entries, uint16_t bgid,
                                uint16_t flags)
{
    /* struct io_uring_buf_reg, with its flags by name (older headers call the field `pad`). */
    struct {
        uint64_t ring_addr;
        uint32_t ring_entries;
        uint16_t bgid, flags;
        uint64_t resv[3];
    } reg = {.ring_addr = (uint64_t)(uintptr_t)mem, .ring_entries = entries, .bgid = bgid,
             .flags = flags};
    _Static_assert(sizeof reg == sizeof(struct io_uring_buf_reg), "io_uring_buf_reg's layout");
    int rc = sys_register(r->fd, IORING_REGISTER_PBUF_RING, &reg, 1);
    return rc < 0 ? rc : 0;
}

int edo__ring_register_eventfd(edo__ring *r, int fd)
{
    int rc = sys_register(r->fd, IORING_REGISTER_EVENTFD, &fd, 1);
    return rc < 0 ? rc : 0;
}

/* ---- what the kernel can do ------------------------------------------------------------- */

int edo__ring_probe_buf_ring(edo__ring *r, uint16_t bgid, uint16_t flags)
{
    long page = sysconf(_SC_PAGESIZE);
    void *mem = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                     -1, 0);
    if (mem == MAP_FAILED)
        return -ENOMEM;
    int rc = edo__ring_register_buf_ring(r, mem, 1, bgid, flags);
    if (rc == 0) {
        struct io_uring_buf_reg reg = {.bgid = bgid};
        sys_register(r->fd, IORING_UNREGISTER_PBUF_RING, &reg, 1);
    }
    munmap(mem, (size_t)page);
    return rc == 0;
}

int edo__ring_probe_recv_multishot(edo__ring *r, uint16_t bgid)
{
    if (!edo__ring_has_op(r, IORING_OP_RECV))
        return 0;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        return -errno;
    /* A byte to receive, so the receive asks for a buffer at once rather than waiting. */
    int rc = send(sv[1], "x", 1, MSG_NOSIGNAL) == 1 ? 0 : -errno;
    struct io_uring_sqe *sqe;
    if (rc == 0)
        rc = edo__ring_get_sqe(r, &sqe);
    if (rc == 0) {
        sqe->opcode = IORING_OP_RECV;
        sqe->fd = sv[0];
        sqe->ioprio = IORING_RECV_MULTISHOT;
        sqe->flags = IOSQE_BUFFER_SELECT;
        sqe->buf_group = bgid;
        sqe->user_data = UINT64_MAX;
        rc = edo__ring_submit_and_wait(r, 1, EDO__RING_FOREVER);
    }
    if (rc >= 0) {
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        rc = 0;
        edo__ring_for_each_cqe(r, head, cqe) {
            seen++;
            if (cqe->user_data == UINT64_MAX && !(cqe->flags & IORING_CQE_F_MORE))
                rc = cqe->res == -ENOBUFS; /* taken, and only short of buffers */
        }
        edo__ring_cq_advance(r, seen);
    }
    close(sv[0]);
    close(sv[1]);
    return rc;
}

/* A listening Unix socket under a name the kernel picks (autobind), with a connection waiting
 * (*client): the listener's fd, or -errno. */
static int listener_with_client(int *client)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    socklen_t len = sizeof a;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    *client = fd < 0 ? -1 : socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int rc = fd < 0 || *client < 0 ? -errno : 0;
    if (rc == 0 && (bind(fd, (struct sockaddr *)&a, sizeof a.sun_family) < 0 ||
                    listen(fd, 1) < 0 || getsockname(fd, (struct sockaddr *)&a, &len) < 0 ||
                    connect(*client, (struct sockaddr *)&a, len) < 0))
        rc = -errno;
    if (rc == 0)
        return fd;
    if (fd >= 0)
        close(fd);
    if (*client >= 0)
        close(*client);
    return rc;
}

#define PROBE_ACCEPT UINT64_MAX
#define PROBE_CANCEL (UINT64_MAX - 1)

int edo__ring_probe_accept_multishot(edo__ring *r)
{
    if (!edo__ring_has_op(r, IORING_OP_ACCEPT) || !edo__ring_has_op(r, IORING_OP_ASYNC_CANCEL))
        return 0;
    int client, fd = listener_with_client(&client);
    if (fd < 0)
        return fd;
    struct io_uring_sqe *sqe;
    int rc = edo__ring_get_sqe(r, &sqe);
    if (rc == 0) {
        sqe->opcode = IORING_OP_ACCEPT;
        sqe->fd = fd;
        sqe->ioprio = IORING_ACCEPT_MULTISHOT;
        sqe->accept_flags = SOCK_CLOEXEC;
        sqe->user_data = PROBE_ACCEPT;
    }
    /* Until the accept has ended (at once on a kernel without it; else, armed after taking
     * the waiting connection, when the cancellation queued after its first completion ends
     * it) and the cancellation, if any, has completed. */
    bool ended = false, cancelling = false, cancelled = false, multishot = false;
    while (rc >= 0 && (!ended || cancelling != cancelled)) {
        if ((rc = edo__ring_submit_and_wait(r, 1, EDO__RING_FOREVER)) < 0)
            break;
        unsigned head, seen = 0;
        struct io_uring_cqe *cqe;
        edo__ring_for_each_cqe(r, head, cqe) {
            seen++;
            if (cqe->user_data == PROBE_CANCEL) {
                cancelled = true;
                continue;
            }
            if (cqe->res >= 0)
                close(cqe->res);
            if (!(cqe->flags & IORING_CQE_F_MORE))
                ended = true;
            else
                multishot = true; /* it goes on after a connection */
        }
        edo__ring_cq_advance(r, seen);
        if (multishot && !ended && !cancelling) {
            if (edo__ring_get_sqe(r, &sqe) < 0) {
                rc = -EBUSY; /* a fresh ring always has room */
                break;
            }
            sqe->opcode = IORING_OP_ASYNC_CANCEL;
            sqe->addr = PROBE_ACCEPT;
            sqe->user_data = PROBE_CANCEL;
            cancelling = true;
        }
    }
    close(client);
    close(fd);
    return rc < 0 ? rc : multishot;
}
