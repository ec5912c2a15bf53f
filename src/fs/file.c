/* Open files: an edo_file is a blocking-pool stream (src/stream/file.c) — so reading and
 * writing at the offset, cancel safety and every stream utility come with it — plus the calls
 * only files have. Each of those first settles the stream (waits for a write still going out,
 * and reports its failure), then runs its own call, which holds the stream so that the fd
 * stays open under it even if the file is closed meanwhile. Where the runtime has a completion
 * ring, pread, pwrite, sync_all, sync_data, set_len (IORING_OP_FTRUNCATE, newer kernels) and
 * metadata go through it (op_ring), into and out of the call's own buffer as on the pool. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "coro/coro.h"
#include "fs/call.h"
#include "fs/fs.h"
#include "stream/fd.h"

#define PREAD_MAX ((size_t)64 * 1024)

static edo_stream *stream_of(edo_file *f) { return (edo_stream *)(void *)f; }

edo_stream *edo_file_stream(edo_file *f) { return f ? stream_of(f) : NULL; }

/* ---- the calls on an open file ------------------------------------------------------------- */

typedef enum file_op { OP_PREAD, OP_PWRITE, OP_SEEK, OP_SYNC_ALL, OP_SYNC_DATA, OP_SET_LEN,
                       OP_METADATA, OP_CLOSE } file_op;

typedef struct op_call {
    edo__fs_call call;
    file_op op;
    edo_stream *stream; /* held for the call */
    uint64_t offset;    /* pread, pwrite: where; set_len: the length */
    size_t len;
    char *buf;          /* pread: the bytes read; pwrite: a copy of the bytes (edo__io_buffer) */
    edo_metadata meta;
    size_t done;        /* pwrite through the ring: bytes written by the steps so far */
    struct statx stx;   /* metadata through the ring */
} op_call;

static ssize_t op_work(edo__fs_call *c)
{
    op_call *oc = (op_call *)c;
    int fd = edo__file_stream_fd(oc->stream);
    ssize_t n;
    switch (oc->op) {
    case OP_PREAD:
        do
            n = pread(fd, oc->buf, oc->len, (off_t)oc->offset);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : n;
    case OP_PWRITE: {
        size_t done = 0;
        while (done < oc->len) {
            n = pwrite(fd, oc->buf + done, oc->len - done, (off_t)(oc->offset + done));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                return done ? (ssize_t)done : n < 0 ? -errno : -EIO;
            done += (size_t)n;
        }
        return (ssize_t)done;
    }
    case OP_SYNC_ALL: return fsync(fd) < 0 ? -errno : 0;
    case OP_SYNC_DATA: return fdatasync(fd) < 0 ? -errno : 0;
    case OP_SET_LEN: return ftruncate(fd, (off_t)oc->offset) < 0 ? -errno : 0;
    case OP_METADATA: return edo__fs_stat(fd, "", AT_EMPTY_PATH, &oc->meta);
    case OP_SEEK:
    case OP_CLOSE: break; /* never a pool call */
    }
    return -EINVAL;
}

static void op_deliver(edo__fs_call *c, void *const *outs)
{
    op_call *oc = (op_call *)c;
    if (oc->op == OP_PREAD && oc->call.result > 0)
        memcpy(outs[0], oc->buf, (size_t)oc->call.result);
    else if (oc->op == OP_METADATA)
        *(edo_metadata *)outs[0] = oc->meta;
}

static void op_release(edo__fs_call *c)
{
    op_call *oc = (op_call *)c;
    free(oc->buf);
    edo__file_stream_release(oc->stream);
}

/* The opcode for `op` where the kernel has it, else 0. */
static unsigned ring_opcode(edo__cring *r, file_op op)
{
    unsigned code = op == OP_PREAD                       ? IORING_OP_READ
                    : op == OP_PWRITE                    ? IORING_OP_WRITE
                    : op == OP_SYNC_ALL || op == OP_SYNC_DATA ? IORING_OP_FSYNC
                    : op == OP_METADATA                  ? IORING_OP_STATX
#ifdef IORING_OP_FTRUNCATE
                    : op == OP_SET_LEN ? IORING_OP_FTRUNCATE
#endif
                                       : 0;
    return code && edo__cring_has_op(r, code) ? code : 0;
}

/* One SQE a step; a pwrite takes as many as it needs to write everything, as the pool's loop.
 * A refused statx (a filter) goes to the pool, which falls back to fstat. */
static ssize_t op_ring(edo__fs_call *c, edo__cring *r, const int32_t *res)
{
    op_call *oc = (op_call *)c;
    if (res) {
        if (oc->op == OP_METADATA && (res[0] == -ENOSYS || res[0] == -EPERM))
            return edo__fs_call_abandoned(c) ? -ECANCELED : EDO__FS_POOL;
        if (oc->op == OP_PWRITE) {
            if (res[0] <= 0)
                return oc->done ? (ssize_t)oc->done : res[0] < 0 ? res[0] : -EIO;
            oc->done += (size_t)res[0];
            if (oc->done == oc->len || edo__fs_call_abandoned(c))
                return (ssize_t)oc->done;
        } else if (res[0] < 0) {
            return res[0];
        } else if (oc->op == OP_METADATA) {
            edo__fs_metadata_of_statx(&oc->stx, &oc->meta);
            return 0;
        } else {
            return res[0];
        }
    }
    /* Not a FIFO or a device: a read there consumes, and bytes the kernel read for a call
     * since dropped would be lost (the pool says -ESPIPE at once). */
    unsigned code = edo__file_stream_is_file(oc->stream) ? ring_opcode(r, oc->op) : 0;
    struct io_uring_sqe *sqe;
    if (!code || edo__fs_ring_sqe(c, r, 0, true, &sqe) < 0)
        return !res ? EDO__FS_POOL : oc->done ? (ssize_t)oc->done : -EBUSY; /* mid-pwrite the pool would write twice */
    sqe->opcode = (uint8_t)code;
    sqe->fd = edo__file_stream_fd(oc->stream);
    switch (oc->op) {
    case OP_PREAD:
    case OP_PWRITE:
        sqe->addr = (uint64_t)(uintptr_t)(oc->buf + oc->done);
        sqe->len = (uint32_t)((oc->len - oc->done) > UINT32_MAX / 2 ? UINT32_MAX / 2
                                                                   : oc->len - oc->done);
        sqe->off = oc->offset + oc->done;
        break;
    case OP_SYNC_DATA: sqe->fsync_flags = IORING_FSYNC_DATASYNC; break;
    case OP_SET_LEN: sqe->off = oc->offset; break;
    case OP_METADATA:
        sqe->addr = (uint64_t)(uintptr_t)"";
        sqe->len = EDO__FS_STATX_MASK;
        sqe->statx_flags = EDO__FS_STATX_FLAGS | AT_EMPTY_PATH;
        sqe->off = (uint64_t)(uintptr_t)&oc->stx;
        break;
    default: break;
    }
    return EDO__FS_MORE;
}

static const edo__fs_ops op_ops = {op_work, op_deliver, op_release, op_ring};

/* What edo_file_future.private_ holds: the settle wait on the stream, then the pool call. */
typedef struct file_future {
    edo_future base;
    ssize_t result;
    edo_stream_waiter waiter;
    edo_fs_future call;  /* the pool call, once settled */
    edo_file *file;
    file_op op;
    int error;           /* bad arguments: ready at once with this */
    bool settled;
    bool has_call;       /* `call` was initialised */
    int whence;          /* seek */
    int64_t seek_offset;
    uint64_t offset;     /* pread, pwrite: where; set_len: the length */
    size_t len;
    const void *src;     /* pwrite */
    void *out;           /* pread: buf; seek: pos; metadata: out */
} file_future;

_Static_assert(sizeof(file_future) <= sizeof(edo_file_future), "edo_file_future too small");

/* seek, once settled: lseek on the worker (it never waits for the disk), counting SEEK_CUR
 * from where the reader is, `unread` bytes before the fd's offset. */
static ssize_t seek_now(file_future *f, ssize_t unread)
{
    int fd = edo__file_stream_fd(stream_of(f->file));
    int64_t off = f->seek_offset;
    if (f->whence == SEEK_CUR)
        off -= unread;
    off_t pos = lseek(fd, (off_t)off, f->whence);
    if (pos < 0)
        return -errno;
    if (f->out)
        *(uint64_t *)f->out = (uint64_t)pos;
    return 0;
}

/* Settled: the call's block for the operation (the data copy of a pwrite inside it). */
static edo__fs_call *new_op_call(file_future *f)
{
    op_call *oc = (op_call *)edo__fs_call_new(sizeof *oc, &op_ops);
    if (!oc)
        return NULL;
    oc->op = f->op;
    oc->offset = f->offset;
    oc->len = f->len;
    /* Page-aligned, so that a file opened with O_DIRECT takes them. */
    bool transfer = f->op == OP_PREAD || f->op == OP_PWRITE;
    if (transfer && !(oc->buf = edo__io_buffer(f->len))) {
        free(oc);
        return NULL;
    }
    if (f->op == OP_PWRITE) {
        if (f->len)
            memcpy(oc->buf, f->src, f->len);
        oc->call.alone = f->len >= EDO__FS_BIG_WRITE;
    }
    oc->call.alone |= f->op == OP_SYNC_ALL || f->op == OP_SYNC_DATA;
    oc->stream = stream_of(f->file);
    edo__file_stream_hold(oc->stream);
    return &oc->call;
}

static edo_poll file_future_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    file_future *f = (file_future *)self;
    if (f->error) {
        f->result = f->error;
        return EDO_READY;
    }
    if (!f->settled) {
        ssize_t rc;
        edo_stream *s = stream_of(f->file);
        if (edo__file_stream_poll_settle(s, &f->waiter, cx, f->op == OP_SEEK, &rc) == EDO_PENDING)
            return EDO_PENDING;
        edo_stream_waiter_drop(s, &f->waiter);
        f->settled = true;
        if (f->op == OP_CLOSE) { /* the write went out: now the stream (and fd) may go */
            edo_stream_close(s);
            f->file = NULL;
        }
        if (rc < 0 || f->op == OP_SEEK || f->op == OP_CLOSE) {
            f->result = rc < 0 || f->op != OP_SEEK ? rc : seek_now(f, rc);
            f->error = (int)f->result; /* a later poll answers the same */
            return EDO_READY;
        }
        edo__fs_future_init(&f->call, new_op_call(f), 0, f->out, NULL, NULL);
        f->has_call = true;
    }
    if (edo_future_poll(&f->call.base, cx, NULL) == EDO_PENDING)
        return EDO_PENDING;
    f->result = f->call.result;
    return EDO_READY;
}

static void file_future_drop(edo_future *self)
{
    file_future *f = (file_future *)self;
    if (f->file && !f->settled)
        edo_stream_waiter_drop(stream_of(f->file), &f->waiter);
    if (f->file && f->op == OP_CLOSE && !f->error) /* dropped before the write went out: the */
        edo_stream_close(stream_of(f->file));      /* fd is closed once it has */
    if (f->op == OP_CLOSE)
        f->file = NULL;
    if (f->has_call)
        edo_future_drop(&f->call.base);
    f->has_call = false;
    f->settled = true;
}

static const edo_future_vtable file_future_vtable = {file_future_poll, file_future_drop};

static void file_future_init(edo_file_future *pub, edo_file *file, file_op op, int error)
{
    file_future *f = (file_future *)(void *)pub;
    *f = (file_future){.base = {&file_future_vtable}, .file = file, .op = op,
                       .error = !file ? -EINVAL : error};
    edo_stream_waiter_init(&f->waiter);
}

static ssize_t file_run(edo_file_future *pub)
{
    file_future *f = (file_future *)(void *)pub;
    if (f->error)
        return f->error;
    int rc = edo__coro_run(&f->base, NULL, NULL);
    return rc < 0 ? rc : f->result;
}

/* The checks every transfer makes: -EINVAL or 0. */
static int transfer_error(const void *buf, size_t len, uint64_t offset)
{
    return (!buf && len) || len > SSIZE_MAX || offset > INT64_MAX ? -EINVAL : 0;
}

void edo_file_pread_future_init(edo_file_future *f, edo_file *file, void *buf, size_t len,
                                uint64_t offset)
{
    if (!f)
        return;
    file_future_init(f, file, OP_PREAD, transfer_error(buf, len, offset));
    file_future *ff = (file_future *)(void *)f;
    ff->out = buf;
    ff->len = len < PREAD_MAX ? len : PREAD_MAX;
    ff->offset = offset;
}

void edo_file_pwrite_future_init(edo_file_future *f, edo_file *file, const void *buf, size_t len,
                                 uint64_t offset)
{
    if (!f)
        return;
    int error = transfer_error(buf, len, offset);
    if (!error && offset + len > INT64_MAX)
        error = -EINVAL; /* past the largest file offset */
    file_future_init(f, file, OP_PWRITE, error);
    file_future *ff = (file_future *)(void *)f;
    ff->src = buf;
    ff->len = len;
    ff->offset = offset;
}

void edo_file_seek_future_init(edo_file_future *f, edo_file *file, int64_t offset, int whence,
                               uint64_t *pos)
{
    if (!f)
        return;
    bool bad = whence != SEEK_SET && whence != SEEK_CUR && whence != SEEK_END;
    file_future_init(f, file, OP_SEEK, bad ? -EINVAL : 0);
    file_future *ff = (file_future *)(void *)f;
    ff->whence = whence;
    ff->seek_offset = offset;
    ff->out = pos;
}

void edo_file_sync_all_future_init(edo_file_future *f, edo_file *file)
{
    if (f)
        file_future_init(f, file, OP_SYNC_ALL, 0);
}

void edo_file_sync_data_future_init(edo_file_future *f, edo_file *file)
{
    if (f)
        file_future_init(f, file, OP_SYNC_DATA, 0);
}

void edo_file_set_len_future_init(edo_file_future *f, edo_file *file, uint64_t len)
{
    if (!f)
        return;
    file_future_init(f, file, OP_SET_LEN, len > INT64_MAX ? -EINVAL : 0);
    ((file_future *)(void *)f)->offset = len;
}

void edo_file_metadata_future_init(edo_file_future *f, edo_file *file, edo_metadata *out)
{
    if (!f)
        return;
    file_future_init(f, file, OP_METADATA, out ? 0 : -EINVAL);
    ((file_future *)(void *)f)->out = out;
}

void edo_file_close_future_init(edo_file_future *f, edo_file *file)
{
    if (f)
        file_future_init(f, file, OP_CLOSE, 0);
}

/* Closes at once when no write is going out (also in an aborted coroutine, whose waits fail);
 * else waits for it in a coroutine, or leaves the fd's close to its end outside one. */
int edo_file_close(edo_file *f)
{
    edo_file_future ff;
    edo_file_close_future_init(&ff, f);
    edo_waker noop = edo_waker_noop();
    edo_context cx;
    edo_context_init(&cx, &noop, NULL);
    edo_poll ready = edo_future_poll(&ff.base, &cx, NULL);
    if (ready == EDO_READY || !edo__coro_running()) {
        edo_future_drop(&ff.base);
        return ready == EDO_READY ? (int)ff.result : 0;
    }
    return (int)file_run(&ff);
}

ssize_t edo_file_pread(edo_file *f, void *buf, size_t len, uint64_t offset)
{
    edo_file_future ff;
    edo_file_pread_future_init(&ff, f, buf, len, offset);
    return file_run(&ff);
}

ssize_t edo_file_pwrite(edo_file *f, const void *buf, size_t len, uint64_t offset)
{
    edo_file_future ff;
    edo_file_pwrite_future_init(&ff, f, buf, len, offset);
    return file_run(&ff);
}

int edo_file_seek(edo_file *f, int64_t offset, int whence, uint64_t *pos)
{
    edo_file_future ff;
    edo_file_seek_future_init(&ff, f, offset, whence, pos);
    return (int)file_run(&ff);
}

int edo_file_sync_all(edo_file *f)
{
    edo_file_future ff;
    edo_file_sync_all_future_init(&ff, f);
    return (int)file_run(&ff);
}

int edo_file_sync_data(edo_file *f)
{
    edo_file_future ff;
    edo_file_sync_data_future_init(&ff, f);
    return (int)file_run(&ff);
}

int edo_file_set_len(edo_file *f, uint64_t len)
{
    edo_file_future ff;
    edo_file_set_len_future_init(&ff, f, len);
    return (int)file_run(&ff);
}

int edo_file_metadata(edo_file *f, edo_metadata *out)
{
    edo_file_future ff;
    edo_file_metadata_future_init(&ff, f, out);
    return (int)file_run(&ff);
}
