/* Open files (edo_file): the open options, the file as a stream, pread/pwrite, seek with bytes
 * read ahead, set_len, metadata, sync, and their errors. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edo/fs.h"
#include "fs/fs_test.h"

static void open_options(fs_dir *d)
{
    const char *p = fs_path(d, 0, "f");
    edo_file *f;
    CHECK_EQ(edo_file_open(p, NULL, &f), -ENOENT);
    edo_open_options o = {.write = true, .create_new = true, .mode = 0640};
    CHECK_EQ(edo_file_open(p, &o, &f), 0);
    CHECK_EQ(edo_stream_write_all(edo_file_stream(f), "0123456789", 10), 0);
    edo_metadata m;
    CHECK_EQ(edo_file_metadata(f, &m), 0); /* after the write went out */
    CHECK_EQ(m.len, 10);
    CHECK_EQ(m.permissions, 0640 & ~(uint32_t)umask(022));
    umask(022);
    CHECK_EQ(edo_file_close(f), 0);
    CHECK_EQ(edo_file_open(p, &o, &f), -EEXIST);

    /* append: every write at the end, whatever the offset. */
    edo_open_options ap = {.append = true};
    CHECK_EQ(edo_file_open(p, &ap, &f), 0);
    CHECK_EQ(edo_file_seek(f, 0, SEEK_SET, NULL), 0);
    CHECK_EQ(edo_stream_write_all(edo_file_stream(f), "ab", 2), 0);
    /* close does not wait for the write going out: a read through the ring may come first. */
    CHECK_EQ(edo_stream_flush(edo_file_stream(f)), 0);
    CHECK_EQ(edo_file_close(f), 0);
    char *text;
    CHECK_EQ(edo_fs_read_to_string(p, &text, NULL), 0);
    CHECK(strcmp(text, "0123456789ab") == 0);
    free(text);

    /* truncate; create on an existing file keeps it. */
    edo_open_options tr = {.write = true, .truncate = true};
    CHECK_EQ(edo_file_open(p, &tr, &f), 0);
    CHECK_EQ(edo_file_close(f), 0);
    CHECK_EQ(edo_fs_metadata(p, &m), 0);
    CHECK_EQ(m.len, 0);
    CHECK_EQ(edo_file_create(fs_path(d, 1, "new"), &f), 0);
    CHECK_EQ(edo_file_close(f), 0);
    CHECK_EQ(edo_fs_try_exists(d->path[1]), 1);

    /* Bad combinations and errors. */
    edo_open_options bad = {.read = true, .create = true};
    CHECK_EQ(edo_file_open(p, &bad, &f), -EINVAL);
    bad = (edo_open_options){.read = true, .truncate = true};
    CHECK_EQ(edo_file_open(p, &bad, &f), -EINVAL);
    bad = (edo_open_options){.write = true, .mode = 010000};
    CHECK_EQ(edo_file_open(p, &bad, &f), -EINVAL);
    CHECK_EQ(edo_file_open(NULL, NULL, &f), -EINVAL);
    CHECK_EQ(edo_file_open(p, NULL, NULL), -EINVAL);
    CHECK_EQ(edo_file_open(d->root, NULL, &f), -EISDIR);
    edo_open_options w = {.write = true};
    CHECK_EQ(edo_file_open(d->root, &w, &f), -EISDIR);
    CHECK_EQ(edo_file_open(fs_path(d, 2, "no/f"), &o, &f), -ENOENT);
    /* custom flags pass through: O_NOFOLLOW on a link. */
    CHECK_EQ(edo_fs_symlink("f", fs_path(d, 2, "link")), 0);
    edo_open_options nofollow = {.read = true, .custom_flags = O_NOFOLLOW};
    CHECK_EQ(edo_file_open(d->path[2], &nofollow, &f), -ELOOP);
    CHECK_EQ(edo_file_open(d->path[2], NULL, &f), 0);
    CHECK_EQ(edo_file_close(f), 0);
    /* create_new does not follow a link, even a dangling one. */
    CHECK_EQ(edo_fs_symlink("nowhere", fs_path(d, 3, "dangling")), 0);
    CHECK_EQ(edo_file_open(d->path[3], &o, &f), -EEXIST);
    CHECK_EQ(edo_file_close(NULL), -EINVAL);
}
TEST(open_options) { fs_run(open_options); }

static void stream_and_seek(fs_dir *d)
{
    const char *p = fs_path(d, 0, "f");
    edo_file *f;
    edo_open_options rw = {.read = true, .write = true, .create = true};
    CHECK_EQ(edo_file_open(p, &rw, &f), 0);
    edo_stream *s = edo_file_stream(f);
    CHECK(s != NULL);
    CHECK(edo_file_stream(NULL) == NULL);
    enum { N = 300000 };
    char *data = malloc(N), *back = malloc(N);
    CHECK(data && back);
    for (int i = 0; i < N; i++)
        data[i] = (char)(i % 241);
    CHECK_EQ(edo_stream_write_all(s, data, N), 0);
    uint64_t pos = 1;
    CHECK_EQ(edo_file_seek(f, 0, SEEK_CUR, &pos), 0);
    CHECK_EQ(pos, N);
    CHECK_EQ(edo_file_seek(f, 0, SEEK_SET, &pos), 0);
    CHECK_EQ(pos, 0);
    /* Read some, so a 64 KiB call read ahead; SEEK_CUR counts from what the reader took. */
    CHECK_EQ(edo_stream_read(s, back, 10), 10);
    CHECK(memcmp(back, data, 10) == 0);
    CHECK_EQ(edo_file_seek(f, 5, SEEK_CUR, &pos), 0);
    CHECK_EQ(pos, 15);
    CHECK_EQ(edo_stream_read(s, back, 4), 4);
    CHECK(memcmp(back, data + 15, 4) == 0);
    CHECK_EQ(edo_file_seek(f, -3, SEEK_END, &pos), 0);
    CHECK_EQ(pos, N - 3);
    CHECK_EQ(edo_stream_read(s, back, 100), 3);
    CHECK_EQ(edo_stream_read(s, back, 100), 0); /* end */
    CHECK_EQ(edo_file_seek(f, 0, SEEK_SET, NULL), 0);
    size_t nread = 0;
    CHECK_EQ(edo_stream_read_exact(s, back, N, &nread), 0); /* a stream utility on a file */
    CHECK(memcmp(back, data, N) == 0);
    CHECK_EQ(edo_file_seek(f, -1, SEEK_SET, NULL), -EINVAL);
    CHECK_EQ(edo_file_seek(f, 0, 42, NULL), -EINVAL);
    CHECK_EQ(edo_file_seek(NULL, 0, SEEK_SET, NULL), -EINVAL);

    /* pread/pwrite leave the offset alone. */
    CHECK_EQ(edo_file_seek(f, 100, SEEK_SET, NULL), 0);
    char buf[16];
    CHECK_EQ(edo_file_pread(f, buf, 16, 1000), 16);
    CHECK(memcmp(buf, data + 1000, 16) == 0);
    CHECK_EQ(edo_file_pwrite(f, "XYZ", 3, 2000), 3);
    CHECK_EQ(edo_file_pread(f, buf, 3, 2000), 3);
    CHECK(memcmp(buf, "XYZ", 3) == 0);
    CHECK_EQ(edo_file_pread(f, buf, 16, N), 0);
    CHECK_EQ(edo_file_pread(f, buf, 0, 0), 0);
    CHECK_EQ(edo_stream_read(s, buf, 1), 1);
    CHECK_EQ(buf[0], data[100]);
    CHECK_EQ(edo_file_pread(f, NULL, 1, 0), -EINVAL);
    CHECK_EQ(edo_file_pread(f, buf, 1, (uint64_t)INT64_MAX + 1), -EINVAL);
    CHECK_EQ(edo_file_pwrite(NULL, buf, 1, 0), -EINVAL);
    CHECK_EQ(edo_file_pwrite(f, buf, 2, INT64_MAX), -EINVAL);

    /* A stream write, then a pwrite over it: ordered (the pwrite waits for the write). */
    CHECK_EQ(edo_file_seek(f, 0, SEEK_SET, NULL), 0);
    CHECK_EQ(edo_stream_write(s, "aaaa", 4), 4);
    CHECK_EQ(edo_file_pwrite(f, "b", 1, 1), 1);
    CHECK_EQ(edo_file_pread(f, buf, 4, 0), 4);
    CHECK(memcmp(buf, "abaa", 4) == 0);

    /* set_len, metadata, sync. */
    CHECK_EQ(edo_file_set_len(f, 10), 0);
    edo_metadata m;
    CHECK_EQ(edo_file_metadata(f, &m), 0);
    CHECK_EQ(m.len, 10);
    CHECK_EQ(m.type, EDO_FILE_REGULAR);
    CHECK_EQ(edo_file_set_len(f, 1 << 20), 0); /* extended with zeros */
    CHECK_EQ(edo_file_pread(f, buf, 4, 500000), 4);
    CHECK(memcmp(buf, "\0\0\0\0", 4) == 0);
    CHECK_EQ(edo_file_set_len(f, (uint64_t)INT64_MAX + 1), -EINVAL);
    CHECK_EQ(edo_file_sync_all(f), 0);
    CHECK_EQ(edo_file_sync_data(f), 0);
    CHECK_EQ(edo_file_sync_all(NULL), -EINVAL);
    CHECK_EQ(edo_file_metadata(f, NULL), -EINVAL);
    CHECK_EQ(edo_file_close(f), 0);
    free(data);
    free(back);
}
TEST(stream_and_seek) { fs_run(stream_and_seek); }

/* The wrong access mode: a read-only file's write fails (-EBADF) when it goes out, reported by
 * the next call; set_len and pwrite too. */
static void access_mode(fs_dir *d)
{
    const char *p = fs_path(d, 0, "f");
    CHECK_EQ(edo_fs_write(p, "data", 4), 0);
    edo_file *f;
    CHECK_EQ(edo_file_open(p, NULL, &f), 0);
    edo_stream *s = edo_file_stream(f);
    CHECK_EQ(edo_stream_write(s, "x", 1), 1); /* copied: the failure comes next */
    CHECK_EQ(edo_file_sync_all(f), -EBADF);
    CHECK_EQ(edo_file_sync_all(f), 0); /* reported once */
    CHECK_EQ(edo_file_set_len(f, 0), -EINVAL); /* ftruncate on a read-only fd */
    CHECK_EQ(edo_file_pwrite(f, "x", 1, 0), -EBADF);
    CHECK_EQ(edo_file_close(f), 0);
    edo_open_options w = {.write = true};
    CHECK_EQ(edo_file_open(p, &w, &f), 0);
    char buf[4];
    CHECK_EQ(edo_file_pread(f, buf, 4, 0), -EBADF);
    CHECK_EQ(edo_stream_read(edo_file_stream(f), buf, 4), -EBADF);
    CHECK_EQ(edo_file_close(f), 0);
}
TEST(access_mode) { fs_run(access_mode); }

/* File futures: a sync abandoned after its first poll; the file closed while the pool call may
 * still run (it holds the fd open); nothing leaks (ASan). */
static void abandoned_file_calls(fs_dir *d)
{
    const char *p = fs_path(d, 0, "f");
    edo_open_options rw = {.read = true, .write = true, .create = true, .truncate = true};
    for (int round = 0; round < SCALE(100, 50, 20); round++) {
        edo_file *f;
        CHECK_EQ(edo_file_open(p, &rw, &f), 0);
        CHECK_EQ(edo_stream_write_all(edo_file_stream(f), "abc", 3), 0);
        edo_file_future ff;
        edo_file_sync_all_future_init(&ff, f);
        edo_context cx;
        edo_context_init(&cx, NULL, NULL);
        edo_poll r = edo_future_poll(&ff.base, &cx, NULL);
        edo_future_drop(&ff.base);
        if (r == EDO_READY)
            CHECK_EQ(ff.result, 0);
        char buf[3] = {0};
        edo_file_pread_future_init(&ff, f, buf, 3, 0);
        r = edo_future_poll(&ff.base, &cx, NULL);
        edo_future_drop(&ff.base);
        CHECK(r == EDO_PENDING ? buf[0] == 0 : ff.result == 3);
        CHECK_EQ(edo_file_close(f), 0);
    }
}
TEST(abandoned_file_calls) { fs_run(abandoned_file_calls); }

/* Opening a FIFO waits for its other end: two tasks open the two ends at once, and neither open
 * may queue for ever behind the other in the batched pool queue. */
typedef struct fifo_end {
    const char *path;
    bool write;
} fifo_end;

static void *open_fifo_end(void *arg)
{
    fifo_end *e = arg;
    edo_open_options o = {.read = !e->write, .write = e->write};
    edo_file *f;
    CHECK_EQ(edo_file_open(e->path, &o, &f), 0);
    char c = 'x';
    if (e->write)
        CHECK_EQ(edo_stream_write_all(edo_file_stream(f), &c, 1), 0);
    else
        CHECK_EQ(edo_stream_read(edo_file_stream(f), &c, 1), 1);
    CHECK_EQ(edo_stream_flush(edo_file_stream(f)), 0);
    CHECK_EQ(edo_file_close(f), 0);
    return NULL;
}

static void fifo_ends(fs_dir *d)
{
    const char *p = fs_path(d, 0, "fifo");
    CHECK_EQ(mkfifo(p, 0600), 0);
    fifo_end r = {p, false}, w = {p, true};
    edo_task *tr, *tw;
    CHECK_EQ(edo_spawn(open_fifo_end, &r, &tr), 0);
    CHECK_EQ(edo_spawn(open_fifo_end, &w, &tw), 0);
    CHECK_EQ(edo_task_join(tr, NULL), 0);
    CHECK_EQ(edo_task_join(tw, NULL), 0);
    edo_task_free(tr);
    edo_task_free(tw);
}
TEST(fifo_ends) { fs_run(fifo_ends); }

/* O_DIRECT passes through, and the pool's buffers are aligned as it needs (where the file
 * system takes O_DIRECT at all: tmpfs refuses it at open). */
static void direct_io(fs_dir *d)
{
    const char *p = fs_path(d, 0, "direct");
    edo_open_options o = {.read = true, .write = true, .create = true, .custom_flags = O_DIRECT};
    edo_file *f;
    int rc = edo_file_open(p, &o, &f);
    if (rc == -EINVAL) {
        fprintf(stderr, "SKIPPED: O_DIRECT refused by the file system of %s\n", d->root);
        return;
    }
    CHECK_EQ(rc, 0);
    static char block[8192];
    memset(block, 'd', sizeof block);
    CHECK_EQ(edo_stream_write_all(edo_file_stream(f), block, sizeof block), 0);
    CHECK_EQ(edo_file_sync_all(f), 0);
    CHECK_EQ(edo_file_pwrite(f, block, 4096, 8192), 4096);
    char back[4096];
    CHECK_EQ(edo_file_pread(f, back, sizeof back, 4096), 4096);
    CHECK(memcmp(back, block, sizeof back) == 0);
    CHECK_EQ(edo_file_seek(f, 0, SEEK_SET, NULL), 0);
    CHECK_EQ(edo_stream_read(edo_file_stream(f), back, sizeof back), 4096);
    CHECK_EQ(edo_file_close(f), 0);
}
TEST(direct_io) { fs_run(direct_io); }
