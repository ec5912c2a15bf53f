/* The blocking-pool kind of fd stream: regular files (epoll refuses them: a file is always
 * "ready", and its reads block on the disk), devices epoll cannot watch, and terminals for
 * stdio. One pool job per operation, as Tokio's File and Stdin do (but batched: jobs queued at
 * once by the runtime's tasks share pool hops, core/batch.h):
 *  - A read starts a pool call that reads into a buffer of the stream's own (never the caller's:
 *    the caller may give up and free it) and waits for it. A read abandoned meanwhile (its
 *    future dropped, its coroutine cut by a deadline) leaves the call running; the bytes it
 *    brings are kept, and the next read takes them first. So no byte is ever lost.
 *  - A write copies up to WRITE_MAX bytes into a buffer and completes at once; a pool call
 *    writes them out. The next write (or flush) waits for it, and a failure is reported by
 *    the next write, flush or shutdown.
 * Through the completion ring instead of the pool (file_ring.h), where the runtime runs io_uring,
 * for a regular file or block device opened for reading alone or writing alone: the same calls,
 * buffers and rules, only the kernel does the transfer (on a warm cache inside the submitting
 * io_uring_enter, so a read usually completes before its poll returns).
 * No raw fd (-ENOTSUP): bytes read ahead and writes still going out would be skipped or
 * overtaken by a splice on the fd.
 * Refcounted: each pool call in flight holds the stream, so closing while one runs closes the
 * fd only when it is done (it may still be inside read(2) on the fd). */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edo/runtime.h"
#include "core/batch.h"
#include "platform/iov.h"
#include "platform/spinlock.h"
#include "stream/wait.h"
#include "stream/fd.h"
#include "stream/file_ring.h"

#define READ_MAX ((size_t)64 * 1024)  /* bytes one pool call reads at most */
#define WRITE_MAX ((size_t)64 * 1024) /* bytes one write takes at most */
#define READ_AHEAD ((size_t)4096)     /* what a readiness wait reads, to know it is readable */
#define IO_ALIGN ((size_t)4096)       /* buffers fit O_DIRECT: page-aligned */

typedef struct file_stream {
    edo_stream base;
    int fd;
    bool alone; /* not a regular file (a terminal may block for ever): pool calls of its own,
                   never holding up the batched queue */
    bool ringable; /* a regular file or block device, not opened O_RDWR: see file_ring.h */
    edo__spinlock lock;
    unsigned refs; /* the stream while open, and each pool call in flight */
    /* reading */
    bool reading;       /* a read call is in flight */
    bool has_end;       /* a call found the end (0) or an error: `end` is the next result */
    ssize_t end;
    char *kept;         /* bytes a call brought that no read took yet */
    size_t kept_pos, kept_len;
    /* writing */
    bool writing;       /* a write call is in flight */
    bool write_shut;
    int write_error;    /* of a finished write call, for the next write, flush or shutdown */
    edo_stream_waiter *reader, *writer;
} file_stream;

typedef struct call {
    edo__batch_job job; /* first: the core's batched queue runs it */
    file_stream *fs;
    bool write, ran;
    char *buf;
    size_t len;
    ssize_t result;
    edo__file_ring_io rio; /* through the ring: the transfer (the kernel's until `finished`) */
} call;

static file_stream *file_of(edo_stream *s) { return (file_stream *)s; }

/* ---- waiters (under the lock) -------------------------------------------------------------- */

static void unlink_waiter(file_stream *fs, const edo_stream_waiter *w)
{
    if (fs->reader == w)
        fs->reader = NULL;
    if (fs->writer == w)
        fs->writer = NULL;
}

static edo_waker take_waiter(file_stream *fs, edo_stream_waiter *w)
{
    if (w)
        unlink_waiter(fs, w);
    return edo__stream_wait_take(w);
}

static void file_drop_waiter(edo_stream *s, edo_stream_waiter *w)
{
    file_stream *fs = file_of(s);
    edo__spin_lock(&fs->lock);
    unlink_waiter(fs, w);
    edo__spin_unlock(&fs->lock);
    edo__stream_wait_drop(w);
}

/* ---- pool calls ---------------------------------------------------------------------------- */

static void destroy(file_stream *fs)
{
    close(fs->fd);
    free(fs->kept);
    free(fs);
}

static void run_call(call *c)
{
    c->ran = true;
    if (!c->write) {
        do
            c->result = read(c->fs->fd, c->buf, c->len);
        while (c->result < 0 && errno == EINTR);
        if (c->result < 0)
            c->result = -errno;
        return;
    }
    c->result = edo__fd_write_all(c->fs->fd, c->buf, c->len); /* all it took, or fails */
}

/* The end of a call, on its pool thread (or instead of it, when it was cancelled before it
 * started: the runtime shut down): publishes what it did and wakes whoever waits. */
static void finish_call(call *c)
{
    file_stream *fs = c->fs;
    ssize_t result = c->ran ? c->result : -ECANCELED;
    edo_waker wake;
    edo__spin_lock(&fs->lock);
    if (c->write) {
        fs->writing = false;
        if (result < 0 && !fs->write_error)
            fs->write_error = (int)result;
        wake = take_waiter(fs, fs->writer);
    } else {
        fs->reading = false;
        if (result > 0) {
            fs->kept = c->buf; /* nothing was kept: a read call starts only then */
            fs->kept_pos = 0;
            fs->kept_len = (size_t)result;
            c->buf = NULL;
        } else {
            fs->has_end = true;
            fs->end = result;
        }
        wake = take_waiter(fs, fs->reader);
    }
    bool last = --fs->refs == 0;
    edo__spin_unlock(&fs->lock);
    edo_waker_wake(&wake);
    free(c->buf);
    free(c);
    if (last)
        destroy(fs);
}

/* The call on a pool thread (batched with the runtime's other small blocking jobs), or instead
 * of it when the pool shut down first. */
static void run_job(edo__batch_job *job, bool cancelled)
{
    call *c = (call *)job;
    if (!cancelled)
        run_call(c);
    finish_call(c);
}

/* The ring's word on `c` (on the reaping thread): its result, or the rest for the pool. */
static void ring_finished(edo__file_ring_io *io, ssize_t result, bool to_pool)
{
    call *c = (call *)(void *)((char *)io - offsetof(call, rio));
    if (to_pool) {
        if (io->done) { /* a write carried on part way: the pool writes the rest */
            memmove(c->buf, c->buf + io->done, c->len - io->done);
            c->len -= io->done;
        }
        c->job.run = run_job;
        result = edo__batch_submit(NULL, &c->job, c->fs->alone);
        if (result == 0)
            return;
    }
    c->ran = true;
    c->result = result;
    finish_call(c);
}

/* Hands `c` to the ring where it may go (file_ring.h), else to the pool (the stream's
 * reference taken by the caller goes with it; the call may be finished before this returns).
 * On failure undoes what the caller marked: returns the error. */
static int start_call(file_stream *fs, call *c)
{
    edo__cring *r = fs->ringable && c->len ? edo__file_ring_pick(c->write) : NULL;
    if (r) {
        c->rio = (edo__file_ring_io){.ring = r, .fd = fs->fd, .write = c->write, .buf = c->buf,
                                     .len = c->len, .finished = ring_finished};
        if (edo__file_ring_start(&c->rio) == 0)
            return 0;
    }
    c->job.run = run_job;
    int rc = edo__batch_submit(NULL, &c->job, fs->alone);
    if (rc == 0)
        return 0;
    edo__spin_lock(&fs->lock);
    fs->refs--;
    if (c->write)
        fs->writing = false;
    else
        fs->reading = false;
    edo__spin_unlock(&fs->lock);
    free(c->buf);
    free(c);
    return rc;
}

static call *new_call(file_stream *fs, bool write, size_t len)
{
    call *c = calloc(1, sizeof *c);
    char *buf = edo__io_buffer(len);
    if (!c || !buf) {
        free(c);
        free(buf);
        return NULL;
    }
    *c = (call){.fs = fs, .write = write, .buf = buf, .len = len};
    return c;
}

/* ---- reading ------------------------------------------------------------------------------- */

/* Under the lock: whether a read would complete without waiting. */
static bool readable(const file_stream *fs) { return fs->kept || fs->has_end; }

/* Under the lock, readable: the next result, copying kept bytes into buf. The kept buffer, when
 * emptied, goes to *spent (to free after unlocking). */
static ssize_t take_read(file_stream *fs, void *buf, size_t len, char **spent)
{
    if (!fs->kept) {
        fs->has_end = false;
        return fs->end;
    }
    size_t n = fs->kept_len - fs->kept_pos < len ? fs->kept_len - fs->kept_pos : len;
    memcpy(buf, fs->kept + fs->kept_pos, n);
    fs->kept_pos += n;
    if (fs->kept_pos == fs->kept_len) {
        *spent = fs->kept;
        fs->kept = NULL;
    }
    return (ssize_t)n;
}

/* Starts a read call of `len` bytes when none runs, and waits for it (with `w` in the reader
 * slot) unless it finished at once (a ring read on a warm cache). Called with the lock held;
 * returns with it released. Returns 0 (pending), 1 (readable now: poll again), or the error
 * starting the call gave. The call starts before the waiter goes in, so that one finished at
 * once wakes nobody. */
static int wait_read(file_stream *fs, edo_stream_waiter *w, edo_context *cx, size_t len)
{
    if (!fs->reading) {
        fs->reading = true;
        fs->refs++;
        edo__spin_unlock(&fs->lock);
        call *c = new_call(fs, false, len < READ_MAX ? len : READ_MAX);
        int rc = c ? start_call(fs, c) : -ENOMEM;
        edo__spin_lock(&fs->lock);
        if (!c) {
            fs->refs--;
            fs->reading = false;
        }
        if (rc < 0 || readable(fs)) {
            unlink_waiter(fs, w); /* a readiness wait may have taken the writer slot */
            edo__spin_unlock(&fs->lock);
            return rc < 0 ? rc : 1;
        }
    }
    edo_waker old = EDO_WAKER_EMPTY;
    int rc = edo__stream_wait_enqueue(&fs->reader, w, cx, &old);
    if (rc < 0)
        unlink_waiter(fs, w);
    edo__spin_unlock(&fs->lock);
    edo_waker_drop(&old);
    return rc;
}

static edo_poll file_poll_read(edo_stream *s, edo_stream_waiter *w, edo_context *cx, void *buf,
                               size_t len, ssize_t *result)
{
    file_stream *fs = file_of(s);
    if (!edo_coop_proceed(cx))
        return EDO_PENDING; /* budget spent: it queued us again, behind the others */
    int rc;
    do { /* again when a call finished at once (another task may take its bytes meanwhile) */
        edo__spin_lock(&fs->lock);
        if (readable(fs)) {
            char *spent = NULL;
            *result = take_read(fs, buf, len, &spent);
            edo__spin_unlock(&fs->lock);
            free(spent);
            return EDO_READY;
        }
        rc = wait_read(fs, w, cx, len);
    } while (rc == 1);
    if (rc == 0)
        return EDO_PENDING;
    *result = rc;
    return EDO_READY;
}

/* ---- writing ------------------------------------------------------------------------------- */

/* Under the lock, a call in flight: puts `w` in `slot` and unlocks. EDO_PENDING, or EDO_READY
 * with -EBUSY in *result (another task waits there). */
static edo_poll wait_in(file_stream *fs, edo_stream_waiter **slot, edo_stream_waiter *w,
                        edo_context *cx, ssize_t *result)
{
    edo_waker old = EDO_WAKER_EMPTY;
    int rc = edo__stream_wait_enqueue(slot, w, cx, &old);
    edo__spin_unlock(&fs->lock);
    edo_waker_drop(&old);
    if (rc == 0)
        return EDO_PENDING;
    *result = rc;
    return EDO_READY;
}

/* Under the lock, a write call in flight: waits for it in the writer slot (see wait_in). */
static edo_poll wait_write(file_stream *fs, edo_stream_waiter *w, edo_context *cx,
                           ssize_t *result)
{
    return wait_in(fs, &fs->writer, w, cx, result);
}

/* Under the lock: the failure of the last write call, reported once. */
static int take_write_error(file_stream *fs)
{
    int rc = fs->write_error;
    fs->write_error = 0;
    return rc;
}

static edo_poll file_poll_write(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                const struct iovec *iov, int iovcnt, ssize_t *result)
{
    file_stream *fs = file_of(s);
    edo__spin_lock(&fs->lock);
    int rc = fs->write_shut ? -EPIPE : take_write_error(fs);
    if (rc == 0 && fs->writing) /* the last write is still going out */
        return wait_write(fs, w, cx, result);
    if (rc == 0) {
        fs->writing = true; /* ours: the one writer of the stream */
        fs->refs++;
    }
    edo__spin_unlock(&fs->lock);
    if (rc < 0) {
        *result = rc;
        return EDO_READY;
    }
    size_t len = edo__iov_len_capped(iov, iovcnt, WRITE_MAX);
    call *c = new_call(fs, true, len);
    if (c) {
        edo__iov_gather(c->buf, iov, iovcnt, len);
        rc = start_call(fs, c);
    } else {
        edo__spin_lock(&fs->lock);
        fs->refs--;
        fs->writing = false;
        edo__spin_unlock(&fs->lock);
        rc = -ENOMEM;
    }
    *result = rc < 0 ? rc : (ssize_t)len;
    return EDO_READY;
}

/* Waits until no write call is in flight; then its error, if any. */
static edo_poll file_poll_flush(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                ssize_t *result)
{
    file_stream *fs = file_of(s);
    edo__spin_lock(&fs->lock);
    if (fs->writing)
        return wait_write(fs, w, cx, result);
    *result = take_write_error(fs);
    edo__spin_unlock(&fs->lock);
    return EDO_READY;
}

static edo_poll file_poll_shutdown(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                   ssize_t *result)
{
    file_stream *fs = file_of(s);
    if (file_poll_flush(s, w, cx, result) == EDO_PENDING)
        return EDO_PENDING;
    edo__spin_lock(&fs->lock);
    fs->write_shut = true; /* nothing to tell a file: later writes fail */
    edo__spin_unlock(&fs->lock);
    return EDO_READY;
}

/* ---- readiness ----------------------------------------------------------------------------- */

static edo_poll file_poll_ready(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                uint32_t interest, ssize_t *result)
{
    file_stream *fs = file_of(s);
    edo__spin_lock(&fs->lock);
    uint32_t ready = 0;
    if ((interest & EDO_READABLE) && readable(fs))
        ready |= EDO_READABLE;
    if ((interest & EDO_WRITABLE) && (fs->write_shut || !fs->writing))
        ready |= fs->write_shut ? EDO_WRITABLE | EDO_WRITE_CLOSED : EDO_WRITABLE;
    if (ready) {
        edo__spin_unlock(&fs->lock);
        *result = ready;
        return EDO_READY;
    }
    if (!(interest & EDO_READABLE))
        return wait_write(fs, w, cx, result); /* a write call is in flight: its end wakes us */
    edo_waker old = EDO_WAKER_EMPTY;
    int rc = 0;
    if (interest & EDO_WRITABLE)
        rc = edo__stream_wait_enqueue(&fs->writer, w, cx, &old);
    /* Readable means "a read would not wait": read ahead, into the kept buffer. */
    if (rc == 0)
        rc = wait_read(fs, w, cx, READ_AHEAD);
    else
        edo__spin_unlock(&fs->lock);
    edo_waker_drop(&old);
    if (rc == 0)
        return EDO_PENDING;
    *result = rc == 1 ? (ssize_t)EDO_READABLE : rc; /* 1: the read ahead finished at once */
    return EDO_READY;
}

/* ---- lifetime ------------------------------------------------------------------------------ */

static int file_close(edo_stream *s)
{
    file_stream *fs = file_of(s);
    edo__spin_lock(&fs->lock);
    bool last = --fs->refs == 0;
    edo__spin_unlock(&fs->lock);
    if (last)
        destroy(fs);
    return 0;
}

void *edo__io_buffer(size_t len)
{
    size_t size = len > SIZE_MAX - IO_ALIGN ? 0 : (len + IO_ALIGN - 1) / IO_ALIGN * IO_ALIGN;
    return size ? aligned_alloc(IO_ALIGN, size) : len ? NULL : aligned_alloc(IO_ALIGN, IO_ALIGN);
}

/* ---- for edo/fs.h's files ------------------------------------------------------------------ */

edo_poll edo__file_stream_poll_settle(edo_stream *s, edo_stream_waiter *w, edo_context *cx,
                                      bool discard, ssize_t *result)
{
    file_stream *fs = file_of(s);
    edo__spin_lock(&fs->lock);
    if (fs->writing)
        return wait_write(fs, w, cx, result);
    if (discard && fs->reading) /* an abandoned read: its bytes are about to be kept */
        return wait_in(fs, &fs->reader, w, cx, result);
    unlink_waiter(fs, w);
    ssize_t rc = take_write_error(fs);
    char *spent = NULL;
    if (rc == 0 && discard) {
        rc = fs->kept ? (ssize_t)(fs->kept_len - fs->kept_pos) : 0;
        spent = fs->kept;
        fs->kept = NULL;
        fs->has_end = false; /* an end or error found before the seek is stale after it */
    }
    edo__spin_unlock(&fs->lock);
    free(spent);
    *result = rc;
    return EDO_READY;
}

int edo__file_stream_fd(edo_stream *s) { return file_of(s)->fd; }

bool edo__file_stream_is_file(edo_stream *s) { return !file_of(s)->alone; }

void edo__file_stream_hold(edo_stream *s)
{
    file_stream *fs = file_of(s);
    edo__spin_lock(&fs->lock);
    fs->refs++;
    edo__spin_unlock(&fs->lock);
}

void edo__file_stream_release(edo_stream *s) { file_close(s); }

static const edo_stream_vtable file_vtable = {
    .poll_read = file_poll_read,
    .poll_write = file_poll_write,
    .poll_flush = file_poll_flush,
    .poll_shutdown = file_poll_shutdown,
    .poll_ready = file_poll_ready,
    .drop_waiter = file_drop_waiter,
    .close = file_close,
};

int edo__file_stream_open(int fd, mode_t mode, edo_stream **out)
{
    return edo__file_stream_open_flags(fd, mode, -1, out);
}

int edo__file_stream_open_flags(int fd, mode_t mode, int flags, edo_stream **out)
{
    file_stream *fs = calloc(1, sizeof *fs);
    if (!fs)
        return -ENOMEM;
    fs->base.vtable = &file_vtable;
    fs->fd = fd;
    fs->alone = !(S_ISREG(mode) || S_ISBLK(mode));
    /* One access mode: a read and a write in flight at once through the ring would race on
     * the file position (file_ring.h). */
    if (!fs->alone && flags < 0)
        flags = fcntl(fd, F_GETFL);
    fs->ringable = !fs->alone && flags >= 0 && (flags & O_ACCMODE) != O_RDWR;
    edo__spin_init(&fs->lock);
    fs->refs = 1;
    *out = &fs->base;
    return 0;
}
