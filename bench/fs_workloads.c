/* The file-system workloads of edo-bench (see fs_workloads.h). */
#include "fs_workloads.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"

/* "<tmp>/edo-bench-fs/<name>" into `out`. */
static void bench_path(char *out, size_t size, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(out, size, "%s/edo-bench-fs/%s", tmp && *tmp ? tmp : "/tmp", name);
}

/* Makes the directory `name` with n files of `size` bytes named 0 .. n-1, unless a finished
 * one is there (it has a file named "done"). Plain system calls: setup, not measured. */
static void ensure_files(const char *name, long n, size_t size, char *dir, size_t dir_size)
{
    char root[PATH_MAX], done[PATH_MAX + 8], path[PATH_MAX + 32];
    bench_path(root, sizeof root, "");
    mkdir(root, 0777);
    bench_path(dir, dir_size, name);
    snprintf(done, sizeof done, "%s/done", dir);
    if (access(done, F_OK) == 0)
        return;
    mkdir(dir, 0777);
    static char bytes[FS_SMALL_SIZE];
    memset(bytes, 'x', sizeof bytes);
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%ld", dir, i);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0 || write(fd, bytes, size) != (ssize_t)size || close(fd) < 0) {
            fprintf(stderr, "edo-bench: making %s: %s\n", path, strerror(errno));
            exit(1);
        }
    }
    close(open(done, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
}

typedef struct fs_job {
    const char *dir;
    long n;
    _Atomic long next; /* the next file to take */
} fs_job;

static void *read_some(void *arg)
{
    fs_job *job = arg;
    char path[PATH_MAX + 32];
    for (long i; (i = atomic_fetch_add(&job->next, 1)) < job->n;) {
        snprintf(path, sizeof path, "%s/%ld", job->dir, i);
        void *data;
        size_t len;
        must(edo_fs_read(path, &data, &len), "fs_read");
        if (len != FS_SMALL_SIZE) {
            fprintf(stderr, "edo-bench: %s: %zu bytes\n", path, len);
            exit(1);
        }
        free(data);
    }
    return NULL;
}

static void *stat_some(void *arg)
{
    fs_job *job = arg;
    char path[PATH_MAX + 32];
    for (long i; (i = atomic_fetch_add(&job->next, 1)) < job->n;) {
        snprintf(path, sizeof path, "%s/%ld", job->dir, i);
        edo_metadata m;
        must(edo_fs_metadata(path, &m), "fs_metadata");
        if (m.len != FS_SMALL_SIZE || m.type != EDO_FILE_REGULAR) {
            fprintf(stderr, "edo-bench: %s: %llu bytes\n", path, (unsigned long long)m.len);
            exit(1);
        }
    }
    return NULL;
}

static void *write_some(void *arg)
{
    fs_job *job = arg;
    char path[PATH_MAX + 32];
    static const char bytes[FS_SMALL_SIZE];
    for (long i; (i = atomic_fetch_add(&job->next, 1)) < job->n;) {
        snprintf(path, sizeof path, "%s/%ld", job->dir, i);
        edo_file *f;
        must(edo_file_create(path, &f), "file_create");
        must(edo_stream_write_all(edo_file_stream(f), bytes, sizeof bytes), "write_all");
        must(edo_file_sync_all(f), "sync_all");
        must(edo_file_close(f), "close");
    }
    return NULL;
}

/* Runs `fn` in FS_CONCURRENCY coroutines over `job`: the nanoseconds until all are done. */
static double run_concurrent(edo_runtime *rt, void *(*fn)(void *), fs_job *job)
{
    edo_task *tasks[FS_CONCURRENCY];
    double start = clock_ns();
    for (int i = 0; i < FS_CONCURRENCY; i++)
        must(edo_spawn_with(rt, NULL, fn, job, &tasks[i]), "spawn");
    for (int i = 0; i < FS_CONCURRENCY; i++) {
        must(edo_task_join(tasks[i], NULL), "join");
        edo_task_free(tasks[i]);
    }
    return clock_ns() - start;
}

/* Runs `fn` in FS_CONCURRENCY coroutines over fs_read_small's n files (made if missing). */
static double over_small_files(edo_runtime *rt, long n, void *(*fn)(void *))
{
    char dir[PATH_MAX], name[32];
    snprintf(name, sizeof name, "small-%ld", n);
    ensure_files(name, n, FS_SMALL_SIZE, dir, sizeof dir);
    fs_job job = {dir, n, 0};
    return run_concurrent(rt, fn, &job);
}

/* Calls `one` on each of fs_read_small's n files from this plain thread: the nanoseconds. */
static double over_small_files_sync(long n, void (*one)(const char *path))
{
    char dir[PATH_MAX], name[32], path[PATH_MAX + 32];
    snprintf(name, sizeof name, "small-%ld", n);
    ensure_files(name, n, FS_SMALL_SIZE, dir, sizeof dir);
    double start = clock_ns();
    for (long i = 0; i < n; i++) {
        snprintf(path, sizeof path, "%s/%ld", dir, i);
        one(path);
    }
    return clock_ns() - start;
}

static void read_one_sync(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        fprintf(stderr, "edo-bench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf || read(fd, buf, (size_t)st.st_size + 1) != st.st_size) {
        fprintf(stderr, "edo-bench: reading %s\n", path);
        exit(1);
    }
    free(buf);
    close(fd);
}

static void stat_one_sync(const char *path)
{
    struct statx sx;
    if (statx(AT_FDCWD, path, AT_STATX_SYNC_AS_STAT, STATX_BASIC_STATS | STATX_BTIME, &sx) < 0 ||
        sx.stx_size != FS_SMALL_SIZE) {
        fprintf(stderr, "edo-bench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

double fs_read_small(edo_runtime *rt, long n) { return over_small_files(rt, n, read_some); }

double fs_read_small_sync(edo_runtime *rt, long n)
{
    (void)rt;
    return over_small_files_sync(n, read_one_sync);
}

double fs_metadata(edo_runtime *rt, long n) { return over_small_files(rt, n, stat_some); }

double fs_metadata_sync(edo_runtime *rt, long n)
{
    (void)rt;
    return over_small_files_sync(n, stat_one_sync);
}

double fs_write_fsync(edo_runtime *rt, long n)
{
    char dir[PATH_MAX];
    bench_path(dir, sizeof dir, "");
    mkdir(dir, 0777);
    bench_path(dir, sizeof dir, "fsync");
    mkdir(dir, 0777);
    fs_job job = {dir, n, 0};
    return run_concurrent(rt, write_some, &job);
}

static void *list_dir(void *arg)
{
    fs_job *job = arg;
    edo_read_dir *d;
    must(edo_read_dir_open(job->dir, &d), "read_dir_open");
    edo_dir_entry e;
    int rc;
    long count = 0;
    while ((rc = edo_read_dir_next(d, &e)) == 1)
        count++;
    must(rc, "read_dir_next");
    must(edo_read_dir_close(d), "read_dir_close");
    if (count != job->n + 1) { /* and "done" */
        fprintf(stderr, "edo-bench: read_dir: %ld entries\n", count);
        exit(1);
    }
    return NULL;
}

double read_dir(edo_runtime *rt, long n)
{
    char dir[PATH_MAX], name[32];
    snprintf(name, sizeof name, "dir-%ld", n);
    ensure_files(name, n, 0, dir, sizeof dir);
    fs_job job = {dir, n, 0};
    edo_task *t;
    double start = clock_ns();
    must(edo_spawn_with(rt, NULL, list_dir, &job, &t), "spawn");
    must(edo_task_join(t, NULL), "join");
    edo_task_free(t);
    return clock_ns() - start;
}
