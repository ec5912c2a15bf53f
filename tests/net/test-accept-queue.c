/* Listeners accepting by completion (io_uring's multishot accept into the registration's
 * queue: io/inbox.h, "accept queue"), on the backend the environment chooses (epoll by default;
 * CI runs the suite again with EDO_IO_BACKEND=uring), on io_uring, and on io_uring told not to
 * (the fallback: accept(2) on readiness, as on a kernel without multishot accept), so every
 * promise holds on all three:
 *  - connections accepted in both forms (coroutine, future), with their peers' addresses, and
 *    echoed; on io_uring a listener made on a worker accepts by completion;
 *  - a listener closed with connections accepted but not taken closes them: the process has
 *    as many sockets open as before (a count of /proc/self/fd);
 *  - the queue stops at its cap (the accept is cancelled) and the listen backlog pushes back:
 *    a connect hangs once the queue and the backlog are full, not before; once the queue is
 *    drained, the accept is armed again and new connections are accepted.
 * The io_uring cases skip where the kernel has no io_uring. */
#include <dirent.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/runtime.h"
#include "harness.h"
#include "io/backend.h"
#include "io/driver.h"
#include "io/inbox.h"
#include "io/registration.h"
#include "uring_util.h"
#include "util.h"

typedef enum { ENV_BACKEND, URING, URING_NO_ACCEPT } backend;

static bool must_accept;     /* the runtime the body runs on accepts by completion */
static bool must_not_accept; /* it was told not to */

/* Whether the kernel has multishot accept. */
static bool kernel_accepts(void)
{
    edo__ring r;
    if (edo__ring_init(&r, NULL) < 0)
        return false;
    bool yes = edo__ring_probe_accept_multishot(&r) == 1;
    edo__ring_destroy(&r);
    return yes;
}

/* A multi-thread runtime of 2 workers on `which` backend; NULL where io_uring is missing. */
static edo_runtime *rt_on(backend which)
{
    if (which != ENV_BACKEND && !have_uring())
        return NULL;
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_MULTI_THREAD, .worker_threads = 2,
                              .io_backend = which != ENV_BACKEND ? EDO_IO_BACKEND_IO_URING : 0};
    edo__io_uring_set_accepts(which != URING_NO_ACCEPT);
    edo_runtime *rt;
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    edo__io_uring_set_accepts(true); /* its workers' lanes keep what they were made with */
    must_accept = rt->io.kind == &edo__io_uring && which != URING_NO_ACCEPT && kernel_accepts();
    must_not_accept = which == URING_NO_ACCEPT;
    return rt;
}

static void run_all(void *(*fn)(void *))
{
    for (int which = ENV_BACKEND; which <= URING_NO_ACCEPT; which++) {
        edo_runtime *rt = rt_on((backend)which);
        if (!rt)
            return;
        run_on(rt, fn, (void *)(intptr_t)which);
        edo_runtime_free(rt);
    }
}

/* A listener on loopback (made by this task, on its worker), its address in *addr; checks it
 * accepts by completion exactly where it must. */
static edo_tcp_listener *listener(int backlog, edo_sockaddr *addr)
{
    edo_tcp_listen_options opt = {.backlog = backlog};
    edo_tcp_listener *l;
    CHECK_EQ(edo_tcp_listen("127.0.0.1:0", &opt, &l), 0);
    CHECK_EQ(edo_tcp_listener_local_addr(l, addr), 0);
    bool by_completion = ((edo_io *)l)->recv_mode == EDO__IO_RECV_ACCEPTS;
    CHECK(by_completion || !must_accept);
    CHECK(!by_completion || !must_not_accept);
    return l;
}

/* How many TCP sockets the process has open (each accepted connection is one, in the queue;
 * the runtime's own probes of the kernel use Unix sockets for a moment, which are not
 * counted). */
static int open_sockets(void)
{
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) {
        int fd = atoi(e->d_name), domain;
        socklen_t len = sizeof domain;
        n += fd != dirfd(d) && getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 &&
             domain == AF_INET;
    }
    closedir(d);
    return n;
}

#define CLIENTS 16

/* How many connections the listener's queue holds (a peek: it takes none). */
static int queued(edo_tcp_listener *l)
{
    int fds[CLIENTS + 1];
    struct iovec all = {fds, sizeof fds};
    bool drained, ask;
    ssize_t n = edo__inbox_take(((edo_io *)l)->inbox, &all, 1, true, &drained, &ask);
    CHECK(!ask); /* the accept is armed: nothing to ask */
    return n > 0 ? (int)(n / (ssize_t)sizeof fds[0]) : 0;
}

/* Yields (so that this worker looks at its ring: the completions may be its to reap) until
 * `cond` holds; fails after 60 s. */
#define YIELD_UNTIL(cond)                                                                      \
    do {                                                                                       \
        double until_ = now_s() + 60.0;                                                        \
        while (!(cond)) {                                                                      \
            CHECK(now_s() < until_);                                                           \
            CHECK_EQ(edo_yield(), 0);                                                          \
        }                                                                                      \
    } while (0)

static void *accept_forms_body(void *arg)
{
    (void)arg;
    edo_sockaddr addr;
    edo_tcp_listener *l = listener(0, &addr);
    edo_tcp *clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        CHECK_EQ(edo_tcp_connect_addr(&addr, &clients[i]), 0);
        edo_tcp *s = NULL;
        edo_sockaddr peer, expect;
        if (i % 2) { /* the future form, awaited */
            edo_socket_future f;
            edo_tcp_accept_future_init(&f, l, &peer);
            CHECK_EQ(edo_await(&f.base, NULL), 0);
            CHECK_EQ(f.result, 0);
            s = f.socket;
        } else {
            CHECK_EQ(edo_tcp_accept(l, &s, &peer), 0);
        }
        /* The peer's address, as accept(2) would give it. */
        CHECK_EQ(edo_tcp_local_addr(clients[i], &expect), 0);
        CHECK_EQ(peer.len, expect.len);
        CHECK(memcmp(&peer.u.in, &expect.u.in, sizeof peer.u.in) == 0);
        char c = (char)('a' + i);
        CHECK_EQ(edo_tcp_write_all(clients[i], &c, 1), 0);
        char got;
        CHECK_EQ(edo_tcp_read(s, &got, 1), 1);
        CHECK_EQ(got, c);
        edo_tcp_close(s);
    }
    for (int i = 0; i < CLIENTS; i++)
        edo_tcp_close(clients[i]);
    CHECK_EQ(edo_tcp_listener_close(l), 0);
    return NULL;
}

TEST(accept_both_forms_with_peer_addresses) { run_all(accept_forms_body); }

static void *close_with_queued_body(void *arg)
{
    (void)arg;
    edo_sockaddr addr;
    edo_tcp_listener *l = listener(0, &addr);
    /* TCP sockets only: the runtime makes fds of its own as it goes (the default backend with
     * the first registration, a worker's ring when it starts, its probes). */
    int before = open_sockets();
    /* One accepted and closed: the accept is armed from now on (by completion). Their files
     * may outlive their close by a moment (a poll in another worker's ring lets go when that
     * worker has cancelled it). */
    edo_tcp *c, *s;
    CHECK_EQ(edo_tcp_connect_addr(&addr, &c), 0);
    CHECK_EQ(edo_tcp_accept(l, &s, NULL), 0);
    edo_tcp_close(s);
    edo_tcp_close(c);
    YIELD_UNTIL(open_sockets() == before);
    /* Connections nobody takes: in the listener's queue by completion (each an fd of this
     * process: the count says when all are there), in the kernel's listen queue otherwise. */
    edo_tcp *clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        CHECK_EQ(edo_tcp_connect_addr(&addr, &clients[i]), 0);
    if (must_accept) { /* all of them reaped into the queue, not just accepted by the kernel */
        YIELD_UNTIL(queued(l) == CLIENTS);
        CHECK_EQ(open_sockets(), before + 2 * CLIENTS);
    }
    CHECK_EQ(edo_tcp_listener_close(l), 0);
    for (int i = 0; i < CLIENTS; i++)
        edo_tcp_close(clients[i]);
    /* Every accepted fd closed, with none left for the ring's owner to find later. */
    YIELD_UNTIL(open_sockets() == before - 1);
    return NULL;
}

TEST(listener_closed_with_queued_connections_leaves_no_fd) { run_all(close_with_queued_body); }

#define CAP 4
#define BACKLOG 1
#define MAX_FILL (CAP + BACKLOG + 8)

/* Connects until a connect hangs (the queue and the backlog are full): how many did. A connect
 * that times out before that only lost its SYN (loopback drops packets under load) and is tried
 * again. Linux's listen queue holds backlog + 1 connections. Yields after each, so that the
 * listener's worker reaps what its accept took: the cap is counted by the reaper, and the
 * kernel may accept more than it while the worker runs a task that does not yield (a loopback
 * connect completes without waiting). */
static int fill(const edo_sockaddr *addr, edo_tcp **fillers, int at_least)
{
    int n = 0;
    for (int tries = 0;; tries++) {
        CHECK(tries < 60 && n < MAX_FILL);
        edo_instant saved;
        edo_deadline_push(edo_after(EDO_MSEC(50)), &saved);
        int rc = edo_tcp_connect_addr(addr, &fillers[n]);
        edo_deadline_pop(saved);
        CHECK_EQ(edo_yield(), 0);
        if (rc == 0)
            n++;
        else if (rc == -ETIMEDOUT && n >= at_least)
            return n; /* this one hung: all is full */
        else
            CHECK_EQ(rc, -ETIMEDOUT);
    }
}

static void *cap_body(void *arg)
{
    (void)arg;
    edo__inbox_set_accept_cap(CAP);
    edo_sockaddr addr;
    edo_tcp_listener *l = listener(BACKLOG, &addr);
    edo__inbox_set_accept_cap(0); /* the listener keeps the cap it was made with */
    edo_tcp *c, *s;
    /* The first accept arms the accept (by completion): until then the backlog alone fills. */
    CHECK_EQ(edo_tcp_connect_addr(&addr, &c), 0);
    CHECK_EQ(edo_tcp_accept(l, &s, NULL), 0);
    edo_tcp_close(s);
    edo_tcp_close(c);
    /* By completion the queue takes CAP before the accept is stopped, then the kernel's queue
     * its backlog + 1: a connect hangs only then. On readiness, the backlog + 1 alone. */
    edo_tcp *fillers[MAX_FILL];
    int n = fill(&addr, fillers, must_accept ? CAP + BACKLOG + 1 : BACKLOG + 1);
    CHECK(n <= (must_accept ? CAP + BACKLOG + 3 : BACKLOG + 3));
    /* Drained, the accept is armed again: every one is taken, and a new one too. */
    for (int i = 0; i < n; i++) {
        CHECK_EQ(edo_tcp_accept(l, &s, NULL), 0);
        edo_tcp_close(s);
    }
    CHECK_EQ(edo_tcp_connect_addr(&addr, &c), 0);
    CHECK_EQ(edo_tcp_accept(l, &s, NULL), 0);
    CHECK_EQ(edo_tcp_write_all(c, "x", 1), 0);
    char got;
    CHECK_EQ(edo_tcp_read(s, &got, 1), 1);
    edo_tcp_close(s);
    edo_tcp_close(c);
    for (int i = 0; i < n; i++)
        edo_tcp_close(fillers[i]);
    CHECK_EQ(edo_tcp_listener_close(l), 0);
    return NULL;
}

TEST(queue_stops_at_its_cap_and_the_backlog_pushes_back) { run_all(cap_body); }
