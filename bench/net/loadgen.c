/* The load generator of the network benchmarks: one thread, one epoll loop, the same program
 * for every server (edo, Tokio, Go, raw epoll).
 *
 *   loadgen --port P [--host 127.0.0.1] [--connections C] [--depth D] [--seconds S] [--size N]
 *           [--progress 1]
 *   loadgen --port P --idle N
 *
 * Load mode: opens C connections (at most 256 connecting at once), then for S seconds each keeps
 * D requests of N bytes in flight: D = 1 is request/response, D > 1 pipelines. A request's
 * latency runs from the moment it is handed to write() to the moment the last byte of its echo
 * is read. Every byte that comes back is checked against what was sent (the stream is a
 * pattern with a period prime to the request size, so lost, repeated or reordered bytes show).
 * At the end it prints one line:
 *
 *   rps=X p50_us=Y p99_us=Z p999_us=W requests=N
 *
 * (requests: how many completed in the S seconds; rps = requests / S.) With --progress 1 it
 * also prints, on stderr, a line each second while it measures (tests/soak.sh plots them):
 *
 *   progress t=SECONDS requests=N      (N: completed since the previous line)
 *
 * Idle mode: opens N connections, makes one N-byte round trip on each (so that the server has
 * set up everything a connection needs), prints "idle=N" and holds them until SIGTERM or
 * SIGINT, then resets them (SO_LINGER 0: no TIME_WAIT left behind) and exits.
 *
 * Exit status: 0, 1 on a connection error or a wrong byte, 2 on a bad command line. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* accept4, memmem, signalfd */
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
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#define PERIOD 251         /* the sent stream is byte k = k % PERIOD */
#define MAX_CONNECTING 256 /* connects in flight at once */
#define HIST_US (1u << 20) /* 1 µs buckets up to about a second; slower ones land in the last */
#define READ_BUF (64 * 1024)

typedef struct conn {
    int fd;
    int state;         /* CONNECTING, RUNNING, IDLE */
    uint64_t sent;     /* bytes handed to write() */
    uint64_t queued;   /* bytes that should have been written (sent <= queued) */
    uint64_t received; /* bytes read back */
    uint64_t done;     /* requests whose echo is complete */
    uint64_t *stamp;   /* ring of `depth` request start times, ns */
    bool want_out;     /* EPOLLOUT is armed (a write was short) */
} conn;

enum { CONNECTING, RUNNING, IDLE };

static struct {
    struct sockaddr_in addr;
    int connections, depth, seconds, idle;
    size_t size;
    int ep;
    conn *conns;
    uint64_t *stamps;
    unsigned char *pattern; /* PERIOD + the longest write */
    int connecting, ready;  /* connects in flight; connections up */
    int next;               /* the next connection to open */
    bool measuring, progress;
    uint64_t requests;
    uint64_t next_report, reported; /* --progress: when the next line is due; requests then */
    uint64_t *hist;
} g;

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what, int err)
{
    fprintf(stderr, "loadgen: %s: %s\n", what, strerror(err));
    exit(1);
}

static void arm(conn *c, uint32_t events, int op)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    if (epoll_ctl(g.ep, op, c->fd, &ev) < 0)
        die("epoll_ctl", errno);
}

static void open_next(void)
{
    conn *c = &g.conns[g.next++];
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        die("socket", errno);
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (struct sockaddr *)&g.addr, sizeof g.addr) < 0 && errno != EINPROGRESS)
        die("connect", errno);
    c->state = CONNECTING;
    g.connecting++;
    arm(c, EPOLLOUT, EPOLL_CTL_ADD);
}

/* Opens connections until MAX_CONNECTING are in flight or all are open. */
static void open_more(int total)
{
    while (g.next < total && g.connecting < MAX_CONNECTING)
        open_next();
}

/* Writes what is queued; arms EPOLLOUT when the socket is full, disarms it once drained. */
static void flush(conn *c)
{
    while (c->sent < c->queued) {
        ssize_t n = write(c->fd, g.pattern + c->sent % PERIOD, (size_t)(c->queued - c->sent));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN)
                die("write", errno);
            if (!c->want_out) {
                c->want_out = true;
                arm(c, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
            }
            return;
        }
        c->sent += (uint64_t)n;
    }
    if (c->want_out) {
        c->want_out = false;
        arm(c, EPOLLIN, EPOLL_CTL_MOD);
    }
}

/* Queues `k` more requests, all started at `t`. */
static void send_requests(conn *c, uint64_t k, uint64_t t)
{
    uint64_t first = c->queued / g.size;
    for (uint64_t i = 0; i < k; i++)
        c->stamp[(first + i) % (uint64_t)g.depth] = t;
    c->queued += k * g.size;
    flush(c);
}

static void connected(conn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err)
        die("connect", err);
    g.connecting--;
    c->state = RUNNING;
    arm(c, EPOLLIN, EPOLL_CTL_MOD);
    if (g.idle) /* one round trip, then the connection idles */
        send_requests(c, 1, now_ns());
    else
        g.ready++;
}

static void readable(conn *c, unsigned char *buf)
{
    ssize_t n = read(c->fd, buf, READ_BUF);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n < 0)
        die("read", errno);
    if (n == 0) {
        fprintf(stderr, "loadgen: the server closed a connection\n");
        exit(1);
    }
    if (c->received + (uint64_t)n > c->sent ||
        memcmp(buf, g.pattern + c->received % PERIOD, (size_t)n) != 0) {
        fprintf(stderr, "loadgen: wrong bytes echoed at offset %llu\n",
                (unsigned long long)c->received);
        exit(1);
    }
    c->received += (uint64_t)n;
    uint64_t complete = c->received / g.size, k = complete - c->done;
    if (k == 0)
        return;
    uint64_t t = now_ns();
    if (g.measuring) {
        for (uint64_t i = c->done; i < complete; i++) {
            uint64_t us = (t - c->stamp[i % (uint64_t)g.depth]) / 1000;
            g.hist[us < HIST_US ? us : HIST_US - 1]++;
        }
        g.requests += k;
    }
    c->done = complete;
    if (c->state == IDLE)
        return;
    if (g.idle) {
        c->state = IDLE;
        g.ready++;
        open_more(g.idle);
        return;
    }
    if (g.measuring)
        send_requests(c, k, t);
}

static double percentile(double q)
{
    uint64_t want = (uint64_t)(q * (double)g.requests), seen = 0;
    if (want == 0)
        want = 1;
    for (uint32_t us = 0; us < HIST_US; us++)
        if ((seen += g.hist[us]) >= want)
            return us + 0.5; /* the bucket's middle */
    return HIST_US;
}

/* --progress: a line for each second that has passed since the last. */
static void report_progress(uint64_t t, uint64_t start)
{
    for (; t >= g.next_report; g.next_report += 1000000000u) {
        fprintf(stderr, "progress t=%llu requests=%llu\n",
                (unsigned long long)((g.next_report - start) / 1000000000u),
                (unsigned long long)(g.requests - g.reported));
        g.reported = g.requests;
    }
}

/* Runs the loop until `until` (ns) or, when 0, until stop_fd says so or every connection is
 * ready (idle mode waits for the signal after that). */
static void loop(uint64_t until, int stop_fd)
{
    static unsigned char buf[READ_BUF];
    struct epoll_event evs[256];
    for (;;) {
        int timeout = -1;
        if (until) {
            uint64_t t = now_ns();
            if (t >= until)
                return;
            uint64_t wake = until;
            if (g.progress && g.measuring) {
                report_progress(t, until - (uint64_t)g.seconds * 1000000000u);
                wake = g.next_report < until ? g.next_report : until;
            }
            timeout = (int)((wake - t) / 1000000) + 1;
        } else if (stop_fd < 0 && g.ready == g.connections) {
            return;
        }
        int n = epoll_wait(g.ep, evs, 256, timeout);
        if (n < 0 && errno != EINTR)
            die("epoll_wait", errno);
        for (int i = 0; i < n; i++) {
            if (evs[i].data.ptr == NULL) /* the signalfd */
                return;
            conn *c = evs[i].data.ptr;
            if (c->state == CONNECTING) {
                connected(c);
                if (!g.idle)
                    open_more(g.connections);
                continue;
            }
            if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                readable(c, buf);
            if ((evs[i].events & EPOLLOUT) && c->fd >= 0)
                flush(c);
        }
    }
}

static void usage(void)
{
    fprintf(stderr, "usage: loadgen --port P [--host IP] [--connections C] [--depth D] "
                    "[--seconds S] [--size N] [--progress 1]\n"
                    "       loadgen --port P [--host IP] --idle N\n");
    exit(2);
}

int main(int argc, char **argv)
{
    const char *host = "127.0.0.1";
    int port = 0;
    g.connections = 50;
    g.depth = 1;
    g.seconds = 5;
    g.size = 64;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc)
            usage();
        const char *k = argv[i], *v = argv[i + 1];
        if (strcmp(k, "--port") == 0)
            port = atoi(v);
        else if (strcmp(k, "--host") == 0)
            host = v;
        else if (strcmp(k, "--connections") == 0)
            g.connections = atoi(v);
        else if (strcmp(k, "--depth") == 0)
            g.depth = atoi(v);
        else if (strcmp(k, "--seconds") == 0)
            g.seconds = atoi(v);
        else if (strcmp(k, "--size") == 0)
            g.size = (size_t)atol(v);
        else if (strcmp(k, "--idle") == 0)
            g.idle = atoi(v);
        else if (strcmp(k, "--progress") == 0)
            g.progress = atoi(v) != 0;
        else
            usage();
    }
    if (port <= 0 || port > 65535 || g.connections < 1 || g.depth < 1 || g.seconds < 1 ||
        g.size < 1 || g.size > 65536 || g.idle < 0)
        usage();
    g.addr.sin_family = AF_INET;
    g.addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &g.addr.sin_addr) != 1)
        usage();
    if (g.idle) {
        g.connections = g.idle;
        g.depth = 1;
    }

    signal(SIGPIPE, SIG_IGN);
    size_t longest = (size_t)g.depth * g.size;
    g.conns = calloc((size_t)g.connections, sizeof *g.conns);
    g.stamps = calloc((size_t)g.connections * (size_t)g.depth, sizeof *g.stamps);
    g.pattern = malloc(PERIOD + longest);
    g.hist = calloc(HIST_US, sizeof *g.hist);
    g.ep = epoll_create1(EPOLL_CLOEXEC);
    if (!g.conns || !g.stamps || !g.pattern || !g.hist)
        die("calloc", ENOMEM);
    if (g.ep < 0)
        die("epoll_create1", errno);
    for (size_t i = 0; i < PERIOD + longest; i++)
        g.pattern[i] = (unsigned char)(i % PERIOD);
    for (int i = 0; i < g.connections; i++) {
        g.conns[i].fd = -1;
        g.conns[i].stamp = g.stamps + (size_t)i * (size_t)g.depth;
    }

    if (g.idle) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigprocmask(SIG_BLOCK, &set, NULL);
        int sfd = signalfd(-1, &set, SFD_CLOEXEC);
        if (sfd < 0)
            die("signalfd", errno);
        open_more(g.idle);
        loop(0, -1);
        printf("idle=%d\n", g.ready);
        fflush(stdout);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        epoll_ctl(g.ep, EPOLL_CTL_ADD, sfd, &ev);
        loop(0, sfd);
        struct linger reset = {1, 0};
        for (int i = 0; i < g.connections; i++) {
            setsockopt(g.conns[i].fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
            close(g.conns[i].fd);
        }
        return 0;
    }

    open_more(g.connections);
    loop(0, -1); /* every connection is up */
    uint64_t start = now_ns();
    g.measuring = true;
    g.next_report = start + 1000000000u;
    for (int i = 0; i < g.connections; i++)
        send_requests(&g.conns[i], (uint64_t)g.depth, start);
    loop(start + (uint64_t)g.seconds * 1000000000u, -1);
    double elapsed = (double)(now_ns() - start) / 1e9;
    printf("rps=%.0f p50_us=%.1f p99_us=%.1f p999_us=%.1f requests=%llu\n",
           (double)g.requests / elapsed, percentile(0.50), percentile(0.99), percentile(0.999),
           (unsigned long long)g.requests);
    for (int i = 0; i < g.connections; i++)
        close(g.conns[i].fd);
    return g.requests ? 0 : 1;
}
