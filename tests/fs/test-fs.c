/* Whole files and paths (edo/fs.h): every call against a temporary directory, with its errors,
 * and the batching of many small calls from many tasks at once. */
#include <errno.h>
#include <sched.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/batch.h"
#include "edo/fs.h"
#include "fs/fs_test.h"

static void write_and_read(fs_dir *d)
{
    const char *p = fs_path(d, 0, "a.txt");
    CHECK_EQ(edo_fs_write(p, "hello\n", 6), 0);
    void *data;
    size_t len;
    CHECK_EQ(edo_fs_read(p, &data, &len), 0);
    CHECK_EQ(len, 6);
    CHECK(memcmp(data, "hello\n", 7) == 0); /* with its NUL */
    free(data);
    char *text;
    CHECK_EQ(edo_fs_read_to_string(p, &text, NULL), 0);
    CHECK(strcmp(text, "hello\n") == 0);
    free(text);
    /* Bytes that are not UTF-8, a NUL inside: all counted. */
    CHECK_EQ(edo_fs_write(p, "\xff\0z", 3), 0);
    CHECK_EQ(edo_fs_read_to_string(p, &text, &len), 0);
    CHECK_EQ(len, 3);
    CHECK(memcmp(text, "\xff\0z", 4) == 0);
    free(text);
    /* An empty file, a large one (several reads), a file that says size 0 but has bytes. */
    CHECK_EQ(edo_fs_write(p, NULL, 0), 0);
    CHECK_EQ(edo_fs_read(p, &data, &len), 0);
    CHECK_EQ(len, 0);
    free(data);
    size_t big = 3 * 1024 * 1024 + 17;
    char *bytes = malloc(big);
    CHECK(bytes);
    for (size_t i = 0; i < big; i++)
        bytes[i] = (char)(i * 7);
    CHECK_EQ(edo_fs_write(p, bytes, big), 0);
    CHECK_EQ(edo_fs_read(p, &data, &len), 0);
    CHECK_EQ(len, big);
    CHECK(memcmp(data, bytes, big) == 0);
    free(data);
    free(bytes);
    CHECK_EQ(edo_fs_read("/proc/self/stat", &data, &len), 0);
    CHECK(len > 0);
    free(data);
    /* edo_bytes: taken whole into an empty buffer, appended to a non-empty one. */
    CHECK_EQ(edo_fs_write(p, "abc", 3), 0);
    edo_bytes b = EDO_BYTES_INIT;
    CHECK_EQ(edo_fs_read_bytes(p, &b), 0);
    CHECK_EQ(edo_bytes_len(&b), 3);
    CHECK_EQ(edo_fs_read_bytes(p, &b), 0);
    CHECK_EQ(edo_bytes_len(&b), 6);
    CHECK(memcmp(edo_bytes_data(&b), "abcabc", 6) == 0);
    edo_bytes_drop(&b);
}
TEST(write_and_read) { fs_run(write_and_read); }

static void read_errors(fs_dir *d)
{
    void *data = (void *)1;
    size_t len = 99;
    CHECK_EQ(edo_fs_read(fs_path(d, 0, "missing"), &data, &len), -ENOENT);
    CHECK(data == (void *)1 && len == 99); /* untouched on failure */
    CHECK_EQ(edo_fs_read(d->root, &data, &len), -EISDIR);
    CHECK_EQ(edo_fs_write(d->root, "x", 1), -EISDIR);
    CHECK_EQ(edo_fs_write(fs_path(d, 0, "no/such/dir"), "x", 1), -ENOENT);
    edo_bytes b = EDO_BYTES_INIT;
    CHECK_EQ(edo_fs_read_bytes(fs_path(d, 0, "missing"), &b), -ENOENT);
}
TEST(read_errors) { fs_run(read_errors); }

static void copy(fs_dir *d)
{
    const char *a = fs_path(d, 0, "a"), *b = fs_path(d, 1, "b");
    size_t n = 200000;
    char *bytes = malloc(n);
    CHECK(bytes);
    for (size_t i = 0; i < n; i++)
        bytes[i] = (char)(i % 251);
    CHECK_EQ(edo_fs_write(a, bytes, n), 0);
    CHECK_EQ(edo_fs_set_permissions(a, 0640), 0);
    CHECK_EQ(edo_fs_copy(a, b), (ssize_t)n);
    fs_check_contents(b, bytes, n);
    edo_metadata m;
    CHECK_EQ(edo_fs_metadata(b, &m), 0);
    CHECK_EQ(m.permissions, 0640);
    /* Over a longer file: truncated. Onto itself (also through a link): refused, intact. */
    CHECK_EQ(edo_fs_write(a, "short", 5), 0);
    CHECK_EQ(edo_fs_copy(a, b), 5);
    CHECK_EQ(edo_fs_metadata(b, &m), 0);
    CHECK_EQ(m.len, 5);
    CHECK_EQ(edo_fs_copy(a, a), -EINVAL);
    CHECK_EQ(edo_fs_hard_link(a, fs_path(d, 2, "a2")), 0);
    CHECK_EQ(edo_fs_copy(a, d->path[2]), -EINVAL);
    CHECK_EQ(edo_fs_metadata(a, &m), 0);
    CHECK_EQ(m.len, 5);
    CHECK_EQ(edo_fs_copy(fs_path(d, 2, "missing"), b), -ENOENT);
    CHECK_EQ(edo_fs_copy(d->root, b), -EISDIR);
    /* Across file systems (/dev/shm is a tmpfs): copy_file_range may refuse; still copied. */
    char shm[64];
    snprintf(shm, sizeof shm, "/dev/shm/edo-fs-copy-%d", (int)getpid());
    if (edo_fs_copy(a, shm) == 5) {
        fs_check_contents(shm, "short", 5);
        CHECK_EQ(edo_fs_remove_file(shm), 0);
    }
    /* A procfs file (copy_file_range says it is empty) and an empty file. */
    CHECK(edo_fs_copy("/proc/self/status", b) > 0);
    CHECK_EQ(edo_fs_write(a, NULL, 0), 0);
    CHECK_EQ(edo_fs_copy(a, b), 0);
    CHECK_EQ(edo_fs_metadata(b, &m), 0);
    CHECK_EQ(m.len, 0);
    free(bytes);
}
TEST(copy) { fs_run(copy); }

static void paths(fs_dir *d)
{
    const char *a = fs_path(d, 0, "a"), *b = fs_path(d, 1, "b");
    CHECK_EQ(edo_fs_write(a, "1", 1), 0);
    CHECK_EQ(edo_fs_try_exists(a), 1);
    CHECK_EQ(edo_fs_rename(a, b), 0);
    CHECK_EQ(edo_fs_try_exists(a), 0);
    CHECK_EQ(edo_fs_try_exists(b), 1);
    CHECK_EQ(edo_fs_rename(a, b), -ENOENT);
    CHECK_EQ(edo_fs_remove_file(b), 0);
    CHECK_EQ(edo_fs_remove_file(b), -ENOENT);
    CHECK_EQ(edo_fs_remove_file(d->root), -EISDIR);
    /* A file in the way of a path: -ENOTDIR, which try_exists reports as an error. */
    CHECK_EQ(edo_fs_write(a, "1", 1), 0);
    CHECK_EQ(edo_fs_try_exists(fs_path(d, 2, "a/x")), -ENOTDIR);

    /* Links. */
    const char *hard = fs_path(d, 2, "hard"), *soft = fs_path(d, 3, "soft");
    CHECK_EQ(edo_fs_hard_link(a, hard), 0);
    CHECK_EQ(edo_fs_hard_link(a, hard), -EEXIST);
    edo_metadata ma, mh, ms;
    CHECK_EQ(edo_fs_metadata(a, &ma), 0);
    CHECK_EQ(edo_fs_metadata(hard, &mh), 0);
    CHECK(ma.ino == mh.ino && ma.dev == mh.dev);
    CHECK_EQ(mh.nlink, 2);
    CHECK_EQ(edo_fs_symlink("a", soft), 0);
    CHECK_EQ(edo_fs_symlink("a", soft), -EEXIST);
    char *target;
    CHECK_EQ(edo_fs_read_link(soft, &target), 0);
    CHECK(strcmp(target, "a") == 0);
    free(target);
    CHECK_EQ(edo_fs_read_link(a, &target), -EINVAL); /* not a link */
    CHECK_EQ(edo_fs_symlink_metadata(soft, &ms), 0);
    CHECK_EQ(ms.type, EDO_FILE_SYMLINK);
    CHECK_EQ(edo_fs_metadata(soft, &ms), 0);
    CHECK_EQ(ms.type, EDO_FILE_REGULAR);
    CHECK_EQ(ms.ino, ma.ino);
    char *real;
    CHECK_EQ(edo_fs_canonicalize(soft, &real), 0);
    char *expect_real = realpath(a, NULL);
    CHECK(expect_real && strcmp(real, expect_real) == 0);
    free(real);
    free(expect_real);
    CHECK_EQ(edo_fs_canonicalize(fs_path(d, 4, "missing"), &real), -ENOENT);
    /* A dangling link does not exist. */
    CHECK_EQ(edo_fs_symlink("nowhere", fs_path(d, 4, "dangling")), 0);
    CHECK_EQ(edo_fs_try_exists(d->path[4]), 0);

    /* Permissions and metadata. */
    CHECK_EQ(edo_fs_set_permissions(a, 0600), 0);
    CHECK_EQ(edo_fs_metadata(a, &ma), 0);
    CHECK_EQ(ma.permissions, 0600);
    CHECK_EQ(ma.type, EDO_FILE_REGULAR);
    CHECK_EQ(ma.len, 1);
    CHECK_EQ(ma.uid, getuid());
    CHECK(ma.modified_ns > 0 && ma.changed_ns > 0);
    CHECK_EQ(edo_fs_set_permissions(a, 010000), -EINVAL);
    CHECK_EQ(edo_fs_set_permissions(fs_path(d, 4, "missing"), 0600), -ENOENT);
    CHECK_EQ(edo_fs_metadata(d->root, &ma), 0);
    CHECK_EQ(ma.type, EDO_FILE_DIR);
    CHECK_EQ(edo_fs_metadata(fs_path(d, 4, "missing"), &ma), -ENOENT);
}
TEST(paths) { fs_run(paths); }

static void directories(fs_dir *d)
{
    const char *dir = fs_path(d, 0, "d");
    CHECK_EQ(edo_fs_create_dir(dir), 0);
    CHECK_EQ(edo_fs_create_dir(dir), -EEXIST);
    CHECK_EQ(edo_fs_create_dir(fs_path(d, 1, "x/y")), -ENOENT);
    CHECK_EQ(edo_fs_create_dir_all(fs_path(d, 1, "x//y/z/")), 0);
    CHECK_EQ(edo_fs_create_dir_all(d->path[1]), 0); /* there already */
    edo_metadata m;
    CHECK_EQ(edo_fs_metadata(fs_path(d, 2, "x/y/z"), &m), 0);
    CHECK_EQ(m.type, EDO_FILE_DIR);
    CHECK_EQ(edo_fs_write(fs_path(d, 2, "f"), "", 0), 0);
    CHECK_EQ(edo_fs_create_dir_all(d->path[2]), -EEXIST);
    CHECK_EQ(edo_fs_create_dir_all(fs_path(d, 3, "f/sub")), -ENOTDIR);
    CHECK_EQ(edo_fs_remove_dir(fs_path(d, 3, "x")), -ENOTEMPTY);
    CHECK_EQ(edo_fs_remove_dir(dir), 0);
    CHECK_EQ(edo_fs_remove_dir(dir), -ENOENT);
    CHECK_EQ(edo_fs_remove_dir(d->path[2]), -ENOTDIR);

    /* remove_dir_all: a tree with files, links (one to a directory outside: not followed). */
    const char *outside = fs_path(d, 4, "outside");
    CHECK_EQ(edo_fs_create_dir(outside), 0);
    CHECK_EQ(edo_fs_write(fs_path(d, 5, "outside/keep"), "k", 1), 0);
    for (int i = 0; i < 50; i++) {
        char name[64];
        snprintf(name, sizeof name, "tree/%d/%d", i % 5, i);
        CHECK_EQ(edo_fs_create_dir_all(fs_path(d, 5, name)), 0);
        snprintf(name, sizeof name, "tree/%d/%d/file", i % 5, i);
        CHECK_EQ(edo_fs_write(fs_path(d, 5, name), "x", 1), 0);
    }
    CHECK_EQ(edo_fs_symlink(outside, fs_path(d, 5, "tree/link")), 0);
    CHECK_EQ(edo_fs_remove_dir_all(fs_path(d, 5, "tree")), 0);
    CHECK_EQ(edo_fs_try_exists(d->path[5]), 0);
    CHECK_EQ(edo_fs_try_exists(fs_path(d, 5, "outside/keep")), 1);
    CHECK_EQ(edo_fs_symlink(outside, fs_path(d, 5, "dirlink")), 0);
    CHECK_EQ(edo_fs_remove_dir_all(d->path[5]), -ENOTDIR); /* a link: refused */
    CHECK_EQ(edo_fs_remove_dir_all(fs_path(d, 5, "f")), -ENOTDIR);
    CHECK_EQ(edo_fs_remove_dir_all(fs_path(d, 5, "missing")), -ENOENT);
}
TEST(directories) { fs_run(directories); }

/* Bad input: -EINVAL before anything happens, in coroutine and future forms. */
static void bad_input(fs_dir *d)
{
    void *data;
    size_t len;
    char *s;
    edo_metadata m;
    edo_bytes b = EDO_BYTES_INIT;
    const char *p = fs_path(d, 0, "p");
    CHECK_EQ(edo_fs_read(NULL, &data, &len), -EINVAL);
    CHECK_EQ(edo_fs_read(p, NULL, &len), -EINVAL);
    CHECK_EQ(edo_fs_read(p, &data, NULL), -EINVAL);
    CHECK_EQ(edo_fs_read_to_string(p, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_fs_read_bytes(p, NULL), -EINVAL);
    CHECK_EQ(edo_fs_read_bytes(NULL, &b), -EINVAL);
    CHECK_EQ(edo_fs_write(NULL, "x", 1), -EINVAL);
    CHECK_EQ(edo_fs_write(p, NULL, 1), -EINVAL);
    CHECK_EQ(edo_fs_write(p, "x", (size_t)SSIZE_MAX + 1), -EINVAL);
    CHECK_EQ(edo_fs_copy(NULL, p), -EINVAL);
    CHECK_EQ(edo_fs_copy(p, NULL), -EINVAL);
    CHECK_EQ(edo_fs_rename(p, NULL), -EINVAL);
    CHECK_EQ(edo_fs_remove_file(NULL), -EINVAL);
    CHECK_EQ(edo_fs_create_dir(NULL), -EINVAL);
    CHECK_EQ(edo_fs_create_dir_all(""), -EINVAL);
    CHECK_EQ(edo_fs_remove_dir(NULL), -EINVAL);
    CHECK_EQ(edo_fs_remove_dir_all(NULL), -EINVAL);
    CHECK_EQ(edo_fs_metadata(p, NULL), -EINVAL);
    CHECK_EQ(edo_fs_symlink_metadata(NULL, &m), -EINVAL);
    CHECK_EQ(edo_fs_canonicalize(p, NULL), -EINVAL);
    CHECK_EQ(edo_fs_read_link(NULL, &s), -EINVAL);
    CHECK_EQ(edo_fs_hard_link(p, NULL), -EINVAL);
    CHECK_EQ(edo_fs_symlink(NULL, p), -EINVAL);
    CHECK_EQ(edo_fs_set_permissions(NULL, 0600), -EINVAL);
    CHECK_EQ(edo_fs_try_exists(NULL), -EINVAL);
    edo_fs_future f;
    edo_fs_rename_future_init(&f, NULL, p);
    void *out = NULL;
    CHECK_EQ(edo_await(&f.base, &out), 0);
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    edo_fs_read_future_init(NULL, p, &data, &len); /* no-op */
    CHECK_EQ(edo_fs_try_exists(p), 0); /* nothing was made by any of them */
}
TEST(bad_input) { fs_run(bad_input); }

/* Outside a coroutine: -EPERM from the coroutine call, -EINVAL still first. */
TEST(outside_coroutine)
{
    CHECK_EQ(edo_fs_try_exists("/"), -EPERM);
    CHECK_EQ(edo_fs_try_exists(NULL), -EINVAL);
}

/* Future forms in a future task: a read polled to completion by the runtime. */
static void *future_forms(void *arg)
{
    fs_dir *d = arg;
    const char *p = fs_path(d, 0, "f");
    edo_fs_future f;
    edo_fs_write_future_init(&f, p, "future", 6);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, 0);
    edo_future_drop(&f.base);
    char *text = NULL;
    size_t len = 0;
    edo_fs_read_to_string_future_init(&f, p, &text, &len);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, 0);
    CHECK(text && len == 6 && strcmp(text, "future") == 0);
    edo_future_drop(&f.base);
    free(text);
    /* Dropped before its first poll: nothing happens. */
    edo_fs_remove_file_future_init(&f, p);
    edo_future_drop(&f.base);
    CHECK_EQ(edo_fs_try_exists(p), 1);
    return NULL;
}
static void future_forms_body(fs_dir *d) { future_forms(d); }
TEST(future_forms) { fs_run(future_forms_body); }

/* Abandoned calls: results never land in the caller's memory after it gave up, nothing leaks
 * (ASan), and a call abandoned before a pool thread took it never runs. */
static void abandoned(fs_dir *d)
{
    const char *p = fs_path(d, 0, "f");
    CHECK_EQ(edo_fs_write(p, "x", 1), 0);
    for (int round = 0; round < SCALE(200, 100, 50); round++) {
        char *text = NULL;
        edo_fs_future f;
        edo_fs_read_to_string_future_init(&f, p, &text, NULL);
        edo_context cx;
        edo_context_init(&cx, NULL, NULL);
        edo_poll r = edo_future_poll(&f.base, &cx, NULL);
        edo_future_drop(&f.base); /* given up: pending or not */
        if (r == EDO_READY) {
            CHECK_EQ(f.result, 0);
            free(text);
        } else {
            CHECK(text == NULL);
        }
    }
    /* A deadline cuts a coroutine's call that waits: -ETIMEDOUT, and the file is still
     * intact. Through io_uring a read of a cached file may complete in its first poll, before
     * the deadline is looked at (as Tokio's timeout polls the inner future first): then it
     * has its bytes. */
    edo_instant saved;
    edo_deadline_push(edo_after(0), &saved);
    char *text = NULL;
    int rc = edo_fs_read_to_string(p, &text, NULL);
    edo_deadline_pop(saved);
    if (rc == 0) {
        CHECK(strcmp(text, "x") == 0);
        free(text);
    } else {
        CHECK_EQ(rc, -ETIMEDOUT);
        CHECK(text == NULL);
    }
}
TEST(abandoned) { fs_run(abandoned); }

/* Many tasks at once, each doing small calls: all land (the batched queue loses none). */
typedef struct many_arg {
    fs_dir *d;
    int index;
} many_arg;

static void *many_one(void *arg)
{
    many_arg *a = arg;
    char name[32], path[192], want[32];
    snprintf(name, sizeof name, "f%d", a->index);
    snprintf(path, sizeof path, "%s/%s", a->d->root, name);
    int n = snprintf(want, sizeof want, "file %d", a->index);
    CHECK_EQ(edo_fs_write(path, want, (size_t)n), 0);
    char *text;
    size_t len;
    CHECK_EQ(edo_fs_read_to_string(path, &text, &len), 0);
    CHECK_EQ(len, (size_t)n);
    CHECK(strcmp(text, want) == 0);
    free(text);
    edo_metadata m;
    CHECK_EQ(edo_fs_metadata(path, &m), 0);
    CHECK_EQ(m.len, (uint64_t)n);
    CHECK_EQ(edo_fs_remove_file(path), 0);
    return NULL;
}

static void many_tasks(fs_dir *d)
{
    enum { N = 500 };
    static many_arg args[N];
    edo_task *tasks[N];
    for (int i = 0; i < N; i++) {
        args[i] = (many_arg){d, i};
        CHECK_EQ(edo_spawn(many_one, &args[i], &tasks[i]), 0);
    }
    for (int i = 0; i < N; i++) {
        CHECK_EQ(edo_task_join(tasks[i], NULL), 0);
        edo_task_free(tasks[i]);
    }
}
TEST(many_tasks) { fs_run(many_tasks); }

/* A call abandoned while still queued never runs: with one pool thread held by a job that waits
 * on a flag, a change of permissions (a call that stays on the pool with either I/O backend: it
 * has no io_uring opcode) is queued behind it and dropped; once the pool is free, and a call
 * queued after it has run, the file still has its permissions. */
static _Atomic bool release_pool;

static void hold_pool(edo__batch_job *job, bool cancelled)
{
    (void)job;
    (void)cancelled;
    double deadline = now_s() + 60;
    while (!atomic_load(&release_pool)) {
        CHECK(now_s() < deadline);
        sched_yield();
    }
}

static void *queued_then_dropped(void *arg)
{
    fs_dir *d = arg;
    const char *p = fs_path(d, 0, "kept");
    CHECK_EQ(edo_fs_write(p, "x", 1), 0);
    CHECK_EQ(chmod(p, 0640), 0);
    static edo__batch_job holder = {.run = hold_pool};
    CHECK_EQ(edo__batch_submit(NULL, &holder, false), 0);
    edo_fs_future f;
    edo_fs_set_permissions_future_init(&f, p, 0600);
    edo_context cx;
    edo_context_init(&cx, NULL, NULL);
    CHECK(edo_future_poll(&f.base, &cx, NULL) == EDO_PENDING); /* queued behind the holder */
    edo_future_drop(&f.base);
    atomic_store(&release_pool, true);
    CHECK_EQ(edo_fs_try_exists(p), 1); /* queued after the dropped call: it ran after it */
    struct stat st;
    CHECK_EQ(stat(p, &st), 0);
    CHECK_EQ(st.st_mode & 07777, 0640);
    return NULL;
}

TEST(queued_call_dropped_never_runs)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 2, .max_blocking_threads = 1};
    CHECK_EQ(edo_runtime_new(&cfg, &rt), 0);
    fs_dir d;
    fs_dir_make(&d);
    run_on(rt, queued_then_dropped, &d);
    CHECK_EQ(unlink(fs_path(&d, 0, "kept")), 0);
    CHECK_EQ(rmdir(d.root), 0);
    edo_runtime_free(rt);
}

/* On a current-thread runtime whose clock is paused: calls complete (the clock does not jump
 * past a deadline while the pool works), and a deadline still cuts a call that waits. */
static void *on_current_thread(void *arg)
{
    fs_dir *d = arg;
    const char *p = fs_path(d, 0, "f");
    edo_instant saved;
    edo_deadline_push(edo_after(EDO_SEC(3600)), &saved);
    for (int i = 0; i < 20; i++) {
        CHECK_EQ(edo_fs_write(p, "abc", 3), 0);
        char *text;
        CHECK_EQ(edo_fs_read_to_string(p, &text, NULL), 0);
        CHECK(strcmp(text, "abc") == 0);
        free(text);
    }
    edo_deadline_pop(saved);
    CHECK_EQ(edo_fs_remove_file(p), 0);
    return NULL;
}

TEST(current_thread_paused_clock)
{
    fs_dir d;
    fs_dir_make(&d);
    run_paused(on_current_thread, &d);
    CHECK_EQ(rmdir(d.root), 0);
}
