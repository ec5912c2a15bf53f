/* The command builder, option by option: arguments, environment, PATH search, working
 * directory, each kind of standard stream, process group, user and group; and what spawning
 * a program that cannot run returns. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "process/process_test.h"
#include "util.h"

static void *arguments(void *arg)
{
    (void)arg;
    edo_command *c;
    CHECK_EQ(edo_command_new("printf", &c), 0);
    CHECK_EQ(edo_command_arg(c, "[%s]"), 0);
    CHECK_EQ(edo_command_arg(c, "a"), 0);
    CHECK_EQ(edo_command_arg(c, "b c"), 0);
    CHECK_EQ(edo_command_arg(c, ""), 0);
    char *out = run_output(c, 0, NULL);
    CHECK(strcmp(out, "[a][b c][]") == 0);
    free(out);
    return NULL;
}
TEST(arguments) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, arguments, NULL); }

static void *environment(void *arg)
{
    (void)arg;
    /* set and override */
    edo_command *c = shell("echo \"$EDO_A $EDO_B ${EDO_GONE-unset}\"");
    CHECK_EQ(edo_command_env(c, "EDO_A", "first"), 0);
    CHECK_EQ(edo_command_env(c, "EDO_A", "one"), 0);
    CHECK_EQ(edo_command_env(c, "EDO_B", "two=2"), 0);
    CHECK_EQ(edo_command_env_remove(c, "EDO_GONE"), 0); /* set in the process: see the TEST */
    char *out = run_output(c, 0, NULL);
    CHECK(strcmp(out, "one two=2 unset\n") == 0);
    free(out);
    /* inherited unless removed */
    out = run_output(shell("echo \"$EDO_GONE\""), 0, NULL);
    CHECK(strcmp(out, "here\n") == 0);
    free(out);
    /* cleared: only what is set afterwards (env run directly: a shell adds variables) */
    CHECK_EQ(edo_command_new("/usr/bin/env", &c), 0);
    CHECK_EQ(edo_command_env(c, "EDO_KEPT", "1"), 0);
    CHECK_EQ(edo_command_env_clear(c), 0);
    CHECK_EQ(edo_command_env(c, "EDO_SET", "2"), 0);
    out = run_output(c, 0, NULL);
    CHECK(strcmp(out, "EDO_KEPT=1\nEDO_SET=2\n") == 0);
    free(out);
    return NULL;
}
TEST(environment)
{
    CHECK_EQ(setenv("EDO_GONE", "here", 1), 0);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, environment, NULL);
}

static void *path_search(void *arg)
{
    (void)arg;
    edo_command *c;
    CHECK_EQ(edo_command_new("echo", &c), 0);
    CHECK_EQ(edo_command_arg(c, "found"), 0);
    CHECK_EQ(edo_command_env(c, "PATH", "/nonexistent::/bin"), 0); /* the command's PATH */
    char *out = run_output(c, 0, NULL);
    CHECK(strcmp(out, "found\n") == 0);
    free(out);
    edo_child *child;
    CHECK_EQ(edo_command_new("echo", &c), 0);
    CHECK_EQ(edo_command_env(c, "PATH", "/nonexistent"), 0);
    CHECK_EQ(edo_command_spawn(c, &child), -ENOENT);
    edo_command_free(c);
    CHECK_EQ(edo_command_new("edo-no-such-program", &c), 0);
    CHECK_EQ(edo_command_spawn(c, &child), -ENOENT);
    edo_command_free(c);
    return NULL;
}
TEST(path_search) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, path_search, NULL); }

/* A missing program is -ENOENT and a non-executable one -EACCES, from the spawn itself, with
 * no child left behind. */
static void *cannot_run(void *arg)
{
    (void)arg;
    edo_command *c;
    edo_child *child;
    CHECK_EQ(edo_command_new("/nonexistent/program", &c), 0);
    CHECK_EQ(edo_command_spawn(c, &child), -ENOENT);
    edo_command_free(c);
    char path[] = "/tmp/edo-not-executable-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK_EQ(write(fd, "#!/bin/sh\n", 10), 10);
    close(fd);
    CHECK_EQ(chmod(path, 0644), 0);
    CHECK_EQ(edo_command_new(path, &c), 0);
    CHECK_EQ(edo_command_spawn(c, &child), -EACCES);
    edo_command_free(c);
    /* the same name found in PATH but not executable: EACCES too, as execvp says */
    char *slash = strrchr(path, '/');
    CHECK_EQ(edo_command_new(slash + 1, &c), 0);
    CHECK_EQ(edo_command_env(c, "PATH", "/tmp"), 0);
    CHECK_EQ(edo_command_spawn(c, &child), -EACCES);
    edo_command_free(c);
    unlink(path);
    CHECK_EQ(edo_command_new("/tmp", &c), 0); /* a directory */
    CHECK_EQ(edo_command_spawn(c, &child), -EACCES);
    edo_command_free(c);
    CHECK_EQ(count_children(NULL), 0);
    return NULL;
}
TEST(missing_or_not_executable) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, cannot_run, NULL); }

static void *working_directory(void *arg)
{
    (void)arg;
    edo_command *c;
    CHECK_EQ(edo_command_new("pwd", &c), 0);
    CHECK_EQ(edo_command_cwd(c, "/"), 0);
    CHECK_EQ(edo_command_cwd(c, "/tmp"), 0); /* the last one counts */
    char *out = run_output(c, 0, NULL);
    CHECK(strcmp(out, "/tmp\n") == 0);
    free(out);
    CHECK_EQ(edo_command_new("pwd", &c), 0);
    CHECK_EQ(edo_command_cwd(c, "/nonexistent/dir"), 0);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(c, &child), -ENOENT);
    edo_command_free(c);
    return NULL;
}
TEST(working_directory) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, working_directory, NULL); }

/* A temporary file, unlinked: an fd open for reading and writing. */
static int temp_file(void)
{
    char path[] = "/tmp/edo-process-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    unlink(path);
    return fd;
}

static char *file_text(int fd)
{
    static char buf[256];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    CHECK(n >= 0);
    buf[n] = '\0';
    return buf;
}

static void *standard_streams(void *arg)
{
    (void)arg;
    /* null: stdin reads nothing, output vanishes */
    edo_command *c = shell("cat; echo done; echo lost >&2");
    CHECK_EQ(edo_command_stdin(c, EDO_STDIO_NULL, -1), 0);
    CHECK_EQ(edo_command_stderr(c, EDO_STDIO_NULL, -1), 0);
    char *err, *out = run_output(c, 0, &err);
    CHECK(strcmp(out, "done\n") == 0);
    CHECK(strcmp(err, "") == 0);
    free(out);
    free(err);

    /* a pipe to stdin, read back from a stdout pipe */
    c = shell("tr a-z A-Z");
    CHECK_EQ(edo_command_stdin(c, EDO_STDIO_PIPE, -1), 0);
    CHECK_EQ(edo_command_stdout(c, EDO_STDIO_PIPE, -1), 0);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    edo_stream *in = edo_child_take_stdin(child), *o = edo_child_take_stdout(child);
    CHECK(in && o && !edo_child_take_stderr(child));
    CHECK_EQ(edo_stream_write_all(in, "hello", 5), 0);
    CHECK_EQ(edo_stream_shutdown(in), 0);
    char buf[16];
    size_t have = 0;
    ssize_t n;
    while ((n = edo_stream_read(o, buf + have, sizeof buf - have)) > 0)
        have += (size_t)n;
    CHECK_EQ(n, 0);
    CHECK_EQ(have, 5);
    CHECK(memcmp(buf, "HELLO", 5) == 0);
    edo_exit_status st;
    CHECK_EQ(edo_child_wait(child, &st), 0);
    CHECK(edo_exit_status_is_success(st));
    edo_stream_close(in);
    edo_stream_close(o);
    edo_child_free(child);
    edo_command_free(c);

    /* a file descriptor: the command's copy, so the caller may close its own at once */
    int fd = temp_file(), err_fd = temp_file();
    c = shell("read x; echo \"got $x\"; echo oops >&2");
    int in_fd = temp_file();
    CHECK_EQ(pwrite(in_fd, "line\n", 5, 0), 5);
    CHECK_EQ(edo_command_stdin(c, EDO_STDIO_FD, in_fd), 0);
    CHECK_EQ(edo_command_stdout(c, EDO_STDIO_FD, fd), 0);
    CHECK_EQ(edo_command_stderr(c, EDO_STDIO_FD, err_fd), 0);
    close(in_fd);
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    CHECK(!edo_child_take_stdout(child));
    CHECK_EQ(edo_child_wait(child, &st), 0);
    CHECK(strcmp(file_text(fd), "got line\n") == 0);
    CHECK(strcmp(file_text(err_fd), "oops\n") == 0);
    edo_child_free(child);
    edo_command_free(c);

    /* inherit: the child writes to this process's own stdout (here a file) */
    int saved = dup(1);
    CHECK(saved >= 0);
    CHECK_EQ(ftruncate(fd, 0), 0);
    CHECK_EQ(lseek(fd, 0, SEEK_SET), 0);
    CHECK_EQ(dup2(fd, 1), 1);
    c = shell("echo inherited");
    CHECK_EQ(edo_command_stdout(c, EDO_STDIO_PIPE, -1), 0);
    CHECK_EQ(edo_command_stdout(c, EDO_STDIO_INHERIT, -1), 0);
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    CHECK_EQ(edo_child_wait(child, &st), 0);
    CHECK_EQ(dup2(saved, 1), 1);
    close(saved);
    CHECK(strcmp(file_text(fd), "inherited\n") == 0);
    edo_child_free(child);
    edo_command_free(c);
    close(fd);
    close(err_fd);
    return NULL;
}
TEST(standard_streams) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, standard_streams, NULL); }

/* The process group of `pid` (field 5 of /proc/pid/stat). */
static pid_t group_of(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    CHECK(f);
    char buf[512];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    int pgrp = 0;
    CHECK(sscanf(strrchr(buf, ')') + 1, " %*c %*d %d", &pgrp) == 1);
    return pgrp;
}

static void *process_group(void *arg)
{
    (void)arg;
    edo_command *c;
    CHECK_EQ(edo_command_new("sleep", &c), 0);
    CHECK_EQ(edo_command_arg(c, "100"), 0);
    CHECK_EQ(edo_command_kill_on_drop(c, true), 0);
    edo_child *leader, *member;
    CHECK_EQ(edo_command_spawn(c, &leader), 0); /* inherits ours */
    CHECK_EQ(group_of(edo_child_pid(leader)), getpgrp());
    edo_child_free(leader);
    CHECK_EQ(edo_command_process_group(c, 0), 0); /* a group of its own */
    CHECK_EQ(edo_command_spawn(c, &leader), 0);
    pid_t group = edo_child_pid(leader);
    CHECK_EQ(group_of(group), group);
    CHECK_EQ(edo_command_process_group(c, group), 0); /* joins it */
    CHECK_EQ(edo_command_spawn(c, &member), 0);
    CHECK_EQ(group_of(edo_child_pid(member)), group);
    CHECK_EQ(kill(-group, SIGTERM), 0); /* the group as one */
    edo_exit_status st;
    CHECK_EQ(edo_child_wait(leader, &st), 0);
    CHECK_EQ(st.signal, SIGTERM);
    CHECK_EQ(edo_child_wait(member, &st), 0);
    CHECK_EQ(st.signal, SIGTERM);
    edo_child_free(leader);
    edo_child_free(member);
    CHECK_EQ(edo_command_process_group(c, group), 0); /* gone now */
    CHECK_EQ(edo_command_spawn(c, &member), -EPERM);
    edo_command_free(c);
    return NULL;
}
TEST(process_group) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, process_group, NULL); }

static void *user_and_group(void *arg)
{
    (void)arg;
    edo_command *c;
    edo_child *child;
    if (geteuid() == 0) {
        c = shell("echo $(id -u) $(id -g) $(id -G)");
        CHECK_EQ(edo_command_uid(c, 65534), 0);
        CHECK_EQ(edo_command_gid(c, 65533), 0);
        char *out = run_output(c, 0, NULL);
        CHECK(strcmp(out, "65534 65533 65533\n") == 0); /* supplementary groups dropped */
        free(out);
    } else {
        CHECK_EQ(edo_command_new("/bin/true", &c), 0);
        CHECK_EQ(edo_command_uid(c, 0), 0);
        CHECK_EQ(edo_command_spawn(c, &child), -EPERM);
        edo_command_free(c);
    }
    /* asking for what the process is already is always permitted */
    c = shell("echo $(id -u) $(id -g)");
    CHECK_EQ(edo_command_uid(c, geteuid()), 0);
    CHECK_EQ(edo_command_gid(c, getegid()), 0);
    char expected[64];
    snprintf(expected, sizeof expected, "%u %u\n", (unsigned)geteuid(), (unsigned)getegid());
    char *out = run_output(c, 0, NULL);
    CHECK(strcmp(out, expected) == 0);
    free(out);
    return NULL;
}
TEST(user_and_group) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, user_and_group, NULL); }

/* The child's signal dispositions and mask: handlers and SIGPIPE back to default, nothing
 * blocked, though this process handles SIGUSR1, ignores SIGPIPE and blocks SIGUSR2. */
static void on_usr1(int sig) { (void)sig; }

static void *signal_state(void *arg)
{
    (void)arg;
    /* SigBlk, SigIgn and SigCgt of the child, in hex */
    char *out = run_output(shell("grep -E '^Sig(Blk|Ign|Cgt)' /proc/self/status"), 0, NULL);
    unsigned long long blk = 1, ign = 1, cgt = 1;
    CHECK(sscanf(out, "SigBlk: %llx SigIgn: %llx SigCgt: %llx", &blk, &ign, &cgt) == 3);
    CHECK_EQ(blk, 0);
    CHECK(!(ign & (1ull << (SIGPIPE - 1))));
    CHECK(!(cgt & (1ull << (SIGUSR1 - 1))));
    free(out);
    return NULL;
}
TEST(signal_state_of_the_child)
{
    signal(SIGUSR1, on_usr1);
    signal(SIGPIPE, SIG_IGN);
    sigset_t usr2;
    sigemptyset(&usr2);
    sigaddset(&usr2, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &usr2, NULL);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, signal_state, NULL);
}

/* With the process's own 0, 1 and 2 closed, new pipes and /dev/null get those numbers: the
 * child's streams must still come out right. */
static void *closed_stdio(void *arg)
{
    (void)arg;
    edo_command *c = shell("read x; echo \"out $x\"; echo err >&2");
    CHECK_EQ(edo_command_stdin(c, EDO_STDIO_PIPE, -1), 0);
    CHECK_EQ(edo_command_stdout(c, EDO_STDIO_PIPE, -1), 0);
    CHECK_EQ(edo_command_stderr(c, EDO_STDIO_NULL, -1), 0);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    edo_stream *in = edo_child_take_stdin(child);
    CHECK_EQ(edo_stream_write_all(in, "x\n", 2), 0);
    edo_stream_close(in);
    edo_output out;
    CHECK_EQ(edo_child_output(child, &out), 0);
    CHECK(edo_exit_status_is_success(out.status));
    CHECK(strcmp(out.out, "out x\n") == 0);
    CHECK_EQ(out.err_len, 0);
    edo_output_drop(&out);
    edo_child_free(child);
    edo_command_free(c);
    return NULL;
}
TEST(closed_standard_streams_of_the_parent)
{
    int saved[3];
    for (int i = 0; i < 3; i++) {
        CHECK((saved[i] = fcntl(i, F_DUPFD_CLOEXEC, 10)) >= 0);
        close(i);
    }
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, closed_stdio, NULL);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ(dup2(saved[i], i), i);
        close(saved[i]);
    }
}
