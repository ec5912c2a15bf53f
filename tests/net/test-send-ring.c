/* Sends by completion (net/send_ring.c, io/uring/outbox.h): the writes of stream sockets
 * received by completion go through the worker's completion ring as IORING_OP_SEND, written
 * behind (a write returns once its bytes are the outbox's). The same bodies run on the
 * environment's backend, on io_uring, and on io_uring whose workers have no receive buffers
 * (direct sends there: the fallback), so every promise holds on all three:
 *  - large transfers both ways, with readers slower than their writers: byte-exact;
 *  - writes to a peer that does not read, one timed out and one whose task is aborted while
 *    they wait: the peer reads exactly the bytes the writes reported, in order, nothing of the
 *    cancelled ones;
 *  - a future write dropped while it waits, its buffer freed at once: nothing of it goes (ASan:
 *    nothing reads the freed buffer); written again, each byte goes once;
 *  - close while a send is in flight, from the writer's own task and from a thread that is not
 *    a worker: the peer reads every byte a write reported, then its end; a write waiting for
 *    the outbox gets -EBADF; a peer that never reads: the fd is closed after the close's grace;
 *  - a shutdown while a send is in flight: the bytes first, then the end; a flush waits for
 *    them;
 *  - a peer reset while a send waits: the error, on a later write;
 *  - a write from a thread that is not a worker (the direct path) after ring sends: in order;
 *  - writers at once: whole records, each writer's in order.
 * The io_uring cases skip where the kernel has no io_uring. */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <stdio.h>
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
    *started = b->started, *busy = b->busy;
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
    size_t want; /* bytes to read before the mark (or the end) */
    unsigned seed;
    bool to_end; /* then the end of the stream, not the mark */
} peer_read;

/* On a thread of the blocking pool: reads `want` bytes of the pattern of the peer (checked),
 * then the mark, or the end. */
static void *read_peer(void *arg)
{
    peer_read *p = arg;
    uint8_t buf[4096];
    size_t done = 0, end = p->want + (p->to_end ? 0 : strlen(MARK));
    char tail[sizeof MARK] = {0};
    while (done < end) {
        size_t room = end - done < sizeof buf ? end - done : sizeof buf;
        ssize_t n = recv(p->fd, buf, room, 0);
        CHECK(n > 0);
        for (ssize_t i = 0; i < n; i++, done++) {
            if (done < p->want)
                CHECK_EQ(buf[i], byte_at(done, p->seed));
            else
                tail[done - p->want] = (char)buf[i];
        }
    }
    if (p->to_end)
        CHECK_EQ(recv(p->fd, buf, sizeof buf, 0), 0);
    else
        CHECK(strcmp(tail, MARK) == 0);
    return NULL;
}

/* The peer reads exactly `sent` bytes of the pattern, then the `nmore` bytes of it written
 * now from `more` (continuing it), then the mark written after them: nothing else went out. */
static void check_peer_gets(edo_tcp *c, int peer, size_t sent, unsigned seed,
                            const uint8_t *more, size_t nmore)
{
    peer_read p = {peer, sent + nmore, seed, false};
    edo_task *r;
    CHECK_EQ(edo_spawn_blocking(read_peer, &p, &r), 0);
    if (nmore)
        CHECK_EQ(edo_tcp_write_all(c, more, nmore), 0);
    CHECK_EQ(edo_tcp_write_all(c, MARK, strlen(MARK)), 0);
    join(r);
}

/* The peer reads exactly `sent` bytes of the pattern, then the end (edo's side closed). */
static void check_peer_gets_then_end(int peer, size_t sent, unsigned seed)
{
    peer_read p = {peer, sent, seed, true};
    edo_task *r;
    CHECK_EQ(edo_spawn_blocking(read_peer, &p, &r), 0);
    join(r);
}

/* Whether a send of `c` is in the ring now. */
static bool send_in_ring(edo_tcp *c)
{
    uint32_t started;
    bool busy;
    outbox_state(c, &started, &busy);
    return busy;
}

/* A writer of the pattern: `at` is where its write starts, `result` what it returned. */
typedef struct big_write {
    edo_tcp *c;
    const uint8_t *bytes; /* the pattern from 0, long enough */
    size_t at;
    ssize_t result;
    _Atomic bool started, finished;
} big_write;

static int write_big(void *arg)
{
    big_write *w = arg;
    atomic_store(&w->started, true);
    w->result = edo_tcp_write(w->c, w->bytes + w->at, BIG);
    atomic_store(&w->finished, true);
    return w->result < 0 ? (int)w->result : 0;
}

static void *write_big_task(void *arg)
{
    (void)write_big(arg);
    return NULL;
}

/* A stalled pair (stalled_pair) whose path to the peer is full: writes the pattern from 0
 * until a write cannot go at once (on the ring, one write hands BIG bytes over and its send
 * waits in the kernel, the peer not reading; directly, tries fill the buffers). Returns how
 * many bytes of the pattern went. */
static size_t stalled_full_pair(edo_tcp **c, int *peer, const uint8_t *bytes)
{
    stalled_pair(c, peer);
    ssize_t n = edo_tcp_write(*c, bytes, BIG);
    CHECK(n > 0);
    size_t at = (size_t)n;
    for (bool again = true; again;) {
        again = false;
        while ((n = edo_tcp_try_write(*c, bytes + at, 4096)) > 0)
            at += (size_t)n, again = true;
        CHECK_EQ(n, -EAGAIN);
        CHECK_EQ(edo_sleep(EDO_MSEC(5)), 0); /* the kernel moves bytes on to the peer's buffer */
    }
    CHECK(!must_receive || send_in_ring(*c));
    return at;
}

/* Spawns a task that writes BIG bytes of the pattern at w->at, and returns once it waits (or,
 * unexpectedly, returned). */
static edo_task *start_big_write(big_write *w)
{
    edo_task *t = spawn(write_big_task, w);
    while (!atomic_load(&w->started))
        CHECK_EQ(edo_yield(), 0);
    for (int i = 0; i < 10 && !atomic_load(&w->finished); i++)
        CHECK_EQ(edo_yield(), 0); /* it stays in its wait */
    return t;
}

static uint8_t *new_pattern(size_t n, unsigned seed)
{
    uint8_t *p = malloc(n);
    CHECK(p);
    fill(p, n, 0, seed);
    return p;
}

/* One write of BIG bytes of the pattern at *at that is aborted (abort_it) or given a 20 ms
 * deadline. True when it was cut while it waited (nothing of it sent, checked); false when it
 * went after all (the path took more than stalled_full_pair saw: loopback's buffers may grow
 * while a send waits), its count added to *at, for the caller to try again. */
static bool cut_one_write(edo_tcp *c, const uint8_t *bytes, size_t *at, bool abort_it)
{
    big_write w = {.c = c, .bytes = bytes, .at = *at};
    if (abort_it) { /* the writer's task aborted while its write waits */
        edo_task *t = start_big_write(&w);
        edo_task_abort(t);
        void *out;
        int rc = edo_task_join(t, &out);
        CHECK(rc == 0 || rc == -ECANCELED);
        edo_task_free(t);
        CHECK(atomic_load(&w.finished));
        if (w.result != -ECANCELED) {
            CHECK(w.result > 0);
            *at += (size_t)w.result;
            return false;
        }
        return true;
    }
    /* a deadline while it waits */
    int rc = edo_timeout(EDO_MSEC(20), write_big, &w);
    if (rc == 0) {
        CHECK(w.result > 0);
        *at += (size_t)w.result;
        return false;
    }
    CHECK_EQ(rc, -ETIMEDOUT);
    CHECK_EQ(w.result, -ETIMEDOUT);
    return true;
}

static void *timed_out_body(void *arg)
{
    (void)arg;
    uint8_t *bytes = new_pattern(16 * BIG, 7);
    for (int abort_it = 0; abort_it <= 1; abort_it++) {
        edo_tcp *c;
        int peer;
        size_t at = stalled_full_pair(&c, &peer, bytes);
        check_path(c);
        int tries = 0;
        while (!cut_one_write(c, bytes, &at, abort_it))
            CHECK(++tries < 12); /* the path fills: a write waits at last */
        /* Every byte a write reported, nothing of the cancelled one. */
        check_peer_gets(c, peer, at, 7, NULL, 0);
        edo_tcp_close(c);
        close(peer);
    }
    free(bytes);
    return NULL;
}

TEST(a_cancelled_write_sends_nothing_and_the_reported_bytes_all_go) { run_both(2, timed_out_body); }

/* ---- a dropped future write ------------------------------------------------------------------ */

static bool write_again; /* dropped_future_body writes the dropped bytes again */

static void *dropped_future_body(void *arg)
{
    (void)arg;
    uint8_t *bytes = new_pattern(16 * BIG, 9);
    edo_tcp *c;
    int peer;
    size_t at = stalled_full_pair(&c, &peer, bytes); /* so that the future's write waits */
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    for (int tries = 0;; tries++) {
        CHECK(tries < 12); /* the path fills: a write waits at last */
        uint8_t *buf = malloc(BIG);
        CHECK(buf);
        memcpy(buf, bytes + at, BIG);
        edo_socket_future f;
        edo_tcp_write_future_init(&f, c, buf, BIG);
        edo_poll p = edo_future_poll(&f.base, &cx, NULL);
        /* Went after all (loopback's buffers may grow while a send waits): its count. */
        if (p == EDO_READY) {
            CHECK(f.result > 0);
            at += (size_t)f.result;
        }
        edo_future_drop(&f.base);
        memset(buf, 0xee, BIG); /* the caller's buffer is the caller's again at once */
        free(buf);
        if (p == EDO_PENDING)
            break;
    }
    /* Written again (write_again), the dropped bytes arrive each once. */
    check_peer_gets(c, peer, at, 9, bytes + at, write_again ? BIG : 0);
    edo_tcp_close(c);
    close(peer);
    free(bytes);
    return NULL;
}

TEST(dropped_future_write_frees_its_buffer_at_once) { run_both(2, dropped_future_body); }

TEST(a_dropped_write_written_again_sends_each_byte_once)
{
    write_again = true;
    run_both(2, dropped_future_body);
}

/* ---- close and shutdown while a send is in flight ------------------------------------------- */

static void *close_elsewhere(void *arg)
{
    CHECK_EQ(edo_tcp_close(arg), 0);
    return NULL;
}

static void *close_in_flight_body(void *arg)
{
    (void)arg;
    uint8_t *bytes = new_pattern(8 * BIG, 11);
    for (int remote = 0; remote <= 1; remote++) {
        edo_tcp *c;
        int peer;
        size_t at = stalled_full_pair(&c, &peer, bytes);
        if (!remote) { /* the writer's own task, its send in flight */
            CHECK_EQ(edo_tcp_close(c), 0);
        } else { /* a coroutine waits in its write; a thread that is not a worker closes */
            big_write w = {.c = c, .bytes = bytes, .at = at};
            edo_task *t = start_big_write(&w);
            edo_task *closer;
            CHECK_EQ(edo_spawn_blocking(close_elsewhere, c, &closer), 0);
            join(closer);
            join(t);
            if (w.result > 0) /* it went before the close after all (loopback took more) */
                at += (size_t)w.result;
            else /* it waited: as a readiness wait is told when its fd is closed */
                CHECK_EQ(w.result, -EBADF);
        }
        /* Every byte a write reported, then the end: the fd was closed once they went. */
        check_peer_gets_then_end(peer, at, 11);
        close(peer);
    }
    free(bytes);
    return NULL;
}

TEST(close_while_a_send_is_in_flight_lets_it_go_first) { run_both(2, close_in_flight_body); }

/* Sleeps in steps of 5 ms until `done(arg)`, at most about `secs` seconds: false if it never
 * came. (A worker that spun here would hold back its own ring's completions.) */
static bool sleep_until(bool (*done)(void *), void *arg, unsigned secs)
{
    for (unsigned i = 0; i < secs * 200; i++) {
        if (done(arg))
            return true;
        CHECK_EQ(edo_sleep(EDO_MSEC(5)), 0);
    }
    return done(arg);
}

static bool nothing_in_the_rings(void *arg)
{
    (void)arg;
    return !edo__io_completions_pending(&edo_runtime_current()->io);
}

/* An fd and what it was (its /proc/self/fd link). Asked through /proc, not of the fd itself,
 * which another thread closes meanwhile. */
typedef struct {
    char path[64], was[64];
} fd_id;

static void fd_id_of(int fd, fd_id *id)
{
    snprintf(id->path, sizeof id->path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(id->path, id->was, sizeof id->was - 1);
    CHECK(n > 0);
    id->was[n] = 0;
}

static bool fd_closed(void *arg)
{
    fd_id *id = arg;
    char now[64];
    ssize_t n = readlink(id->path, now, sizeof now - 1);
    if (n < 0)
        return true; /* gone */
    now[n] = 0;
    return strcmp(now, id->was) != 0; /* another file under that number now */
}

/* The peer reads a prefix of the pattern, at most `sent` bytes, then its end (or a reset). */
static void *read_prefix_to_end(void *arg)
{
    peer_read *p = arg;
    uint8_t buf[4096];
    size_t done = 0;
    ssize_t n;
    while ((n = recv(p->fd, buf, sizeof buf, 0)) > 0) {
        for (ssize_t i = 0; i < n; i++, done++)
            CHECK_EQ(buf[i], byte_at(done, p->seed));
        CHECK(done <= p->want);
    }
    CHECK(n == 0 || (n < 0 && errno == ECONNRESET));
    return NULL;
}

/* The close of a socket whose send waits for a peer that does not read: after the close's
 * grace (50 ms here) the send is cancelled and the fd closed, though the peer never read; the
 * peer then reads a prefix of what was written, and the end. A close whose send goes within
 * the grace (close_while_a_send_is_in_flight_lets_it_go_first) cancels the grace: nothing is
 * left in the rings well before it would have fired (60 s). */
static void *close_grace_body(void *arg)
{
    (void)arg;
    uint8_t *bytes = new_pattern(8 * BIG, 13);
    edo_tcp *c;
    int peer;
    size_t at = stalled_full_pair(&c, &peer, bytes);
    fd_id id;
    fd_id_of(edo_tcp_fd(c), &id);
    edo__outbox_set_close_grace(50u * 1000 * 1000); /* 50 ms */
    CHECK_EQ(edo_tcp_close(c), 0);
    CHECK(sleep_until(fd_closed, &id, 20)); /* the peer has not read a byte */
    edo__outbox_set_close_grace(0);
    peer_read p = {peer, at, 13, true};
    edo_task *r;
    CHECK_EQ(edo_spawn_blocking(read_prefix_to_end, &p, &r), 0);
    join(r);
    close(peer);
    CHECK(sleep_until(nothing_in_the_rings, NULL, 20)); /* the timeout's CQE came too */
    /* A send that goes within the grace cancels it. */
    at = stalled_full_pair(&c, &peer, bytes);
    CHECK_EQ(edo_tcp_close(c), 0);
    check_peer_gets_then_end(peer, at, 13);
    close(peer);
    CHECK(sleep_until(nothing_in_the_rings, NULL, 20));
    free(bytes);
    return NULL;
}

TEST(close_with_a_stalled_send_ends_after_its_grace) { run_both(2, close_grace_body); }

static void *shutdown_in_flight_body(void *arg)
{
    (void)arg;
    uint8_t *bytes = new_pattern(8 * BIG, 12);
    for (int stream = 0; stream <= 1; stream++) {
        edo_tcp *c;
        int peer;
        size_t at = stalled_full_pair(&c, &peer, bytes);
        if (!stream) { /* never suspends: done after the send, at its CQE */
            CHECK_EQ(edo_tcp_shutdown(c, SHUT_WR), 0);
            check_peer_gets_then_end(peer, at, 12);
        } else { /* flushes first: waits for the send, while the peer reads */
            peer_read p = {peer, at, 12, true};
            edo_task *r;
            CHECK_EQ(edo_spawn_blocking(read_peer, &p, &r), 0);
            CHECK_EQ(edo_stream_flush(edo_tcp_stream(c)), 0);
            CHECK(!send_in_ring(c));
            CHECK_EQ(edo_stream_shutdown(edo_tcp_stream(c)), 0);
            join(r);
        }
        edo_tcp_close(c);
        close(peer);
    }
    free(bytes);
    return NULL;
}

TEST(shutdown_while_a_send_is_in_flight_lets_it_go_first) { run_both(2, shutdown_in_flight_body); }

/* ---- a peer reset during a send ------------------------------------------------------------- */

static void *reset_body(void *arg)
{
    (void)arg;
    uint8_t *bytes = new_pattern(8 * BIG, 13);
    edo_tcp *c;
    int peer;
    (void)stalled_full_pair(&c, &peer, bytes); /* a send in flight, the peer not reading */
    struct linger lg = {1, 0};
    CHECK_EQ(setsockopt(peer, SOL_SOCKET, SO_LINGER, &lg, sizeof lg), 0);
    close(peer); /* unread bytes and no linger: a reset */
    /* The send in flight fails; a later write is told (written behind: not the one that
     * handed the bytes over), and every write after it too. */
    int rc = edo_tcp_write_all(c, bytes, BIG);
    CHECK(rc == -ECONNRESET || rc == -EPIPE);
    rc = edo_tcp_write_all(c, bytes, BIG);
    CHECK(rc == -ECONNRESET || rc == -EPIPE);
    edo_tcp_close(c);
    free(bytes);
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
