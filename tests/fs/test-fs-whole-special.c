/* Whole-file reads of what is not a plain file of a known size, on whichever backend
 * EDO_IO_BACKEND picks (through the completion ring with io_uring, which checks the type with
 * an O_PATH open first, and on the pool otherwise): a FIFO whose writer waits for a reader
 * (never opened and closed unread: every byte arrives, the writer never sees EPIPE), procfs
 * files (they say 0 bytes; small and beyond the ring's first read), a file that grows while it
 * is read, an empty file, and the errors a path gives. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edo/fs.h"
#include "fs/fs_test.h"

#define FIFO_BYTES ((size_t)200 * 1024) /* beyond a pipe's buffer and the ring's first read */

/* Byte i of what the FIFO's writer sends. */
static char fifo_byte(size_t i) { return (char)('a' + i % 23); }

/* Opens the FIFO for writing (waiting for a reader) and sends FIFO_BYTES in pieces. SIGPIPE is
 * blocked here, so a reader that went away shows as a failed write, not a dead process. */
static void *fifo_writer(void *arg)
{
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, NULL);
    int fd = open(arg, O_WRONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    char piece[4096];
    for (size_t sent = 0; sent < FIFO_BYTES; sent += sizeof piece) {
        for (size_t i = 0; i < sizeof piece; i++)
            piece[i] = fifo_byte(sent + i);
        CHECK_EQ(write(fd, piece, sizeof piece), (ssize_t)sizeof piece);
    }
    close(fd);
    return NULL;
}

static void fifo_with_waiting_writer(fs_dir *d)
{
    const char *fifo = fs_path(d, 0, "fifo");
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    for (int round = 0; round < 3; round++) {
        pthread_t writer;
        CHECK_EQ(pthread_create(&writer, NULL, fifo_writer, (void *)fifo), 0);
        void *data;
        size_t len;
        CHECK_EQ(edo_fs_read(fifo, &data, &len), 0);
        CHECK_EQ(len, FIFO_BYTES);
        for (size_t i = 0; i < len; i++)
            if (((char *)data)[i] != fifo_byte(i))
                CHECK_EQ(i, len); /* the first byte that differs */
        free(data);
        CHECK_EQ(pthread_join(writer, NULL), 0);
    }
    CHECK_EQ(unlink(fifo), 0);
}
TEST(fifo_with_waiting_writer) { fs_run(fifo_with_waiting_writer); }

/* What read(2) gives for `path`, to its end. */
static size_t read_plain(const char *path, char *out, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    size_t n = 0;
    ssize_t got;
    while ((got = read(fd, out + n, size - n)) > 0)
        n += (size_t)got;
    CHECK(got == 0 && n < size);
    close(fd);
    return n;
}

/* Reads `path` whole with edo and with read(2): the same bytes. */
static void same_as_plain(const char *path, size_t at_least)
{
    static char expect[1 << 16];
    struct stat st;
    CHECK_EQ(stat(path, &st), 0);
    CHECK_EQ(st.st_size, 0); /* what makes procfs special */
    /* A child's command line shows a moment after posix_spawn returned (the kernel lets the
     * parent go on before it sets where the arguments lie): wait for all of it. */
    size_t n = read_plain(path, expect, sizeof expect);
    for (int i = 0; i < 100000 && n < at_least; i++) {
        sched_yield();
        n = read_plain(path, expect, sizeof expect);
    }
    CHECK(n >= at_least);
    fs_check_contents(path, expect, n);
}

#define CHILD_ARGS 3000

static void procfs_whole(fs_dir *d)
{
    (void)d;
    /* Static while the test runs: the kernel's version, this process's mounts. */
    same_as_plain("/proc/version", 1);
    same_as_plain("/proc/self/mountinfo", 1);
    /* Beyond the ring's first read (4 KiB): the command line of a child given 3,000 more
     * arguments ("sleep 30 0 0 ...", 6 KB), static while it sleeps (it is killed at once;
     * left behind by a failed test, it ends by itself). */
    static char *argv[CHILD_ARGS + 3] = {"sleep", "30"};
    for (int i = 2; i < CHILD_ARGS + 2; i++)
        argv[i] = "0";
    pid_t child;
    CHECK_EQ(posix_spawn(&child, "/bin/sleep", NULL, NULL, argv, NULL), 0);
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/cmdline", (int)child);
    same_as_plain(path, 2 * CHILD_ARGS);
    kill(child, SIGKILL);
    CHECK_EQ(waitpid(child, NULL, 0), child);
}
TEST(procfs_whole) { fs_run(procfs_whole); }

/* A sysfs binary file says its size but gives at most a page per read: a short first read is
 * not its end. /sys/kernel/btf/vmlinux (megabytes, readable by all) where the kernel has it. */
static void sysfs_paged(fs_dir *d)
{
    (void)d;
    const char *path = "/sys/kernel/btf/vmlinux";
    struct stat st;
    if (stat(path, &st) < 0 || st.st_size <= 4096 || access(path, R_OK) < 0) {
        fprintf(stderr, "%s: none here, skipped\n", path);
        return;
    }
    size_t size = (size_t)st.st_size + 1;
    char *expect = malloc(size);
    CHECK(expect != NULL);
    size_t n = read_plain(path, expect, size);
    CHECK_EQ(n, (size_t)st.st_size);
    fs_check_contents(path, expect, n);
    free(expect);
}
TEST(sysfs_paged) { fs_run(sysfs_paged); }

/* A plain thread appends to the file while the task reads it whole again and again: each
 * read is a run of the bytes written, never shorter than the one before, and the last, once
 * the appending is over, is all of it. Reads that find more than the size they first saw go
 * the longer way (the pool, with io_uring). */
#define APPENDS 300
#define APPEND_BYTES 1000

static _Atomic bool appending;

static void *appender(void *arg)
{
    int fd = open(arg, O_WRONLY | O_APPEND | O_CLOEXEC);
    CHECK(fd >= 0);
    char piece[APPEND_BYTES];
    memset(piece, 'g', sizeof piece);
    for (int i = 0; i < APPENDS; i++)
        CHECK_EQ(write(fd, piece, sizeof piece), (ssize_t)sizeof piece);
    close(fd);
    atomic_store(&appending, false);
    return NULL;
}

static size_t read_grown(const char *path, size_t at_least)
{
    void *data;
    size_t len;
    CHECK_EQ(edo_fs_read(path, &data, &len), 0);
    CHECK(len >= at_least && len <= (size_t)APPENDS * APPEND_BYTES);
    for (size_t i = 0; i < len; i++)
        if (((char *)data)[i] != 'g')
            CHECK_EQ(i, len);
    free(data);
    return len;
}

static void growing(fs_dir *d)
{
    const char *path = fs_path(d, 0, "growing");
    close(open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    atomic_store(&appending, true);
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, appender, (void *)path), 0);
    size_t len = 0;
    while (atomic_load(&appending))
        len = read_grown(path, len);
    CHECK_EQ(pthread_join(t, NULL), 0);
    CHECK_EQ(read_grown(path, len), (size_t)APPENDS * APPEND_BYTES);
}
TEST(growing) { fs_run(growing); }

static void empty_and_errors(fs_dir *d)
{
    const char *empty = fs_path(d, 0, "empty");
    close(open(empty, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    void *data;
    size_t len = 1;
    CHECK_EQ(edo_fs_read(empty, &data, &len), 0);
    CHECK_EQ(len, 0);
    CHECK_EQ(((char *)data)[0], '\0');
    free(data);
    CHECK_EQ(edo_fs_read(d->root, &data, &len), -EISDIR);
    CHECK_EQ(edo_fs_read(fs_path(d, 1, "missing"), &data, &len), -ENOENT);
    snprintf(d->path[1], sizeof d->path[1], "%s/empty/below", d->root);
    CHECK_EQ(edo_fs_read(d->path[1], &data, &len), -ENOTDIR);
    CHECK_EQ(edo_fs_read("/dev/null", &data, &len), 0); /* a device: read by the pool */
    CHECK_EQ(len, 0);
    free(data);
    CHECK_EQ(unlink(empty), 0);
}
TEST(empty_and_errors) { fs_run(empty_and_errors); }
