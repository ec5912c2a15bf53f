/* The errors a real file system gives, each returned as its errno with nothing already written
 * lost: ENOSPC on a full tmpfs, EROFS on a read-only one, EACCES as an unprivileged user.
 * Each runs in a child process: the mounts in a mount namespace of its own (gone with the
 * child), the user switch for good. Where mounting is not permitted the test says so loudly
 * and passes without checking (ctest shows the line). */
#include <errno.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edo/fs.h"
#include "fs/fs_test.h"

#define SKIPPED 77

/* Runs body() in a child process and checks that it passed (or skipped, saying why). */
static void in_child(void (*body)(void), const char *what)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        body();
        _exit(0);
    }
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    if (WEXITSTATUS(status) == SKIPPED) {
        fprintf(stderr, "SKIPPED: %s: not permitted here\n", what);
        return;
    }
    CHECK_EQ(WEXITSTATUS(status), 0);
}

/* In the child: a tmpfs of `size` at a fresh directory (mount options `opts`). */
static void mount_tmpfs(fs_dir *d, const char *opts)
{
    fs_dir_make(d);
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", d->root, "tmpfs", 0, opts) < 0) {
        rmdir(d->root);
        _exit(SKIPPED);
    }
}

static void *enospc_body(void *arg)
{
    fs_dir *d = arg;
    /* A whole-file write that does not fit: -ENOSPC, and what fitted is in the file. */
    size_t big = 256 * 1024;
    char *bytes = malloc(big);
    CHECK(bytes);
    memset(bytes, 'z', big);
    CHECK_EQ(edo_fs_write(fs_path(d, 2, "small"), "abc", 3), 0); /* before it is full */
    CHECK_EQ(edo_fs_write(fs_path(d, 0, "big"), bytes, big), -ENOSPC);
    edo_metadata m;
    CHECK_EQ(edo_fs_metadata(d->path[0], &m), 0);
    CHECK(m.len > 0 && m.len < big);
    CHECK_EQ(edo_fs_remove_file(d->path[0]), 0);
    /* A stream writing until full: the failure comes back from a later call; every byte
     * reported written is in the file. */
    edo_file *f;
    CHECK_EQ(edo_file_create(fs_path(d, 1, "stream"), &f), 0);
    edo_stream *s = edo_file_stream(f);
    size_t written = 0;
    ssize_t n = 0;
    while ((n = edo_stream_write(s, bytes, 4096)) > 0)
        written += (size_t)n;
    CHECK_EQ(n, -ENOSPC);
    CHECK(written > 0);
    CHECK_EQ(edo_file_sync_all(f), 0);
    CHECK_EQ(edo_file_close(f), 0);
    void *data;
    size_t len;
    CHECK_EQ(edo_fs_read(d->path[1], &data, &len), 0);
    /* The last write accepted is the one whose going out failed (in part). */
    CHECK(len > 0 && len <= written && len + 4096 >= written);
    CHECK(data && memcmp(data, bytes, len) == 0);
    free(data);
    /* pwrite and copy into a full file system. */
    CHECK_EQ(edo_file_open(d->path[2], &(edo_open_options){.write = true}, &f), 0);
    ssize_t part = edo_file_pwrite(f, bytes, 8192, 3); /* the page at hand may still fit */
    CHECK(part == -ENOSPC || (part > 0 && part < 8192));
    CHECK_EQ(edo_file_pwrite(f, bytes, 8192, 3 + (part > 0 ? (uint64_t)part : 0)), -ENOSPC);
    CHECK_EQ(edo_file_close(f), 0);
    CHECK_EQ(edo_fs_copy(d->path[1], fs_path(d, 3, "copy")), -ENOSPC);
    CHECK_EQ(edo_fs_read(d->path[2], &data, &len), 0); /* what was there is intact */
    CHECK(len >= 3 && memcmp(data, "abc", 3) == 0);
    free(data);
    free(bytes);
    return NULL;
}

static void enospc_child(void)
{
    fs_dir d;
    mount_tmpfs(&d, "size=64k");
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, enospc_body, &d);
    umount(d.root);
    rmdir(d.root);
}
TEST(enospc) { in_child(enospc_child, "ENOSPC on a 64 KiB tmpfs"); }

static void *erofs_body(void *arg)
{
    fs_dir *d = arg;
    CHECK_EQ(edo_fs_write(fs_path(d, 0, "new"), "x", 1), -EROFS);
    CHECK_EQ(edo_fs_create_dir(d->path[0]), -EROFS);
    CHECK_EQ(edo_fs_remove_file(fs_path(d, 1, "kept")), -EROFS);
    char *text;
    CHECK_EQ(edo_fs_read_to_string(d->path[1], &text, NULL), 0); /* reading still works */
    CHECK(strcmp(text, "kept") == 0);
    free(text);
    edo_open_options w = {.write = true};
    edo_file *f;
    CHECK_EQ(edo_file_open(d->path[1], &w, &f), -EROFS);
    CHECK_EQ(edo_fs_set_permissions(d->path[1], 0600), -EROFS);
    return NULL;
}

static void erofs_child(void)
{
    fs_dir d;
    mount_tmpfs(&d, "size=64k");
    FILE *kept = fopen(fs_path(&d, 1, "kept"), "w");
    CHECK(kept && fputs("kept", kept) >= 0 && fclose(kept) == 0);
    if (mount(NULL, d.root, NULL, MS_REMOUNT | MS_RDONLY, NULL) < 0)
        _exit(SKIPPED);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, erofs_body, &d);
    umount(d.root);
    rmdir(d.root);
}
TEST(erofs) { in_child(erofs_child, "EROFS on a read-only tmpfs"); }

static void *eacces_body(void *arg)
{
    fs_dir *d = arg;
    char *text;
    CHECK_EQ(edo_fs_read_to_string(d->path[0], &text, NULL), -EACCES);
    edo_file *f;
    CHECK_EQ(edo_file_open(d->path[0], NULL, &f), -EACCES);
    CHECK_EQ(edo_fs_write(fs_path(d, 1, "locked/new"), "x", 1), -EACCES);
    CHECK_EQ(edo_fs_try_exists(fs_path(d, 2, "locked/inner")), -EACCES);
    edo_read_dir *rd;
    CHECK_EQ(edo_read_dir_open(fs_path(d, 2, "locked"), &rd), -EACCES);
    return NULL;
}

/* As root the permission bits do not bind: switch to "nobody" for good (the child only). */
static void eacces_child(void)
{
    fs_dir d;
    fs_dir_make(&d);
    FILE *secret = fopen(fs_path(&d, 0, "secret"), "w");
    CHECK(secret && fclose(secret) == 0);
    CHECK_EQ(chmod(d.path[0], 0), 0);
    CHECK_EQ(mkdir(fs_path(&d, 1, "locked"), 0), 0);
    CHECK_EQ(chmod(d.root, 0755), 0);
    if (getuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
        _exit(SKIPPED);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, eacces_body, &d);
    /* The directory is left for the parent to remove (it is root again there). */
    printf("%s\n", d.root);
}

TEST(eacces)
{
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], 1);
        eacces_child();
        fflush(NULL);
        _exit(0);
    }
    close(fds[1]);
    char root[128] = {0};
    ssize_t n = read(fds[0], root, sizeof root - 1);
    close(fds[0]);
    int status;
    CHECK_EQ(waitpid(pid, &status, 0), pid);
    CHECK(WIFEXITED(status));
    if (WEXITSTATUS(status) == SKIPPED) {
        fprintf(stderr, "SKIPPED: EACCES as user nobody: not permitted here\n");
        return;
    }
    CHECK_EQ(WEXITSTATUS(status), 0);
    CHECK(n > 0);
    root[strcspn(root, "\n")] = '\0';
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    CHECK_EQ(system(cmd), 0);
}
