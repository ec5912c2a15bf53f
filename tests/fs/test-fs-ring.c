/* File-system calls through the completion ring (src/io/uring/completions.h), whatever
 * EDO_IO_BACKEND says for the rest of the suite: each test's runtime asks for io_uring. Calls dropped, aborted or cut by a deadline while the kernel works on them (no use
 * after free under ASan, no descriptor or record left behind, the data whole), and many calls
 * at once through a ring of two entries (the submission queue exhausted, the completion queue
 * overflowing) that lose nothing. A kernel without io_uring skips them. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edo/fs.h"
#include "fs/fs_test.h"
#include "io/uring/completions.h"

#define BIG ((size_t)256 * 1024)

/* Runs body(d) on a two-worker ring runtime (fs_test.h). */
static void ring_run(void (*body)(fs_dir *)) { fs_ring_run(EDO_RUNTIME_MULTI_THREAD, body); }

/* A file of BIG bytes (byte i is i * 7), written out and dropped from the page cache, so that
 * a read of it waits for the disk (where the file system allows it: tmpfs keeps it). */
static void make_cold(const char *path, char *pattern)
{
    for (size_t i = 0; i < BIG; i++)
        pattern[i] = (char)(i * 7);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, pattern, BIG), (ssize_t)BIG);
    CHECK_EQ(fsync(fd), 0);
    close(fd);
}

static void drop_cache(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
}

enum { K_READ, K_WRITE, K_OPEN, K_PREAD, K_PWRITE, K_SYNC_ALL, K_SYNC_DATA, K_FILE_META,
       K_META, K_RENAME, K_REMOVE, K_MKDIR, K_LINK, K_SYMLINK, K_KINDS };

/* Starts one call of kind `k` in `f` (a fs future) or `ff` (a file future); true for a file
 * future. Its outputs go to `out`, which must stay valid only while the future lives. */
static bool start(int k, fs_dir *d, edo_file *file, edo_fs_future *f, edo_file_future *ff,
                  void **data, size_t *len, edo_file **opened, edo_metadata *meta, char *buf,
                  const char *pattern)
{
    const char *cold = fs_path(d, 0, "cold");
    switch (k) {
    case K_READ: edo_fs_read_future_init(f, cold, data, len); return false;
    case K_WRITE: edo_fs_write_future_init(f, fs_path(d, 1, "w"), pattern, BIG); return false;
    case K_OPEN: edo_file_open_future_init(f, cold, NULL, opened); return false;
    case K_PREAD: edo_file_pread_future_init(ff, file, buf, 65536, 4096); return true;
    case K_PWRITE: edo_file_pwrite_future_init(ff, file, pattern, 65536, 0); return true;
    case K_SYNC_ALL: edo_file_sync_all_future_init(ff, file); return true;
    case K_SYNC_DATA: edo_file_sync_data_future_init(ff, file); return true;
    case K_FILE_META: edo_file_metadata_future_init(ff, file, meta); return true;
    case K_META: edo_fs_metadata_future_init(f, cold, meta); return false;
    case K_RENAME: edo_fs_rename_future_init(f, fs_path(d, 2, "r1"), fs_path(d, 3, "r2")); return false;
    case K_REMOVE: edo_fs_remove_file_future_init(f, fs_path(d, 2, "r1")); return false;
    case K_MKDIR: edo_fs_create_dir_future_init(f, fs_path(d, 4, "sub")); return false;
    case K_LINK: edo_fs_hard_link_future_init(f, cold, fs_path(d, 5, "hard")); return false;
    default: edo_fs_symlink_future_init(f, cold, fs_path(d, 6, "soft")); return false;
    }
}

/* Every kind of call, polled once and dropped, again and again: those the kernel had not
 * finished (most: fsync, the path calls and the cold reads go to its workers) are cancelled
 * while in flight, and their records, buffers and descriptors must outlive the kernel's use.
 * Afterwards the files are whole and the calls still work. */
static void dropped_in_flight(fs_dir *d)
{
    char *pattern = malloc(BIG), *buf = malloc(65536);
    make_cold(fs_path(d, 0, "cold"), pattern);
    edo_open_options rw = {.read = true, .write = true, .create = true};
    edo_file *file;
    CHECK_EQ(edo_file_open(fs_path(d, 7, "rw"), &rw, &file), 0);
    CHECK_EQ(edo_file_pwrite(file, pattern, 65536, 0), 65536);
    int pending = 0;
    for (int k = 0; k < K_KINDS; k++) {
        for (int i = 0; i < 20; i++) {
            drop_cache(fs_path(d, 0, "cold"));
            close(open(fs_path(d, 2, "r1"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
            union {
                edo_fs_future f;
                edo_file_future ff;
            } u;
            void *data = NULL;
            size_t len;
            edo_file *opened = NULL;
            edo_metadata meta;
            bool is_file = start(k, d, file, &u.f, &u.ff, &data, &len, &opened, &meta, buf, pattern);
            edo_future *fut = is_file ? &u.ff.base : &u.f.base;
            edo_context cx;
            edo_context_init(&cx, NULL, NULL);
            edo_poll r = edo_future_poll(fut, &cx, NULL);
            pending += r == EDO_PENDING;
            edo_future_drop(fut);
            if (r == EDO_READY) { /* finished at once: its results were delivered */
                free(data);
                if (opened)
                    CHECK_EQ(edo_file_close(opened), 0);
            }
            edo_fs_remove_dir(fs_path(d, 4, "sub"));
            edo_fs_remove_file(fs_path(d, 5, "hard"));
            edo_fs_remove_file(fs_path(d, 6, "soft"));
            edo_fs_remove_file(fs_path(d, 3, "r2"));
        }
    }
    CHECK(pending > 0); /* some were in flight when dropped */
    /* The files are whole: the cold file as made, the file written in a dropped call either
     * not there, or cut (by the O_TRUNC of a later one) but never holding foreign bytes. */
    void *data;
    size_t len;
    CHECK_EQ(edo_fs_read(fs_path(d, 0, "cold"), &data, &len), 0);
    CHECK_EQ(len, BIG);
    CHECK(memcmp(data, pattern, BIG) == 0);
    free(data);
    if (edo_fs_read(fs_path(d, 1, "w"), &data, &len) == 0) {
        CHECK(len <= BIG && memcmp(data, pattern, len) == 0);
        free(data);
    }
    CHECK_EQ(edo_file_pread(file, buf, 65536, 0), 65536);
    CHECK(memcmp(buf, pattern, 65536) == 0);
    CHECK_EQ(edo_file_sync_all(file), 0);
    CHECK_EQ(edo_file_close(file), 0);
    edo_fs_remove_file(fs_path(d, 1, "w"));
    edo_fs_remove_file(fs_path(d, 2, "r1"));
    edo_fs_remove_file(fs_path(d, 7, "rw"));
    edo_fs_remove_file(fs_path(d, 0, "cold"));
    free(pattern);
    free(buf);
}
TEST(dropped_in_flight) { ring_run(dropped_in_flight); }

/* A task that reads a cold file and syncs another in a loop is aborted while those are in
 * flight; a coroutine whose deadline passes while it waits for fsync gets -ETIMEDOUT. */
static _Atomic int rounds;

static void *read_and_sync(void *arg)
{
    fs_dir *d = arg;
    edo_file *file;
    edo_open_options rw = {.write = true, .create = true};
    CHECK_EQ(edo_file_open(fs_path(d, 1, "sync"), &rw, &file), 0);
    for (;;) {
        drop_cache(fs_path(d, 0, "cold"));
        void *data;
        size_t len;
        int rc = edo_fs_read(fs_path(d, 0, "cold"), &data, &len);
        if (rc == -ECANCELED)
            break;
        CHECK_EQ(rc, 0);
        CHECK_EQ(len, BIG);
        free(data);
        ssize_t n = edo_file_pwrite(file, "x", 1, 0);
        if (n == -ECANCELED)
            break;
        CHECK_EQ(n, 1);
        if ((rc = edo_file_sync_all(file)) == -ECANCELED)
            break;
        CHECK_EQ(rc, 0);
        atomic_fetch_add(&rounds, 1);
    }
    CHECK_EQ(edo_file_close(file), 0);
    return NULL;
}

static void aborted_and_cut(fs_dir *d)
{
    char *pattern = malloc(BIG);
    make_cold(fs_path(d, 0, "cold"), pattern);
    atomic_store(&rounds, 0);
    edo_task *t;
    CHECK_EQ(edo_spawn(read_and_sync, d, &t), 0);
    while (atomic_load(&rounds) < 3)
        edo_yield();
    edo_task_abort(t);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);

    edo_file *file;
    CHECK_EQ(edo_file_open(fs_path(d, 1, "sync"), &(edo_open_options){.write = true}, &file), 0);
    int cut = 0;
    for (int i = 0; i < 200 && !cut; i++) {
        CHECK_EQ(edo_file_pwrite(file, "y", 1, 0), 1);
        edo_instant saved;
        edo_deadline_push(edo_after(EDO_USEC(1)), &saved);
        int rc = edo_file_sync_all(file);
        edo_deadline_pop(saved);
        CHECK(rc == 0 || rc == -ETIMEDOUT);
        cut = rc == -ETIMEDOUT;
    }
    CHECK(cut);
    CHECK_EQ(edo_file_sync_all(file), 0); /* the file still works */
    CHECK_EQ(edo_file_close(file), 0);
    void *data;
    size_t len;
    CHECK_EQ(edo_fs_read(fs_path(d, 0, "cold"), &data, &len), 0);
    CHECK(len == BIG && memcmp(data, pattern, BIG) == 0);
    free(data);
    CHECK_EQ(edo_fs_remove_file(fs_path(d, 0, "cold")), 0);
    CHECK_EQ(edo_fs_remove_file(fs_path(d, 1, "sync")), 0);
    free(pattern);
}
TEST(aborted_and_cut) { ring_run(aborted_and_cut); }

/* 64 tasks write, read back, stat, rename and remove files of their own at once through a ring
 * of two SQ and two CQ entries: submissions wait for room, completions overflow into the
 * kernel, and every byte and every result arrives. */
#define TASKS 64

static unsigned tiny_sq; /* the SQ size the test set */

typedef struct many_arg {
    fs_dir *d;
    int index;
} many_arg;

static void *many_body(void *arg)
{
    many_arg *a = arg;
    char path[256], moved[256], text[4096];
    snprintf(path, sizeof path, "%s/f%d", a->d->root, a->index);
    snprintf(moved, sizeof moved, "%s/g%d", a->d->root, a->index);
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)('a' + (i + (size_t)a->index) % 26);
    for (int round = 0; round < 4; round++) {
        CHECK_EQ(edo_fs_write(path, text, sizeof text), 0);
        void *data;
        size_t len;
        CHECK_EQ(edo_fs_read(path, &data, &len), 0);
        CHECK(len == sizeof text && memcmp(data, text, len) == 0);
        free(data);
        edo_metadata m;
        CHECK_EQ(edo_fs_metadata(path, &m), 0);
        CHECK_EQ(m.len, sizeof text);
        CHECK_EQ(edo_fs_rename(path, moved), 0);
        CHECK_EQ(edo_fs_remove_file(moved), 0);
    }
    return NULL;
}

static void many_at_once(fs_dir *d)
{
    edo_task *t[TASKS];
    many_arg args[TASKS];
    for (int i = 0; i < TASKS; i++) {
        args[i] = (many_arg){d, i};
        CHECK_EQ(edo_spawn(many_body, &args[i], &t[i]), 0);
    }
    for (int i = 0; i < TASKS; i++) {
        CHECK_EQ(edo_task_join(t[i], NULL), 0);
        edo_task_free(t[i]);
    }
    edo__cring *c = edo__runtime_cring(edo_runtime_current());
    CHECK_EQ(c->ring.sq_entries, tiny_sq);
    CHECK_EQ(atomic_load(&c->inflight), 0);
    CHECK_EQ(c->nfree, c->nslots); /* every fixed-file slot given back */
}

TEST(many_at_once_tiny_ring)
{
    edo__cring_set_sizes(tiny_sq = 2, 2);
    ring_run(many_at_once);
    edo__cring_set_sizes(0, 0);
}

/* The same through rings of 8 entries: a whole-file read's chain (up to 5 SQEs: the open, the
 * read, the read that finds the end, the two closes) fits, so reads go through the ring while
 * the SQ is full and the CQ overflows (with 2 entries they take the pool). */
TEST(many_at_once_ring_of_8)
{
    edo__cring_set_sizes(tiny_sq = 8, 8);
    ring_run(many_at_once);
    edo__cring_set_sizes(0, 0);
}

/* A whole-file read of a FIFO goes to the pool before anything opens it (statx says FIFO; even
 * a non-blocking open would let the waiting writer go on and its bytes vanish), and gets every
 * byte the writer sends; a file of 256 KiB comes whole, from the disk and from the cache. */
static void *fifo_writer(void *arg)
{
    int fd = open(arg, O_WRONLY | O_CLOEXEC); /* waits for the reader's open */
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "abc", 3), 3);
    close(fd);
    return NULL;
}

static void fifo_and_big(fs_dir *d)
{
    const char *fifo = fs_path(d, 0, "fifo");
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn_blocking(fifo_writer, (void *)fifo, &t), 0);
    void *data;
    size_t len;
    CHECK_EQ(edo_fs_read(fifo, &data, &len), 0);
    CHECK(len == 3 && memcmp(data, "abc", 3) == 0);
    free(data);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    CHECK_EQ(edo_fs_remove_file(fifo), 0);

    char *pattern = malloc(BIG);
    make_cold(fs_path(d, 1, "big"), pattern);
    for (int cold = 0; cold < 2; cold++) { /* from the disk, then from the cache */
        CHECK_EQ(edo_fs_read(fs_path(d, 1, "big"), &data, &len), 0);
        CHECK(len == BIG && memcmp(data, pattern, BIG) == 0);
        free(data);
    }
    CHECK_EQ(edo_fs_remove_file(fs_path(d, 1, "big")), 0);
    free(pattern);
}
TEST(fifo_and_big) { ring_run(fifo_and_big); }
