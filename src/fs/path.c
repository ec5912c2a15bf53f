/* The calls on paths that are one system call or a short walk: rename, remove, directories,
 * links, permissions, metadata, canonicalize, try_exists. One call struct serves them all: the
 * operation, one or two path copies, a number, and the result to deliver. Where the runtime
 * has a completion ring, those with an opcode go through it (path_ring): rename, remove_file,
 * create_dir, remove_dir, hard_link, symlink, metadata, symlink_metadata; the walks
 * (create_dir_all, remove_dir_all, canonicalize), read_link, set_permissions and try_exists
 * have none and stay on the pool. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h> /* rename */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/call.h"
#include "fs/fs.h"

typedef enum path_op {
    OP_RENAME,
    OP_REMOVE_FILE,
    OP_CREATE_DIR,
    OP_CREATE_DIR_ALL,
    OP_REMOVE_DIR,
    OP_REMOVE_DIR_ALL,
    OP_METADATA,
    OP_SYMLINK_METADATA,
    OP_CANONICALIZE,
    OP_READ_LINK,
    OP_HARD_LINK,
    OP_SYMLINK,
    OP_SET_PERMISSIONS,
    OP_TRY_EXISTS,
} path_op;

typedef struct path_call {
    edo__fs_call call;
    path_op op;
    uint32_t mode;
    const char *a, *b; /* into `paths` */
    char *text;        /* canonicalize, read_link: the result */
    edo_metadata meta; /* metadata: the result */
    struct statx stx;  /* metadata through the ring: what the kernel writes */
    char paths[];
} path_call;

/* readlink(2) into a buffer that grows until the link fits. */
static ssize_t read_link(const char *path, char **out)
{
    for (size_t size = 256;; size *= 2) {
        char *buf = malloc(size);
        if (!buf)
            return -ENOMEM;
        ssize_t n = readlink(path, buf, size);
        if (n < 0) {
            int err = errno;
            free(buf);
            return -err;
        }
        if ((size_t)n < size) {
            buf[n] = '\0';
            *out = buf;
            return 0;
        }
        free(buf);
    }
}

/* mkdir -p: from the longest existing prefix down. */
static ssize_t create_dir_all(char *path)
{
    if (mkdir(path, 0777) == 0)
        return 0;
    int err = errno;
    struct stat st;
    if (err == EEXIST)
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -EEXIST;
    if (err != ENOENT)
        return -err;
    char *slash = strrchr(path, '/');
    while (slash && slash > path && slash[-1] == '/')
        slash--; /* "a//b": cut at the first slash of the run */
    if (!slash || slash == path)
        return -ENOENT; /* no parent to make ("/" exists) */
    *slash = '\0';
    ssize_t rc = create_dir_all(path);
    *slash = '/';
    if (rc < 0)
        return rc;
    if (mkdir(path, 0777) == 0)
        return 0;
    err = errno; /* made meanwhile by someone else: fine if a directory */
    return err == EEXIST && stat(path, &st) == 0 && S_ISDIR(st.st_mode) ? 0 : -err;
}

static ssize_t remove_dir_all(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? -ENOTDIR : -errno;
    int rc = edo__fs_remove_tree(fd);
    if (rc == 0 && rmdir(path) < 0)
        rc = -errno;
    return rc;
}

static ssize_t path_work(edo__fs_call *c)
{
    path_call *p = (path_call *)c;
    int rc = 0;
    switch (p->op) {
    case OP_RENAME: rc = rename(p->a, p->b); break;
    case OP_REMOVE_FILE:
        rc = unlink(p->a); /* Linux says EISDIR for a directory; POSIX allows EPERM */
        if (rc < 0 && errno == EPERM) {
            struct stat st;
            if (lstat(p->a, &st) == 0 && S_ISDIR(st.st_mode))
                return -EISDIR;
            errno = EPERM;
        }
        break;
    case OP_CREATE_DIR: rc = mkdir(p->a, 0777); break;
    case OP_CREATE_DIR_ALL: return create_dir_all((char *)p->a);
    case OP_REMOVE_DIR: rc = rmdir(p->a); break;
    case OP_REMOVE_DIR_ALL: return remove_dir_all(p->a);
    case OP_METADATA: return edo__fs_stat(AT_FDCWD, p->a, 0, &p->meta);
    case OP_SYMLINK_METADATA: return edo__fs_stat(AT_FDCWD, p->a, AT_SYMLINK_NOFOLLOW, &p->meta);
    case OP_CANONICALIZE:
        p->text = realpath(p->a, NULL);
        rc = p->text ? 0 : -1;
        break;
    case OP_READ_LINK: return read_link(p->a, &p->text);
    case OP_HARD_LINK: rc = link(p->a, p->b); break;
    case OP_SYMLINK: rc = symlink(p->a, p->b); break;
    case OP_SET_PERMISSIONS: rc = chmod(p->a, (mode_t)p->mode); break;
    case OP_TRY_EXISTS: {
        struct stat st; /* not access(2): it answers for the real uid, not whether it is there */
        if (stat(p->a, &st) == 0)
            return 1;
        return errno == ENOENT ? 0 : -errno;
    }
    }
    return rc < 0 ? -errno : 0;
}

static void path_deliver(edo__fs_call *c, void *const *outs)
{
    path_call *p = (path_call *)c;
    if (p->op == OP_METADATA || p->op == OP_SYMLINK_METADATA) {
        *(edo_metadata *)outs[0] = p->meta;
    } else if (p->op == OP_CANONICALIZE || p->op == OP_READ_LINK) {
        *(char **)outs[0] = p->text;
        p->text = NULL;
    }
}

static void path_release(edo__fs_call *c) { free(((path_call *)c)->text); }

/* The opcode of `op` where it has one the kernel supports, else 0 (IORING_OP_NOP). */
static unsigned ring_opcode(edo__cring *r, path_op op)
{
    unsigned code = 0;
    switch (op) {
    case OP_RENAME: code = IORING_OP_RENAMEAT; break;
    case OP_REMOVE_FILE:
    case OP_REMOVE_DIR: code = IORING_OP_UNLINKAT; break;
    case OP_CREATE_DIR: code = IORING_OP_MKDIRAT; break;
    case OP_HARD_LINK: code = IORING_OP_LINKAT; break;
    case OP_SYMLINK: code = IORING_OP_SYMLINKAT; break;
    case OP_METADATA:
    case OP_SYMLINK_METADATA: code = IORING_OP_STATX; break;
    default: break;
    }
    return code && edo__cring_has_op(r, code) ? code : 0;
}

/* One SQE, then its result. What the pool's work adds to the bare system call is kept: a
 * refused statx (ENOSYS, EPERM from a filter) and an unlink's EPERM (a directory, on some file
 * systems) go to the pool, which tells them apart. */
static ssize_t path_ring(edo__fs_call *c, edo__cring *r, const int32_t *res)
{
    path_call *p = (path_call *)c;
    bool meta = p->op == OP_METADATA || p->op == OP_SYMLINK_METADATA;
    if (res) {
        if ((meta && (res[0] == -ENOSYS || res[0] == -EPERM)) ||
            (p->op == OP_REMOVE_FILE && res[0] == -EPERM))
            return edo__fs_call_abandoned(c) ? -ECANCELED : EDO__FS_POOL;
        if (res[0] < 0)
            return res[0];
        if (meta)
            edo__fs_metadata_of_statx(&p->stx, &p->meta);
        return 0;
    }
    unsigned code = ring_opcode(r, p->op);
    struct io_uring_sqe *sqe;
    if (!code || edo__fs_ring_sqe(c, r, 0, true, &sqe) < 0)
        return EDO__FS_POOL;
    sqe->opcode = (uint8_t)code;
    sqe->fd = AT_FDCWD;
    sqe->addr = (uint64_t)(uintptr_t)p->a;
    switch (p->op) {
    case OP_RENAME:
    case OP_HARD_LINK: /* old directory in fd, new one in len */
        sqe->len = (uint32_t)AT_FDCWD;
        sqe->addr2 = (uint64_t)(uintptr_t)p->b;
        break;
    case OP_SYMLINK: sqe->addr2 = (uint64_t)(uintptr_t)p->b; break;
    case OP_REMOVE_DIR: sqe->unlink_flags = AT_REMOVEDIR; break;
    case OP_CREATE_DIR: sqe->len = 0777; break;
    case OP_METADATA:
    case OP_SYMLINK_METADATA:
        sqe->len = EDO__FS_STATX_MASK;
        sqe->statx_flags =
            EDO__FS_STATX_FLAGS | (p->op == OP_SYMLINK_METADATA ? AT_SYMLINK_NOFOLLOW : 0);
        sqe->off = (uint64_t)(uintptr_t)&p->stx;
        break;
    default: break;
    }
    return EDO__FS_MORE;
}

static const edo__fs_ops path_ops = {path_work, path_deliver, path_release, path_ring};

/* Prepares `f` for `op` on `a` (and `b` when the operation takes two paths), delivering to
 * `out` when the operation has a result. */
static void path_init(edo_fs_future *f, path_op op, const char *a, const char *b, void *out,
                      uint32_t mode)
{
    if (!f)
        return;
    bool two = op == OP_RENAME || op == OP_HARD_LINK || op == OP_SYMLINK;
    bool has_out = op == OP_METADATA || op == OP_SYMLINK_METADATA || op == OP_CANONICALIZE ||
                   op == OP_READ_LINK;
    if (!a || (two && !b) || (has_out && !out) || (op == OP_SET_PERMISSIONS && mode > 07777) ||
        (op == OP_CREATE_DIR_ALL && !*a)) {
        edo__fs_future_fail(f, -EINVAL);
        return;
    }
    size_t la = strlen(a) + 1, lb = two ? strlen(b) + 1 : 0;
    path_call *p = (path_call *)edo__fs_call_new(sizeof *p + la + lb, &path_ops);
    if (p) {
        p->op = op;
        p->mode = mode;
        p->a = memcpy(p->paths, a, la);
        p->b = two ? memcpy(p->paths + la, b, lb) : NULL;
        p->call.alone = op == OP_REMOVE_DIR_ALL;
    }
    edo__fs_future_init(f, p ? &p->call : NULL, 0, out, NULL, NULL);
}

static int path_run(path_op op, const char *a, const char *b, void *out, uint32_t mode)
{
    edo_fs_future f;
    path_init(&f, op, a, b, out, mode);
    return (int)edo__fs_run(&f);
}

/* ---- the calls ----------------------------------------------------------------------------- */

int edo_fs_rename(const char *from, const char *to)
{
    return path_run(OP_RENAME, from, to, NULL, 0);
}
void edo_fs_rename_future_init(edo_fs_future *f, const char *from, const char *to)
{
    path_init(f, OP_RENAME, from, to, NULL, 0);
}

int edo_fs_remove_file(const char *path) { return path_run(OP_REMOVE_FILE, path, NULL, NULL, 0); }
void edo_fs_remove_file_future_init(edo_fs_future *f, const char *path)
{
    path_init(f, OP_REMOVE_FILE, path, NULL, NULL, 0);
}

int edo_fs_create_dir(const char *path) { return path_run(OP_CREATE_DIR, path, NULL, NULL, 0); }
void edo_fs_create_dir_future_init(edo_fs_future *f, const char *path)
{
    path_init(f, OP_CREATE_DIR, path, NULL, NULL, 0);
}

int edo_fs_create_dir_all(const char *path)
{
    return path_run(OP_CREATE_DIR_ALL, path, NULL, NULL, 0);
}
void edo_fs_create_dir_all_future_init(edo_fs_future *f, const char *path)
{
    path_init(f, OP_CREATE_DIR_ALL, path, NULL, NULL, 0);
}

int edo_fs_remove_dir(const char *path) { return path_run(OP_REMOVE_DIR, path, NULL, NULL, 0); }
void edo_fs_remove_dir_future_init(edo_fs_future *f, const char *path)
{
    path_init(f, OP_REMOVE_DIR, path, NULL, NULL, 0);
}

int edo_fs_remove_dir_all(const char *path)
{
    return path_run(OP_REMOVE_DIR_ALL, path, NULL, NULL, 0);
}
void edo_fs_remove_dir_all_future_init(edo_fs_future *f, const char *path)
{
    path_init(f, OP_REMOVE_DIR_ALL, path, NULL, NULL, 0);
}

int edo_fs_metadata(const char *path, edo_metadata *out)
{
    return path_run(OP_METADATA, path, NULL, out, 0);
}
void edo_fs_metadata_future_init(edo_fs_future *f, const char *path, edo_metadata *out)
{
    path_init(f, OP_METADATA, path, NULL, out, 0);
}

int edo_fs_symlink_metadata(const char *path, edo_metadata *out)
{
    return path_run(OP_SYMLINK_METADATA, path, NULL, out, 0);
}
void edo_fs_symlink_metadata_future_init(edo_fs_future *f, const char *path, edo_metadata *out)
{
    path_init(f, OP_SYMLINK_METADATA, path, NULL, out, 0);
}

int edo_fs_canonicalize(const char *path, char **out)
{
    return path_run(OP_CANONICALIZE, path, NULL, out, 0);
}
void edo_fs_canonicalize_future_init(edo_fs_future *f, const char *path, char **out)
{
    path_init(f, OP_CANONICALIZE, path, NULL, out, 0);
}

int edo_fs_read_link(const char *path, char **out)
{
    return path_run(OP_READ_LINK, path, NULL, out, 0);
}
void edo_fs_read_link_future_init(edo_fs_future *f, const char *path, char **out)
{
    path_init(f, OP_READ_LINK, path, NULL, out, 0);
}

int edo_fs_hard_link(const char *existing, const char *link)
{
    return path_run(OP_HARD_LINK, existing, link, NULL, 0);
}
void edo_fs_hard_link_future_init(edo_fs_future *f, const char *existing, const char *link)
{
    path_init(f, OP_HARD_LINK, existing, link, NULL, 0);
}

int edo_fs_symlink(const char *target, const char *link)
{
    return path_run(OP_SYMLINK, target, link, NULL, 0);
}
void edo_fs_symlink_future_init(edo_fs_future *f, const char *target, const char *link)
{
    path_init(f, OP_SYMLINK, target, link, NULL, 0);
}

int edo_fs_set_permissions(const char *path, uint32_t permissions)
{
    return path_run(OP_SET_PERMISSIONS, path, NULL, NULL, permissions);
}
void edo_fs_set_permissions_future_init(edo_fs_future *f, const char *path,
                                        uint32_t permissions)
{
    path_init(f, OP_SET_PERMISSIONS, path, NULL, NULL, permissions);
}

int edo_fs_try_exists(const char *path) { return path_run(OP_TRY_EXISTS, path, NULL, NULL, 0); }
void edo_fs_try_exists_future_init(edo_fs_future *f, const char *path)
{
    path_init(f, OP_TRY_EXISTS, path, NULL, NULL, 0);
}
