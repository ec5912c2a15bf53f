/* Reading directories: every entry once, in batches; types; the end; errors; a wait abandoned
 * midway loses no entry. */
#include <errno.h>
#include <string.h>

#include "edo/fs.h"
#include "fs/fs_test.h"

enum { FILES = 3000 };

static void make_files(fs_dir *d, int n)
{
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "entry-%05d", i);
        CHECK_EQ(edo_fs_write(fs_path(d, 0, name), "", 0), 0);
    }
}

/* Reads the directory to its end, checking each name once; `abandon`: polls a next future once
 * and drops it before every call (a wait given up must lose nothing). */
static void read_all(fs_dir *d, int n, bool abandon)
{
    edo_read_dir *rd;
    CHECK_EQ(edo_read_dir_open(d->root, &rd), 0);
    char *seen = calloc((size_t)n, 1);
    CHECK(seen);
    int count = 0, dirs = 0;
    edo_dir_entry e;
    for (;;) {
        if (abandon) {
            edo_fs_future f;
            edo_dir_entry unused;
            edo_read_dir_next_future_init(&f, rd, &unused);
            edo_context cx;
            edo_context_init(&cx, NULL, NULL);
            if (edo_future_poll(&f.base, &cx, NULL) == EDO_READY && f.result == 1) {
                int i = -1;
                if (sscanf(unused.name, "entry-%d", &i) == 1) { /* taken: count it */
                    CHECK(i >= 0 && i < n && !seen[i]);
                    seen[i] = 1;
                    count++;
                } else {
                    dirs++;
                }
            }
            edo_future_drop(&f.base);
        }
        int rc = edo_read_dir_next(rd, &e);
        CHECK(rc >= 0);
        if (rc == 0)
            break;
        int i = -1;
        if (sscanf(e.name, "entry-%d", &i) != 1) {
            CHECK(strcmp(e.name, "sub") == 0);
            CHECK_EQ(e.type, EDO_FILE_DIR);
            dirs++;
            continue;
        }
        CHECK(i >= 0 && i < n && !seen[i]);
        CHECK(e.type == EDO_FILE_REGULAR || e.type == EDO_FILE_UNKNOWN);
        CHECK(e.ino != 0);
        seen[i] = 1;
        count++;
    }
    CHECK_EQ(count, n);
    CHECK_EQ(dirs, 1);
    CHECK_EQ(edo_read_dir_next(rd, &e), 0); /* the end stays */
    CHECK_EQ(edo_read_dir_close(rd), 0);
    free(seen);
}

static void many_entries(fs_dir *d)
{
    make_files(d, FILES);
    CHECK_EQ(edo_fs_create_dir(fs_path(d, 0, "sub")), 0);
    read_all(d, FILES, false);
    read_all(d, FILES, true);
}
TEST(many_entries) { fs_run(many_entries); }

static void empty_and_errors(fs_dir *d)
{
    edo_read_dir *rd;
    edo_dir_entry e;
    CHECK_EQ(edo_read_dir_open(d->root, &rd), 0);
    CHECK_EQ(edo_read_dir_next(rd, &e), 0);
    CHECK_EQ(edo_read_dir_close(rd), 0);
    CHECK_EQ(edo_read_dir_open(fs_path(d, 0, "missing"), &rd), -ENOENT);
    CHECK_EQ(edo_fs_write(fs_path(d, 0, "file"), "", 0), 0);
    CHECK_EQ(edo_read_dir_open(d->path[0], &rd), -ENOTDIR);
    CHECK_EQ(edo_read_dir_open(NULL, &rd), -EINVAL);
    CHECK_EQ(edo_read_dir_open(d->root, NULL), -EINVAL);
    CHECK_EQ(edo_read_dir_next(NULL, &e), -EINVAL);
    CHECK_EQ(edo_read_dir_close(NULL), -EINVAL);
    CHECK_EQ(edo_read_dir_open(d->root, &rd), 0);
    CHECK_EQ(edo_read_dir_next(rd, NULL), -EINVAL);
    /* Closed with a batch being read: the pool call closes the fd when done. */
    edo_fs_future f;
    edo_read_dir_next_future_init(&f, rd, &e);
    edo_context cx;
    edo_context_init(&cx, NULL, NULL);
    edo_future_poll(&f.base, &cx, NULL);
    edo_future_drop(&f.base);
    CHECK_EQ(edo_read_dir_close(rd), 0);
}
TEST(empty_and_errors) { fs_run(empty_and_errors); }
