/* The reactor through its public face (edo/io.h): readiness waits on pipes and socket pairs,
 * many waiters on one fd, clearing readiness, deregistration while waiting, slot reuse with a
 * new generation, cancellation and deadlines, both runtime flavours, bad input. */
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

static void nonblocking_pipe(int fds[2]) { CHECK_EQ(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0); }

/* A fresh registration starts out ready; make it learn that the (empty) fd is not readable,
 * as an operation that would block does. */
static void forget_readable(edo_io *io)
{
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    edo_io_waiter w;
    edo_io_waiter_init(&w);
    edo_io_event ev;
    int rc;
    CHECK_EQ(edo_io_poll_ready(io, EDO_READABLE, &w, &cx, &ev, &rc), EDO_READY);
    CHECK_EQ(rc, 0);
    edo_io_clear_ready(io, ev);
    edo_io_waiter_init(&w);
    CHECK_EQ(edo_io_poll_ready(io, EDO_READABLE, &w, &cx, &ev, &rc), EDO_PENDING);
    edo_io_waiter_drop(io, &w);
}

typedef struct {
    int fd;
    edo_io *io;
    _Atomic int started;
    char got[64];
    int rc;
} reader;

/* Reads until it has `len` bytes of a message, waiting for readiness in between. */
static void *read_message(void *arg)
{
    reader *r = arg;
    atomic_store(&r->started, 1);
    size_t have = 0;
    while (have < 5) {
        ssize_t n = read(r->fd, r->got + have, sizeof r->got - have);
        if (n > 0) {
            have += (size_t)n;
            continue;
        }
        CHECK(n < 0 && errno == EAGAIN);
        edo_io_event ev = {0};
        /* Readiness seen first, then cleared after EAGAIN. */
        int rc = edo_io_ready(r->io, EDO_READABLE, &ev);
        if (rc < 0) {
            r->rc = rc;
            return NULL;
        }
        n = read(r->fd, r->got + have, sizeof r->got - have);
        if (n < 0 && errno == EAGAIN) {
            edo_io_clear_ready(r->io, ev);
            continue;
        }
        CHECK(n > 0);
        have += (size_t)n;
    }
    r->rc = (int)have;
    return NULL;
}

static void pipe_wakes_reader(edo_runtime_flavor flavor)
{
    edo_runtime *rt = new_rt(flavor, 2);
    int fds[2];
    nonblocking_pipe(fds);
    reader r = {.fd = fds[0]};
    CHECK_EQ(edo_io_register_on(rt, fds[0], &r.io), 0);
    CHECK_EQ(edo_io_fd(r.io), fds[0]);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, read_message, &r, &t), 0);
    if (flavor == EDO_RUNTIME_MULTI_THREAD) {
        WAIT_UNTIL(atomic_load(&r.started));
        usleep(5000); /* let it park in epoll */
    }
    /* Two writes: the second edge arrives while (or after) the first is being read. */
    CHECK_EQ(write(fds[1], "he", 2), 2);
    CHECK_EQ(write(fds[1], "llo", 3), 3);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    CHECK_EQ(r.rc, 5);
    CHECK(memcmp(r.got, "hello", 5) == 0);
    edo_task_free(t);
    edo_io_deregister(r.io);
    close(fds[0]);
    close(fds[1]);
    edo_runtime_free(rt);
}

TEST(pipe_wakes_reader_multi_thread) { pipe_wakes_reader(EDO_RUNTIME_MULTI_THREAD); }
TEST(pipe_wakes_reader_current_thread) { pipe_wakes_reader(EDO_RUNTIME_CURRENT_THREAD); }

/* Many coroutines wait for the same fd; one write wakes them all. */
typedef struct {
    edo_io *io;
    _Atomic int waiting, woken;
} crowd;

static void *wait_readable(void *arg)
{
    crowd *c = arg;
    edo_io_event ev;
    atomic_fetch_add(&c->waiting, 1);
    CHECK_EQ(edo_io_ready(c->io, EDO_READABLE, &ev), 0);
    CHECK(ev.ready & EDO_READABLE);
    atomic_fetch_add(&c->woken, 1);
    return NULL;
}

TEST(many_waiters_one_fd)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    int fds[2];
    nonblocking_pipe(fds);
    crowd c = {0};
    CHECK_EQ(edo_io_register_on(rt, fds[0], &c.io), 0);
    forget_readable(c.io);
    enum { N = 50 };
    edo_task *t[N];
    for (int i = 0; i < N; i++)
        CHECK_EQ(edo_spawn_with(rt, NULL, wait_readable, &c, &t[i]), 0);
    WAIT_UNTIL(atomic_load(&c.waiting) == N);
    usleep(5000);
    CHECK_EQ(atomic_load(&c.woken), 0);
    CHECK_EQ(write(fds[1], "x", 1), 1);
    for (int i = 0; i < N; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    CHECK_EQ(atomic_load(&c.woken), N);
    edo_io_deregister(c.io);
    close(fds[0]);
    close(fds[1]);
    edo_runtime_free(rt);
}

/* A clear with a stale event (an edge came after it) keeps the readiness. */
TEST(stale_clear_keeps_readiness)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    int sv[2];
    CHECK_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    edo_io *io;
    CHECK_EQ(edo_io_register_on(rt, sv[0], &io), 0);
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    edo_io_waiter w;
    edo_io_waiter_init(&w);
    edo_io_event first, second;
    int rc;
    CHECK_EQ(edo_io_poll_ready(io, EDO_READABLE, &w, &cx, &first, &rc), EDO_READY);
    edo_io_clear_ready(io, first); /* fresh registrations are optimistic: clear it */
    edo_io_waiter_init(&w);
    CHECK_EQ(edo_io_poll_ready(io, EDO_READABLE, &w, &cx, &second, &rc), EDO_PENDING);
    edo_io_waiter_drop(io, &w);
    CHECK_EQ(edo_io_poll_ready(io, EDO_WRITABLE, &w, &cx, &second, &rc), EDO_READY);
    /* Clearing readable with the first event again is harmless: it is already clear. */
    edo_io_clear_ready(io, first);
    edo_io_deregister(io);
    close(sv[0]);
    close(sv[1]);
    edo_runtime_free(rt);
}

/* Deregistering wakes waiters with -EBADF; the slot is reused under a new generation. */
typedef struct {
    edo_io *io;
    _Atomic int waiting;
    int rc;
} lone_waiter;

static void *wait_and_record(void *arg)
{
    lone_waiter *l = arg;
    edo_io_event ev;
    atomic_store(&l->waiting, 1);
    l->rc = edo_io_ready(l->io, EDO_READABLE, &ev);
    return NULL;
}

TEST(deregister_while_waiting_and_slot_reuse)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    int fds[2];
    nonblocking_pipe(fds);
    lone_waiter l = {0};
    CHECK_EQ(edo_io_register_on(rt, fds[0], &l.io), 0);
    forget_readable(l.io);
    edo_io_event ev;
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, wait_and_record, &l, &t), 0);
    WAIT_UNTIL(atomic_load(&l.waiting));
    usleep(5000);
    edo_io *old = l.io;
    edo_io_deregister(l.io);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    CHECK_EQ(l.rc, -EBADF);
    edo_task_free(t);
    close(fds[0]);
    close(fds[1]);
    /* The next registration takes the freed slot, with a new generation: a wait that began on
     * the old one sees the change. */
    nonblocking_pipe(fds);
    edo_io *again;
    CHECK_EQ(edo_io_register_on(rt, fds[0], &again), 0);
    CHECK(again == old);
    edo_io_waiter stale;
    edo_io_waiter_init(&stale);
    stale.generation_ = 1; /* the first registration's */
    edo_waker noop = edo_waker_noop();
    edo_context cx = {&noop, NULL};
    int rc;
    CHECK_EQ(edo_io_poll_ready(again, EDO_READABLE, &stale, &cx, &ev, &rc), EDO_READY);
    CHECK_EQ(rc, -EBADF);
    edo_io_deregister(again);
    close(fds[0]);
    close(fds[1]);
    edo_runtime_free(rt);
}

static void *wait_forever(void *arg)
{
    lone_waiter *l = arg;
    edo_io_event ev;
    /* Make it wait: the fresh registration says ready; read says empty. */
    CHECK_EQ(edo_io_ready(l->io, EDO_READABLE, &ev), 0);
    edo_io_clear_ready(l->io, ev);
    atomic_store(&l->waiting, 1);
    l->rc = edo_io_ready(l->io, EDO_READABLE, &ev);
    return (void *)(intptr_t)l->rc;
}

/* Runs fn as a coroutine waiting on an empty pipe's registration; aborts it once it waits
 * when `abort_it`. Returns the wait's result. */
static int run_lone_waiter(void *(*fn)(void *), bool abort_it)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    int fds[2];
    nonblocking_pipe(fds);
    lone_waiter l = {0};
    CHECK_EQ(edo_io_register_on(rt, fds[0], &l.io), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, fn, &l, &t), 0);
    if (abort_it) {
        WAIT_UNTIL(atomic_load(&l.waiting));
        usleep(2000);
        edo_task_abort(t);
    }
    CHECK_EQ(edo_task_join(t, NULL), abort_it ? -ECANCELED : 0);
    edo_task_free(t);
    edo_io_deregister(l.io); /* a waiter that gave up left the list: nothing to wake */
    close(fds[0]);
    close(fds[1]);
    edo_runtime_free(rt);
    return l.rc;
}

TEST(abort_while_waiting_for_io) { CHECK_EQ(run_lone_waiter(wait_forever, true), -ECANCELED); }

static void *wait_with_deadline(void *arg)
{
    lone_waiter *l = arg;
    edo_io_event ev;
    CHECK_EQ(edo_io_ready(l->io, EDO_READABLE, &ev), 0);
    edo_io_clear_ready(l->io, ev);
    edo_instant saved, start = edo_now(); /* read first: the deadline is 30 ms after this */
    CHECK_EQ(edo_deadline_push(start + EDO_MSEC(30), &saved), 0);
    l->rc = edo_io_ready(l->io, EDO_READABLE, &ev);
    CHECK(edo_now() - start >= EDO_MSEC(30)); /* never early */
    edo_deadline_pop(saved);
    return NULL;
}

TEST(io_wait_honours_deadline) { CHECK_EQ(run_lone_waiter(wait_with_deadline, false), -ETIMEDOUT); }

TEST(register_bad_input)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
    edo_io *io;
    CHECK_EQ(edo_io_register_on(rt, 0, NULL), -EINVAL);
    CHECK_EQ(edo_io_register_on(rt, -1, &io), -EINVAL);
    CHECK_EQ(edo_io_register_on(NULL, 0, &io), -EINVAL);
    CHECK_EQ(edo_io_register(0, &io), -EPERM); /* not in a runtime */
    int fds[2];
    nonblocking_pipe(fds);
    close(fds[1]);
    int unused = 1000; /* far above what this test opens (epoll's own fd comes first) */
    CHECK(fcntl(unused, F_GETFD) < 0);
    CHECK_EQ(edo_io_register_on(rt, unused, &io), -EBADF); /* not an open fd */
    CHECK_EQ(edo_io_register_on(rt, fds[0], &io), 0);
    edo_io *twice;
    CHECK_EQ(edo_io_register_on(rt, fds[0], &twice), -EEXIST);
    edo_io_deregister(io);
    close(fds[0]);
    int file = open("/proc/self/status", O_RDONLY | O_NONBLOCK);
    CHECK(file >= 0);
    CHECK_EQ(edo_io_register_on(rt, file, &io), -EPERM); /* epoll cannot watch files */
    close(file);
    edo_io_event ev;
    CHECK_EQ(edo_io_ready(NULL, EDO_READABLE, &ev), -EINVAL);
    edo_io_deregister(NULL);
    CHECK_EQ(edo_io_fd(NULL), -EINVAL);
    edo_runtime_free(rt);
}

/* A socket registered before it is connected is reported hung up by epoll. Clearing after an
 * operation that would block forgets those stale bits too, so the next wait really waits
 * (instead of spinning on "closed" bits). */
static void *stale_hangup(void *arg)
{
    (void)arg;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    CHECK(fd >= 0);
    edo_io *io;
    CHECK_EQ(edo_io_register(fd, &io), 0);
    edo_io_event ev;
    CHECK_EQ(edo_io_ready(io, EDO_READABLE, &ev), 0); /* optimistic start */
    if (!(ev.ready & (EDO_READ_CLOSED | EDO_WRITE_CLOSED))) {
        /* The other worker's poll may already have delivered the hang-up (then it is in this
         * first answer); otherwise it is the next event. */
        edo_io_clear_ready(io, ev);
        CHECK_EQ(edo_io_ready(io, EDO_READABLE, &ev), 0);
    }
    CHECK(ev.ready & (EDO_READ_CLOSED | EDO_WRITE_CLOSED));
    edo_io_clear_ready(io, ev); /* as after a read that would block */
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(20)), &saved), 0);
    CHECK_EQ(edo_io_ready(io, EDO_READABLE, &ev), -ETIMEDOUT);
    edo_deadline_pop(saved);
    edo_io_deregister(io);
    close(fd);
    return NULL;
}

TEST(stale_hangup_cleared_on_would_block)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, stale_hangup, NULL, &t), 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    edo_runtime_free(rt);
}
