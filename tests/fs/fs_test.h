/* What the file-system tests share: a temporary directory per test, paths in it, and running
 * a test body as a coroutine on a two-worker runtime. */
#ifndef EDO_TEST_FS_H
#define EDO_TEST_FS_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/runtime.h"
#include "harness.h"
#include "util.h"

typedef struct fs_dir {
    char root[64];
    char path[8][192]; /* scratch paths: fs_path(d, i, name) */
} fs_dir;

/* A fresh directory under /tmp. */
static inline void fs_dir_make(fs_dir *d)
{
    strcpy(d->root, "/tmp/edo-fs-XXXXXX");
    CHECK(mkdtemp(d->root) != NULL);
}

/* "<root>/<name>" in scratch slot i. */
static inline const char *fs_path(fs_dir *d, int i, const char *name)
{
    snprintf(d->path[i], sizeof d->path[i], "%s/%s", d->root, name);
    return d->path[i];
}

/* Removes the directory (with edo itself, in a coroutine). */
static inline void fs_dir_remove(fs_dir *d) { CHECK_EQ(edo_fs_remove_dir_all(d->root), 0); }

/* Runs body(d) as a coroutine on a two-worker runtime, in a fresh directory removed after. */
static inline void *fs_body_trampoline(void *arg)
{
    void **a = arg;
    fs_dir d;
    fs_dir_make(&d);
    ((void (*)(fs_dir *))a[0])(&d);
    fs_dir_remove(&d);
    return NULL;
}
static inline void fs_run(void (*body)(fs_dir *))
{
    void *arg[1] = {(void *)body};
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, fs_body_trampoline, arg);
}

/* Reads `path` whole with edo_fs_read: it must hold exactly the n bytes at `expect`. */
static inline void fs_check_contents(const char *path, const void *expect, size_t n)
{
    void *data;
    size_t len;
    CHECK_EQ(edo_fs_read(path, &data, &len), 0);
    CHECK_EQ(len, n);
    CHECK(memcmp(data, expect, n) == 0);
    free(data);
}

/* How many descriptors the process has open (to see that none was left behind). */
static inline int fs_open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    CHECK(d != NULL);
    int n = 0;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* A runtime of `flavor` (with 2 workers when multi-thread) on io_uring with its completion
 * ring, or NULL (say skipped) where the kernel gives none. */
static inline edo_runtime *fs_ring_runtime(edo_runtime_flavor flavor)
{
    edo_runtime_config cfg = {.flavor = flavor,
                              .worker_threads = flavor == EDO_RUNTIME_MULTI_THREAD ? 2 : 0,
                              .io_backend = EDO_IO_BACKEND_IO_URING};
    edo_runtime *rt;
    int rc = edo_runtime_new(&cfg, &rt);
    if (rc == -ENOSYS || rc == -EPERM) {
        fprintf(stderr, "SKIPPED: no io_uring here (%d)\n", rc);
        return NULL;
    }
    CHECK_EQ(rc, 0);
    if (!edo__runtime_cring(rt)) {
        fprintf(stderr, "SKIPPED: no io_uring completion ring here\n");
        edo_runtime_free(rt);
        return NULL;
    }
    return rt;
}

/* Runs body(d) in a coroutine on a ring runtime of `flavor` (nothing where there is none),
 * then frees the runtime (which waits for every CQE) and checks that no descriptor was left
 * open. */
static inline void fs_ring_run(edo_runtime_flavor flavor, void (*body)(fs_dir *))
{
    int fds = fs_open_fds();
    edo_runtime *rt = fs_ring_runtime(flavor);
    if (!rt)
        return;
    void *arg[1] = {(void *)body};
    run_on(rt, fs_body_trampoline, arg);
    edo_runtime_free(rt);
    CHECK_EQ(fs_open_fds(), fds);
}

#endif
