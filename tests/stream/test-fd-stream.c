/* Streams over file descriptors, what the kind-generic body (test-stream-kinds.c) cannot show:
 * regular files and devices through the blocking pool, a pool read abandoned while its call
 * runs (the bytes are kept), the fd's flags put back at close, no SIGPIPE, stdin on a terminal,
 * and bad input. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "edo/fd_stream.h"
#include "harness.h"
#include "stream/fd.h"
#include "stream/stream_test.h"
#include "util.h"

/* A temporary file, unlinked at once: returns an fd open for reading and writing. */
static int temp_file(void)
{
    char path[] = "/tmp/edo-fd-stream-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    return fd;
}

static void *regular_file(void *arg)
{
    (void)arg;
    int fd = temp_file();
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rfd = open(path, O_RDONLY | O_CLOEXEC); /* its own offset */
    CHECK(rfd >= 0);
    edo_stream *w, *r;
    CHECK_EQ(edo_stream_from_fd(fd, &w), 0);
    CHECK_EQ(edo_stream_from_fd(rfd, &r), 0);
    CHECK_EQ(edo_stream_raw_fd(w, true), -ENOTSUP);
    size_t total = 200000; /* several pool calls of 64 KiB */
    char *data = malloc(total), *back = malloc(total + 1);
    CHECK(data && back);
    for (size_t i = 0; i < total; i++)
        data[i] = (char)(i % 253);
    CHECK_EQ(edo_stream_write_all(w, data, total), 0);
    CHECK_EQ(edo_stream_flush(w), 0);
    /* A try that finds nothing starts the pool read; a later try gets its bytes. */
    ssize_t n;
    WAIT_UNTIL((n = edo_stream_try_read(r, back, 10)) != -EAGAIN);
    CHECK_EQ(n, 10);
    CHECK_EQ(edo_stream_ready(r, EDO_READABLE), EDO_READABLE); /* reads ahead */
    size_t have = 10;
    while ((n = edo_stream_read(r, back + have, total + 1 - have)) > 0)
        have += (size_t)n;
    CHECK_EQ(n, 0);
    CHECK_EQ(have, total);
    CHECK(memcmp(back, data, total) == 0);
    CHECK_EQ(edo_stream_shutdown(w), 0);
    CHECK_EQ(edo_stream_write(w, "x", 1), -EPIPE);
    CHECK_EQ(edo_stream_close(w), 0);
    CHECK_EQ(edo_stream_close(r), 0);
    free(data);
    free(back);
    return NULL;
}

TEST(regular_file_through_the_pool) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, regular_file, NULL); }

/* /dev/null: a character device epoll refuses, so the pool. */
static void *dev_null(void *arg)
{
    (void)arg;
    int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
    CHECK(fd >= 0);
    edo_stream *s;
    CHECK_EQ(edo_stream_from_fd(fd, &s), 0);
    CHECK_EQ(edo_stream_raw_fd(s, false), -ENOTSUP);
    CHECK_EQ(edo_stream_write_all(s, "gone", 4), 0);
    char c;
    CHECK_EQ(edo_stream_read(s, &c, 1), 0);
    CHECK_EQ(edo_stream_close(s), 0);
    return NULL;
}

TEST(dev_null) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, dev_null, NULL); }

/* Whether a readiness poll finds `s` readable (not waiting for it afterwards). */
static bool readable_now(edo_stream *s)
{
    edo_stream_future f;
    edo_stream_ready_future_init(&f, s, EDO_READABLE);
    edo_poll p = poll_once(&f);
    edo_future_drop(&f.base);
    return p == EDO_READY && f.result == EDO_READABLE;
}

/* A pool read on an empty (blocking) pipe: its call sits in read(2) when the future is dropped;
 * the bytes that come afterwards reach the next read. */
static void *abandoned_pool_read(void *arg)
{
    (void)arg;
    int fds[2];
    CHECK_EQ(pipe2(fds, O_CLOEXEC), 0);
    edo_stream *r;
    CHECK_EQ(edo__file_stream_open(fds[0], S_IFIFO, &r), 0);
    char buf[16];
    edo_stream_future f;
    edo_stream_read_future_init(&f, r, buf, sizeof buf);
    CHECK_EQ(poll_once(&f), EDO_PENDING);
    edo_future_drop(&f.base);
    CHECK_EQ(write(fds[1], "kept", 4), 4);
    /* Until the call has ended, with no read waiting when it does: the bytes must be kept. */
    WAIT_UNTIL(readable_now(r));
    memset(buf, 0, sizeof buf);
    read_exact(r, buf, 4);
    CHECK(memcmp(buf, "kept", 4) == 0);
    /* The same with a coroutine read cut by its deadline. */
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(5)), &saved), 0);
    CHECK_EQ(edo_stream_read(r, buf, sizeof buf), -ETIMEDOUT);
    CHECK_EQ(edo_deadline_pop(saved), 0);
    CHECK_EQ(write(fds[1], "again", 5), 5);
    read_exact(r, buf, 5);
    CHECK(memcmp(buf, "again", 5) == 0);
    close(fds[1]);
    CHECK_EQ(edo_stream_read(r, buf, sizeof buf), 0);
    CHECK_EQ(edo_stream_close(r), 0);
    return NULL;
}

TEST(abandoned_pool_read_keeps_its_bytes)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, abandoned_pool_read, NULL);
}

/* A blocking pipe taken over: non-blocking while the stream has it, as it was after. */
static void *flags_restored(void *arg)
{
    (void)arg;
    int fds[2];
    CHECK_EQ(pipe2(fds, O_CLOEXEC), 0);
    int watch = dup(fds[0]); /* the same open file description */
    edo_stream *r, *w;
    CHECK_EQ(edo_stream_from_fd(fds[0], &r), 0);
    CHECK_EQ(edo_stream_from_fd(fds[1], &w), 0);
    CHECK(fcntl(watch, F_GETFL) & O_NONBLOCK);
    CHECK_EQ(edo_stream_raw_fd(r, false), fds[0]);
    CHECK_EQ(edo_stream_write_all(w, "hi", 2), 0);
    char buf[2];
    read_exact(r, buf, 2);
    CHECK_EQ(edo_stream_close(r), 0);
    CHECK(!(fcntl(watch, F_GETFL) & O_NONBLOCK));
    close(watch);
    CHECK_EQ(edo_stream_write(w, "x", 1), -EPIPE); /* no reader left, and no SIGPIPE */
    CHECK_EQ(edo_stream_close(w), 0);
    return NULL;
}

TEST(flags_restored_at_close) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, flags_restored, NULL); }

/* SIGPIPE would end the process: both kinds report -EPIPE instead. */
static void *no_sigpipe(void *arg)
{
    (void)arg;
    edo_stream *r, *w;
    CHECK_EQ(edo_pipe_new(&r, &w), 0);
    CHECK_EQ(edo_stream_close(r), 0);
    CHECK_EQ(edo_stream_write(w, "x", 1), -EPIPE);
    CHECK_EQ(edo_stream_close(w), 0);
    int fds[2];
    CHECK_EQ(pipe2(fds, O_CLOEXEC), 0);
    close(fds[0]);
    CHECK_EQ(edo__file_stream_open(fds[1], S_IFIFO, &w), 0);
    CHECK_EQ(edo_stream_write(w, "x", 1), 1); /* taken; the pool call fails... */
    CHECK_EQ(edo_stream_flush(w), -EPIPE);    /* ...and says so here */
    CHECK_EQ(edo_stream_flush(w), 0);         /* once */
    CHECK_EQ(edo_stream_close(w), 0);
    return NULL;
}

TEST(no_sigpipe)
{
    CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, no_sigpipe, NULL);
}

/* stdin on a terminal (a pseudo-terminal here) goes through the pool, its flags untouched. */
static void *stdin_terminal(void *arg)
{
    int master = *(int *)arg;
    int before = fcntl(STDIN_FILENO, F_GETFL);
    edo_stream *in;
    CHECK_EQ(edo_stdin_open(&in), 0);
    CHECK_EQ(edo_stream_raw_fd(in, false), -ENOTSUP); /* the pool kind */
    CHECK_EQ(write(master, "line\n", 5), 5);
    char buf[8];
    read_exact(in, buf, 5);
    CHECK(memcmp(buf, "line\n", 5) == 0);
    CHECK_EQ(edo_stream_close(in), 0);
    CHECK_EQ(fcntl(STDIN_FILENO, F_GETFL), before);
    return NULL;
}

TEST(stdin_on_a_terminal)
{
    int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK(master >= 0);
    CHECK_EQ(grantpt(master), 0);
    CHECK_EQ(unlockpt(master), 0);
    int slave = open(ptsname(master), O_RDWR | O_NOCTTY | O_CLOEXEC);
    CHECK(slave >= 0);
    int saved = dup(STDIN_FILENO);
    CHECK_EQ(dup2(slave, STDIN_FILENO), STDIN_FILENO);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, stdin_terminal, &master);
    dup2(saved, STDIN_FILENO);
    close(saved);
    close(slave);
    close(master);
}

static void *bad_input(void *arg)
{
    (void)arg;
    edo_stream *s;
    CHECK_EQ(edo_stream_from_fd(-1, &s), -EINVAL);
    CHECK_EQ(edo_stream_from_fd(0, NULL), -EINVAL);
    int dir = open("/tmp", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK(dir >= 0);
    CHECK_EQ(edo_stream_from_fd(dir, &s), -EINVAL);
    close(dir);
    CHECK_EQ(edo_stream_from_fd(dir, &s), -EBADF); /* closed now */
    CHECK_EQ(edo_pipe_new(NULL, &s), -EINVAL);
    CHECK_EQ(edo_pipe_new(&s, NULL), -EINVAL);
    CHECK_EQ(edo_stdin_open(NULL), -EINVAL);
    CHECK_EQ(edo_stdout_open(NULL), -EINVAL);
    CHECK_EQ(edo_stderr_open(NULL), -EINVAL);
    /* A registered fd cannot be taken over twice; the fd stays the caller's, as it was. */
    edo_stream *r, *w;
    CHECK_EQ(edo_pipe_new(&r, &w), 0);
    int fd = edo_stream_raw_fd(r, false);
    CHECK_EQ(edo_stream_from_fd(fd, &s), -EEXIST);
    CHECK(fcntl(fd, F_GETFL) >= 0);
    CHECK_EQ(edo_stream_close(r), 0);
    CHECK_EQ(edo_stream_close(w), 0);
    return NULL;
}

TEST(bad_input)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, bad_input, NULL);
    edo_stream *s, *t;
    CHECK_EQ(edo_stream_from_fd(0, &s), -EPERM); /* not in a runtime */
    CHECK_EQ(edo_pipe_new(&s, &t), -EPERM);
    CHECK_EQ(edo_stdout_open(&s), -EPERM);
}
