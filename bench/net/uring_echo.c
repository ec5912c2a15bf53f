/* The raw io_uring baseline of the network benchmarks: what an echo server costs on io_uring with
 * no runtime, the io_uring counterpart of epoll_echo.c.
 *
 *   uring_echo [--port P] [--workers W] [--http] [--two-rings]     (defaults: 7878, 1)
 *
 * W threads, each with its own SO_REUSEPORT listener and its own ring (set up with
 * SINGLE_ISSUER | DEFER_TASKRUN, else COOP_TASKRUN | TASKRUN_FLAG, else neither; SUBMIT_ALL; SQ
 * 1024, so that a turn's sends to 500 connections need no extra submission, CQ 4096). No liburing:
 * the rings are mapped by hand and driven with the raw system calls.
 *
 * The listener has one multishot accept; each connection one multishot recv that takes its
 * buffers from the thread's provided-buffer ring (IORING_REGISTER_PBUF_RING, 4096 buffers of
 * 4 KiB). A recv that ends without IORING_CQE_F_MORE but not at the end of the stream or on an
 * error (-ENOBUFS: the buffer ring ran dry) is armed again; end of stream or an error closes the
 * connection (close(2); a recv still armed is cancelled).
 *
 * A received chunk is copied into its connection's pending bytes and the buffer goes back to the
 * ring at once: copying 64 bytes (or a few KiB) costs less than what sending straight from the
 * provided buffer needs (a queue of held buffers per connection, each returned at its send's
 * CQE), never lets a peer that does not read hold the thread's shared buffers (which would drain
 * the ring for every connection), and lets one send carry everything a connection received in a
 * turn. After the turn's CQEs are reaped, each connection with pending bytes and no send in
 * flight gets one IORING_OP_SEND of them (the pending buffer becomes the in-flight one: bytes stay
 * in order, and what arrives meanwhile waits for that send's CQE). A short send sends its rest
 * at once. Past 1 MiB pending (a peer that sends but does not read) the recv is cancelled and
 * armed again once the bytes are out.
 *
 * Each loop turn is exactly one io_uring_enter(IORING_ENTER_GETEVENTS, min_complete 1), which
 * submits what the previous turn queued (the sends, re-armed recvs) and waits; then every CQE is
 * reaped, the provided buffers are published back in one store of the ring's tail, and the sends
 * queued. (Only a turn with more SQEs than the SQ holds submits early.)
 *
 * --two-rings puts the sends in a second ring of the thread (SUBMIT_ALL, no DEFER_TASKRUN: plain,
 * as a runtime's send ring that other threads may submit to would be), entered once per turn
 * right after the reap to submit the turn's sends, its CQEs reaped after that entry without
 * waiting; the first ring keeps accept and recv and is the one waited in. This models a runtime
 * that submits sends to one ring and reaps receives from another: against the default, it
 * measures what merging the two rings saves. So that a send that completes later (the peer was
 * not reading) still wakes the thread, the first ring holds a one-shot poll of the second ring's
 * fd while sends are outstanding there (sends on loopback nearly always complete at submission,
 * so this is rarely armed).
 *
 * --http answers the minimal HTTP/1.1 hello world of http.h instead of echoing (a request ends
 * at its blank line; an incomplete one is kept until the rest comes).
 *
 * Testing knobs (environment): URING_ECHO_BUFS=N (a power of two) and URING_ECHO_BUF_SIZE=B size
 * the buffer ring (a tiny one exercises -ENOBUFS); URING_ECHO_STATS=1 makes SIGTERM print each
 * thread's counters (turns, io_uring_enter calls, CQEs, sends, re-arms...) and exit.
 *
 * Runs until killed. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "http.h"
#include "raw_server.h"

#define SQ_ENTRIES 1024
#define CQ_ENTRIES 4096
#define NBUFS 4096        /* provided buffers per thread (a power of two) */
#define BUF_SIZE 4096     /* bytes each */
#define BGID 0            /* the buffer group */
#define OUT_MAX (1 << 20) /* pending bytes past which a connection stops receiving */

/* What a CQE is for: user_data is a conn pointer (8-aligned) or'ed with one of these. */
enum { OP_ACCEPT = 1, OP_RECV, OP_SEND, OP_WATCH, OP_CANCEL };

typedef struct ring {
    int fd;       /* for io_uring_register and the poll of --two-rings */
    int enter_fd; /* fd, or its registered index (enter_flags has REGISTERED_RING) */
    unsigned enter_flags;
    unsigned *sq_head, *sq_tail, sq_mask, sq_entries;
    unsigned *cq_head, *cq_tail, cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    unsigned sqe_tail; /* SQEs filled in (the kernel sees them once *sq_tail is stored) */
} ring;

typedef struct bytes {
    char *p;
    size_t len, cap;
} bytes;

typedef struct conn {
    int fd;
    bool recv_armed, sending, dirty, closing, paused;
    bool in_ring2;     /* its send is in the second ring */
    bytes flight;      /* the bytes of the send in flight */
    size_t flight_at;  /* how many of them went */
    bytes pend;        /* bytes received since, to send next */
    bytes in;          /* --http: an incomplete request */
    struct conn *next; /* in the turn's list of connections with bytes to send */
} conn;

typedef struct worker {
    ring r1, r2; /* r2: --two-rings' send ring */
    ring *send_ring;
    int lis;
    struct io_uring_buf_ring *br;
    char *bufs;
    unsigned br_tail, br_published;
    conn *dirty;
    unsigned r2_outstanding; /* sends in r2 whose CQE has not been reaped */
    bool watching;           /* r1 holds a poll of r2's fd */
    unsigned long turns, enters, cqes, sends, rearms, enobufs, pauses, watches;
} worker;

static bool two_rings, stats;
static unsigned nbufs = NBUFS, buf_size = BUF_SIZE;
static volatile sig_atomic_t stop;

static void die(const char *what, int err)
{
    fprintf(stderr, "uring_echo: %s: %s\n", what, strerror(err));
    exit(1);
}

/* ---- the ring ------------------------------------------------------------------------------ */

static int sys_setup(unsigned entries, struct io_uring_params *p)
{
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(const ring *r, unsigned submit, unsigned min, unsigned flags)
{
    return (int)syscall(__NR_io_uring_enter, r->enter_fd, submit, min, flags | r->enter_flags, NULL,
                        0);
}

static int sys_register(int fd, unsigned op, void *arg, unsigned n)
{
    return (int)syscall(__NR_io_uring_register, fd, op, arg, n);
}

/* Sets up r with the first of `tries` (flag sets, each or'ed with `common`) that the kernel
 * takes, and maps it. */
static void ring_init(ring *r, const unsigned *tries, int ntries, unsigned common)
{
    struct io_uring_params p;
    int fd = -1;
    for (int i = 0; i < ntries; i++) {
        memset(&p, 0, sizeof p);
        p.flags = tries[i] | common | IORING_SETUP_CQSIZE;
        p.cq_entries = CQ_ENTRIES;
        if ((fd = sys_setup(SQ_ENTRIES, &p)) >= 0 || errno != EINVAL) break;
    }
    if (fd < 0) die("io_uring_setup", errno);
    size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    bool single = p.features & IORING_FEAT_SINGLE_MMAP;
    if (single && cq_sz > sq_sz) sq_sz = cq_sz;
    char *sq = mmap(NULL, sq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                    IORING_OFF_SQ_RING);
    char *cq = single ? sq
                      : mmap(NULL, cq_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd,
                             IORING_OFF_CQ_RING);
    void *sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
                      MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) die("mmap of the ring", errno);
    *r = (ring){.fd = fd, .enter_fd = fd};
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = *(unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_entries = p.sq_entries;
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = *(unsigned *)(cq + p.cq_off.ring_mask);
    r->sqes = sqes;
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    r->sqe_tail = *r->sq_tail;
    /* SQ slot i always holds SQE i: the indirection is set once. */
    unsigned *array = (unsigned *)(sq + p.sq_off.array);
    for (unsigned i = 0; i < p.sq_entries; i++)
        array[i] = i;
    /* A registered ring fd spares each io_uring_enter the fd lookup; optional. */
    struct io_uring_rsrc_update up = {.offset = -1U, .data = (__u64)fd};
    if (sys_register(fd, IORING_REGISTER_RING_FDS, &up, 1) == 1) {
        r->enter_fd = (int)up.offset;
        r->enter_flags = IORING_ENTER_REGISTERED_RING;
    }
}

/* SQEs filled in but not yet taken by the kernel. */
static unsigned ring_unsubmitted(const ring *r)
{
    return r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE);
}

/* Enters r to submit what is queued and, with `wait`, to wait for a CQE. */
static void ring_enter(worker *w, ring *r, bool wait)
{
    __atomic_store_n(r->sq_tail, r->sqe_tail, __ATOMIC_RELEASE);
    w->enters++;
    if (sys_enter(r, ring_unsubmitted(r), wait ? 1 : 0, wait ? IORING_ENTER_GETEVENTS : 0) < 0 &&
        errno != EINTR && errno != EBUSY && errno != EAGAIN)
        die("io_uring_enter", errno); /* EBUSY, EAGAIN: CQEs to reap first; EINTR: a signal */
}

/* The next SQE of r, zeroed; submits early when the SQ is full. */
static struct io_uring_sqe *get_sqe(worker *w, ring *r)
{
    while (r->sqe_tail - __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE) >= r->sq_entries)
        ring_enter(w, r, false);
    struct io_uring_sqe *sqe = &r->sqes[r->sqe_tail++ & r->sq_mask];
    memset(sqe, 0, sizeof *sqe);
    return sqe;
}

/* ---- the provided buffers ------------------------------------------------------------------ */

static void bufs_init(worker *w)
{
    size_t ring_sz = nbufs * sizeof(struct io_uring_buf);
    w->br = mmap(NULL, ring_sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    w->bufs = mmap(NULL, (size_t)nbufs * buf_size, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (w->br == MAP_FAILED || w->bufs == MAP_FAILED) die("mmap of the buffers", errno);
    struct io_uring_buf_reg reg = {
        .ring_addr = (__u64)(uintptr_t)w->br, .ring_entries = nbufs, .bgid = BGID};
    if (sys_register(w->r1.fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
        die("IORING_REGISTER_PBUF_RING", errno);
    for (unsigned i = 0; i < nbufs; i++) {
        struct io_uring_buf *b = &w->br->bufs[i];
        b->addr = (__u64)(uintptr_t)(w->bufs + (size_t)i * buf_size);
        b->len = buf_size;
        b->bid = (__u16)i;
    }
    w->br_tail = w->br_published = nbufs;
    __atomic_store_n(&w->br->tail, (__u16)w->br_tail, __ATOMIC_RELEASE);
}

/* Gives buffer bid back (published by bufs_publish). */
static void buf_return(worker *w, unsigned bid)
{
    struct io_uring_buf *b = &w->br->bufs[w->br_tail++ & (nbufs - 1)];
    b->addr = (__u64)(uintptr_t)(w->bufs + (size_t)bid * buf_size);
    b->len = buf_size;
    b->bid = (__u16)bid;
}

static void bufs_publish(worker *w)
{
    if (w->br_tail != w->br_published) {
        __atomic_store_n(&w->br->tail, (__u16)w->br_tail, __ATOMIC_RELEASE);
        w->br_published = w->br_tail;
    }
}

/* ---- connections --------------------------------------------------------------------------- */

static bool append(bytes *b, const char *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 512;
        while (cap < b->len + n)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) return false;
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return true;
}

static void arm_recv(worker *w, conn *c)
{
    struct io_uring_sqe *sqe = get_sqe(w, &w->r1);
    sqe->opcode = IORING_OP_RECV;
    sqe->fd = c->fd;
    sqe->ioprio = IORING_RECV_MULTISHOT;
    sqe->flags = IOSQE_BUFFER_SELECT;
    sqe->buf_group = BGID;
    sqe->user_data = (uintptr_t)c | OP_RECV;
    c->recv_armed = true;
}

static void cancel_recv(worker *w, conn *c)
{
    struct io_uring_sqe *sqe = get_sqe(w, &w->r1);
    sqe->opcode = IORING_OP_ASYNC_CANCEL;
    sqe->fd = -1;
    sqe->addr = (uintptr_t)c | OP_RECV;
    sqe->user_data = OP_CANCEL;
}

/* Sends the rest of the in-flight bytes. */
static void send_flight(worker *w, conn *c)
{
    ring *r = w->send_ring;
    struct io_uring_sqe *sqe = get_sqe(w, r);
    sqe->opcode = IORING_OP_SEND;
    sqe->fd = c->fd;
    sqe->addr = (uintptr_t)(c->flight.p + c->flight_at);
    sqe->len = (unsigned)(c->flight.len - c->flight_at);
    sqe->msg_flags = MSG_NOSIGNAL;
    sqe->user_data = (uintptr_t)c | OP_SEND;
    c->sending = true;
    c->in_ring2 = r == &w->r2;
    w->r2_outstanding += c->in_ring2;
    w->sends++;
}

static void mark_dirty(worker *w, conn *c)
{
    if (!c->dirty) {
        c->dirty = true;
        c->next = w->dirty;
        w->dirty = c;
    }
}

/* Frees c once nothing of the kernel's or the turn's refers to it. */
static void maybe_free(conn *c)
{
    if (c->closing && !c->recv_armed && !c->sending && !c->dirty) {
        free(c->flight.p);
        free(c->pend.p);
        free(c->in.p);
        free(c);
    }
}

/* Closes c's fd; an armed recv is cancelled (the ring holds the file, so close(2) alone would
 * not end it), a send in flight ends by itself. */
static void close_conn(worker *w, conn *c)
{
    if (c->closing) return;
    c->closing = true;
    if (c->recv_armed) cancel_recv(w, c);
    close(c->fd);
}

/* A paused connection whose bytes are all out receives again. */
static void maybe_resume(worker *w, conn *c)
{
    if (c->paused && !c->recv_armed && !c->sending && !c->closing && c->pend.len == 0) {
        c->paused = false;
        arm_recv(w, c);
    }
}

/* --http: answers the complete requests of c->in plus data[0, n). */
static bool answer(conn *c, const char *data, size_t n)
{
    if (c->in.len) {
        if (!append(&c->in, data, n)) return false;
        data = c->in.p;
        n = c->in.len;
    }
    size_t used, k = http_requests(data, n, &used);
    for (; k > 0; k -= k < HTTP_BATCH ? k : HTTP_BATCH)
        if (!append(&c->pend, http_responses(),
                    (k < HTTP_BATCH ? k : HTTP_BATCH) * HTTP_RESPONSE_LEN))
            return false;
    size_t rest = n - used;
    if (rest > HTTP_MAX_REQUEST) return false;
    if (data == c->in.p) {
        memmove(c->in.p, c->in.p + used, rest);
        c->in.len = rest;
        return true;
    }
    return rest == 0 || append(&c->in, data + used, rest);
}

static void on_recv(worker *w, conn *c, const struct io_uring_cqe *cqe)
{
    bool more = cqe->flags & IORING_CQE_F_MORE;
    if (!more) c->recv_armed = false;
    if (cqe->res > 0 && !c->closing) {
        const char *data = w->bufs + (size_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) * buf_size;
        bool ok =
            http ? answer(c, data, (size_t)cqe->res) : append(&c->pend, data, (size_t)cqe->res);
        if (!ok) {
            close_conn(w, c);
        } else {
            if (!c->sending && c->pend.len) mark_dirty(w, c);
            if (c->pend.len > OUT_MAX && !c->paused) {
                c->paused = true; /* receives again once the bytes are out */
                w->pauses++;
                if (c->recv_armed) cancel_recv(w, c);
            }
        }
    }
    if (cqe->flags & IORING_CQE_F_BUFFER) buf_return(w, cqe->flags >> IORING_CQE_BUFFER_SHIFT);
    if (!more && !c->closing) {
        if (cqe->res > 0 || cqe->res == -ENOBUFS || (cqe->res == -ECANCELED && c->paused)) {
            w->enobufs += cqe->res == -ENOBUFS;
            if (!c->paused) {
                w->rearms++;
                arm_recv(w, c);
            } else {
                maybe_resume(w, c);
            }
        } else {
            close_conn(w, c); /* end of stream, or an error */
        }
    }
    maybe_free(c);
}

static void on_send(worker *w, conn *c, const struct io_uring_cqe *cqe)
{
    c->sending = false;
    w->r2_outstanding -= c->in_ring2;
    if (cqe->res < 0) {
        close_conn(w, c);
    } else if (!c->closing) {
        c->flight_at += (size_t)cqe->res;
        if (c->flight_at < c->flight.len) {
            send_flight(w, c); /* short: the rest */
        } else {
            c->flight.len = c->flight_at = 0;
            if (c->pend.len) mark_dirty(w, c);
            maybe_resume(w, c);
        }
    }
    maybe_free(c);
}

static void arm_accept(worker *w)
{
    struct io_uring_sqe *sqe = get_sqe(w, &w->r1);
    sqe->opcode = IORING_OP_ACCEPT;
    sqe->fd = w->lis;
    sqe->ioprio = IORING_ACCEPT_MULTISHOT;
    sqe->accept_flags = SOCK_CLOEXEC;
    sqe->user_data = OP_ACCEPT;
}

static void on_accept(worker *w, const struct io_uring_cqe *cqe)
{
    if (!(cqe->flags & IORING_CQE_F_MORE))
        arm_accept(w); /* EMFILE and the like end it too: the next connection retries */
    if (cqe->res < 0) return;
    int fd = cqe->res, one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(fd);
        return;
    }
    c->fd = fd;
    arm_recv(w, c);
}

/* Reaps every CQE of r. */
static void reap(worker *w, ring *r)
{
    unsigned head = *r->cq_head, tail;
    while (head != (tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE))) {
        for (; head != tail; head++) {
            const struct io_uring_cqe *cqe = &r->cqes[head & r->cq_mask];
            conn *c = (conn *)(uintptr_t)(cqe->user_data & ~(__u64)7);
            w->cqes++;
            switch (cqe->user_data & 7) {
            case OP_ACCEPT:
                on_accept(w, cqe);
                break;
            case OP_RECV:
                on_recv(w, c, cqe);
                break;
            case OP_SEND:
                on_send(w, c, cqe);
                break;
            case OP_WATCH:
                w->watching = false;
                break;
            default:
                break; /* OP_CANCEL */
            }
        }
        __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
    }
}

/* Queues one send per connection that received bytes and has none in flight. */
static void flush(worker *w)
{
    conn *c = w->dirty;
    w->dirty = NULL;
    while (c) {
        conn *next = c->next;
        c->dirty = false;
        if (!c->closing && !c->sending && c->pend.len) {
            bytes t = c->flight; /* the pending bytes go; the emptied buffer takes what comes */
            c->flight = c->pend;
            c->pend = t;
            c->pend.len = 0;
            c->flight_at = 0;
            send_flight(w, c);
        }
        maybe_free(c);
        c = next;
    }
}

/* ---- the threads --------------------------------------------------------------------------- */

static void print_stats(const worker *w)
{
    fprintf(stderr,
            "uring_echo: turns=%lu enters=%lu cqes=%lu sends=%lu rearms=%lu enobufs=%lu pauses=%lu "
            "watches=%lu\n",
            w->turns, w->enters, w->cqes, w->sends, w->rearms, w->enobufs, w->pauses, w->watches);
}

static void *worker_main(void *arg)
{
    worker *w = calloc(1, sizeof *w);
    if (!w) die("calloc", ENOMEM);
    w->lis = (int)(intptr_t)arg;
    static const unsigned tries[] = {
        IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
        IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
        0,
    };
    ring_init(&w->r1, tries, 3, IORING_SETUP_SUBMIT_ALL);
    w->send_ring = &w->r1;
    if (two_rings) {
        static const unsigned plain[] = {0};
        ring_init(&w->r2, plain, 1, IORING_SETUP_SUBMIT_ALL);
        w->send_ring = &w->r2;
    }
    bufs_init(w);
    arm_accept(w);
    while (!stop) {
        w->turns++;
        ring_enter(w, &w->r1, true);
        reap(w, &w->r1);
        bufs_publish(w);
        flush(w);
        if (two_rings) {
            do {
                if (w->r2.sqe_tail != *w->r2.sq_tail || ring_unsubmitted(&w->r2))
                    ring_enter(w, &w->r2, false);
                reap(w, &w->r2);
                flush(w); /* what came behind a send whose CQE this was */
            } while (w->r2.sqe_tail != *w->r2.sq_tail);
            if (w->r2_outstanding && !w->watching) { /* wake r1 when they complete */
                struct io_uring_sqe *sqe = get_sqe(w, &w->r1);
                sqe->opcode = IORING_OP_POLL_ADD;
                sqe->fd = w->r2.fd;
                sqe->poll32_events = POLLIN;
                sqe->user_data = OP_WATCH;
                w->watching = true;
                w->watches++;
            }
        }
    }
    print_stats(w);
    exit(0);
}

static void on_term(int sig)
{
    (void)sig;
    stop = 1;
}

static unsigned env_uint(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    return v && *v ? (unsigned)strtoul(v, NULL, 0) : dflt;
}

int main(int argc, char **argv)
{
    int workers = raw_server_args("uring_echo", argc, argv, "--two-rings", &two_rings);
    nbufs = env_uint("URING_ECHO_BUFS", NBUFS);
    buf_size = env_uint("URING_ECHO_BUF_SIZE", BUF_SIZE);
    if (nbufs == 0 || nbufs > 32768 || (nbufs & (nbufs - 1)) || buf_size == 0) {
        fprintf(stderr, "uring_echo: URING_ECHO_BUFS must be a power of two up to 32768\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if ((stats = getenv("URING_ECHO_STATS") != NULL)) {
        struct sigaction sa = {.sa_handler = on_term}; /* no SA_RESTART: the wait ends */
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
    }
    http_responses(); /* built before any thread reads it */
    raw_server_run("uring_echo", workers, 0, two_rings ? ", two rings" : "", worker_main);
    return 1;
}
