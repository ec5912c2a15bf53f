/* The soak test's fault injector (tests/soak.sh): one thread, one epoll loop, a fixed number of
 * connection slots, each running one session after another against an echo server or a Redis
 * server, each session with a behaviour drawn at random:
 *
 *   clean     a few rounds of requests, every reply checked, then a close
 *   reset     some rounds, then a reset (SO_LINGER 0 close) at a random point, replies unread
 *   half      some rounds, the last followed by shutdown(SHUT_WR): the rest must still arrive,
 *             then the server's end of file
 *   slow      a slow reader: a 4 KiB receive buffer, large replies read a few bytes at a time
 *             with pauses, so the server's writes wait on a full socket
 *   stall     a stalled writer: each request written in two parts with a pause between
 *   abort     (10%) part of a request, then a close or a reset without reading anything
 *
 * A round is one request (echo: a chunk of a byte pattern; resp: a pipeline of SET, GET, INCR,
 * DEL, MGET, PING on the slot's own keys) whose exact reply is known in advance: it is queued
 * as the expected bytes, and every byte read is compared with them. A session that was not
 * meant to be cut (clean, half, slow, stall) must get every expected byte and nothing more:
 * otherwise it counts as lost (early end, error) or corrupt (a wrong byte).
 *
 *   faults --port P [--proto echo|resp] [--connections C] [--seconds S] [--seed N]
 *
 * Prints a line each second on stdout:
 *   second=N rounds=R bytes=B sessions=S lost=L corrupt=X errors=E
 * (rounds and bytes: completed and checked in that second; the other figures: totals so far)
 * and at the end "total ..." with the same fields summed and the sessions by behaviour.
 * Exit status: 0 when nothing was lost or corrupt and no connection failed, 1 otherwise, 2 for
 * a bad command line. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define PERIOD 251               /* pattern byte k is k % PERIOD (prime: shifts show) */
#define MAX_CHUNK (256 * 1024)   /* longest piece of pattern one request or value takes */
#define KEYS 4                   /* per session, plus a counter */
#define KEY_SETS 8               /* a slot's sessions take turns over this many sets of keys */
#define KEY_TTL_MS "60000"       /* a minute: sessions take seconds (a slow one up to ~10) */
#define KEY_TTL_DIGITS "5"
#define SMALL_VALUE 2048
#define BIG_VALUE (32 * 1024)    /* slow readers ask for these */
#define SLOW_RCVBUF 4096
#define READ_BUF (64 * 1024)

enum kind { CLEAN, RESET, HALF, SLOW, STALL, ABORT, NKINDS };
static const char *const kind_names[NKINDS] = {"clean", "reset", "half", "slow", "stall", "abort"};

typedef struct buf {
    unsigned char *p;
    size_t off, len, cap; /* bytes [off, len) are pending */
} buf;

typedef struct value {
    bool set;
    size_t len, start; /* pattern bytes [start, start + len) */
} value;

typedef struct conn {
    int fd;
    int slot;
    uint32_t gen;        /* sessions so far: tells a closed session's stale events apart */
    enum kind kind;
    bool connecting, shut_wr, cut_planned;
    int rounds_left;
    size_t stall_at;     /* stall: the write pauses when out.off reaches it (0: no stall) */
    uint64_t write_wake; /* paused writing until then (ns; 0: not paused) */
    uint64_t read_wake;  /* slow reader: paused reading until then */
    uint32_t events;     /* what epoll watches for now */
    buf out, expect;
    uint64_t stream;     /* echo: pattern offset of the next request byte */
    value keys[KEYS + 1]; /* resp: what the session's keys hold; the last is the counter */
    int64_t counter;
} conn;

static struct {
    struct sockaddr_in addr;
    bool resp;
    int nconns, seconds;
    int ep;
    conn *conns;
    unsigned char pattern[PERIOD + MAX_CHUNK];
    uint64_t rng;
    /* totals, and the counts of the current second */
    uint64_t rounds, bytes, sessions, lost, corrupt, errors, by_kind[NKINDS];
    uint64_t second_rounds, second_bytes;
} g;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t rnd(void) /* xorshift64* */
{
    g.rng ^= g.rng >> 12;
    g.rng ^= g.rng << 25;
    g.rng ^= g.rng >> 27;
    return g.rng * 2685821657736338717ull;
}

static size_t rnd_in(size_t lo, size_t hi) { return lo + (size_t)(rnd() % (hi - lo + 1)); }

static void die(const char *what, int err)
{
    fprintf(stderr, "faults: %s: %s\n", what, strerror(err));
    exit(1);
}

/* ---- byte buffers ---- */

static void buf_append(buf *b, const void *p, size_t n)
{
    if (b->off > 0 && b->off == b->len)
        b->off = b->len = 0;
    if (b->len + n > b->cap) {
        if (b->off > 0) { /* slide the pending bytes down first */
            memmove(b->p, b->p + b->off, b->len - b->off);
            b->len -= b->off;
            b->off = 0;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n > cap)
            cap *= 2;
        if (cap != b->cap && !(b->p = realloc(b->p, b->cap = cap)))
            die("realloc", ENOMEM);
    }
    memcpy(b->p + b->len, p, n);
    b->len += n;
}

/* Appends a RESP header or integer: `type`, the number, CRLF. */
static void buf_number(buf *b, char type, long long n)
{
    char text[32];
    int len = snprintf(text, sizeof text, "%c%lld\r\n", type, n);
    buf_append(b, text, (size_t)len);
}

static size_t buf_pending(const buf *b) { return b->len - b->off; }

/* ---- requests and their expected replies ---- */

static void echo_round(conn *c)
{
    size_t n = c->kind == SLOW ? rnd_in(64 * 1024, MAX_CHUNK) : rnd_in(2, 16 * 1024);
    const unsigned char *p = g.pattern + c->stream % PERIOD;
    buf_append(&c->out, p, n);
    buf_append(&c->expect, p, n);
    c->stream += n;
}

/* Appends a bulk string made of pattern bytes [start, start + len). */
static void bulk(buf *b, size_t start, size_t len)
{
    buf_number(b, '$', (long long)len);
    buf_append(b, g.pattern + start % PERIOD, len);
    buf_append(b, "\r\n", 2);
}

static void key_arg(buf *b, const conn *c, int k)
{
    char key[32];
    int n = snprintf(key, sizeof key, "soak:%d:%u:%d", c->slot, (unsigned)(c->gen % KEY_SETS), k);
    buf_number(b, '$', n);
    buf_append(b, key, (size_t)n);
    buf_append(b, "\r\n", 2);
}

static void expect_value(conn *c, const value *v)
{
    if (v->set)
        bulk(&c->expect, v->start, v->len);
    else
        buf_append(&c->expect, "$-1\r\n", 5);
}

/* SET of pattern bytes [start, start + len), with an expiry: the keys of sessions cut short go
 * by themselves. */
static void cmd_set_at(conn *c, int k, size_t start, size_t len)
{
    static const char px[] = "$2\r\nPX\r\n$" KEY_TTL_DIGITS "\r\n" KEY_TTL_MS "\r\n";
    value *v = &c->keys[k];
    *v = (value){.set = true, .len = len, .start = start};
    buf_append(&c->out, "*5\r\n$3\r\nSET\r\n", 13);
    key_arg(&c->out, c, k);
    bulk(&c->out, v->start, v->len);
    buf_append(&c->out, px, sizeof px - 1);
    buf_append(&c->expect, "+OK\r\n", 5);
}

static void cmd_set(conn *c, int k, size_t len) { cmd_set_at(c, k, (size_t)(rnd() % PERIOD), len); }

static void cmd_get(conn *c, int k)
{
    buf_append(&c->out, "*2\r\n$3\r\nGET\r\n", 13);
    key_arg(&c->out, c, k);
    expect_value(c, &c->keys[k]);
}

/* A session starts by setting its keys and its counter. Its keys are not its predecessor's:
 * a session cut short may still have requests in the server's hands, which must not touch its
 * successor's keys, so a slot's sessions take turns over KEY_SETS sets of keys (a cut
 * session's last requests would have to wait in the server for 7 whole sessions to collide).
 * So the server holds at most slots x KEY_SETS x 5 keys, however fast the sessions come: its
 * live data does not follow the throughput, and its RSS can be judged flat. Every SET also
 * expires in a minute (longer than a session lasts), which keeps the sweeper busy. */
static void resp_reset(conn *c)
{
    for (int k = 0; k < KEYS; k++)
        cmd_set(c, k, rnd_in(0, SMALL_VALUE));
    cmd_set_at(c, KEYS, '0', 1); /* the counter: pattern byte 48 is '0' */
    c->counter = 0;
}

static void resp_round(conn *c)
{
    if (c->kind == SLOW) { /* a big value, asked for several times in one pipeline */
        int k = (int)rnd_in(0, KEYS - 1);
        cmd_set(c, k, rnd_in(BIG_VALUE / 2, BIG_VALUE));
        for (size_t i = rnd_in(2, 8); i > 0; i--)
            cmd_get(c, k);
        return;
    }
    for (size_t i = rnd_in(1, 16); i > 0; i--) {
        int k = (int)rnd_in(0, KEYS - 1);
        switch (rnd() % 6) {
        case 0:
            cmd_set(c, k, rnd_in(0, SMALL_VALUE));
            break;
        case 1:
            cmd_get(c, k);
            break;
        case 2:
            buf_append(&c->out, "*2\r\n$4\r\nINCR\r\n", 14);
            key_arg(&c->out, c, KEYS);
            buf_number(&c->expect, ':', (long long)++c->counter);
            break;
        case 3:
            buf_append(&c->out, "*2\r\n$3\r\nDEL\r\n", 13);
            key_arg(&c->out, c, k);
            buf_number(&c->expect, ':', c->keys[k].set ? 1 : 0);
            c->keys[k].set = false;
            break;
        case 4: {
            int k2 = (k + 1) % KEYS;
            buf_append(&c->out, "*3\r\n$4\r\nMGET\r\n", 14);
            key_arg(&c->out, c, k);
            key_arg(&c->out, c, k2);
            buf_append(&c->expect, "*2\r\n", 4);
            expect_value(c, &c->keys[k]);
            expect_value(c, &c->keys[k2]);
            break;
        }
        default:
            buf_append(&c->out, "*1\r\n$4\r\nPING\r\n", 14);
            buf_append(&c->expect, "+PONG\r\n", 7);
        }
    }
}

/* ---- sessions ---- */

static void watch(conn *c)
{
    uint32_t want = 0;
    if (c->connecting || (buf_pending(&c->out) > 0 && !c->write_wake))
        want |= EPOLLOUT;
    if (!c->connecting && !c->read_wake)
        want |= EPOLLIN;
    if (want == c->events)
        return;
    struct epoll_event ev = {.events = want, .data.u64 = (uint64_t)c->gen << 32 | (uint32_t)c->slot};
    if (epoll_ctl(g.ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
        die("epoll_ctl", errno);
    c->events = want;
}

static void start_session(conn *c)
{
    unsigned roll = (unsigned)(rnd() % 100);
    c->kind = roll < 10 ? ABORT : roll < 20 ? RESET : roll < 35 ? HALF : roll < 50 ? SLOW
            : roll < 65 ? STALL : CLEAN;
    c->rounds_left = (int)rnd_in(1, c->kind == SLOW ? 8 : 40); /* a slow round takes ~1 s */
    c->out.off = c->out.len = c->expect.off = c->expect.len = 0;
    c->shut_wr = c->cut_planned = false;
    c->stall_at = 0;
    c->write_wake = c->read_wake = 0;
    c->events = 0;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket", errno);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->kind == SLOW) {
        int small = SLOW_RCVBUF;
        setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    c->connecting = true;
    c->gen++;
    if (connect(c->fd, (struct sockaddr *)&g.addr, sizeof g.addr) < 0 && errno != EINPROGRESS)
        die("connect", errno);
    struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = (uint64_t)c->gen << 32 | (uint32_t)c->slot};
    if (epoll_ctl(g.ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
        die("epoll_ctl", errno);
    c->events = EPOLLOUT;
}

/* Ends the session; with `reset`, with a reset instead of a close. */
static void end_session(conn *c, bool reset)
{
    if (reset) {
        struct linger l = {1, 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(c->fd); /* also leaves the epoll set */
    c->fd = -1;
    g.sessions++;
    g.by_kind[c->kind]++;
}

/* A session that should have got everything did not: counted, told, ended, and the slot's next
 * session started. */
static void failed(conn *c, uint64_t *counter, const char *why)
{
    (*counter)++;
    fprintf(stderr, "faults: %s session on slot %d: %s (%zu bytes still expected)\n",
            kind_names[c->kind], c->slot, why, buf_pending(&c->expect));
    end_session(c, true);
    start_session(c);
}

/* A round is complete: queues the next one, and decides where this session's faults fall in
 * it. Returns false when the session ended instead (a new one has started in its slot). */
static bool next_round(conn *c)
{
    g.rounds++;
    g.second_rounds++;
    if (c->rounds_left-- <= 0) {
        end_session(c, false);
        start_session(c);
        return false;
    }
    size_t before = buf_pending(&c->out);
    if (g.resp)
        resp_round(c);
    else
        echo_round(c);
    size_t added = buf_pending(&c->out) - before;
    bool last = c->rounds_left == 0;
    if ((c->kind == STALL || (c->kind == ABORT && last)) && added > 1)
        c->stall_at = c->out.off + before + rnd_in(1, added - 1); /* mid-request */
    if (c->kind == RESET && last)
        c->cut_planned = true;
    return true;
}

/* The round's request has gone out in full. */
static void written(conn *c)
{
    if (c->kind == HALF && c->rounds_left == 0 && !c->shut_wr) {
        shutdown(c->fd, SHUT_WR);
        c->shut_wr = true;
    }
    if (c->cut_planned) /* reset: replies partly read or not at all */
        end_session(c, true);
}

static void flush_out(conn *c, uint64_t now)
{
    while (buf_pending(&c->out) > 0 && !c->write_wake) {
        size_t n = buf_pending(&c->out);
        if (c->stall_at > c->out.off && c->stall_at - c->out.off < n)
            n = c->stall_at - c->out.off;
        ssize_t w = send(c->fd, c->out.p + c->out.off, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN)
            break;
        if (w < 0) {
            failed(c, &g.lost, strerror(errno));
            return;
        }
        c->out.off += (size_t)w;
        if (c->stall_at && c->out.off == c->stall_at) {
            c->stall_at = 0;
            if (c->kind == ABORT) { /* 10%: cut mid-request, half of them by a reset */
                end_session(c, rnd() % 2);
                start_session(c);
                return;
            }
            c->write_wake = now + rnd_in(20, 200) * 1000000u;
        }
    }
    if (buf_pending(&c->out) == 0) {
        written(c);
        if (c->fd < 0) {
            start_session(c);
            return;
        }
    }
    watch(c);
}

static void read_in(conn *c, uint64_t now)
{
    static unsigned char data[READ_BUF];
    for (int reads = 0; reads < 16 && !c->read_wake; reads++) {
        size_t want = c->kind == SLOW ? rnd_in(1, 1024) : sizeof data;
        ssize_t n = recv(c->fd, data, want, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno == EAGAIN)
            break;
        if (n < 0) {
            failed(c, &g.lost, strerror(errno));
            return;
        }
        if (n == 0) {
            if (c->shut_wr && buf_pending(&c->expect) == 0 && buf_pending(&c->out) == 0) {
                end_session(c, false); /* half-close: everything came back, then the end */
                g.rounds++;
                g.second_rounds++;
                start_session(c);
            } else {
                failed(c, &g.lost, "end of file before every reply");
            }
            return;
        }
        size_t got = (size_t)n;
        if (got > buf_pending(&c->expect)) {
            failed(c, &g.corrupt, "more bytes than were asked for");
            return;
        }
        if (memcmp(data, c->expect.p + c->expect.off, got) != 0) {
            failed(c, &g.corrupt, "a wrong byte");
            return;
        }
        c->expect.off += got;
        g.bytes += got;
        g.second_bytes += got;
        if (c->kind == SLOW)
            c->read_wake = now + rnd_in(1, 3) * 1000000u;
        if (buf_pending(&c->expect) == 0 && buf_pending(&c->out) == 0 && !c->shut_wr) {
            uint32_t gen = c->gen;
            if (!next_round(c))
                return;
            flush_out(c, now);
            if (c->gen != gen)
                return; /* the next round ended it (a planned reset or abort) */
        }
    }
    watch(c);
}

static void connected(conn *c, uint64_t now)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err) {
        g.errors++;
        fprintf(stderr, "faults: connect: %s\n", strerror(err));
        close(c->fd);
        start_session(c);
        return;
    }
    c->connecting = false;
    if (g.resp)
        resp_reset(c);
    else
        echo_round(c);
    flush_out(c, now);
}

/* Wakes the paused connections whose pause is over; returns ms until the next one is due. */
static int wake_paused(uint64_t now)
{
    uint64_t next = UINT64_MAX;
    for (int i = 0; i < g.nconns; i++) {
        conn *c = &g.conns[i];
        if (c->fd >= 0 && c->write_wake && c->write_wake <= now) {
            c->write_wake = 0;
            flush_out(c, now);
        }
        if (c->fd >= 0 && c->read_wake && c->read_wake <= now) {
            c->read_wake = 0;
            watch(c);
        }
        if (c->fd >= 0 && c->write_wake && c->write_wake < next)
            next = c->write_wake;
        if (c->fd >= 0 && c->read_wake && c->read_wake < next)
            next = c->read_wake;
    }
    return next == UINT64_MAX ? 1000 : (int)((next - now + 999999u) / 1000000u);
}

static void print_counts(const char *label, uint64_t a, uint64_t b)
{
    printf("%s rounds=%llu bytes=%llu sessions=%llu lost=%llu corrupt=%llu errors=%llu", label,
           (unsigned long long)a, (unsigned long long)b, (unsigned long long)g.sessions,
           (unsigned long long)g.lost, (unsigned long long)g.corrupt,
           (unsigned long long)g.errors);
}

static void usage(void)
{
    fprintf(stderr, "usage: faults --port P [--proto echo|resp] [--connections C] "
                    "[--seconds S] [--seed N]\n");
    exit(2);
}

int main(int argc, char **argv)
{
    int port = 0;
    g.nconns = 32;
    g.seconds = 10;
    g.rng = (uint64_t)now_ns() | 1;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            usage();
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--port") == 0)
            port = atoi(v);
        else if (strcmp(k, "--proto") == 0 && (!strcmp(v, "echo") || !strcmp(v, "resp")))
            g.resp = strcmp(v, "resp") == 0;
        else if (strcmp(k, "--connections") == 0)
            g.nconns = atoi(v);
        else if (strcmp(k, "--seconds") == 0)
            g.seconds = atoi(v);
        else if (strcmp(k, "--seed") == 0)
            g.rng = strtoull(v, NULL, 10) | 1;
        else
            usage();
    }
    if (port <= 0 || port > 65535 || g.nconns < 1 || g.nconns > 10000 || g.seconds < 1)
        usage();
    printf("seed=%llu\n", (unsigned long long)g.rng);
    g.addr.sin_family = AF_INET;
    g.addr.sin_port = htons((uint16_t)port);
    g.addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (size_t i = 0; i < sizeof g.pattern; i++)
        g.pattern[i] = (unsigned char)(i % PERIOD);
    signal(SIGPIPE, SIG_IGN);
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    g.conns = calloc((size_t)g.nconns, sizeof *g.conns);
    if (g.ep < 0 || !g.conns)
        die("setup", errno ? errno : ENOMEM);
    for (int i = 0; i < g.nconns; i++) {
        g.conns[i].slot = i;
        start_session(&g.conns[i]);
    }

    uint64_t start = now_ns(), end = start + (uint64_t)g.seconds * 1000000000u;
    uint64_t next_second = start + 1000000000u;
    struct epoll_event evs[256];
    for (int second = 1;;) {
        uint64_t now = now_ns();
        if (now >= next_second) {
            char label[32];
            snprintf(label, sizeof label, "second=%d", second++);
            print_counts(label, g.second_rounds, g.second_bytes);
            printf("\n");
            fflush(stdout);
            g.second_rounds = g.second_bytes = 0;
            next_second += 1000000000u;
        }
        if (now >= end)
            break;
        int timeout = wake_paused(now);
        int to_second = (int)((next_second - now) / 1000000u) + 1;
        if (timeout > to_second)
            timeout = to_second;
        int n = epoll_wait(g.ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait", errno);
        now = now_ns();
        for (int i = 0; i < n; i++) {
            conn *c = &g.conns[(uint32_t)evs[i].data.u64];
            if (c->fd < 0 || c->gen != (uint32_t)(evs[i].data.u64 >> 32))
                continue; /* for a session that has ended since */
            if (c->connecting) {
                connected(c, now);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                read_in(c, now);
            if ((evs[i].events & EPOLLOUT) && c->gen == (uint32_t)(evs[i].data.u64 >> 32) &&
                c->fd >= 0)
                flush_out(c, now);
        }
    }
    for (int i = 0; i < g.nconns; i++) /* sessions still running end here: not counted */
        if (g.conns[i].fd >= 0) {
            struct linger l = {1, 0};
            setsockopt(g.conns[i].fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
            close(g.conns[i].fd);
        }
    print_counts("total", g.rounds, g.bytes);
    for (int k = 0; k < NKINDS; k++)
        printf(" %s=%llu", kind_names[k], (unsigned long long)g.by_kind[k]);
    printf("\n");
    return g.lost || g.corrupt || g.errors || g.sessions == 0 ? 1 : 0;
}
