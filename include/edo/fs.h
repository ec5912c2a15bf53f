/* edo/fs.h — files and directories, without blocking a worker.
 *
 *     static void *app(void *arg) {                 // a coroutine
 *         (void)arg;
 *         char *text;
 *         size_t len;
 *         int rc = edo_fs_read_to_string("/etc/hostname", &text, &len);
 *         if (rc < 0) return NULL;                  // -ENOENT, -EACCES, ...
 *         edo_fs_write("/tmp/hostname.copy", text, len);
 *         free(text);
 *         edo_file *f;                              // a file is a byte stream
 *         if (edo_file_create("/tmp/log", &f) == 0) {
 *             edo_stream_write_all(edo_file_stream(f), "hello\n", 6);
 *             edo_file_sync_all(f);
 *             edo_file_close(f);
 *         }
 *         return NULL;
 *     }
 *
 * Linux has no readiness for files (epoll refuses them: a disk read always "blocks"), so the
 * system calls run on the runtime's blocking pool, as Tokio's tokio::fs does, with two
 * differences that make small operations cheap (docs/fs.md):
 *  - Calls are batched: the calls the tasks of a runtime queue go to a shared queue that pool
 *    threads drain, several calls per pool hop, instead of one hop (a thread wake-up and a task
 *    wake-up) per call; while calls are slow (blocked in the kernel) each gets a thread of its
 *    own, as in Tokio. Calls that may take long (sync_all, sync_data, copy, remove_dir_all,
 *    large writes) get a pool call of their own, so they never hold up the queue.
 *  - Whole-file helpers are one call: edo_fs_read opens, sizes, reads and closes in one hop;
 *    edo_fs_write opens, writes and closes in one.
 * The io_uring backend will take over these calls where it can; the API stays as it is.
 *
 * Common rules (every call below):
 *  - Coroutine calls suspend the calling coroutine until the pool has done the work, and return
 *    0 (or a count), or -errno: what the system call gave (-ENOENT, -EACCES, -EISDIR, -ENOSPC,
 *    -EROFS, -EEXIST, ...), -EINVAL for bad input (a NULL path or out-pointer, named in each
 *    call; checked first, before anything else), -EPERM (not in a coroutine; or, for a future,
 *    polled outside a runtime), -ENOMEM, -ECANCELED (the task was aborted), -ETIMEDOUT (the
 *    coroutine's deadline, edo/time.h). Paths are copied when the call starts: the caller's
 *    strings may be freed as soon as the call returns or the future is initialised.
 *  - Future forms: edo_fs_<call>_future_init(&f, args...) prepares an edo_fs_future; poll it to
 *    EDO_READY and read f.result (what the coroutine call returns, less -EPERM, -ECANCELED and
 *    -ETIMEDOUT); release it with edo_future_drop. Nothing starts before the first poll. Bad
 *    arguments complete at the first poll with -EINVAL. NULL f: no-op.
 *  - Cancellation (a dropped future, a deadline, an abort): results are written to the caller's
 *    out-pointers only when the call completes, never after; so a caller that gave up may free
 *    them at once. A call that no pool thread had started when it was abandoned never runs; one
 *    already running runs to its end (a rename or a removal then happens; a buffer read is
 *    freed). A call is atomic as its system call is, no more: edo_fs_write abandoned midway may
 *    leave a file written in part. With io_uring, a call started by a coroutine under a deadline
 *    may be ended by the kernel at that deadline (edo/time.h, Deadlines): it then completes with
 *    -ETIMEDOUT (a pwrite cut short: the count written).
 *  - Thread-safety: every call may be made from any number of tasks at once. An edo_file and an
 *    edo_read_dir are used by one task at a time, except that a file's stream allows one read
 *    and one write in flight at once (edo/stream.h).
 *  - Results allocated for the caller (data, text, paths) are malloc'd: free() them.
 */
#ifndef EDO_FS_H
#define EDO_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "edo/bytes.h"
#include "edo/future.h"
#include "edo/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Metadata: a struct of edo's own (struct stat's layout differs between platforms and ABIs).
 * ------------------------------------------------------------------------------------------- */

typedef enum edo_file_type {
    EDO_FILE_UNKNOWN = 0, /* the file system did not say (a directory entry without d_type) */
    EDO_FILE_REGULAR,
    EDO_FILE_DIR,
    EDO_FILE_SYMLINK,
    EDO_FILE_FIFO,
    EDO_FILE_SOCKET,
    EDO_FILE_CHAR_DEVICE,
    EDO_FILE_BLOCK_DEVICE,
} edo_file_type;

typedef struct edo_metadata {
    edo_file_type type;
    uint32_t permissions; /* mode bits 07777 (setuid, setgid, sticky, rwx for user/group/other) */
    uint64_t len;         /* bytes */
    uint64_t blocks;      /* 512-byte blocks allocated (less than len/512 for a sparse file) */
    uint64_t dev, ino;    /* the file's identity: same dev and ino, same file */
    uint64_t nlink;
    uint32_t uid, gid;
    int64_t accessed_ns, modified_ns, changed_ns; /* since the Unix epoch */
    int64_t created_ns; /* birth time, or -1 where the file system does not record it */
} edo_metadata;

/* One operation of this header in future form: see "Future forms" above. `result` is valid once
 * ready. Fields other than base and result are private. */
typedef struct edo_fs_future {
    edo_future base;
    ssize_t result;
    void *private_[6];
} edo_fs_future;

/* ---------------------------------------------------------------------------------------------
 * Whole files and paths. Each is one pool call.
 * ------------------------------------------------------------------------------------------- */

/* Reads the whole file at `path`: *data (malloc'd, followed by a NUL byte not counted in *len,
 * so text can be used as a C string) and *len. Opens, sizes, reads and closes in one pool call.
 * -EINVAL: path, data or len NULL. -EISDIR: a directory. -EFBIG: larger than memory can hold. */
int edo_fs_read(const char *path, void **data, size_t *len);
void edo_fs_read_future_init(edo_fs_future *f, const char *path, void **data, size_t *len);

/* edo_fs_read typed for text: *text is NUL-terminated; `len` may be NULL. The bytes are not
 * checked to be UTF-8 (or anything): a NUL byte inside the file ends the C string early, and
 * *len still counts every byte. -EINVAL: path or text NULL. */
int edo_fs_read_to_string(const char *path, char **text, size_t *len);
void edo_fs_read_to_string_future_init(edo_fs_future *f, const char *path, char **text,
                                       size_t *len);

/* Appends the whole file at `path` to the buffer `out` (edo/bytes.h; an empty buffer takes the
 * bytes without a copy). -EINVAL: path or out NULL. */
int edo_fs_read_bytes(const char *path, edo_bytes *out);
void edo_fs_read_bytes_future_init(edo_fs_future *f, const char *path, edo_bytes *out);

/* Writes `len` bytes to the file at `path`, created (mode 0666 less the umask) or truncated, in
 * one pool call (open, write, close; the bytes are copied first, so `data` may be freed once
 * the call started). Not synced: see edo_file_sync_all for durability. A failure midway
 * (-ENOSPC, -EDQUOT, -EIO) leaves the bytes written before it in the file. -EINVAL: path NULL,
 * data NULL with len > 0, len above SSIZE_MAX. */
int edo_fs_write(const char *path, const void *data, size_t len);
void edo_fs_write_future_init(edo_fs_future *f, const char *path, const void *data, size_t len);

/* Copies the contents and permission bits of the file `from` to `to` (created or truncated):
 * returns the bytes copied. The kernel copies (copy_file_range: no bytes through user space,
 * a reflink on file systems that share extents), else read/write through a buffer. A pool
 * call of its own. -EINVAL: a NULL path, or `from` and `to` are the same file (the copy would
 * truncate its own source; nothing is changed). -EISDIR: either is a directory. */
ssize_t edo_fs_copy(const char *from, const char *to);
void edo_fs_copy_future_init(edo_fs_future *f, const char *from, const char *to);

/* rename(2): moves `from` to `to`, replacing a file (or an empty directory) there atomically.
 * -EINVAL: a NULL path, or a directory into itself. -EXDEV: another file system. */
int edo_fs_rename(const char *from, const char *to);
void edo_fs_rename_future_init(edo_fs_future *f, const char *from, const char *to);

/* Removes a file or symbolic link (not a directory: -EISDIR). -EINVAL: path NULL. */
int edo_fs_remove_file(const char *path);
void edo_fs_remove_file_future_init(edo_fs_future *f, const char *path);

/* Creates the directory `path` (mode 0777 less the umask). -EEXIST when anything is there,
 * -ENOENT when its parent is missing. -EINVAL: path NULL. */
int edo_fs_create_dir(const char *path);
void edo_fs_create_dir_future_init(edo_fs_future *f, const char *path);

/* Creates `path` and every missing parent. 0 when the directory already exists (made by
 * someone else meanwhile too); -EEXIST when `path` or a parent is something other than a
 * directory (-ENOTDIR for a parent, as the kernel says). -EINVAL: path NULL or empty. */
int edo_fs_create_dir_all(const char *path);
void edo_fs_create_dir_all_future_init(edo_fs_future *f, const char *path);

/* Removes the empty directory `path`: -ENOTEMPTY when it is not. -EINVAL: path NULL. */
int edo_fs_remove_dir(const char *path);
void edo_fs_remove_dir_future_init(edo_fs_future *f, const char *path);

/* Removes the directory `path` and everything under it. Symbolic links are removed, never
 * followed (a link to a directory outside is not entered). A pool call of its own. The first
 * failure stops it: what was removed before stays removed. -ENOTDIR: `path` is not a directory
 * (nor a link to one: a link is refused, not followed). -EINVAL: path NULL. */
int edo_fs_remove_dir_all(const char *path);
void edo_fs_remove_dir_all_future_init(edo_fs_future *f, const char *path);

/* The metadata of the file at `path`, following symbolic links (symlink_metadata: of the link
 * itself). -EINVAL: path or out NULL. */
int edo_fs_metadata(const char *path, edo_metadata *out);
void edo_fs_metadata_future_init(edo_fs_future *f, const char *path, edo_metadata *out);
int edo_fs_symlink_metadata(const char *path, edo_metadata *out);
void edo_fs_symlink_metadata_future_init(edo_fs_future *f, const char *path, edo_metadata *out);

/* The absolute path of `path` with every symbolic link, "." and ".." resolved (realpath(3)):
 * *out is malloc'd. -ENOENT when a component is missing. -EINVAL: path or out NULL. */
int edo_fs_canonicalize(const char *path, char **out);
void edo_fs_canonicalize_future_init(edo_fs_future *f, const char *path, char **out);

/* What the symbolic link `path` points to, as stored (not resolved): *out is malloc'd and
 * NUL-terminated. -EINVAL: path or out NULL, or `path` is not a symbolic link. */
int edo_fs_read_link(const char *path, char **out);
void edo_fs_read_link_future_init(edo_fs_future *f, const char *path, char **out);

/* Makes `link` a new name (hard link) for the existing file `existing`. -EEXIST: `link` exists.
 * -EINVAL: a NULL path. */
int edo_fs_hard_link(const char *existing, const char *link);
void edo_fs_hard_link_future_init(edo_fs_future *f, const char *existing, const char *link);

/* Makes `link` a symbolic link holding `target` (which need not exist). -EEXIST: `link` exists.
 * -EINVAL: a NULL path. */
int edo_fs_symlink(const char *target, const char *link);
void edo_fs_symlink_future_init(edo_fs_future *f, const char *target, const char *link);

/* chmod(2): sets the permission bits (07777) of the file at `path` (following links).
 * -EINVAL: path NULL, or bits outside 07777. */
int edo_fs_set_permissions(const char *path, uint32_t permissions);
void edo_fs_set_permissions_future_init(edo_fs_future *f, const char *path,
                                        uint32_t permissions);

/* Whether something exists at `path` (following links): 1 yes, 0 no (nothing there, or a
 * dangling link), or -errno when that cannot be told (-EACCES on a parent directory, -ELOOP,
 * -ENOTDIR, ...). -EINVAL: path NULL. */
int edo_fs_try_exists(const char *path);
void edo_fs_try_exists_future_init(edo_fs_future *f, const char *path);

/* ---------------------------------------------------------------------------------------------
 * Reading directories: a stream of entries. Each pool call fills a buffer of many entries
 * (getdents64 in 64 KiB reads), so a directory of 100,000 entries takes a few dozen hops.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_read_dir edo_read_dir;

/* One directory entry ("." and ".." are skipped). `name` points into the edo_read_dir: valid
 * until the next call on it. `type` is what the directory says (EDO_FILE_UNKNOWN on file
 * systems that do not record it: then ask edo_fs_symlink_metadata). */
typedef struct edo_dir_entry {
    const char *name;
    edo_file_type type;
    uint64_t ino;
} edo_dir_entry;

/* Opens the directory `path` for reading. -ENOTDIR: not a directory. -EINVAL: path or out NULL.
 * Close it with edo_read_dir_close. */
int edo_read_dir_open(const char *path, edo_read_dir **out);
void edo_read_dir_open_future_init(edo_fs_future *f, const char *path, edo_read_dir **out);

/* The next entry: 1 (stored in *entry), 0 at the end (and every time after), or -errno.
 * Cancel-safe: entries read by a pool call whose wait was abandoned are kept for the next call.
 * Most calls take an entry of the batch at hand and return at once without suspending (then
 * even outside a coroutine). -EINVAL: d or entry NULL. */
int edo_read_dir_next(edo_read_dir *d, edo_dir_entry *entry);
void edo_read_dir_next_future_init(edo_fs_future *f, edo_read_dir *d, edo_dir_entry *entry);

/* Closes the directory (at once; a pool call still reading it closes it when done). No call on
 * `d` may be waiting. Returns 0, or -EINVAL (d NULL). Never suspends. */
int edo_read_dir_close(edo_read_dir *d);

/* ---------------------------------------------------------------------------------------------
 * Files: an open file is a byte stream (edo_file_stream) plus the calls only files have.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_file edo_file;

/* How to open a file (open(2)'s flags, as Tokio's OpenOptions). Zero fields: the default. */
typedef struct edo_open_options {
    bool read;       /* open for reading (neither read, write nor append: read) */
    bool write;      /* open for writing */
    bool append;     /* every write goes to the end (implies write) */
    bool truncate;   /* cut to 0 bytes when opened (needs write) */
    bool create;     /* create the file when missing (needs write or append) */
    bool create_new; /* create it, failing with -EEXIST when anything is there, a symbolic link
                        too (needs write or append; create and truncate are then moot) */
    uint32_t mode;   /* permission bits of a file created, 0: 0666 (both less the umask) */
    int custom_flags; /* more open(2) flags, passed through: O_DIRECT, O_NOFOLLOW, O_NOATIME,
                         O_SYNC, O_DSYNC, ... (the access mode, O_CREAT, O_EXCL, O_TRUNC,
                         O_APPEND come from the fields above and are ignored here; O_CLOEXEC is
                         always set) */
} edo_open_options;

/* Opens `path` as `options` says (NULL: read only) and makes *out a file. -EINVAL: path or out
 * NULL, truncate/create/create_new without write or append, mode outside 07777. -EISDIR: a
 * directory opened for writing; a directory opened for reading is -EISDIR as well (use
 * edo_read_dir_open). -ELOOP: O_NOFOLLOW and a link. Close with edo_file_close. */
int edo_file_open(const char *path, const edo_open_options *options, edo_file **out);
void edo_file_open_future_init(edo_fs_future *f, const char *path,
                               const edo_open_options *options, edo_file **out);
/* Opens `path` for writing, created or truncated (Tokio's File::create). */
int edo_file_create(const char *path, edo_file **out);

/* The file as a byte stream (edo/stream.h, edo/stream_util.h), reading and writing at the
 * file's offset. Every stream call works on it; each read and each write is one pool call
 * (up to 64 KiB), or, on an io_uring runtime, for a regular file or block device opened for
 * reading alone or writing alone, one read or write in the completion ring (docs/fs.md). The
 * stream belongs to the file: do not close it (edo_file_close does).
 * Cancel safety, as edo/stream.h asks, the same on both paths:
 *  - a read abandoned while its call runs keeps the bytes that call read, for the next
 *    read (the file's offset has moved past them);
 *  - a write copies its bytes (up to 64 KiB) and completes at once while a call (pool or
 *    ring) writes them out; a write that is pending waits for the previous one and has copied nothing, so
 *    dropping it writes nothing. A failure of a write going out (-ENOSPC, -EIO) is returned by
 *    the next write, flush, shutdown, or any edo_file call below (edo_file_close included, in
 *    a coroutine).
 * NULL f: NULL. Never suspends. */
edo_stream *edo_file_stream(edo_file *f);

/* Reads at `offset`, leaving the file's offset alone: returns the count (0 at or past the end;
 * at most 64 KiB per call). Waits for a write going out first. Reads into a buffer of the
 * call's own, copied to `buf` on completion, so an abandoned pread never writes to `buf`.
 * -EINVAL: f NULL, buf NULL with len > 0, len above SSIZE_MAX, offset above INT64_MAX. -EBADF:
 * not open for reading. len 0: 0 (after waiting for a write going out). */
ssize_t edo_file_pread(edo_file *f, void *buf, size_t len, uint64_t offset);

/* Writes all `len` bytes at `offset`, leaving the file's offset alone (but on a file opened with
 * append, Linux writes at the end: pwrite(2)). Waits for a write going out first. Returns the
 * count written: all of it, or, when an error stopped it midway, the bytes before it (they stay
 * written); the error itself when nothing was written. The bytes are copied when the call
 * starts; abandoned, a pwrite that a pool thread had started still writes them all, one that no
 * thread had started writes nothing. -EINVAL: as edo_file_pread. -EBADF: not open for
 * writing. */
ssize_t edo_file_pwrite(edo_file *f, const void *buf, size_t len, uint64_t offset);

/* Moves the stream's offset (lseek: `whence` SEEK_SET, SEEK_CUR, SEEK_END) and stores the new
 * offset in *pos (may be NULL). Waits for a write still going out (and returns its failure) and
 * for a read call in flight; bytes read ahead and not yet taken are dropped (SEEK_CUR counts
 * from the offset the reader has reached, not the read-ahead). -EINVAL: f NULL, a bad whence,
 * a position before 0. */
int edo_file_seek(edo_file *f, int64_t offset, int whence, uint64_t *pos);

/* Flushes a write going out, then fsync(2) (sync_all: data and metadata) or fdatasync(2)
 * (sync_data: data and what is needed to read it back). A pool call of its own. Returns the
 * failure of the write going out first, if any. -EINVAL: f NULL. */
int edo_file_sync_all(edo_file *f);
int edo_file_sync_data(edo_file *f);

/* ftruncate(2) after flushing: cuts or extends (with zeros) the file to `len` bytes; the
 * stream's offset does not move. -EINVAL: f NULL, len above INT64_MAX. -EBADF: not open for
 * writing. */
int edo_file_set_len(edo_file *f, uint64_t len);

/* The metadata of the open file (after flushing a write going out). -EINVAL: f or out NULL. */
int edo_file_metadata(edo_file *f, edo_metadata *out);

/* Future forms of the calls above, which wait for a write going out first (then a pool call;
 * seek moves the offset without one). `result` as the coroutine call returns. Other fields are
 * private. NULL f: no-op. */
typedef struct edo_file_future {
    edo_future base;
    ssize_t result;
    uint64_t private_[24];
} edo_file_future;

void edo_file_pread_future_init(edo_file_future *f, edo_file *file, void *buf, size_t len,
                                uint64_t offset);
void edo_file_pwrite_future_init(edo_file_future *f, edo_file *file, const void *buf, size_t len,
                                 uint64_t offset);
void edo_file_seek_future_init(edo_file_future *f, edo_file *file, int64_t offset, int whence,
                               uint64_t *pos);
void edo_file_sync_all_future_init(edo_file_future *f, edo_file *file);
void edo_file_sync_data_future_init(edo_file_future *f, edo_file *file);
void edo_file_set_len_future_init(edo_file_future *f, edo_file *file, uint64_t len);
void edo_file_metadata_future_init(edo_file_future *f, edo_file *file, edo_metadata *out);
/* edo_file_close as a future: waits for a write going out, then closes; `result` is that
 * write's failure, or 0. The file is closed when it completes, and also when it is dropped
 * before (its descriptor then once the write is out); it is not to be used after init. */
void edo_file_close_future_init(edo_file_future *f, edo_file *file);

/* Closes the file. In a coroutine it first waits (suspends) for a write still going out, so
 * that nothing issued after the close (a whole-file read of the path, a rename) overtakes it,
 * and returns that write's failure (-ENOSPC, -EIO, ...) or 0; cancelled or cut by a deadline
 * meanwhile (-ECANCELED, -ETIMEDOUT), it closes all the same, the descriptor once the write is
 * out. Outside a coroutine it never suspends: it returns 0 at once and the descriptor is closed
 * when the write is out (use the future form, edo_file_sync_all or edo_stream_flush to wait).
 * Either way the file is closed and `f` must not be used again. No other operation may be in
 * flight. -EINVAL: f NULL. */
int edo_file_close(edo_file *f);

#ifdef __cplusplus
}
#endif

#endif /* EDO_FS_H */
