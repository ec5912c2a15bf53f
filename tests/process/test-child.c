/* Children: waiting, exit statuses, signals, kill, output, pipes, a pipeline, many children at
 * once, the SIGCHLD fallback. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>

#include "process/process.h"
#include "process/process_test.h"
#include "util.h"

static void *exit_codes(void *arg)
{
    (void)arg;
    edo_command *c = shell("exit 3");
    edo_child *child;
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    CHECK(edo_child_pid(child) > 0);
    edo_exit_status st;
    CHECK_EQ(edo_child_wait(child, &st), 0);
    CHECK_EQ(st.code, 3);
    CHECK_EQ(st.signal, 0);
    CHECK(!edo_exit_status_is_success(st));
    edo_exit_status again;
    CHECK_EQ(edo_child_wait(child, &again), 0); /* reaped once, the same answer */
    CHECK_EQ(again.code, 3);
    CHECK_EQ(edo_child_try_wait(child, &again), 0);
    CHECK_EQ(again.code, 3);
    edo_child_free(child);
    edo_command_free(c);
    return NULL;
}
TEST(exit_codes) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, exit_codes, NULL); }

/* Waits (in a coroutine) until process `pid` is gone from /proc: reaped, not a zombie. */
static void wait_reaped(pid_t pid)
{
    for (int i = 0; proc_state(pid) != 0; i++) {
        CHECK(i < 60000); /* 60 s */
        CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0);
    }
}

static void *signals(void *arg)
{
    (void)arg;
    edo_command *c;
    CHECK_EQ(edo_command_new("sleep", &c), 0);
    CHECK_EQ(edo_command_arg(c, "100"), 0);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    edo_exit_status st;
    CHECK_EQ(edo_child_try_wait(child, &st), -EAGAIN);
    CHECK_EQ(edo_child_signal(child, SIGTERM), 0);
    CHECK_EQ(edo_child_wait(child, &st), 0);
    CHECK_EQ(st.code, -1);
    CHECK_EQ(st.signal, SIGTERM);
    CHECK_EQ(edo_child_signal(child, SIGTERM), -ESRCH); /* reaped: its pid is not ours now */
    edo_child_free(child);

    CHECK_EQ(edo_command_spawn(c, &child), 0); /* a command spawns as often as asked */
    CHECK_EQ(edo_child_kill(child, &st), 0);
    CHECK_EQ(st.signal, SIGKILL);
    CHECK_EQ(edo_child_kill(child, &st), 0); /* ended already: the same status */
    CHECK_EQ(st.signal, SIGKILL);
    edo_child_free(child);
    edo_command_free(c);
    return NULL;
}
TEST(signal_and_kill) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, signals, NULL); }

/* Bounded by a deadline and by a timeout future; the child runs on and is waited for again. */
static void *deadlines(void *arg)
{
    (void)arg;
    edo_command *c = shell("read line; exit 7");
    CHECK_EQ(edo_command_stdin(c, EDO_STDIO_PIPE, -1), 0);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    edo_stream *in = edo_child_take_stdin(child); /* a wait would close it: keep it */
    CHECK(in);
    CHECK(!edo_child_take_stdin(child));
    edo_instant saved;
    CHECK_EQ(edo_deadline_push(edo_after(EDO_MSEC(20)), &saved), 0);
    edo_exit_status st;
    CHECK_EQ(edo_child_wait(child, &st), -ETIMEDOUT);
    CHECK_EQ(edo_deadline_pop(saved), 0);

    edo_child_wait_future w;
    edo_child_wait_future_init(&w, child);
    edo_timeout_future t;
    CHECK_EQ(edo_timeout_future_init(&t, &w.base, EDO_MSEC(20)), 0);
    CHECK_EQ(edo_await(&t.base, NULL), 0);
    CHECK_EQ(t.result, -ETIMEDOUT);
    edo_future_drop(&t.base);
    edo_future_drop(&w.base);

    CHECK_EQ(edo_stream_write_all(in, "go\n", 3), 0);
    edo_child_wait_future_init(&w, child);
    CHECK_EQ(edo_await(&w.base, NULL), 0);
    CHECK_EQ(w.result, 0);
    CHECK_EQ(w.status.code, 7);
    edo_future_drop(&w.base);
    edo_stream_close(in);
    edo_child_free(child);
    edo_command_free(c);
    return NULL;
}
TEST(deadline_and_timeout) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, deadlines, NULL); }

static void *kill_future(void *arg)
{
    (void)arg;
    edo_command *c; /* sleep itself: a shell might fork it and leave it to hold our stdout */
    CHECK_EQ(edo_command_new("sleep", &c), 0);
    CHECK_EQ(edo_command_arg(c, "100"), 0);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    edo_child_kill_future k;
    edo_child_kill_future_init(&k, child);
    CHECK_EQ(edo_await(&k.base, NULL), 0);
    CHECK_EQ(k.result, 0);
    CHECK_EQ(k.status.signal, SIGKILL);
    edo_future_drop(&k.base);
    edo_child_free(child);
    edo_command_free(c);
    return NULL;
}
TEST(kill_future) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, kill_future, NULL); }

/* 1 MiB on stdout and 1 MiB on stderr, written at the same time: each pipe holds 64 KiB, so
 * reading one after the other would deadlock. */
static void *large_output(void *arg)
{
    (void)arg;
    const char *script = "yes out | head -c 1048576 & yes err | head -c 1048576 >&2; wait";
    char *err, *out = run_output(shell(script), 0, &err);
    size_t mib = 1048576;
    CHECK_EQ(strlen(out), mib);
    CHECK_EQ(strlen(err), mib);
    for (size_t i = 0; i < mib; i += 4) {
        CHECK(memcmp(out + i, "out\n", 4) == 0);
        CHECK(memcmp(err + i, "err\n", 4) == 0);
    }
    free(out);
    free(err);
    return NULL;
}
TEST(output_of_a_mebibyte_on_both) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, large_output, NULL); }

/* The future form over a spawned child, its pipes set by hand. */
static void *output_future(void *arg)
{
    (void)arg;
    edo_command *c = shell("echo out; echo err >&2; exit 2");
    CHECK_EQ(edo_command_stdout(c, EDO_STDIO_PIPE, -1), 0);
    CHECK_EQ(edo_command_stderr(c, EDO_STDIO_PIPE, -1), 0);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    edo_child_output_future f;
    edo_child_output_future_init(&f, child);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, 0);
    CHECK_EQ(f.output.status.code, 2);
    CHECK(strcmp(f.output.out, "out\n") == 0);
    CHECK(strcmp(f.output.err, "err\n") == 0);
    edo_future_drop(&f.base);
    edo_output_drop(&f.output);
    edo_child_free(child);

    /* Dropped before ready: what it had read is freed (ASan would see a leak). */
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    edo_child_output_future_init(&f, child);
    CHECK_EQ(edo_future_poll(&f.base, &(edo_context){NULL, NULL}, NULL) == EDO_PENDING ||
                 f.result == 0,
             1);
    edo_future_drop(&f.base);
    if (f.result == 0)
        edo_output_drop(&f.output);
    edo_child_free(child);
    edo_command_free(c);
    return NULL;
}
TEST(output_future) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, output_future, NULL); }

/* A child that closed its stdin: writing to it is -EPIPE, and no SIGPIPE reaches the process. */
static void *closed_stdin(void *arg)
{
    (void)arg;
    edo_command *c = shell("exec 0<&-; exit 0");
    CHECK_EQ(edo_command_stdin(c, EDO_STDIO_PIPE, -1), 0);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    edo_stream *in = edo_child_take_stdin(child);
    edo_exit_status st;
    CHECK_EQ(edo_child_wait(child, &st), 0);
    CHECK(edo_exit_status_is_success(st));
    static char block[65536];
    ssize_t n = 0;
    for (int i = 0; i < 4 && n >= 0; i++) /* more than a pipe holds, were the reader alive */
        n = edo_stream_write(in, block, sizeof block);
    CHECK_EQ(n, -EPIPE);
    sigset_t pending;
    sigpending(&pending);
    CHECK(!sigismember(&pending, SIGPIPE));
    edo_stream_close(in);
    edo_child_free(child);
    edo_command_free(c);
    return NULL;
}
TEST(closed_stdin_is_epipe) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, closed_stdin, NULL); }

/* printf | sort | head: three children joined by pipes. */
static void *pipeline(void *arg)
{
    (void)arg;
    edo_command *a, *b, *h;
    CHECK_EQ(edo_command_new("printf", &a), 0);
    CHECK_EQ(edo_command_arg(a, "pear\\napple\\nfig\\nbanana\\n"), 0);
    CHECK_EQ(edo_command_stdout(a, EDO_STDIO_PIPE, -1), 0);
    CHECK_EQ(edo_command_new("sort", &b), 0);
    CHECK_EQ(edo_command_stdout(b, EDO_STDIO_PIPE, -1), 0);
    CHECK_EQ(edo_command_new("head", &h), 0);
    CHECK_EQ(edo_command_arg(h, "-n"), 0);
    CHECK_EQ(edo_command_arg(h, "2"), 0);
    edo_child *ca, *cb;
    CHECK_EQ(edo_command_spawn(a, &ca), 0);
    CHECK_EQ(edo_command_stdin_from_child(b, ca), 0);
    CHECK(!edo_child_take_stdout(ca)); /* it went to b */
    CHECK_EQ(edo_command_stdin_from_child(b, ca), -EINVAL);
    CHECK_EQ(edo_command_spawn(b, &cb), 0);
    CHECK_EQ(edo_command_stdin_from_child(h, cb), 0);
    char *out = run_output(h, 0, NULL);
    CHECK(strcmp(out, "apple\nbanana\n") == 0);
    free(out);
    edo_exit_status st;
    CHECK_EQ(edo_child_wait(ca, &st), 0);
    CHECK(edo_exit_status_is_success(st));
    CHECK_EQ(edo_child_wait(cb, &st), 0);
    CHECK(edo_exit_status_is_success(st));
    edo_child_free(ca);
    edo_child_free(cb);
    edo_command_free(a);
    edo_command_free(b);
    return NULL;
}
TEST(pipeline) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, pipeline, NULL); }

/* ---- many children -------------------------------------------------------------------------- */

#define MANY 1000

typedef struct many {
    edo_command *cmd;
    _Atomic int done;
} many;

/* Spawns one child; waits for it, or (every third) frees it unwaited for the runtime to reap. */
static void *one_child(void *arg)
{
    many *m = arg;
    static _Atomic int counter;
    int i = atomic_fetch_add(&counter, 1);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(m->cmd, &child), 0);
    if (i % 3 != 0) {
        edo_exit_status st;
        CHECK_EQ(edo_child_wait(child, &st), 0);
        CHECK(edo_exit_status_is_success(st));
    }
    edo_child_free(child);
    atomic_fetch_add(&m->done, 1);
    return NULL;
}

static void many_children(void)
{
    many m = {0};
    CHECK_EQ(edo_command_new("/bin/true", &m.cmd), 0);
    edo_child *first; /* once, so that the reactor's own descriptors exist before counting */
    edo_exit_status st;
    CHECK_EQ(edo_command_spawn(m.cmd, &first), 0);
    CHECK_EQ(edo_child_wait(first, &st), 0);
    edo_child_free(first);
    int fds_before = count_fds();
    CHECK_EQ(count_children(NULL), 0);
    for (int i = 0; i < MANY; i++)
        CHECK_EQ(edo_spawn(one_child, &m, NULL), 0);
    while (atomic_load(&m.done) < MANY)
        CHECK_EQ(edo_sleep(EDO_MSEC(1)), 0);
    /* The unwaited ones are reaped in the background (and their pidfds closed just after):
     * give it up to 60 s. */
    int zombies, left, fds;
    for (int i = 0; (left = count_children(&zombies)) > 0 || (fds = count_fds()) != fds_before;
         i++) {
        if (i == 6000)
            fprintf(stderr, "after 60 s: %d children left (%d zombies), %d fds against %d\n", left,
                    zombies, left > 0 ? count_fds() : fds, fds_before);
        CHECK(i < 6000);
        CHECK_EQ(edo_sleep(EDO_MSEC(10)), 0);
    }
    CHECK_EQ(left, 0);
    CHECK_EQ(zombies, 0);
    CHECK_EQ(fds, fds_before);
    edo_command_free(m.cmd);
}

static void *many_children_coro(void *arg)
{
    (void)arg;
    many_children();
    return NULL;
}
TEST(a_thousand_children) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, many_children_coro, NULL); }

/* ---- the SIGCHLD fallback, forced ----------------------------------------------------------- */

static void *freed(void *arg);

static void *fallback(void *arg)
{
    (void)arg;
    edo__process_force_sigchld(true);
    CHECK(!edo__process_use_pidfd());
    exit_codes(NULL);
    signals(NULL);
    deadlines(NULL); /* waits abandoned while queued for the next SIGCHLD */
    large_output(NULL);
    freed(NULL); /* orphans */
    many_children();
    edo__process_force_sigchld(false);
    return NULL;
}
TEST(sigchld_fallback)
{
    /* As a program using signals does: SIGCHLD then goes to the signal module's signalfd, not
     * to a handler in this thread (which ThreadSanitizer would hold back while it sleeps). */
    CHECK_EQ(edo_signal_block_in_this_thread(), 0);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, fallback, NULL);
}

/* ---- freed children ------------------------------------------------------------------------- */

static void *freed(void *arg)
{
    (void)arg;
    /* kill-on-drop: killed and reaped although it would sleep for 100 s */
    edo_command *c;
    CHECK_EQ(edo_command_new("sleep", &c), 0);
    CHECK_EQ(edo_command_arg(c, "100"), 0);
    CHECK_EQ(edo_command_kill_on_drop(c, true), 0);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    pid_t pid = edo_child_pid(child);
    CHECK(proc_state(pid) != 0);
    edo_child_free(child);
    wait_reaped(pid);
    edo_command_free(c);

    /* without it: runs on until it ends (here when its stdin closes with the free), reaped then */
    c = shell("read line; exit 0");
    CHECK_EQ(edo_command_stdin(c, EDO_STDIO_PIPE, -1), 0);
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    pid = edo_child_pid(child);
    edo_child_free(child);
    wait_reaped(pid);
    edo_command_free(c);
    return NULL;
}
TEST(freed_children_are_reaped) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, freed, NULL); }

/* A child freed while it runs, then the runtime shuts down: reaped by a later spawn. Its
 * stdin is a plain pipe whose writer the test holds, to end it after the runtime is gone. */
static void *orphan_left(void *arg)
{
    int *fds = arg;
    edo_command *c = shell("read line");
    CHECK_EQ(edo_command_stdin(c, EDO_STDIO_FD, fds[0]), 0);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    fds[2] = edo_child_pid(child);
    edo_child_free(child); /* still running: its reaper task waits */
    edo_command_free(c);
    return NULL;
}

static void *spawn_one(void *arg)
{
    (void)arg;
    char *out = run_output(shell("echo x"), 0, NULL);
    CHECK(strcmp(out, "x\n") == 0);
    free(out);
    return NULL;
}

TEST(orphan_outlives_its_runtime)
{
    int fds[3];
    CHECK_EQ(pipe2(fds, O_CLOEXEC), 0);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, orphan_left, fds);
    pid_t pid = fds[2];
    close(fds[0]);
    CHECK(proc_state(pid) != 0);
    close(fds[1]); /* it reads the end and exits; no runtime is left to reap it */
    for (int i = 0; proc_state(pid) != 'Z'; i++) {
        CHECK(i < 60000);
        usleep(1000);
    }
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, spawn_one, NULL); /* a spawn reaps what is pending */
    CHECK_EQ(proc_state(pid), 0);
}
