/* What the file-system tests share: a temporary directory per test, paths in it, and running
 * a test body as a coroutine on a two-worker runtime. */
#ifndef EDO_TEST_FS_H
#define EDO_TEST_FS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

#endif
