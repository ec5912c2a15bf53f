/* Sends by completion (net/send_ring.c, io/uring/outbox.h): the writes of stream sockets
 * received by completion go through the worker's completion ring as IORING_OP_SEND. The same
 * bodies run on the environment's backend, on io_uring, and on io_uring whose workers have no
 * receive buffers (direct sends there: the fallback), so every promise holds on all three:
 *  - large transfers both ways, with readers slower than their writers: byte-exact;
 *  - a write that times out, or whose task is aborted, while the peer does not read: its
 *    result is the count that went out, and the peer reads exactly those bytes, then what was
 *    written next, nothing of the cancelled remainder;
 *  - a future write dropped while in flight, its buffer freed at once: the peer reads a
 *    prefix of it, intact, then what was written next (ASan: nothing reads the freed buffer);
 *  - close while a send is in flight, from the writer's own task (a future write pending) and
 *    from a thread that is not a worker (a coroutine write waiting): no hang, the writer gets
 *    the count or -EBADF, the peer its end;
 *  - a peer reset while a send waits: an error, no hang;
 *  - a write from a thread that is not a worker (the direct path) after ring sends: in order.
 * The io_uring cases skip where the kernel has no io_uring. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/driver.h"
#include "io/registration.h"
#include "io/uring/outbox.h"
#include "net/stream_sockets.h"

/* What the outbox of `c` says (under its lock): how many sends it started, and whether one is
 * in the ring now. Zeros where it has none. */
static void outbox_state(edo_tcp *c, uint32_t *started, bool *busy)
{
    edo_io *io = (edo_io *)c;
    edo__outbox *b = io->recv_mode ? atomic_load(&io->inbox->outbox) : NULL;
    *started = 0, *busy = false;
    if (!b)
        return;
    edo__spin_lock(&b->lock);
    *started = b->seq, *busy = b->busy;
    edo__spin_unlock(&b->lock);
}

/* Whether sends of `c` went through the ring. */
static bool sent_by_ring(edo_tcp *c)
{
    uint32_t started;
    bool busy;
    outbox_state(c, &started, &busy);
    return started > 0;
}

/* After a first write of `c`: the ring carried it exactly where the runtime receives `c` by
 * completion (must_receive), never where it cannot. */
static void check_path(edo_tcp *c)
{
    bool ring = sent_by_ring(c);
    CHECK(ring || !must_receive);
    CHECK(!ring || !must_not_receive);
}

static void fill(uint8_t *buf, size_t n, size_t at, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = byte_at(at + i, seed);
}

/* ---- large transfers, slow readers ----------------------------------------------------------- */

/* Writes the pattern in uneven writes, every third one a writev of two pieces. */
static void *write_flow(void *arg)
{
    pattern *f = arg;
    enum { SIZE = 100000 };
    uint8_t *buf = malloc(SIZE);
    CHECK(buf);
    for (size_t done = 0, k = 0; done < f->total; k++) {
        size_t n = f->total - done < SIZE ? f->total - done : SIZE - (k * 977) % 5000;
        if (n > f->total - done)
            n = f->total - done;
        fill(buf, n, done, f->seed);
        if (k % 3 == 2 && n > 1) {
            struct iovec v[2] = {{buf, n / 3}, {buf + n / 3, n - n / 3}};
            ssize_t w = edo_tcp_writev(f->c, v, 2);
            CHECK(w > 0);
            done += (size_t)w;
            continue;
        }
        CHECK_EQ(edo_tcp_write_all(f->c, buf, n), 0);
        done += n;
    }
    free(buf);
    return NULL;
}

/* Reads the pattern in small reads, yielding between them: slower than the writer. */
static void *read_flow_slowly(void *arg)
{
    pattern *f = arg;
    uint8_t buf[1500];
    size_t done = 0;
    for (unsigned k = 0; done < f->total; k++) {
        ssize_t n = edo_tcp_read(f->c, buf, 1 + k % sizeof buf);
        CHECK(n > 0);
        check_bytes(buf, n, done, f->seed);
        done += (size_t)n;
        if (k % 4 == 0)
            CHECK_EQ(edo_yield(), 0);
    }
    return (void *)(uintptr_t)done;
}

static void *large_body(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    size_t total = SCALE(16 << 20, 4 << 20, 1 << 20);
    pattern up_w = {c, total, 1}, up_r = {s, total, 1};
    pattern down_w = {s, total / 2, 2}, down_r = {c, total / 2, 2};
    edo_task *t[4] = {spawn(write_flow, &up_w), spawn(write_flow, &down_w),
                      spawn(read_flow_slowly, &up_r), spawn(read_flow_slowly, &down_r)};
    join(t[0]);
    join(t[1]);
    CHECK_EQ((size_t)(uintptr_t)join(t[2]), total);
    CHECK_EQ((size_t)(uintptr_t)join(t[3]), total / 2);
    check_path(c);
    check_path(s);
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

TEST(large_transfers_with_slow_readers_byte_exact) { run_both(2, large_body); }

/* ---- a peer that does not read ------------------------------------------------------------- */

/* `c` (edo's, accepted) connected to a plain socket `*peer` that edo does not watch, so that
 * nothing reads it until the test does; both with small buffers, so a write waits soon. */
static void stalled_pair(edo_tcp **c, int *peer)
{
    edo_tcp_listener *l;
    edo_sockaddr addr;
    CHECK_EQ(edo_tcp_listen("127.0.0.1:0", NULL, &l), 0);
    CHECK_EQ(edo_tcp_listener_local_addr(l, &addr), 0);
    *peer = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    CHECK(*peer >= 0);
    int small = 4096;
    CHECK_EQ(setsockopt(*peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
    CHECK_EQ(connect(*peer, &addr.u.sa, addr.len), 0); /* the listen queue takes it at once */
    CHECK_EQ(edo_tcp_accept(l, c, NULL), 0);
    edo_tcp_listener_close(l);
    CHECK_EQ(setsockopt(edo_tcp_fd(*c), SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
}

#define BIG ((size_t)EDO__OUTBOX_MAX) /* more than the two small buffers hold */
#define MARK "-end-"

typedef struct peer_read {
    int fd;
    size_t want; /* bytes to read before the mark */
    unsigned seed;
    bool pattern; /* they are the pattern's from 0 (else: only counted) */
} peer_read;

/* On a thread of the blocking pool: reads `want` bytes of the peer (checked), then the mark. */
static void *read_peer(void *arg)
{
    peer_read *p = arg;
    uint8_t buf[4096];
    size_t done = 0, end = p->want + strlen(MARK);
    char tail[sizeof MARK] = {0};
    while (done < end) {
        size_t room = end - done < sizeof buf ? end - done : sizeof buf;
        ssize_t n = recv(p->fd, buf, room, 0);
        CHECK(n > 0);
        for (ssize_t i = 0; i < n; i++, done++) {
            if (done < p->want)
                CHECK(!p->pattern || buf[i] == byte_at(done, p->seed));
            else
                tail[done - p->want] = (char)buf[i];
        }
    }
    CHECK(strcmp(tail, MARK) == 0);
    return NULL;
}

/* After a write that sent `sent` bytes of the pattern: the peer reads exactly those, then the
 * mark written now, so nothing of the write's remainder went out. */
static void check_peer_gets(edo_tcp *c, int peer, size_t sent, unsigned seed)
{
    peer_read p = {peer, sent, seed, true};
    edo_task *r;
    CHECK_EQ(edo_spawn_blocking(read_peer, &p, &r), 0);
    CHECK_EQ(edo_tcp_write_all(c, MARK, strlen(MARK)), 0);
    join(r);
}

typedef struct big_write {
    edo_tcp *c;
    uint8_t *buf;
    ssize_t result;
    _Atomic bool finished;
} big_write;

static int write_big(void *arg)
{
    big_write *w = arg;
    w->result = edo_tcp_write(w->c, w->buf, BIG);
    atomic_store(&w->finished, true);
    return w->result < 0 ? (int)w->result : 0;
}

static void *write_big_task(void *arg)
{
    (void)write_big(arg);
    return NULL;
}

/* Fills the path to the peer with 'f' bytes until a try finds no room even after a pause (the
 * kernel moves bytes on to the peer's buffer a moment later): a write then waits. Returns the
 * bytes written. */
static size_t fill_path(edo_tcp *c)
{
    char f[4096];
    memset(f, 'f', sizeof f);
    size_t done = 0;
    for (bool again = true; again;) {
        again = false;
        ssize_t n;
        while ((n = edo_tcp_try_write(c, f, sizeof f)) > 0)
            done += (size_t)n, again = true;
        CHECK_EQ(n, -EAGAIN);
        CHECK_EQ(edo_sleep(EDO_MSEC(5)), 0);
    }
    CHECK(done > 0);
    return done;
}

/* Whether a send of `c` is in the ring now. */
static bool send_in_ring(edo_tcp *c)
{
    uint32_t started;
    bool busy;
    outbox_state(c, &started, &busy);
    return busy;
}

/* Spawns a task that writes BIG bytes of w->buf, and returns once its write is under way: its
 * send in the ring (where it waits, the peer not reading), or returned (a direct write, short
 * at once). */
static edo_task *start_big_write(big_write *w)
{
    edo_task *t = spawn(write_big_task, w);
    while (!atomic_load(&w->finished) && !send_in_ring(w->c))
        CHECK_EQ(edo_yield(), 0);
    return t;
}

/* A stalled pair (`*c`, `*peer`) and a write of BIG bytes of pattern `seed` to be made on it. */
static big_write stalled_big_write(edo_tcp **c, int *peer, unsigned seed)
{
    stalled_pair(c, peer);
    big_write w = {.c = *c, .buf = malloc(BIG)};
    CHECK(w.buf);
    fill(w.buf, BIG, 0, seed);
    return w;
}

static void *timed_out_body(void *arg)
{
    (void)arg;
    for (int abort_it = 0; abort_it <= 1; abort_it++) {
        edo_tcp *c;
        int peer;
        big_write w = stalled_big_write(&c, &peer, 7);
        if (abort_it) { /* the writer's task aborted while its send waits in the kernel */
            edo_task *t = start_big_write(&w);
            edo_task_abort(t);
            void *out;
            int rc = edo_task_join(t, &out);
            CHECK(rc == 0 || rc == -ECANCELED);
            edo_task_free(t);
            CHECK(atomic_load(&w.finished)); /* the write returned before the task ended */
        } else { /* a deadline while it waits */
            (void)edo_timeout(EDO_MSEC(20), write_big, &w);
        }
        /* Part went out (the buffers hold some), not all (they cannot hold all): the count.
         * Directly (epoll, no receive buffers) the write is short at once instead. */
        CHECK(w.result > 0 && (size_t)w.result < BIG);
        check_path(c);
        check_peer_gets(c, peer, (size_t)w.result, 7);
        free(w.buf);
        edo_tcp_close(c);
        close(peer);
    }
    return NULL;
}

TEST(cancelled_write_says_how_much_went_out) { run_both(2, timed_out_body); }

/* ---- a dropped future write ------------------------------------------------------------------ */

static void *write_mark(void *c)
{
    CHECK_EQ(edo_tcp_write_all(c, MARK, strlen(MARK)), 0);
    return NULL;
}

/* The same bytes again (from another buffer), as a buffered writer or a TLS record queue
 * writes again what a dropped write did not report, then the mark. */
static void *write_again_then_mark(void *c)
{
    uint8_t *again = malloc(BIG);
    CHECK(again);
    fill(again, BIG, 0, 9);
    CHECK_EQ(edo_tcp_write_all(c, again, BIG), 0);
    free(again);
    return write_mark(c);
}

static bool write_again; /* dropped_future_body writes the dropped bytes again */

/* What the peer has now (0 after a millisecond's pause when nothing). */
static size_t recv_some(int peer, uint8_t *into, size_t room)
{
    ssize_t n = recv(peer, into, room, MSG_DONTWAIT);
    if (n < 0) {
        CHECK(errno == EAGAIN);
        CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0);
        return 0;
    }
    CHECK(n > 0);
    return (size_t)n;
}

static void *dropped_future_body(void *arg)
{
    (void)arg;
    edo_tcp *c;
    int peer;
    stalled_pair(&c, &peer);
    size_t before = fill_path(c); /* so that the future's send waits */
    uint8_t *buf = malloc(BIG);
    CHECK(buf);
    fill(buf, BIG, 0, 9);
    edo_socket_future f;
    edo_tcp_write_future_init(&f, c, buf, BIG);
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
    size_t cap = before + BIG + sizeof MARK, got = 0;
    uint8_t *in = malloc(cap);
    CHECK(in);
    /* To be written again, a part of it first goes out where it is in the ring (the peer
     * reads the filler and some of it), so the drop leaves bytes the caller was not told of.
     * (Sent directly, a pending write has sent nothing.) */
    while (write_again && send_in_ring(c) && got <= before)
        got += recv_some(peer, in + got, cap - got);
    edo_future_drop(&f.base);
    memset(buf, 0xee, BIG); /* the caller's buffer is the caller's again at once */
    free(buf);
    /* It waits for the reads below. */
    edo_task *mark = spawn(write_again ? write_again_then_mark : write_mark, c);
    /* The peer: the filler's bytes, then a prefix of the dropped write, intact (maybe none,
     * maybe all; written again: all of it, each byte once), then the mark. */
    while (got < before + strlen(MARK) ||
           memcmp(in + got - strlen(MARK), MARK, strlen(MARK)) != 0) {
        CHECK(got < cap);
        got += recv_some(peer, in + got, cap - got);
    }
    for (size_t i = 0; i < before; i++)
        CHECK_EQ(in[i], 'f');
    size_t dropped = got - before - strlen(MARK);
    CHECK(write_again ? dropped == BIG : dropped <= BIG);
    for (size_t i = 0; i < dropped; i++)
        CHECK_EQ(in[before + i], byte_at(i, 9));
    free(in);
    join(mark);
    edo_tcp_close(c);
    close(peer);
    return NULL;
}

TEST(dropped_future_write_frees_its_buffer_at_once) { run_both(2, dropped_future_body); }

TEST(a_dropped_write_written_again_sends_each_byte_once)
{
    write_again = true;
    run_both(2, dropped_future_body);
}

/* ---- close while a send is in flight -------------------------------------------------------- */

static void *close_elsewhere(void *arg)
{
    CHECK_EQ(edo_tcp_close(arg), 0);
    return NULL;
}

/* On a thread of the blocking pool: reads the peer to its end (or reset): no hang once edo's
 * side is closed. */
static void *drain_to_end(void *arg)
{
    int peer = *(int *)arg;
    uint8_t buf[4096];
    ssize_t n;
    while ((n = recv(peer, buf, sizeof buf, 0)) > 0)
        ;
    CHECK(n == 0 || (n < 0 && errno == ECONNRESET));
    return NULL;
}

static void *close_in_flight_body(void *arg)
{
    (void)arg;
    uint8_t *buf = malloc(BIG);
    CHECK(buf);
    fill(buf, BIG, 0, 11);
    for (int remote = 0; remote <= 1; remote++) {
        edo_tcp *c;
        int peer;
        stalled_pair(&c, &peer);
        if (!remote) { /* the writer's own task: its future write pending, then the close */
            fill_path(c);
            edo_socket_future f;
            edo_tcp_write_future_init(&f, c, buf, BIG);
            edo_waker noop = edo_waker_noop();
            edo_context cx = {&noop, NULL};
            CHECK_EQ(edo_future_poll(&f.base, &cx, NULL), EDO_PENDING);
            CHECK_EQ(edo_tcp_close(c), 0);
            edo_future_drop(&f.base);
        } else { /* a coroutine waits in its write; a thread that is not a worker closes */
            big_write w = {.c = c, .buf = buf};
            edo_task *t = start_big_write(&w);
            edo_task *closer;
            CHECK_EQ(edo_spawn_blocking(close_elsewhere, c, &closer), 0);
            join(closer);
            join(t);
            /* Short at once (directly), or the count that went out, or nothing went: -EBADF
             * (a readiness wait is told the same when its fd is closed). */
            CHECK(w.result > 0 || w.result == -EBADF);
        }
        edo_task *d;
        CHECK_EQ(edo_spawn_blocking(drain_to_end, &peer, &d), 0);
        join(d);
        close(peer);
    }
    free(buf);
    return NULL;
}

TEST(close_while_a_send_is_in_flight) { run_both(2, close_in_flight_body); }

/* ---- a peer reset during a send ------------------------------------------------------------- */

static void *reset_body(void *arg)
{
    (void)arg;
    edo_tcp *c;
    int peer;
    stalled_pair(&c, &peer);
    uint8_t *buf = malloc(BIG);
    CHECK(buf);
    fill(buf, BIG, 0, 13);
    big_write w = {.c = c, .buf = buf};
    edo_task *t = start_big_write(&w);
    struct linger lg = {1, 0};
    CHECK_EQ(setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(peer); /* unread bytes and no linger: a reset */
    join(t);
    /* A count (the part that went before the reset) or the reset itself; then the error. */
    CHECK(w.result > 0 || w.result == -ECONNRESET || w.result == -EPIPE);
    int rc = edo_tcp_write_all(c, buf, BIG);
    CHECK(rc == -ECONNRESET || rc == -EPIPE);
    free(buf);
    edo_tcp_close(c);
    return NULL;
}

TEST(peer_reset_during_a_send) { run_both(2, reset_body); }

/* ---- a writer that is not a worker ---------------------------------------------------------- */

typedef struct elsewhere {
    edo_tcp *c;
    const char *text;
} elsewhere;

static void *try_write_elsewhere(void *arg)
{
    elsewhere *e = arg;
    ssize_t n;
    while ((n = edo_tcp_try_write(e->c, e->text, strlen(e->text))) == -EAGAIN)
        ;
    CHECK_EQ(n, (ssize_t)strlen(e->text));
    return NULL;
}

static void *elsewhere_body(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    /* Ring sends from a worker, then a try from a pool thread (the direct path), then a ring
     * send again: the peer reads them in that order. */
    CHECK_EQ(edo_tcp_write_all(c, "one,", 4), 0);
    check_path(c);
    elsewhere e = {c, "two,"};
    edo_task *t;
    CHECK_EQ(edo_spawn_blocking(try_write_elsewhere, &e, &t), 0);
    join(t);
    CHECK_EQ(edo_tcp_write_all(c, "three", 5), 0);
    char buf[16] = {0};
    size_t got = 0;
    while (got < 13) {
        ssize_t n = edo_tcp_read(s, buf + got, sizeof buf - 1 - got);
        CHECK(n > 0);
        got += (size_t)n;
    }
    CHECK(strcmp(buf, "one,two,three") == 0);
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

TEST(a_write_from_a_thread_that_is_not_a_worker_keeps_order) { run_both(2, elsewhere_body); }

/* ---- writers at once on one socket ----------------------------------------------------------- */

#define WRITERS 4
#define RECORDS 2000
#define RECORD 16

typedef struct record_writer {
    edo_tcp *c;
    unsigned id;
} record_writer;

/* Writes RECORDS records of RECORD bytes, each all `id` and its number, one write each. */
static void *write_records(void *arg)
{
    record_writer *w = arg;
    for (unsigned k = 0; k < RECORDS; k++) {
        uint8_t rec[RECORD];
        memset(rec, (int)('a' + w->id), RECORD);
        rec[0] = (uint8_t)k;
        CHECK_EQ(edo_tcp_write(w->c, rec, RECORD), RECORD);
    }
    return NULL;
}

static void *writers_at_once_body(void *arg)
{
    (void)arg;
    edo_tcp *c, *s;
    tcp_pair(&c, &s);
    record_writer w[WRITERS];
    edo_task *t[WRITERS];
    for (unsigned i = 0; i < WRITERS; i++) {
        w[i] = (record_writer){c, i};
        t[i] = spawn(write_records, &w[i]);
    }
    /* Each record arrives whole (one send at a time), each writer's in its order. */
    unsigned next[WRITERS] = {0};
    uint8_t rec[RECORD];
    for (unsigned got = 0; got < WRITERS * RECORDS; got++) {
        for (size_t have = 0; have < RECORD;) {
            ssize_t n = edo_tcp_read(s, rec + have, RECORD - have);
            CHECK(n > 0);
            have += (size_t)n;
        }
        unsigned id = (unsigned)(rec[1] - 'a');
        CHECK(id < WRITERS);
        for (int i = 2; i < RECORD; i++)
            CHECK_EQ(rec[i], rec[1]);
        CHECK_EQ(rec[0], (uint8_t)next[id]);
        next[id]++;
    }
    for (unsigned i = 0; i < WRITERS; i++)
        join(t[i]);
    check_path(c);
    edo_tcp_close(c);
    edo_tcp_close(s);
    return NULL;
}

TEST(writers_at_once_never_interleave) { run_both(2, writers_at_once_body); }

/* ---- a deadline carried into the kernel --------------------------------------------------- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int write_big_within_30ms(void *arg) { return edo_timeout(EDO_MSEC(30), write_big, arg); }

static void *write_big_timed_task(void *arg)
{
    (void)write_big_within_30ms(arg);
    return NULL;
}

/* A send under a deadline, to a peer that does not read, on a worker that then stays busy (its
 * task spins without yielding, so neither its timer wheel nor anything of ours can cancel):
 * through the ring the send carries a linked timeout, and the kernel ends it at the deadline by
 * itself (its CQE is there while the worker still spins); the write reports the count that went
 * out, and the peer reads exactly those bytes. Without the linked timeout the spin would run to
 * its bound and fail. Elsewhere (epoll, no receive buffers) the write is direct and short. */
static void *deadline_in_kernel_body(void *arg)
{
    (void)arg;
    edo_tcp *c;
    int peer;
    big_write w = stalled_big_write(&c, &peer, 9);
    edo_task *t = spawn(write_big_timed_task, &w);
    while (!atomic_load(&w.finished) && !send_in_ring(c))
        CHECK_EQ(edo_yield(), 0);
    CHECK_EQ(edo_yield(), 0); /* the worker's turn enters the ring with the send */
    edo__outbox *b = ((edo_io *)c)->recv_mode ? atomic_load(&((edo_io *)c)->inbox->outbox) : NULL;
    if (!atomic_load(&w.finished) && b) {
        edo__cring *r = b->ring;
        unsigned long fired = atomic_load(&r->links_fired), linked = atomic_load(&r->links);
        CHECK(linked > 0 && b->timed); /* the send took its deadline along */
        /* Busy: no yield until the kernel has posted the send's end (bounded: 5 s). */
        uint64_t until = mono_ns() + 5000000000u;
        while (edo__ring_cq_ready(&r->ring) == 0 && mono_ns() < until)
            ;
        CHECK(edo__ring_cq_ready(&r->ring) > 0);
        join(t);
        CHECK(atomic_load(&r->links_fired) > fired); /* the timeout fired, in the kernel */
    } else {
        join(t);
    }
    CHECK(w.result > 0 && (size_t)w.result < BIG);
    check_peer_gets(c, peer, (size_t)w.result, 9);
    free(w.buf);
    edo_tcp_close(c);
    close(peer);
    return NULL;
}

/* One worker: the writer and the spinning task share it. */
TEST(a_deadline_ends_a_send_in_the_kernel_while_the_worker_is_busy)
{
    run_both(1, deadline_in_kernel_body);
}

/* A send with no deadline carries no linked timeout (no SQE more); one under a far deadline
 * completes as any other, and its timeout's CQE is taken (none left in flight, none fired). */
static int write_small(void *arg) { return (int)edo_tcp_write_all(arg, "hello", 5); }

static void *no_deadline_body(void *arg)
{
    (void)arg;
    edo_tcp *c;
    int peer;
    stalled_pair(&c, &peer);
    CHECK_EQ(edo_tcp_write_all(c, "plain", 5), 0);
    edo__outbox *b = ((edo_io *)c)->recv_mode ? atomic_load(&((edo_io *)c)->inbox->outbox) : NULL;
    CHECK(b || !must_receive);
    if (b) {
        edo__cring *r = b->ring;
        unsigned long linked = atomic_load(&r->links);
        CHECK_EQ(edo_tcp_write_all(c, "plain", 5), 0);
        CHECK_EQ(atomic_load(&r->links), linked); /* none without a deadline */
        CHECK_EQ(edo_timeout(EDO_SEC(60), write_small, c), 0);
        CHECK_EQ(atomic_load(&r->links), linked + 1);
        for (int i = 0; i < 5000 && atomic_load(&r->links_reaped) < linked + 1; i++) {
            CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0);
            edo__cring_reap(r);
        }
        CHECK_EQ(atomic_load(&r->links_reaped), linked + 1); /* its CQE came and was taken */
    } else {
        CHECK_EQ(edo_tcp_write_all(c, "plain", 5), 0);
        CHECK_EQ(edo_timeout(EDO_SEC(60), write_small, c), 0);
    }
    char got[15];
    size_t n = 0;
    while (n < sizeof got) {
        ssize_t k = recv(peer, got + n, sizeof got - n, 0);
        CHECK(k > 0);
        n += (size_t)k;
    }
    CHECK(memcmp(got, "plainplainhello", 15) == 0);
    edo_tcp_close(c);
    close(peer);
    return NULL;
}

TEST(a_send_without_a_deadline_links_nothing) { run_both(1, no_deadline_body); }
