/* The child: its exit watch on the reactor, reaping, signals, its pipes, the wait and kill
 * futures and their coroutine calls.
 *
 * Waiting is the socket operation loop (net/sock.h) with waitid as the operation: try to reap
 * without blocking, and when the child still runs, wait for its pidfd to turn readable, which
 * it does when the process ends. Without a pidfd (sigchld.c) every waiting child tries again
 * at each SIGCHLD. Reaping
 * happens under the child's lock, and so does signalling: while the lock is held the pid cannot
 * be reaped and reused, so a signal never reaches a stranger. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "coro/coro.h"
#include "io/readiness.h"
#include "net/sock.h"
#include "process/process.h"

int edo__child_new(pid_t pid, int pidfd, edo_child **out)
{
    edo_child *c = calloc(1, sizeof *c);
    int rc = c ? 0 : -ENOMEM;
    if (rc == 0 && pidfd >= 0)
        rc = edo_io_register(pidfd, &c->io);
    if (rc < 0) {
        if (pidfd >= 0)
            close(pidfd);
        free(c);
        return rc;
    }
    c->pid = pid;
    c->exit_fd = pidfd;
    pthread_mutex_init(&c->lock, NULL);
    *out = c;
    return 0;
}

void edo__child_release(edo_child *c)
{
    edo_io_deregister(c->io);
    if (c->exit_fd >= 0)
        close(c->exit_fd);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static edo_exit_status status_of(const siginfo_t *info)
{
    if (info->si_code == CLD_EXITED)
        return (edo_exit_status){info->si_status, 0};
    return (edo_exit_status){-1, info->si_status}; /* CLD_KILLED, CLD_DUMPED */
}

int edo__child_try_reap(edo_child *c)
{
    pthread_mutex_lock(&c->lock);
    int rc = 0;
    if (!c->reaped) {
        siginfo_t info;
        info.si_pid = 0;
        int r;
        do
            r = c->exit_fd >= 0 ? waitid(P_PIDFD, (id_t)c->exit_fd, &info, WEXITED | WNOHANG)
                         : waitid(P_PID, (id_t)c->pid, &info, WEXITED | WNOHANG);
        while (r < 0 && errno == EINTR);
        if (r < 0)
            rc = -errno;
        else if (info.si_pid == 0)
            rc = -EAGAIN;
        else {
            c->reaped = true;
            c->status = status_of(&info);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

/* The operation of a wait, for the socket loop. */
static ssize_t reap_op(int fd, void *ctx, bool *drained)
{
    (void)fd, (void)drained;
    return edo__child_try_reap(ctx);
}

edo_poll edo__child_poll_reap(edo_child *c, edo_io_waiter *waiter, edo_context *cx, int *rc)
{
    if (!c->io)
        return edo__sigchld_poll_reap(c, waiter, cx, rc);
    ssize_t n;
    if (edo__sock_poll_op(c->io, EDO_READABLE, reap_op, c, waiter, cx, &n) == EDO_PENDING)
        return EDO_PENDING;
    *rc = (int)n;
    return EDO_READY;
}

void edo__child_forget_waiter(edo_child *c, edo_io_waiter *waiter)
{
    if (!c->io)
        edo__sigchld_forget(waiter);
    else if (edo__io_waiter_linked(waiter))
        edo_io_waiter_drop(c->io, waiter);
}

int edo_child_signal(edo_child *c, int sig)
{
    if (!c || sig < 1 || sig > 64)
        return -EINVAL;
    pthread_mutex_lock(&c->lock);
    int rc = c->reaped ? -ESRCH : kill(c->pid, sig) < 0 ? -errno : 0;
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int edo_child_try_wait(edo_child *c, edo_exit_status *status)
{
    if (!c || !status)
        return -EINVAL;
    int rc = edo__child_try_reap(c);
    if (rc == 0)
        *status = c->status;
    return rc;
}

pid_t edo_child_pid(const edo_child *c) { return c ? c->pid : -EINVAL; }

/* Under the lock: a wait (which closes stdin) may run in another task at the same time. */
static edo_stream *take(edo_child *c, int which)
{
    if (!c)
        return NULL;
    pthread_mutex_lock(&c->lock);
    edo_stream *s = c->stdio[which];
    c->stdio[which] = NULL;
    pthread_mutex_unlock(&c->lock);
    return s;
}

edo_stream *edo_child_take_stdin(edo_child *c) { return take(c, 0); }
edo_stream *edo_child_take_stdout(edo_child *c) { return take(c, 1); }
edo_stream *edo_child_take_stderr(edo_child *c) { return take(c, 2); }

/* Closes the stdin pipe the child still holds: a wait must not keep a reader of it waiting. */
static void close_stdin(edo_child *c)
{
    edo_stream *in = take(c, 0);
    if (in)
        edo_stream_close(in);
}

void edo_child_free(edo_child *c)
{
    if (!c)
        return;
    for (int i = 0; i < 3; i++)
        if (c->stdio[i])
            edo_stream_close(c->stdio[i]);
    if (c->kill_on_drop)
        edo_child_signal(c, SIGKILL);
    if (edo__child_try_reap(c) == -EAGAIN)
        edo__orphan_adopt(c);
    else
        edo__child_release(c);
}

/* ---- waiting ------------------------------------------------------------------------------- */

static edo_poll wait_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    edo_child_wait_future *f = (edo_child_wait_future *)self;
    edo_child *c = f->child_;
    if (!c) {
        f->result = -EINVAL;
        return EDO_READY;
    }
    if (f->kill_) {
        f->kill_ = false; /* once, at the first poll */
        int rc = edo_child_signal(c, SIGKILL);
        if (rc < 0 && rc != -ESRCH) { /* -ESRCH: reaped already; the wait reports how it ended */
            f->result = rc;
            return EDO_READY;
        }
    }
    close_stdin(c);
    if (edo__child_poll_reap(c, &f->waiter_, cx, &f->result) == EDO_PENDING)
        return EDO_PENDING;
    if (f->result == 0)
        f->status = c->status;
    return EDO_READY;
}

static void wait_drop(edo_future *self)
{
    edo_child_wait_future *f = (edo_child_wait_future *)self;
    if (f->child_)
        edo__child_forget_waiter(f->child_, &f->waiter_);
}

static const edo_future_vtable wait_vtable = {wait_poll, wait_drop};

void edo_child_wait_future_init(edo_child_wait_future *f, edo_child *c)
{
    if (!f)
        return;
    *f = (edo_child_wait_future){.base = {&wait_vtable}, .child_ = c};
    edo_io_waiter_init(&f->waiter_);
}

void edo_child_kill_future_init(edo_child_kill_future *f, edo_child *c)
{
    edo_child_wait_future_init(f, c);
    if (f)
        f->kill_ = true;
}

/* The coroutine form of a wait or kill. */
static int run_wait(edo_child *c, edo_exit_status *status, bool kill_first)
{
    if (!c || !status)
        return -EINVAL;
    edo_child_wait_future f;
    edo_child_wait_future_init(&f, c);
    f.kill_ = kill_first;
    int rc = edo__coro_run(&f.base, NULL, &f.result);
    if (rc == 0)
        *status = f.status;
    return rc;
}

int edo_child_wait(edo_child *c, edo_exit_status *status) { return run_wait(c, status, false); }
int edo_child_kill(edo_child *c, edo_exit_status *status) { return run_wait(c, status, true); }
