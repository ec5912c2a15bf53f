/* An edo_file's stream through the completion ring (src/stream/file_ring.c) and on the pool:
 * byte-exact transfers of many sizes on both; on a ring runtime, a read dropped while the
 * kernel holds it keeps its bytes, a pending write dropped writes nothing, a close waits for
 * the write going out; a FIFO stays on the pool; a stream write widens the ring's io-wq; and
 * on both paths a close does not return before the write going out is out. The ring cases
 * hold operations in flight with fs/ring_block.h (a kernel without io_uring, or without the
 * worker limit, skips them). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edo/fs.h"
#include "edo/stream.h"
#include "edo/time.h"
#include "fs/fs_test.h"
#include "fs/ring_block.h"

/* ---- byte-exact, many sizes ------------------------------------------------------------- */

static const size_t sizes[] = {0, 1, 7, 4095, 4096, 4097, 65535, 65536, 65537, 200003,
                               (1u << 20) + 3};

/* The byte at `i` of the test pattern: not periodic in 4 KiB or 64 KiB. */
static unsigned char pattern_at(size_t i) { return (unsigned char)(i * 7 + i / 251); }

/* Writes `n` pattern bytes through a write-only file's stream in chunks of `chunk`, reads
 * them back through a read-only one in reads of `chunk`, byte for byte, then the end. */
static void round_trip(const char *path, size_t n, size_t chunk)
{
    unsigned char *data = malloc(n + 1), *back = malloc(n + 1);
    CHECK(data && back);
    for (size_t i = 0; i < n; i++)
        data[i] = pattern_at(i);
    edo_file *f;
    CHECK_EQ(edo_file_create(path, &f), 0);
    for (size_t at = 0; at < n;) {
        size_t len = n - at < chunk ? n - at : chunk;
        ssize_t w = edo_stream_write(edo_file_stream(f), data + at, len);
        CHECK(w > 0 && (size_t)w <= len);
        at += (size_t)w;
    }
    CHECK_EQ(edo_file_close(f), 0); /* waits for the last write: the bytes are there */
    fs_check_contents(path, data, n);
    CHECK_EQ(edo_file_open(path, NULL, &f), 0);
    size_t got = 0;
    for (;;) {
        size_t len = n + 1 - got < chunk ? n + 1 - got : chunk;
        ssize_t r = edo_stream_read(edo_file_stream(f), back + got, len);
        CHECK(r >= 0);
        if (r == 0)
            break;
        got += (size_t)r;
        CHECK(got <= n);
    }
    CHECK_EQ(got, n);
    CHECK(memcmp(data, back, n) == 0);
    CHECK_EQ(edo_file_close(f), 0);
    free(data);
    free(back);
}

static void many_sizes(fs_dir *d)
{
    static const size_t chunks[] = {1000, 4096, 65536, 300000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++)
            if (sizes[i] / chunks[c] < 2000) /* bounded: no million one-byte calls */
                round_trip(fs_path(d, 0, "exact"), sizes[i], chunks[c]);
    CHECK_EQ(edo_fs_remove_file(fs_path(d, 0, "exact")), 0);
}

TEST(many_sizes_ring) { fs_ring_run(EDO_RUNTIME_MULTI_THREAD, many_sizes); }
TEST(many_sizes_default_backend) { fs_run(many_sizes); }

/* ---- held in flight (a current-thread ring runtime) -------------------------------------- */

static edo__cring *the_ring(void) { return edo__runtime_cring(edo_runtime_current()); }

/* Whether the kernel can hold operations for the test; else say skipped. */
static bool can_block(edo__cring *c)
{
    unsigned limits[2] = {0, 0}; /* asks for the limits: fails where the kernel has none */
    if (syscall(__NR_io_uring_register, c->ring.fd, IORING_REGISTER_IOWQ_MAX_WORKERS, limits, 2) < 0) {
        fprintf(stderr, "SKIPPED: no IORING_REGISTER_IOWQ_MAX_WORKERS (%d)\n", errno);
        return false;
    }
    return true;
}

static size_t read_text(const char *path, char *out, size_t size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    ssize_t n = read(fd, out, size);
    CHECK(n > 0);
    close(fd);
    return (size_t)n;
}

/* /proc/self/pagemap is a regular file that is never read without blocking (no read_iter):
 * its ring read goes to the held worker. Dropped there, its bytes come with the next read, and
 * the reader's position is just past them (had they been lost, it would be past twice as many). */
static void read_dropped(fs_dir *d)
{
    edo__cring *c = the_ring();
    if (!can_block(c))
        return;
    char expect[512], got[512];
    int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
    CHECK(fd >= 0);
    CHECK_EQ(pread(fd, expect, sizeof expect, 0), (ssize_t)sizeof expect); /* unmapped: stable */
    close(fd);
    edo_file *f;
    CHECK_EQ(edo_file_open("/proc/self/pagemap", NULL, &f), 0);
    const char *fifo = fs_path(d, 2, "fifo");
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    blocker b;
    CHECK(block_workers(c, &b, fifo));
    edo_stream_future rf;
    edo_stream_read_future_init(&rf, edo_file_stream(f), got, sizeof got);
    edo_context cx;
    edo_context_init(&cx, NULL, NULL);
    CHECK(edo_future_poll(&rf.base, &cx, NULL) == EDO_PENDING);
    CHECK_EQ(atomic_load(&c->inflight), 2); /* the blocker and the read: in the ring */
    edo_future_drop(&rf.base);
    unblock_and_drain(c, &b, fifo);
    memset(got, 0x55, sizeof got);
    CHECK_EQ(edo_stream_read(edo_file_stream(f), got, sizeof got), (ssize_t)sizeof got);
    CHECK(memcmp(got, expect, sizeof got) == 0);
    uint64_t pos = 0;
    CHECK_EQ(edo_file_seek(f, 0, SEEK_CUR, &pos), 0);
    CHECK_EQ(pos, sizeof got);
    CHECK_EQ(edo_file_close(f), 0);
    CHECK_EQ(unlink(fifo), 0);
}

TEST(ring_read_dropped_in_flight_keeps_bytes)
{
    fs_ring_run(EDO_RUNTIME_CURRENT_THREAD, read_dropped);
}

/* /proc/self/comm, written alone, is a write the kernel's worker does: held there, a second
 * write waits for it and, dropped, writes nothing; a close waits for the first. */
static void write_dropped_and_close(fs_dir *d)
{
    edo__cring *c = the_ring();
    if (!can_block(c))
        return;
    char name[64], after[64];
    size_t n = read_text("/proc/self/comm", name, sizeof name - 1);
    name[n - 1] = '\0'; /* without the newline */
    edo_file *f;
    CHECK_EQ(edo_file_open("/proc/self/comm", &(edo_open_options){.write = true}, &f), 0);
    const char *fifo = fs_path(d, 2, "fifo");
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    blocker b;
    CHECK(block_workers(c, &b, fifo));
    CHECK_EQ(edo_stream_write(edo_file_stream(f), "edo-a", 5), 5); /* copied, going out */
    CHECK_EQ(atomic_load(&c->inflight), 2);
    edo_context cx;
    edo_context_init(&cx, NULL, NULL);
    edo_stream_future wf;
    edo_stream_write_future_init(&wf, edo_file_stream(f), "edo-b", 5);
    CHECK(edo_future_poll(&wf.base, &cx, NULL) == EDO_PENDING); /* behind the first */
    edo_future_drop(&wf.base);
    edo_file_future closing;
    edo_file_close_future_init(&closing, f);
    CHECK(edo_future_poll(&closing.base, &cx, NULL) == EDO_PENDING); /* the write is not out */
    unblock_and_drain(c, &b, fifo);
    CHECK(edo_future_poll(&closing.base, &cx, NULL) == EDO_READY);
    CHECK_EQ(closing.result, 0);
    edo_future_drop(&closing.base);
    CHECK_EQ(read_text("/proc/self/comm", after, sizeof after), 6);
    CHECK(memcmp(after, "edo-a\n", 6) == 0); /* the first write, not the dropped one */
    CHECK_EQ(prctl(PR_SET_NAME, name), 0);
    CHECK_EQ(unlink(fifo), 0);
}

TEST(ring_write_dropped_and_close_waits)
{
    fs_ring_run(EDO_RUNTIME_CURRENT_THREAD, write_dropped_and_close);
}

/* A FIFO read stays on the pool: it completes while io_uring's one worker is held (through
 * the ring it would wait behind it). Bounded by a deadline, never a hang. */
typedef struct fifo_feed {
    const char *path;
    int fd; /* the writer's end, kept open until the read is checked */
} fifo_feed;

static void *feed_fifo(void *arg)
{
    fifo_feed *feed = arg;
    feed->fd = open(feed->path, O_WRONLY | O_CLOEXEC); /* waits for the reader's open */
    CHECK(feed->fd >= 0);
    CHECK_EQ(write(feed->fd, "piped", 5), 5);
    return NULL;
}

static void fifo_on_pool(fs_dir *d)
{
    edo__cring *c = the_ring();
    if (!can_block(c))
        return;
    const char *fifo = fs_path(d, 2, "fifo"), *data = fs_path(d, 3, "data");
    CHECK_EQ(mkfifo(fifo, 0600), 0);
    CHECK_EQ(mkfifo(data, 0600), 0);
    fifo_feed feed = {data, -1};
    pthread_t feeder;
    CHECK_EQ(pthread_create(&feeder, NULL, feed_fifo, &feed), 0);
    edo_file *f;
    CHECK_EQ(edo_file_open(data, NULL, &f), 0); /* a FIFO: opened by the pool */
    blocker b;
    CHECK(block_workers(c, &b, fifo));
    char got[8];
    edo_instant saved;
    edo_deadline_push(edo_after(EDO_SEC(20)), &saved);
    ssize_t r = edo_stream_read(edo_file_stream(f), got, sizeof got);
    edo_deadline_pop(saved);
    CHECK_EQ(r, 5);
    CHECK(memcmp(got, "piped", 5) == 0);
    CHECK_EQ(pthread_join(feeder, NULL), 0);
    unblock_and_drain(c, &b, fifo);
    close(feed.fd);
    CHECK_EQ(edo_file_close(f), 0);
    CHECK_EQ(unlink(fifo), 0);
    CHECK_EQ(unlink(data), 0);
}

TEST(fifo_stays_on_pool) { fs_ring_run(EDO_RUNTIME_CURRENT_THREAD, fifo_on_pool); }

/* ---- a close and the write going out, both paths ---------------------------------------- */

/* A write into a full FIFO waits on the pool until a reader takes bytes, so the close waits
 * (its first poll is pending for sure). A thread then takes the bytes that filled the pipe; the
 * close completes once the write is out: exactly its 100 bytes wait in the pipe. */
static void *drain_some(void *arg)
{
    int fd = *(int *)arg;
    char buf[4096];
    size_t full = (size_t)fcntl(fd, F_GETPIPE_SZ); /* the first bytes: there from the start */
    for (size_t got = 0; got < full;) {
        ssize_t n = read(fd, buf, full - got < sizeof buf ? full - got : sizeof buf);
        CHECK(n > 0);
        got += (size_t)n;
    }
    return NULL;
}

static void close_after_write(fs_dir *d)
{
    const char *path = fs_path(d, 0, "pipe");
    CHECK_EQ(mkfifo(path, 0600), 0);
    int rd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    CHECK(rd >= 0);
    int cap = fcntl(rd, F_GETPIPE_SZ);
    CHECK(cap > 0);
    edo_file *f;
    CHECK_EQ(edo_file_open(path, &(edo_open_options){.write = true}, &f), 0);
    char *fill = calloc(1, (size_t)cap);
    CHECK(fill != NULL);
    CHECK_EQ(edo_stream_write_all(edo_file_stream(f), fill, (size_t)cap), 0);
    CHECK_EQ(edo_stream_flush(edo_file_stream(f)), 0); /* the pipe is full */
    CHECK_EQ(edo_stream_write(edo_file_stream(f), fill, 100), 100); /* waits on the pool */
    edo_file_future closing;
    edo_file_close_future_init(&closing, f);
    edo_context cx;
    edo_context_init(&cx, NULL, NULL);
    CHECK(edo_future_poll(&closing.base, &cx, NULL) == EDO_PENDING); /* the write is not out */
    pthread_t t;
    CHECK_EQ(pthread_create(&t, NULL, drain_some, &rd), 0);
    CHECK_EQ(edo_await(&closing.base, NULL), 0);
    CHECK_EQ(closing.result, 0);
    edo_future_drop(&closing.base);
    CHECK_EQ(pthread_join(t, NULL), 0);
    int left = -1;
    CHECK_EQ(ioctl(rd, FIONREAD, &left), 0);
    CHECK_EQ(left, 100); /* the write went out, all of it, before the close completed */
    close(rd);
    free(fill);
    CHECK_EQ(unlink(path), 0);
}

TEST(close_waits_for_write_default_backend) { fs_run(close_after_write); }
TEST(close_waits_for_write_ring) { fs_ring_run(EDO_RUNTIME_MULTI_THREAD, close_after_write); }

/* ---- io-wq's bounded workers -------------------------------------------------------------- */

/* A completion ring's io-wq has 64 bounded workers (widen_iowq in io/uring/completions.c), so
 * that a stream's punted writes do not queue behind fsyncs; the unbounded limit stays as it
 * was. */
static void widened(fs_dir *d)
{
    edo__cring *c = the_ring();
    if (!can_block(c))
        return;
    unsigned before[2] = {0, 0};
    CHECK(syscall(__NR_io_uring_register, c->ring.fd, IORING_REGISTER_IOWQ_MAX_WORKERS, before,
                  2) == 0);
    edo_file *f;
    CHECK_EQ(edo_file_create(fs_path(d, 0, "w"), &f), 0);
    CHECK_EQ(edo_stream_write_all(edo_file_stream(f), "bytes", 5), 0);
    CHECK_EQ(edo_file_close(f), 0);
    unsigned now[2] = {0, 0};
    CHECK(syscall(__NR_io_uring_register, c->ring.fd, IORING_REGISTER_IOWQ_MAX_WORKERS, now,
                  2) == 0);
    CHECK_EQ(now[0], 64);
    if (before[0]) /* this thread had an io-wq to ask: its unbounded limit did not move */
        CHECK_EQ(now[1], before[1]);
    fs_check_contents(fs_path(d, 0, "w"), "bytes", 5);
}

TEST(ring_iowq_widened) { fs_ring_run(EDO_RUNTIME_CURRENT_THREAD, widened); }
