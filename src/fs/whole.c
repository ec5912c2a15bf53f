/* Whole-file calls, each one pool call: read (open, fstat for the size, read, close), write
 * (open, write, close) and copy (copy_file_range, else read/write). Where the runtime has a
 * completion ring, read and write go through it instead (whole_ring.c). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/call.h"
#include "fs/fs.h"
#include "fs/whole.h"
#include "stream/fd.h"

#define COPY_CHUNK ((size_t)1 << 30) /* bytes per copy_file_range call */
#define COPY_BUFFER ((size_t)128 * 1024)

/* read(2) until `len` bytes or the end: the count, or -errno. */
static ssize_t read_full(int fd, char *buf, size_t len)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, buf + done, len - done);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

/* Reads `fd` to its end into a malloc'd buffer with a NUL after the bytes. The size from fstat
 * is a hint: a file that grows (or a /proc file that says 0) is read on until read says end. */
static ssize_t read_all(int fd, char **data, size_t *len)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    if (S_ISDIR(st.st_mode))
        return -EISDIR;
    if (st.st_size < 0 || (uint64_t)st.st_size >= SSIZE_MAX - 1)
        return -EFBIG;
    size_t cap = (size_t)st.st_size + 1; /* one more: reaching it proves the end is not here */
    size_t n = 0;
    char *buf = malloc(cap + 1);
    if (!buf)
        return -ENOMEM;
    for (;;) {
        ssize_t got = read_full(fd, buf + n, cap - n);
        if (got < 0) {
            free(buf);
            return got;
        }
        n += (size_t)got;
        if (n < cap)
            break;
        if (cap > SSIZE_MAX / 2) {
            free(buf);
            return -EFBIG;
        }
        cap = cap < 4096 ? 4096 : cap * 2;
        char *more = realloc(buf, cap + 1);
        if (!more) {
            free(buf);
            return -ENOMEM;
        }
        buf = more;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}

/* Copies `in` to `out` by copy_file_range, else through a buffer: the count or -errno. */
static ssize_t copy_fds(int in, int out)
{
    size_t total = 0;
    for (;;) {
        ssize_t n = copy_file_range(in, NULL, out, NULL, COPY_CHUNK, 0);
        if (n < 0 && total == 0 &&
            (errno == EXDEV || errno == ENOSYS || errno == EINVAL || errno == EOPNOTSUPP ||
             errno == EPERM)) {
            break; /* another file system, an old kernel, a special file: copy by hand */
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0 && total == 0)
            break; /* procfs and sysfs files say "empty" here while read(2) gives bytes */
        if (n == 0)
            return (ssize_t)total;
        total += (size_t)n;
    }
    char *buf = malloc(COPY_BUFFER);
    if (!buf)
        return -ENOMEM;
    ssize_t rc = 0;
    for (;;) {
        ssize_t n = read_full(in, buf, COPY_BUFFER);
        if (n <= 0 || (rc = edo__fd_write_all(out, buf, (size_t)n)) < 0) {
            rc = n < 0 ? n : rc;
            break;
        }
        total += (size_t)n;
    }
    free(buf);
    return rc < 0 ? rc : (ssize_t)total;
}

static ssize_t copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -errno;
    struct stat st, st_to;
    ssize_t rc = fstat(in, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : 0;
    /* The same file: opening it with O_TRUNC would destroy the source. */
    if (rc == 0 && stat(to, &st_to) == 0 && st_to.st_dev == st.st_dev && st_to.st_ino == st.st_ino)
        rc = -EINVAL;
    int out = -1;
    if (rc == 0) {
        out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, st.st_mode & 07777);
        if (out < 0)
            rc = -errno;
    }
    if (rc == 0 && fchmod(out, st.st_mode & 07777) < 0) /* an existing file keeps its mode */
        rc = -errno;
    if (rc == 0)
        rc = copy_fds(in, out);
    if (out >= 0 && close(out) < 0 && rc >= 0)
        rc = -errno;
    close(in);
    return rc;
}

static ssize_t whole_work(edo__fs_call *c)
{
    whole_call *w = (whole_call *)c;
    if (w->op == OP_COPY)
        return copy_file(w->path, w->to);
    if (w->op == OP_WRITE) {
        int fd = open(w->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
        if (fd < 0)
            return -errno;
        ssize_t rc = edo__fd_write_all(fd, w->src, w->len);
        if (close(fd) < 0 && rc == 0 && errno != EINTR)
            rc = -errno; /* NFS reports a failed write-back here */
        return rc;
    }
    int fd = open(w->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    ssize_t rc = read_all(fd, &w->data, &w->len);
    close(fd);
    if (rc == 0 && w->op == OP_READ_BYTES) {
        rc = edo_bytes_append(&w->bytes, w->data, w->len);
        free(w->data);
        w->data = NULL;
    }
    return rc;
}

static void whole_deliver(edo__fs_call *c, void *const *outs)
{
    whole_call *w = (whole_call *)c;
    if (w->op == OP_READ) {
        *(char **)outs[0] = w->data;
        if (outs[1])
            *(size_t *)outs[1] = w->len;
        w->data = NULL;
    } else if (w->op == OP_READ_BYTES) {
        edo_bytes *out = outs[0];
        if (edo_bytes_len(out) == 0) { /* take the allocation as it is */
            edo_bytes_drop(out);
            *out = w->bytes;
            edo_bytes_init(&w->bytes);
        } else if (edo_bytes_append(out, edo_bytes_data(&w->bytes), edo_bytes_len(&w->bytes)) < 0) {
            ((edo_fs_future *)outs[2])->result = -ENOMEM;
        }
    }
}

static void whole_release(edo__fs_call *c)
{
    whole_call *w = (whole_call *)c;
    free(w->data);
    edo_bytes_drop(&w->bytes);
}

static const edo__fs_ops whole_ops = {whole_work, whole_deliver, whole_release, edo__fs_whole_ring};

/* A call for `op` on `path` (and `to`); `extra` more bytes in the block for a copy of data. */
static whole_call *whole_new(whole_op op, const char *path, const char *to, size_t extra)
{
    size_t lp = strlen(path) + 1, lt = to ? strlen(to) + 1 : 0;
    if (extra > SIZE_MAX - sizeof(whole_call) - lp - lt)
        return NULL;
    whole_call *w = (whole_call *)edo__fs_call_new(sizeof *w + lp + lt + extra, &whole_ops);
    if (!w)
        return NULL;
    w->op = op;
    memcpy(w->path, path, lp);
    if (to)
        w->to = memcpy(w->path + lp, to, lt);
    return w;
}

static void read_init(edo_fs_future *f, whole_op op, const char *path, void *out, size_t *len)
{
    if (!f)
        return;
    if (!path || !out || (op == OP_READ && !len)) {
        edo__fs_future_fail(f, -EINVAL);
        return;
    }
    whole_call *w = whole_new(op, path, NULL, 0);
    /* read_bytes may find the append failing at delivery: it then sets the future's result. */
    edo__fs_future_init(f, w ? &w->call : NULL, 0, out, len, f);
}

void edo_fs_read_future_init(edo_fs_future *f, const char *path, void **data, size_t *len)
{
    read_init(f, OP_READ, path, data, len);
}

void edo_fs_read_to_string_future_init(edo_fs_future *f, const char *path, char **text,
                                       size_t *len)
{
    if (f && path && text && !len) { /* len is optional here */
        whole_call *w = whole_new(OP_READ, path, NULL, 0);
        edo__fs_future_init(f, w ? &w->call : NULL, 0, text, NULL, NULL);
        return;
    }
    read_init(f, OP_READ, path, text, len);
}

void edo_fs_read_bytes_future_init(edo_fs_future *f, const char *path, edo_bytes *out)
{
    read_init(f, OP_READ_BYTES, path, out, NULL);
}

int edo_fs_read(const char *path, void **data, size_t *len)
{
    edo_fs_future f;
    edo_fs_read_future_init(&f, path, data, len);
    return (int)edo__fs_run(&f);
}

int edo_fs_read_to_string(const char *path, char **text, size_t *len)
{
    edo_fs_future f;
    edo_fs_read_to_string_future_init(&f, path, text, len);
    return (int)edo__fs_run(&f);
}

int edo_fs_read_bytes(const char *path, edo_bytes *out)
{
    edo_fs_future f;
    edo_fs_read_bytes_future_init(&f, path, out);
    return (int)edo__fs_run(&f);
}

void edo_fs_write_future_init(edo_fs_future *f, const char *path, const void *data, size_t len)
{
    if (!f)
        return;
    if (!path || (!data && len) || len > SSIZE_MAX) {
        edo__fs_future_fail(f, -EINVAL);
        return;
    }
    /* The bytes are copied into the call: the pool thread must not read the caller's memory
     * after the caller gave up waiting. */
    whole_call *w = whole_new(OP_WRITE, path, NULL, len);
    if (w) {
        char *copy = w->path + strlen(path) + 1;
        if (len)
            memcpy(copy, data, len);
        w->src = copy;
        w->len = len;
        w->call.alone = len >= EDO__FS_BIG_WRITE;
    }
    edo__fs_future_init(f, w ? &w->call : NULL, 0, NULL, NULL, NULL);
}

int edo_fs_write(const char *path, const void *data, size_t len)
{
    edo_fs_future f;
    edo_fs_write_future_init(&f, path, data, len);
    return (int)edo__fs_run(&f);
}

void edo_fs_copy_future_init(edo_fs_future *f, const char *from, const char *to)
{
    if (!f)
        return;
    if (!from || !to) {
        edo__fs_future_fail(f, -EINVAL);
        return;
    }
    whole_call *w = whole_new(OP_COPY, from, to, 0);
    if (w)
        w->call.alone = true;
    edo__fs_future_init(f, w ? &w->call : NULL, 0, NULL, NULL, NULL);
}

ssize_t edo_fs_copy(const char *from, const char *to)
{
    edo_fs_future f;
    edo_fs_copy_future_init(&f, from, to);
    return edo__fs_run(&f);
}
