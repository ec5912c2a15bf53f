/* The io_uring backend's rings per worker (src/io/uring.c, "Rings"): a worker of a
 * multi-thread runtime watches the fds it registers in a ring of its own and sleeps in it, so
 *  - a worker asleep in its ring must be woken by a spawn from another thread (a lost wake
 *    hangs the join);
 *  - a registration removed by another thread (only the owner may submit to its ring) must
 *    still let the file go at once: the peer of a closed socket sees its end of file, the
 *    writer of a closed pipe EPIPE, while the owner sleeps;
 *  - a thread that is not a worker registers in the shared ring, and its poll outlives the
 *    thread (the kernel ends it when the thread exits; it is armed again);
 *  - an fd armed in one worker's ring wakes tasks waiting on it on any worker, and one of them
 *    deregisters it wherever it runs.
 *  - a task that registered an fd on one worker and moved to another still hears of it there,
 *    and deregisters it from there;
 *  - a worker's ring with a tiny completion queue overflows, and no event is lost;
 *  - a worker sees its ring's news in shared memory, without a system call (what it watches
 *    for a moment before it sleeps), and only its own ring's.
 * Each test skips where the kernel has no io_uring. */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/runtime.h"
#include "harness.h"
#include "io/uring/ring.h"
#include "uring_util.h"
#include "util.h"

/* A multi-thread io_uring runtime of `workers` workers, or NULL where the kernel has none. */
static edo_runtime *uring_rt(unsigned workers)
{
    if (!have_uring())
        return NULL;
    edo_runtime *rt;
    edo_runtime_config cfg = {.flavor = EDO_RUNTIME_MULTI_THREAD, .worker_threads = workers,
                              .io_backend = EDO_IO_BACKEND_IO_URING};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    return rt;
}

/* Waits until `io` is readable (a fresh registration is taken for ready until cleared). */
static void wait_readable(edo_io *io)
{
    edo_io_event ev = {0};
    CHECK_EQ(edo_io_ready(io, EDO_READABLE, &ev), 0);
}

/* Makes a fresh registration of an empty fd wait for its first edge. */
static void forget_ready(edo_io *io)
{
    edo_io_event ev = {0};
    CHECK_EQ(edo_io_ready(io, EDO_READABLE, &ev), 0);
    edo_io_clear_ready(io, ev);
}

/* Reads one byte from `fd` once `io` says it is readable, waiting for edges while there is
 * none (an edge may come before its byte can be read, or be a stale one). */
static char read_byte(edo_io *io, int fd)
{
    for (;;) {
        edo_io_event ev = {0};
        CHECK_EQ(edo_io_ready(io, EDO_READABLE, &ev), 0);
        char c;
        ssize_t n = read(fd, &c, 1);
        if (n == 1)
            return c;
        CHECK(n < 0 && errno == EAGAIN);
        edo_io_clear_ready(io, ev);
    }
}

typedef struct {
    int fd;
    edo_io *io;
    bool lane;  /* the registering task's worker has a ring of its own */
    int worker; /* the index of that worker */
} registered;

/* Registers r->fd from a task: in the ring of the worker it runs on. */
static void *register_here(void *arg)
{
    registered *r = arg;
    edo_runtime *rt = edo_runtime_current();
    CHECK_EQ(edo_io_register(r->fd, &r->io), 0);
    forget_ready(r->io);
    r->lane = edo__io_has_lane(&rt->io);
    r->worker = (int)edo__worker_current()->index;
    return NULL;
}

static void *nothing(void *arg) { return arg; }

TEST(worker_asleep_in_its_ring_is_woken_from_another_thread)
{
    edo_runtime *rt = uring_rt(2);
    if (!rt)
        return;
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    registered r = {.fd = p[0]};
    run_on(rt, register_here, &r);
    CHECK(r.lane);
    /* Each spawn comes from this thread while the workers sleep in their rings (with an fd
     * registered, they never sleep elsewhere): the wake is a write to the ring's eventfd. */
    for (intptr_t i = 0; i < 2000; i++)
        CHECK(run_on(rt, nothing, (void *)i) == (void *)i);
    edo_io_deregister(r.io);
    close(p[0]);
    close(p[1]);
    edo_runtime_free(rt);
}

/* Registers `fd` from a task (in its worker's ring), then deregisters and closes it from this
 * thread, which owns no ring: the cancellation is mail to the owner, asleep in its ring. */
static void register_then_close_here(edo_runtime *rt, int fd)
{
    registered r = {.fd = fd};
    run_on(rt, register_here, &r);
    CHECK(r.lane);
    edo_io_deregister(r.io);
    close(fd);
}

TEST(socket_deregistered_by_another_thread_reaches_its_peer)
{
    edo_runtime *rt = uring_rt(2);
    if (!rt)
        return;
    for (int round = 0; round < 30; round++) {
        int sv[2];
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        register_then_close_here(rt, sv[0]);
        /* The end of file comes only once the poll let the socket go: the owner must have
         * been woken to cancel it (a bound, not a sleep: poll returns at the end of file). */
        expect_peer_eof(sv[1]);
    }
    edo_runtime_free(rt);
}

TEST(pipe_deregistered_by_another_thread_gives_its_writer_epipe)
{
    edo_runtime *rt = uring_rt(2);
    if (!rt)
        return;
    signal(SIGPIPE, SIG_IGN);
    for (int round = 0; round < 30; round++) {
        int p[2];
        CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
        register_then_close_here(rt, p[0]);
        struct pollfd pfd = {.fd = p[1], .events = 0}; /* only POLLERR: no reader left */
        CHECK_EQ(poll(&pfd, 1, 10000), 1);
        CHECK(pfd.revents & POLLERR);
        CHECK_EQ(write(p[1], "x", 1), -1);
        CHECK_EQ(errno, EPIPE);
        close(p[1]);
    }
    edo_runtime_free(rt);
}

typedef struct {
    edo_runtime *rt;
    int fd;
    edo_io *io;
} plain_reg;

static void *register_from_plain_thread(void *arg)
{
    plain_reg *r = arg;
    CHECK_EQ(edo_io_register_on(r->rt, r->fd, &r->io), 0);
    CHECK(!edo__io_has_lane(&r->rt->io));
    return NULL;
}

static void *read_one(void *arg)
{
    plain_reg *r = arg;
    return (void *)(intptr_t)read_byte(r->io, r->fd);
}

/* A thread that is not a worker registers in the shared ring and exits before the event: the
 * kernel ends the poll with the thread, a worker reaps that and arms it again, and the event
 * still reaches the reader. */
TEST(registration_from_a_thread_that_exits)
{
    edo_runtime *rt = uring_rt(2);
    if (!rt)
        return;
    for (int round = 0; round < 10; round++) {
        int p[2];
        CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
        plain_reg r = {rt, p[0], NULL};
        pthread_t th;
        CHECK_EQ(pthread_create(&th, NULL, register_from_plain_thread, &r), 0);
        CHECK_EQ(pthread_join(th, NULL), 0);
        edo_task *t;
        CHECK_EQ(edo_spawn_with(rt, NULL, read_one, &r, &t), 0);
        CHECK_EQ(write(p[1], "k", 1), 1);
        void *out;
        CHECK_EQ(edo_task_join(t, &out), 0);
        CHECK(out == (void *)(intptr_t)'k');
        edo_task_free(t);
        edo_io_deregister(r.io);
        close(p[0]);
        close(p[1]);
    }
    edo_runtime_free(rt);
}

typedef struct {
    registered *reg;
    int writer;
    _Atomic int waiting;
    _Atomic int elsewhere; /* rounds whose waiter ran on another worker than the ring's */
} spread;

/* Waits for the byte on an fd armed in another task's worker's ring, from whichever worker
 * this task runs on; the last one deregisters it there. */
static void *wait_on_shared_fd(void *arg)
{
    spread *s = arg;
    if ((int)edo__worker_current()->index != s->reg->worker)
        atomic_fetch_add(&s->elsewhere, 1);
    atomic_fetch_add(&s->waiting, 1);
    wait_readable(s->reg->io);
    return NULL;
}

TEST(fd_armed_on_one_worker_wakes_tasks_on_all)
{
    edo_runtime *rt = uring_rt(2);
    if (!rt)
        return;
    enum { ROUNDS = 20, WAITERS = 8 };
    int elsewhere = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int sv[2];
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        registered reg = {.fd = sv[0]};
        run_on(rt, register_here, &reg);
        spread s = {.reg = &reg, .writer = sv[1]};
        edo_task *t[WAITERS];
        for (int i = 0; i < WAITERS; i++)
            CHECK_EQ(edo_spawn_with(rt, NULL, wait_on_shared_fd, &s, &t[i]), 0);
        WAIT_UNTIL(atomic_load(&s.waiting) == WAITERS);
        CHECK_EQ(write(sv[1], "x", 1), 1);
        for (int i = 0; i < WAITERS; i++) {
            CHECK_EQ(edo_task_join(t[i], NULL), 0);
            edo_task_free(t[i]);
        }
        elsewhere += atomic_load(&s.elsewhere);
        /* Deregistered from this thread again, and the peer must see the close (a reset: the
         * byte was never read). */
        edo_io_deregister(reg.io);
        close(sv[0]);
        struct pollfd pfd = {.fd = sv[1], .events = POLLIN};
        CHECK_EQ(poll(&pfd, 1, 10000), 1);
        close(sv[1]);
    }
    fprintf(stderr, "%d of %d waiters ran on another worker than the fd's ring\n", elsewhere,
            ROUNDS * WAITERS);
    edo_runtime_free(rt);
}

/* ---- a task that moves to another worker ------------------------------------------------ */

typedef struct {
    int fd;
    edo_notify *go;
    int first;          /* the worker whose ring the fd is armed in */
    bool leave_at_once; /* deregister on the other worker while the first is held */
    _Atomic bool held;  /* that worker is kept busy */
    _Atomic bool moved; /* the task runs on the other worker now */
} migrant;

/* Pinned to the first worker: keeps it busy, without yielding, until the migrant runs on the
 * other (a bound, not a sleep: WAIT_UNTIL aborts after a minute). */
static void *hold_worker(void *arg)
{
    migrant *m = arg;
    atomic_store(&m->held, true);
    WAIT_UNTIL(atomic_load(&m->moved));
    return NULL;
}

/* Registers its fd where it runs, then waits to be woken from a plain thread while that worker
 * is held: the wake goes to the global queue, which only the other worker looks at meanwhile.
 * There it either deregisters the fd at once (mail to the first worker, which takes it when it
 * is let go), or waits for the fd's edge, which only the first worker reaps, and deregisters it
 * wherever that wake took it. Returns the byte read, or NULL. */
static void *migrate(void *arg)
{
    migrant *m = arg;
    edo_io *io;
    CHECK_EQ(edo_io_register(m->fd, &io), 0);
    forget_ready(io);
    CHECK(edo__io_has_lane(&edo_runtime_current()->io));
    m->first = (int)edo__worker_current()->index;
    edo_task *hold;
    CHECK_EQ(edo_spawn_local(NULL, hold_worker, m, &hold), 0);
    CHECK_EQ(edo_notify_wait(m->go), 0); /* queued before hold_worker runs: the worker is ours */
    CHECK((int)edo__worker_current()->index != m->first);
    if (m->leave_at_once) {
        edo_io_deregister(io);
        close(m->fd);
        atomic_store(&m->moved, true);
        CHECK_EQ(edo_task_join(hold, NULL), 0);
        edo_task_free(hold);
        return NULL;
    }
    atomic_store(&m->moved, true);
    char c = read_byte(io, m->fd);
    edo_io_deregister(io);
    close(m->fd);
    CHECK_EQ(edo_task_join(hold, NULL), 0);
    edo_task_free(hold);
    return (void *)(intptr_t)c;
}

TEST(task_moved_to_another_worker_hears_of_its_fd_and_deregisters_it)
{
    edo_runtime *rt = uring_rt(2);
    if (!rt)
        return;
    for (int round = 0; round < 10; round++) {
        int sv[2];
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        migrant m = {.fd = sv[0], .first = -1, .leave_at_once = round % 2};
        CHECK_EQ(edo_notify_new(&m.go), 0);
        edo_task *t;
        CHECK_EQ(edo_spawn_with(rt, NULL, migrate, &m, &t), 0);
        WAIT_UNTIL(atomic_load(&m.held));
        edo_notify_one(m.go);
        WAIT_UNTIL(atomic_load(&m.moved));
        if (!m.leave_at_once)
            CHECK_EQ(write(sv[1], "m", 1), 1);
        void *out;
        CHECK_EQ(edo_task_join(t, &out), 0);
        edo_task_free(t);
        edo_notify_free(m.go);
        CHECK(out == (m.leave_at_once ? NULL : (void *)(intptr_t)'m'));
        /* The poll was cancelled (by the first worker: told by mail where the task
         * deregistered on the other): the peer sees the close. */
        expect_peer_eof(sv[1]);
    }
    edo_runtime_free(rt);
}

/* ---- a worker's ring with a tiny completion queue ----------------------------------------- */

enum { TINY_PAIRS = 48, TINY_ROUNDS = 10 };

typedef struct {
    int fd[TINY_PAIRS];
    edo_io *io[TINY_PAIRS];
    _Atomic int taken; /* bytes all readers took */
} tiny;

typedef struct {
    tiny *t;
    int i;
} tiny_reader;

/* Registers every read end from one task, without suspending: all in its worker's ring. */
static void *register_all_here(void *arg)
{
    tiny *t = arg;
    edo_runtime *rt = edo_runtime_current();
    for (int i = 0; i < TINY_PAIRS; i++) {
        CHECK_EQ(edo_io_register(t->fd[i], &t->io[i]), 0);
        forget_ready(t->io[i]);
    }
    CHECK(edo__io_has_lane(&rt->io));
    return NULL;
}

/* Takes TINY_ROUNDS bytes from its end, one edge at a time. */
static void *take_rounds(void *arg)
{
    tiny_reader *r = arg;
    for (int got = 0; got < TINY_ROUNDS; got++) {
        CHECK_EQ(read_byte(r->t->io[r->i], r->t->fd[r->i]), 'x');
        atomic_fetch_add(&r->t->taken, 1);
    }
    return NULL;
}

/* Every fd of one worker's ring becomes readable at once, far more than its completion queue
 * holds: the kernel keeps the rest back (and ends polls it cannot post to), the worker brings
 * them in as it reaps and arms the ended polls again. Each reader must get every byte; then
 * this thread (no worker) deregisters them all at once, more cancellations in the mail than
 * the ring's submission queue takes, and every peer must still see its end of file. */
TEST(tiny_completion_queue_of_a_worker_overflows_without_loss)
{
    edo__io_uring_set_sizes(2, 4);
    edo_runtime *rt = uring_rt(2);
    edo__io_uring_set_sizes(0, 0);
    if (!rt)
        return;
    static tiny t;
    int peer[TINY_PAIRS];
    for (int i = 0; i < TINY_PAIRS; i++) {
        int sv[2];
        CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
        t.fd[i] = sv[0];
        peer[i] = sv[1];
    }
    atomic_store(&t.taken, 0);
    run_on(rt, register_all_here, &t);
    tiny_reader readers[TINY_PAIRS];
    edo_task *tasks[TINY_PAIRS];
    for (int i = 0; i < TINY_PAIRS; i++) {
        readers[i] = (tiny_reader){&t, i};
        CHECK_EQ(edo_spawn_with(rt, NULL, take_rounds, &readers[i], &tasks[i]), 0);
    }
    for (int round = 1; round <= TINY_ROUNDS; round++) {
        for (int i = 0; i < TINY_PAIRS; i++)
            CHECK_EQ(write(peer[i], "x", 1), 1);
        WAIT_UNTIL(atomic_load(&t.taken) == round * TINY_PAIRS);
    }
    for (int i = 0; i < TINY_PAIRS; i++) {
        CHECK_EQ(edo_task_join(tasks[i], NULL), 0);
        edo_task_free(tasks[i]);
    }
    /* The ring was tiny, and did overflow: else this tested nothing. */
    CHECK(edo__io_uring_lane_overflows(rt->io.backend) > 0);
    for (int i = 0; i < TINY_PAIRS; i++) {
        edo_io_deregister(t.io[i]);
        close(t.fd[i]);
    }
    for (int i = 0; i < TINY_PAIRS; i++)
        expect_peer_eof(peer[i]);
    edo_runtime_free(rt);
}

/* Takes what the calling worker's ring holds until it holds nothing (a spawn's wake, say). */
static void drain_news(edo__worker *w)
{
    for (int i = 0; i < 1000 && edo__io_lane_news(&w->rt->io); i++)
        edo__park_poll_io(w);
    CHECK(!edo__io_lane_news(&w->rt->io));
}

typedef struct {
    int p[2];     /* a pipe whose read end the first task registers */
    edo_io *io;
    _Atomic int step;
} news_pipe;

/* On the worker whose ring holds the pipe's poll: its ring has news once a byte is written,
 * before any system call of the worker's, and none once a look took it. */
static void *news_on_owner(void *arg)
{
    news_pipe *n = arg;
    edo__worker *w = edo__worker_current();
    CHECK(edo__io_has_lane(&w->rt->io));
    CHECK_EQ(edo_io_register(n->p[0], &n->io), 0);
    forget_ready(n->io);
    drain_news(w);
    CHECK_EQ(write(n->p[1], "x", 1), 1); /* the poll's wake-up is task work kept for the ring */
    CHECK(edo__io_lane_news(&w->rt->io));
    edo__park_poll_io(w); /* the look runs it and reaps the poll's completion */
    CHECK(!edo__io_lane_news(&w->rt->io));
    edo_io_event ev = {0};
    CHECK(edo_io_try_ready(n->io, EDO_READABLE, &ev) > 0);
    return NULL;
}

TEST(worker_sees_news_in_its_own_ring_without_a_system_call)
{
    edo_runtime *rt = uring_rt(2);
    if (!rt)
        return;
    news_pipe n;
    CHECK_EQ(pipe2(n.p, O_NONBLOCK | O_CLOEXEC), 0);
    run_on(rt, news_on_owner, &n);
    edo_io_deregister(n.io);
    close(n.p[0]);
    close(n.p[1]);
    edo_runtime_free(rt);
}

static void *no_news(void *arg)
{
    (void)arg;
    edo_runtime *rt = edo_runtime_current();
    CHECK(!edo__io_has_lane(&rt->io));
    int p[2];
    CHECK_EQ(pipe2(p, O_NONBLOCK | O_CLOEXEC), 0);
    edo_io *io;
    CHECK_EQ(edo_io_register(p[0], &io), 0);
    CHECK_EQ(write(p[1], "x", 1), 1);
    CHECK(!edo__io_lane_news(&rt->io)); /* no ring of its own: nothing to look at */
    edo_io_deregister(io);
    close(p[0]);
    close(p[1]);
    return NULL;
}

TEST(thread_without_a_ring_of_its_own_has_no_news)
{
    edo_runtime_config epoll = {.flavor = EDO_RUNTIME_MULTI_THREAD, .worker_threads = 2,
                                .io_backend = EDO_IO_BACKEND_EPOLL};
    edo_runtime *rt;
    CHECK_EQ(edo_runtime_new(&epoll, &rt), 0);
    run_on(rt, no_news, NULL);
    edo_runtime_free(rt);
    if (!have_uring())
        return;
    edo_runtime_config current = {.flavor = EDO_RUNTIME_CURRENT_THREAD,
                                  .io_backend = EDO_IO_BACKEND_IO_URING};
    CHECK_EQ(edo_runtime_new(&current, &rt), 0);
    run_on(rt, no_news, NULL);
    edo_runtime_free(rt);
}
