/* Reading directories: an edo_read_dir holds the directory's fd and the entries of the last
 * batch; when they run out, one pool call fills a new 64 KiB buffer with getdents64 (hundreds
 * to thousands of entries). The call in flight belongs to the edo_read_dir, not to the future
 * waiting for it: a wait abandoned midway leaves the call to finish, and the next call takes
 * its entries, so none is lost. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs/call.h"
#include "fs/fs.h"

#define BATCH_BYTES ((size_t)64 * 1024)
#define MIN_ROOM ((size_t)2048) /* stop filling with less room than this (a long name's) */

struct edo_read_dir {
    int fd;
    char *buf; /* getdents64 records of the current batch */
    size_t pos, len;
    bool at_end;
    int error;     /* sticky: every later call returns it */
    struct fill_call *pending; /* a pool call filling the next batch (one reference ours) */
};

typedef struct fill_call {
    edo__fs_call call;
    int fd;
    bool owns_fd; /* the edo_read_dir was closed while we ran: close the fd at release */
    char *buf;
} fill_call;

/* ---- filling a batch ----------------------------------------------------------------------- */

static ssize_t fill_work(edo__fs_call *c)
{
    fill_call *fc = (fill_call *)c;
    fc->buf = malloc(BATCH_BYTES);
    if (!fc->buf)
        return -ENOMEM;
    size_t len = 0;
    while (BATCH_BYTES - len >= MIN_ROOM) {
        ssize_t n = getdents64(fc->fd, fc->buf + len, BATCH_BYTES - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return len ? (ssize_t)len : -errno; /* give what we have; the error comes again */
        if (n == 0)
            break;
        len += (size_t)n;
    }
    return (ssize_t)len;
}

static void fill_release(edo__fs_call *c)
{
    fill_call *fc = (fill_call *)c;
    free(fc->buf);
    if (fc->owns_fd)
        close(fc->fd);
}

static const edo__fs_ops fill_ops = {fill_work, NULL, fill_release, NULL}; /* getdents: no opcode */

/* ---- the next entry ------------------------------------------------------------------------ */

/* What an edo_fs_future holds for a next call. */
typedef struct next_future {
    edo_future base;
    ssize_t result;
    edo_read_dir *d;
    edo_dir_entry *entry;
    int error;
} next_future;

_Static_assert(sizeof(next_future) <= sizeof(edo_fs_future), "edo_fs_future too small");

static edo_file_type type_of_dirent(unsigned char t)
{
    switch (t) {
    case DT_REG: return EDO_FILE_REGULAR;
    case DT_DIR: return EDO_FILE_DIR;
    case DT_LNK: return EDO_FILE_SYMLINK;
    case DT_FIFO: return EDO_FILE_FIFO;
    case DT_SOCK: return EDO_FILE_SOCKET;
    case DT_CHR: return EDO_FILE_CHAR_DEVICE;
    case DT_BLK: return EDO_FILE_BLOCK_DEVICE;
    default: return EDO_FILE_UNKNOWN;
    }
}

/* The next entry of the current batch into *entry: true, or false when the batch is spent. */
static bool take_entry(edo_read_dir *d, edo_dir_entry *entry)
{
    while (d->pos < d->len) {
        struct dirent64 *e = (struct dirent64 *)(void *)(d->buf + d->pos);
        d->pos += e->d_reclen;
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        *entry = (edo_dir_entry){e->d_name, type_of_dirent(e->d_type), (uint64_t)e->d_ino};
        return true;
    }
    return false;
}

/* Takes the finished fill call's batch (or end, or error). */
static void take_batch(edo_read_dir *d)
{
    fill_call *fc = d->pending;
    d->pending = NULL;
    ssize_t r = fc->call.result;
    if (r > 0) {
        free(d->buf);
        d->buf = fc->buf;
        fc->buf = NULL;
        d->pos = 0;
        d->len = (size_t)r;
    } else if (r == 0) {
        d->at_end = true;
    } else {
        d->error = (int)r;
    }
    edo__fs_call_unref(&fc->call);
}

static edo_poll next_poll(edo_future *self, edo_context *cx, void **out)
{
    (void)out;
    next_future *f = (next_future *)self;
    edo_read_dir *d = f->d;
    if (f->error) {
        f->result = f->error;
        return EDO_READY;
    }
    for (;;) {
        if (take_entry(d, f->entry)) {
            f->result = 1;
            return EDO_READY;
        }
        if (d->error || d->at_end) {
            f->result = d->error;
            return EDO_READY;
        }
        if (!d->pending) {
            fill_call *fc = (fill_call *)edo__fs_call_new(sizeof *fc, &fill_ops);
            if (!fc) {
                f->result = -ENOMEM;
                return EDO_READY;
            }
            fc->fd = d->fd;
            d->pending = fc;
            edo__fs_call_submit(&fc->call); /* a failure makes it done with the error */
        }
        if (edo__fs_call_poll(&d->pending->call, cx) == EDO_PENDING)
            return EDO_PENDING;
        take_batch(d);
    }
}

static const edo_future_vtable next_vtable = {next_poll, NULL};

void edo_read_dir_next_future_init(edo_fs_future *pub, edo_read_dir *d, edo_dir_entry *entry)
{
    if (!pub)
        return;
    next_future *f = (next_future *)(void *)pub;
    *f = (next_future){{&next_vtable}, 0, d, entry, !d || !entry ? -EINVAL : 0};
}

int edo_read_dir_next(edo_read_dir *d, edo_dir_entry *entry)
{
    edo_fs_future pub;
    edo_read_dir_next_future_init(&pub, d, entry);
    next_future *f = (next_future *)(void *)&pub;
    if (f->error)
        return f->error;
    if (take_entry(d, entry)) /* most calls: no wait */
        return 1;
    return (int)edo__fs_run(&pub);
}

/* ---- opening and closing ------------------------------------------------------------------- */

typedef struct open_call {
    edo__fs_call call;
    edo_read_dir *d; /* made on the pool thread; ours until delivered */
    char path[];
} open_call;

static ssize_t open_work(edo__fs_call *c)
{
    open_call *oc = (open_call *)c;
    edo_read_dir *d = calloc(1, sizeof *d);
    if (!d)
        return -ENOMEM;
    d->fd = open(oc->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->fd < 0) {
        int err = errno;
        free(d);
        return -err;
    }
    oc->d = d;
    return 0;
}

static void open_deliver(edo__fs_call *c, void *const *outs)
{
    open_call *oc = (open_call *)c;
    *(edo_read_dir **)outs[0] = oc->d;
    oc->d = NULL;
}

static void open_release(edo__fs_call *c)
{
    edo_read_dir_close(((open_call *)c)->d);
}

static const edo__fs_ops open_ops = {open_work, open_deliver, open_release, NULL};

void edo_read_dir_open_future_init(edo_fs_future *f, const char *path, edo_read_dir **out)
{
    if (!f)
        return;
    if (!path || !out) {
        edo__fs_future_fail(f, -EINVAL);
        return;
    }
    size_t len = strlen(path) + 1;
    open_call *oc = (open_call *)edo__fs_call_new(sizeof *oc + len, &open_ops);
    if (oc)
        memcpy(oc->path, path, len);
    edo__fs_future_init(f, oc ? &oc->call : NULL, 0, out, NULL, NULL);
}

int edo_read_dir_open(const char *path, edo_read_dir **out)
{
    edo_fs_future f;
    edo_read_dir_open_future_init(&f, path, out);
    return (int)edo__fs_run(&f);
}

int edo_read_dir_close(edo_read_dir *d)
{
    if (!d)
        return -EINVAL;
    if (d->pending) { /* it may be inside getdents64 on the fd: it closes it when done */
        fill_call *fc = d->pending;
        edo__spin_lock(&fc->call.lock);
        fc->owns_fd = true;
        edo__spin_unlock(&fc->call.lock);
        edo__fs_call_unref(&fc->call);
    } else {
        close(d->fd);
    }
    free(d->buf);
    free(d);
    return 0;
}
