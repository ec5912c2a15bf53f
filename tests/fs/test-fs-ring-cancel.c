/* Every kind of file-system call dropped while the kernel holds it, deterministically: the
 * test stops io_uring's worker threads for the ring's one submitting thread (a current-thread
 * runtime) at one (IORING_REGISTER_IOWQ_MAX_WORKERS) and keeps that worker busy with an openat
 * of a FIFO that waits for a writer (IOSQE_ASYNC: no non-blocking try). Every call that the
 * kernel hands to its workers (statx, fsync, the path calls, opens that create, reads and
 * writes of procfs files, which cannot be done without blocking) then waits behind it, so its
 * first poll is pending for sure; it is dropped there. Afterwards, with the worker let go: no
 * dropped call did anything (no file made, moved or removed, no byte written), every
 * descriptor and fixed-file slot is back, and no record was touched after its free (ASan).
 * A kernel without io_uring, or without the worker limit, skips them. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "edo/fs.h"
#include "fs/fs_test.h"
#include "fs/ring_block.h"

enum { K_READ, K_WRITE, K_OPEN, K_CREATE, K_PREAD, K_PWRITE, K_SYNC_ALL, K_SYNC_DATA, K_FILE_META,
       K_META, K_RENAME, K_REMOVE, K_MKDIR, K_LINK, K_SYMLINK, K_KINDS };

typedef struct files {
    edo_file *plain; /* a regular file: fsync and statx go to the workers */
    edo_file *proc;  /* /proc/self/pagemap: no read_iter, so never read without blocking */
    edo_file *comm;  /* /proc/self/comm, writable: a write would rename the thread */
} files;

/* A call's future and where its results would go (nothing may come: it is dropped). */
typedef struct call {
    union {
        edo_fs_future f;
        edo_file_future ff;
    } u;
    void *data;
    size_t len;
    edo_file *opened;
    edo_metadata meta;
    char buf[64];
} call;

/* Starts a call of kind `k` in `c`: the future to poll. */
static edo_future *start(int k, fs_dir *d, files *fl, call *c)
{
    static const edo_open_options create = {.write = true, .create = true};
    const char *plain = fs_path(d, 0, "plain");
    edo_fs_future *f = &c->u.f;
    edo_file_future *ff = &c->u.ff;
    switch (k) {
    case K_READ: edo_fs_read_future_init(f, "/proc/version", &c->data, &c->len); break;
    case K_WRITE: edo_fs_write_future_init(f, fs_path(d, 1, "w"), "written", 7); break;
    case K_OPEN: edo_file_open_future_init(f, "/proc/version", NULL, &c->opened); break;
    case K_CREATE: edo_file_open_future_init(f, fs_path(d, 1, "c"), &create, &c->opened); break;
    case K_PREAD: edo_file_pread_future_init(ff, fl->proc, c->buf, 64, 0); return &ff->base;
    case K_PWRITE: edo_file_pwrite_future_init(ff, fl->comm, "edo-dropped", 11, 0); return &ff->base;
    case K_SYNC_ALL: edo_file_sync_all_future_init(ff, fl->plain); return &ff->base;
    case K_SYNC_DATA: edo_file_sync_data_future_init(ff, fl->plain); return &ff->base;
    case K_FILE_META: edo_file_metadata_future_init(ff, fl->plain, &c->meta); return &ff->base;
    case K_META: edo_fs_metadata_future_init(f, plain, &c->meta); break;
    case K_RENAME: edo_fs_rename_future_init(f, plain, fs_path(d, 1, "moved")); break;
    case K_REMOVE: edo_fs_remove_file_future_init(f, plain); break;
    case K_MKDIR: edo_fs_create_dir_future_init(f, fs_path(d, 1, "sub")); break;
    case K_LINK: edo_fs_hard_link_future_init(f, plain, fs_path(d, 1, "hard")); break;
    default: edo_fs_symlink_future_init(f, plain, fs_path(d, 1, "soft")); break;
    }
    return &f->base;
}

static void read_comm(char *out, size_t size)
{
    int fd = open("/proc/self/comm", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    ssize_t n = read(fd, out, size - 1);
    CHECK(n > 0);
    out[n] = '\0';
    close(fd);
}

/* One kind: started, pending behind the busy worker, dropped; then nothing happened. */
static void drop_one(fs_dir *d, edo__cring *c, files *fl, int k)
{
    const char *fifo = fs_path(d, 2, "fifo");
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    blocker b;
    CHECK(block_workers(c, &b, fifo));
    call c0 = {0};
    edo_future *fut = start(k, d, fl, &c0);
    edo_context cx;
    edo_context_init(&cx, NULL, NULL);
    if (edo_future_poll(fut, &cx, NULL) != EDO_PENDING) {
        fprintf(stderr, "kind %d completed at once\n", k);
        CHECK(false);
    }
    edo_future_drop(fut);
    unblock_and_drain(c, &b, fs_path(d, 2, "fifo"));
    CHECK(c0.data == NULL && c0.opened == NULL); /* nothing delivered to a dropped future */
    CHECK_EQ(unlink(fs_path(d, 2, "fifo")), 0);
}

static void every_kind(fs_dir *d)
{
    edo__cring *c = edo__runtime_cring(edo_runtime_current());
    CHECK(c != NULL);
    unsigned limits[2] = {0, 0}; /* asks for the limits: fails where the kernel has none */
    if (syscall(__NR_io_uring_register, c->ring.fd, IORING_REGISTER_IOWQ_MAX_WORKERS, limits, 2) < 0) {
        fprintf(stderr, "SKIPPED: no IORING_REGISTER_IOWQ_MAX_WORKERS (%d)\n", errno);
        return;
    }
    char comm[64], comm_after[64];
    read_comm(comm, sizeof comm);
    files fl;
    CHECK_EQ(edo_file_create(fs_path(d, 0, "plain"), &fl.plain), 0);
    CHECK_EQ(edo_file_open("/proc/self/pagemap", NULL, &fl.proc), 0);
    CHECK_EQ(edo_file_open("/proc/self/comm", &(edo_open_options){.write = true}, &fl.comm), 0);
    for (int k = 0; k < K_KINDS; k++)
        drop_one(d, c, &fl, k);
    /* Nothing a dropped call would have done was done. */
    struct stat st;
    CHECK_EQ(stat(fs_path(d, 0, "plain"), &st), 0); /* neither renamed nor removed */
    CHECK_EQ(st.st_nlink, 1);                       /* no hard link */
    static const char *const never[] = {"w", "c", "moved", "sub", "hard", "soft"};
    for (size_t i = 0; i < sizeof never / sizeof never[0]; i++)
        CHECK_EQ(lstat(fs_path(d, 1, never[i]), &st), -1);
    read_comm(comm_after, sizeof comm_after);
    CHECK(strcmp(comm, comm_after) == 0); /* the write never ran */
    CHECK_EQ(c->nfree, c->nslots);        /* every fixed-file slot back */
    /* The files still work through the ring. */
    CHECK_EQ(edo_file_sync_all(fl.plain), 0);
    uint64_t entries[4];
    CHECK_EQ(edo_file_pread(fl.proc, entries, sizeof entries, 0), (ssize_t)sizeof entries);
    CHECK_EQ(edo_file_close(fl.plain), 0);
    CHECK_EQ(edo_file_close(fl.proc), 0);
    CHECK_EQ(edo_file_close(fl.comm), 0);
    CHECK_EQ(unlink(fs_path(d, 0, "plain")), 0);
}

TEST(every_kind_dropped_in_flight) { fs_ring_run(EDO_RUNTIME_CURRENT_THREAD, every_kind); }
