/* The io_uring backend's state, shared by its three files (see io/uring.c for the design):
 * uring.c makes and ends the backend and its lanes, uring/watches.c adds and removes watches and
 * carries the lanes' mail, uring/reap.c reaps the rings and waits in them. Private to them. */
#ifndef EDO_IO_URING_INTERNAL_H
#define EDO_IO_URING_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include "io/backend.h"
#include "io/inbox.h"
#include "io/wakefd.h"
#include "io/uring/buf_ring.h"
#include "io/uring/ring.h"
#include "platform/tls.h"

/* In a reaped pair, before it is translated: the poll ended (no IORING_CQE_F_MORE). */
#define ENDED (1ull << 63)
/* In a lane's mailbox, where ENDED's bit is never set otherwise: not a cancellation but a
 * reader's request to arm the receive of that poll's fd again (recv_ask). */
#define ASK ENDED
/* In a lane's mailbox, ASK's bit and RECV's together (neither a cancellation nor a request ever
 * has both): arm the poll, and the receive, of a stream socket another thread added to this
 * lane (add_stream's choice of lane: uring/watches.c). */
#define ARM (ASK | RECV)
/* The user_data of a stream socket's multishot receive: RECV | rseq << 49 | fd; in a reaped
 * pair, where the completion names a provided buffer, HAS_BUF and the buffer's id at bit 32 are
 * added, and BUF_MORE where the buffer has room left (EDO__CQE_F_BUF_MORE: buf_ring.h); a
 * receive's user_data has zeros there. */
#define RECV (1ull << 62)
#define BUF_MORE (1ull << 61)
#define HAS_BUF (1ull << 48)
/* In a receive's user_data: it is a listener's multishot accept (its completions carry fds,
 * never a buffer, so this bit of a buffer's id is free). */
#define ACCEPTS (1ull << 47)
#define SEQ_MASK 0x3fffffffu /* neither ENDED's nor RECV's bit is a sequence bit */
#define RSEQ_MASK 0xfffu /* bits 49-60 */
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
    bool arming;        /* added to another thread's lane: its owner has not armed it yet */
    bool accepts;       /* a listener: its `receive` is a multishot accept, into `inbox` */
    bool recv_on_ask;    /* a stream added still connecting (its inbox stopped): its receive is
                           armed only when its reader asks (serve_ask), never before */
    bool end_probed;    /* its poll saw the peer's end and restarted the receive (probe_end) */
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
    bool accept;         /* accepts by completion (the kernel has multishot accept) */
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
    _Atomic uint64_t arms_mailed;    /* edo__io_uring_arms_mailed */
    _Atomic uint64_t end_probes;     /* edo__io_uring_end_probes */
    _Atomic unsigned refuse_rearms;  /* edo__io_uring_refuse_recv_rearms */
    _Atomic bool force_resync;       /* edo__io_uring_force_resync */
    _Atomic uint64_t polls_added;    /* edo__io_uring_polls_added */
    int shared_efd; /* signalled by the shared ring for each completion: -1 until a lane */
    int scratch_epfd; /* asks whether a character device can be polled: -1 until needed */
    unsigned recv_count, recv_size; /* each lane's provided buffers: the sizes at create */
    bool accepts; /* lanes accept by completion where they can: the knob at create */
    bool recv_parts; /* lanes' buffers consumed in parts where they can: the knob at create */
    _Atomic int recv_probe; /* multishot receive: 1 the kernel has it, 0 not, -1 not asked */
    _Atomic int accept_probe; /* multishot accept: likewise */
};

/* The lane of the calling thread, if it has one (a worker attached to some backend). */
extern _Thread_local EDO__TLS_HOT lane *edo__uring_my_lane;

static inline lane *own_lane(uring_backend *b)
{
    lane *l = edo__uring_my_lane;
    return l && l->b == b ? l : NULL;
}

/* ---- submissions (sq_lock held) --------------------------------------------------------- */

static inline uint64_t poll_data(int fd, uint32_t seq)
{
    return (uint64_t)seq << 32 | (uint32_t)fd;
}
static inline uint64_t recv_data(int fd, uint16_t rseq)
{
    return RECV | (uint64_t)(rseq & RSEQ_MASK) << RSEQ_SHIFT | (uint32_t)fd;
}
/* The user_data of the current receive (or accept) of watch `w`, on `fd`. */
static inline uint64_t watch_recv_data(int fd, const watch *w)
{
    return recv_data(fd, w->rseq) | (w->accepts ? ACCEPTS : 0);
}
/* Whether `data` (ENDED's bit off) is a receive's: the tags have RECV's bit too, but their low
 * half is never an fd. */
static inline bool is_recv(uint64_t data) { return (data & RECV) && (int32_t)(uint32_t)data >= 0; }

/* Queues a multishot poll of `fd` for `events` under `user_data`. */
static inline int queue_poll_of(edo__ring *ring, int fd, uint64_t user_data, uint32_t events)
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

static inline int queue_poll(edo__ring *ring, int fd, uint64_t user_data)
{
    return queue_poll_of(ring, fd, user_data, POLL_EVENTS);
}

/* Queues the poll of watch `w` (on `fd`): without POLLIN where it is received by completion. */
static inline int queue_watch_poll(edo__ring *ring, int fd, const watch *w)
{
    return queue_poll_of(ring, fd, poll_data(fd, w->seq),
                         w->inbox ? STREAM_POLL_EVENTS : POLL_EVENTS);
}

/* Fills `sqe` with the multishot receive of watch `w` (on `fd`), with buffers from the lane's
 * group; or a listener's multishot accept, its sockets non-blocking and close-on-exec (no
 * peer address: who asks for it asks the socket). */
static inline void fill_recv(struct io_uring_sqe *sqe, int fd, const watch *w)
{
    sqe->fd = fd;
    sqe->user_data = watch_recv_data(fd, w);
    if (w->accepts) {
        sqe->opcode = IORING_OP_ACCEPT;
        sqe->ioprio = IORING_ACCEPT_MULTISHOT;
        sqe->accept_flags = SOCK_NONBLOCK | SOCK_CLOEXEC;
        return;
    }
    sqe->opcode = IORING_OP_RECV;
    sqe->ioprio = IORING_RECV_MULTISHOT;
    sqe->flags = IOSQE_BUFFER_SELECT;
    sqe->buf_group = RECV_BGID;
}

static inline int queue_recv(edo__ring *ring, int fd, const watch *w)
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
static inline int queue_cancel(edo__ring *ring, uint64_t user_data)
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
static inline void submit(uring_backend *b, lane *l)
{
    if (edo__ring_submit(l ? &l->ring : &b->ring) < 0)
        edo__io_wakefd_interrupt(l ? &l->wake : &b->wake);
}

/* Whether a ring holds what nobody reaped yet: completions, task work, mail. */
static inline bool ring_busy(const edo__ring *r)
{
    return edo__ring_work_pending(r) ||
           __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE) !=
               __atomic_load_n(r->cq_head, __ATOMIC_ACQUIRE);
}

/* uring/watches.c: the backend's add, add_stream, remove and recv_ask, and the mail a lane's
 * owner takes (cancellations other threads sent, its readers' requests) before it reaps. */
int edo__uring_add(edo__io_backend *base, int fd, uint64_t token);
int edo__uring_add_stream(edo__io_backend *base, int fd, uint64_t token, edo__inbox *inbox);
int edo__uring_add_listener(edo__io_backend *base, int fd, uint64_t token, edo__inbox *inbox);
void edo__uring_remove(edo__io_backend *base, int fd, uint64_t token);
void edo__uring_recv_ask(edo__io_backend *base, int fd, uint64_t token);
void edo__uring_take_mail(uring_backend *b, lane *l);
/* The owner of lane `l` asks itself to arm the receive of watch `w` (on `fd`) again, as its
 * reader would (sq_lock held): for an inbox the owner stopped, when the reader was not asked
 * to look. Served at the owner's next look, in its mail; the slot is the one its reader's ask
 * has (edo__inbox_ask answered true: no other ask of it is in the mail). */
void edo__uring_mail_ask(lane *l, int fd, const watch *w);

/* uring/reap.c: the backend's wait (a look, or a wait, in the caller's lane or the shared
 * ring). */
int edo__uring_wait(edo__io_backend *base, edo__io_ready *out, int max, uint64_t timeout_ns);

#endif
