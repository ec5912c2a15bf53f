/* What the process tests share: running a shell snippet, reading /proc about the children. */
#ifndef EDO_TEST_PROCESS_H
#define EDO_TEST_PROCESS_H

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "edo.h"
#include "harness.h"

/* A command running `script` with /bin/sh -c. */
static inline edo_command *shell(const char *script)
{
    edo_command *c;
    CHECK_EQ(edo_command_new("/bin/sh", &c), 0);
    CHECK_EQ(edo_command_arg(c, "-c"), 0);
    CHECK_EQ(edo_command_arg(c, script), 0);
    return c;
}

/* Runs `c` to its end with edo_command_output (in a coroutine), frees it, and checks it
 * exited with `code`; returns what it wrote to stdout (free it), its stderr in *err if asked. */
static inline char *run_output(edo_command *c, int code, char **err)
{
    edo_output out;
    CHECK_EQ(edo_command_output(c, &out), 0);
    edo_command_free(c);
    CHECK_EQ(out.status.signal, 0);
    CHECK_EQ(out.status.code, code);
    char *stdout_text = out.out ? out.out : strdup("");
    if (err)
        *err = out.err ? out.err : strdup("");
    else
        free(out.err);
    return stdout_text;
}

/* The state letter of process `pid` in /proc (R, S, Z, ...), or 0 when there is none. */
static inline char proc_state(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *close_paren = strrchr(buf, ')');
    return close_paren && close_paren[1] == ' ' ? close_paren[2] : 0;
}

/* How many processes in /proc have this process as their parent (zombies included), and how
 * many of them are zombies. */
static inline int count_children(int *zombies)
{
    int n = 0, z = 0;
    DIR *d = opendir("/proc");
    CHECK(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        size_t len = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[len] = '\0';
        char *p = strrchr(buf, ')');
        char state;
        int ppid;
        if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2 || ppid != getpid())
            continue;
        n++;
        z += state == 'Z';
    }
    closedir(d);
    if (zombies)
        *zombies = z;
    return n;
}

/* The number of open file descriptors of this process, less the reactor's own (io_uring rings
 * and eventfds): an io_uring runtime's worker sets its ring up when it first looks into the
 * backend, which may come after a first count. What children leave (pidfds, pipes) counts. */
static inline int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    CHECK(d);
    struct dirent *e;
    while ((e = readdir(d))) {
        char path[300], target[64];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t len = readlink(path, target, sizeof target - 1);
        target[len > 0 ? len : 0] = '\0';
        if (strcmp(target, "anon_inode:[io_uring]") != 0 &&
            strcmp(target, "anon_inode:[eventfd]") != 0)
            n++;
    }
    closedir(d);
    return n;
}

#endif
