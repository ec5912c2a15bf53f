/* The splice path of a copy: when both streams hand out socket or pipe fds, the bytes go from
 * the reader's fd into a pipe and from the pipe into the writer's fd with splice(2), so they
 * are never copied through user memory and the copy holds no buffer.
 *
 * splice needs a pipe on one side. A copy holds one only while its reader has bytes: it takes
 * an empty pipe from the pool (pipe_pool.c) before splicing in, and gives it back as soon as the
 * reader has nothing more (the pipe is empty then), so an idle proxied connection holds no pipe:
 * 10,000 idle connections cost no fds beyond their sockets, where a pipe per copy would cost four
 * per connection. The pipe is filled only when it is empty: then a splice into it that would
 * block can only mean the reader has nothing (a pipe with room left may still refuse a socket's
 * next fragment, and that would be mistaken for a drained reader and lose its readiness). The
 * readiness waits are the streams' own (poll_raw_io), so an edge is never lost between a try
 * and the wait. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "platform/sigmask.h"
#include "stream/copy.h"

/* What one splice into the pipe asks for: more than a pipe holds (256 KiB, pipe_pool.c), so each
 * fills the pipe when the reader has that much. */
#define SPLICE_CHUNK ((size_t)1 << 20)

static _Atomic uint64_t spliced_bytes;

uint64_t edo__copy_spliced_bytes(void)
{
    return atomic_load_explicit(&spliced_bytes, memory_order_relaxed);
}

/* Whether splice(2) takes `fd` without blocking the thread: pipes always do (SPLICE_F_NONBLOCK
 * covers the pipe side); sockets when in O_NONBLOCK mode (a socket's splice waits by its own
 * flags, and a stream over an adopted socket may keep it blocking, using MSG_DONTWAIT). */
static bool fd_can_splice(int fd)
{
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        return false;
    if (S_ISFIFO(st.st_mode))
        return true;
    int flags = S_ISSOCK(st.st_mode) ? fcntl(fd, F_GETFL) : -1;
    return flags >= 0 && (flags & O_NONBLOCK);
}

static bool stream_can_splice(const edo_stream *s, bool write)
{
    const edo_stream_vtable *vt = s->vtable;
    return vt->raw_fd && vt->poll_raw_io && fd_can_splice(vt->raw_fd(s, write));
}

bool edo__copy_splice_start(edo__copy *c)
{
    c->splicing = stream_can_splice(c->from, false) && stream_can_splice(c->to, true);
    return c->splicing;
}

/* Counts a copy's spliced bytes once, not per splice: one shared line written by every worker. */
static void count_spliced(edo__copy *c)
{
    atomic_fetch_add_explicit(&spliced_bytes, c->copied, memory_order_relaxed);
    c->splicing = false;
}

/* Gives the pipe back to the pool: at the end, and whenever the reader has nothing (the pipe
 * is empty then), so a copy that waits holds no pipe. */
static void put_pipe(edo__copy *c)
{
    edo__pipe_give_back((int[2]){c->pipe_out, c->pipe_in}, c->in_pipe == 0);
    c->pipe_in = c->pipe_out = -1;
    c->in_pipe = 0;
}

static ssize_t splice_result(ssize_t n)
{
    return n < 0 ? -errno : n;
}

/* reader's fd -> pipe (empty, so -EAGAIN means the reader has nothing). */
static ssize_t splice_in(int fd, void *ctx, bool *drained)
{
    (void)drained; /* a short splice may be the pipe's limit, not the reader's */
    edo__copy *c = ctx;
    return splice_result(
        splice(fd, NULL, c->pipe_in, NULL, SPLICE_CHUNK, SPLICE_F_MOVE | SPLICE_F_NONBLOCK));
}

/* splice(2) has no MSG_NOSIGNAL: a splice into a socket whose peer has gone raises SIGPIPE,
 * which kills the process by default. So the first splice out on a thread blocks SIGPIPE in
 * that thread for good (a runtime thread has it blocked already; blocking and unblocking around
 * each splice would cost two system calls per splice), and a SIGPIPE raised meanwhile is taken
 * back when the splice reports EPIPE: the copy sees -EPIPE, as a socket's write with
 * MSG_NOSIGNAL gives (platform/sigmask.h). */

/* pipe (holding in_pipe bytes) -> writer's fd: -EAGAIN means the writer is full. */
static ssize_t splice_out(int fd, void *ctx, bool *drained)
{
    edo__copy *c = ctx;
    edo__sigpipe_block_thread();
    ssize_t n = splice_result(
        splice(c->pipe_out, NULL, fd, NULL, c->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK));
    if (n == -EPIPE)
        edo__sigpipe_take_back();
    *drained = n >= 0 && (size_t)n < c->in_pipe; /* the writer took less: its buffer is full */
    return n;
}

edo_poll edo__copy_move_spliced(edo__copy *c, edo_context *cx, int *result)
{
    ssize_t n;
    for (;;) {
        if (c->in_pipe == 0) {
            if (c->reader_ended) {
                *result = 0;
                return EDO_READY;
            }
            if (!edo_coop_proceed(cx))
                return EDO_PENDING;
            int p[2];
            if (c->pipe_in < 0 && edo__pipe_take(p) < 0) { /* out of fds: the buffer still works */
                count_spliced(c);
                return edo__copy_move_buffered(c, cx, result);
            }
            if (c->pipe_in < 0) {
                c->pipe_out = p[0];
                c->pipe_in = p[1];
            }
            if (c->from->vtable->poll_raw_io(c->from, &c->reading, cx, false, splice_in, c, &n) ==
                EDO_PENDING) {
                put_pipe(c);
                return EDO_PENDING;
            }
            if ((n = edo__copy_read_done(c, n)) <= 0) {
                if (n == 0)
                    continue;
                *result = (int)n;
                return EDO_READY;
            }
            c->in_pipe = (size_t)n;
        }
        if (c->to->vtable->poll_raw_io(c->to, &c->writing, cx, true, splice_out, c, &n) ==
            EDO_PENDING)
            return EDO_PENDING;
        if ((n = edo__copy_write_done(c, n)) < 0) {
            *result = (int)n;
            return EDO_READY;
        }
        c->in_pipe -= (size_t)n;
    }
}

void edo__copy_splice_release(edo__copy *c)
{
    if (c->pipe_in >= 0)
        put_pipe(c); /* closed instead when bytes were left in it (an error half-way) */
    if (c->splicing)
        count_spliced(c);
}
