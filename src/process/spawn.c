/* edo_command_spawn: the child is started with clone(CLONE_VM | CLONE_VFORK), as glibc's
 * posix_spawn does, and not with fork: it shares the parent's memory (no page tables copied,
 * however large the process) and the calling thread waits until it has executed its program or
 * failed to. Either way it reports back through memory: the errno of the step that failed is
 * written into the plan, which is how a missing program is -ENOENT from the spawn itself.
 *
 * The child runs on a small stack of the caller's frame and shares the parent's memory while
 * the rest of the process goes on, so it touches nothing but its stack and the plan, and makes
 * raw system calls only (syscall(2)): no libc function with state or a lock, and none that a
 * sanitizer intercepts, runs in a process that is about to be replaced. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "edo/fd_stream.h"
#include "platform/sanitizers.h"
#include "process/process.h"
#include "stream/fd.h"

#ifdef EDO_TSAN
#include <dlfcn.h>
#endif

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

/* Everything the child needs, prepared by the parent (the child allocates nothing). */
typedef struct plan {
    char *const *argv;
    char *const *envp;
    const char *path;     /* what to execute, when the program names a path */
    const char *search;   /* else the PATH to search ... */
    char *candidate;      /* ... building each candidate path here */
    size_t name_len;
    const char *cwd;
    int stdio_fd[3]; /* dup'd onto 0, 1, 2; -1: inherited */
    bool set_pgid, set_uid, set_gid, drop_groups;
    pid_t pgid;
    uid_t uid;
    gid_t gid;
    int error;    /* the child's errno when it failed; 0 once it executed the program */
    int error_fd; /* -1; or, where a child does not share memory, a pipe to write it into */
} plan;

#define NO_SANITIZE __attribute__((no_sanitize_address, no_sanitize_thread, noinline))

/* The kernel's struct sigaction starts with the handler on every architecture; zeroed, it is
 * SIG_DFL with no flags and an empty mask. */
typedef struct kernel_sigaction {
    unsigned long handler, rest[3];
} kernel_sigaction;

/* A raw system call that returns -errno. syscall(2) sets errno on failure: in the child that
 * is the parent thread's (the child runs with its thread pointer), which the parent, suspended
 * meanwhile, reads only when the clone itself failed. */
#define RAW(...) raw_syscall(__VA_ARGS__)
NO_SANITIZE static long raw_syscall(long nr, long a, long b, long c, long d)
{
    long rc = syscall(nr, a, b, c, d);
    return rc == -1 ? -(long)errno : rc;
}

/* Tries execve on every directory of the search path, as execvp does: a candidate that does
 * not exist goes on to the next; EACCES is remembered (and reported if nothing runs); any other
 * failure ends the search. */
NO_SANITIZE static long exec_searched(plan *p)
{
    const char *dir = p->search;
    long first_denied = 0;
    for (;;) {
        const char *end = dir;
        while (*end && *end != ':')
            end++;
        size_t len = (size_t)(end - dir);
        /* volatile: a copy loop the compiler turned into memcpy would call into libc (and
         * the sanitizers' interceptors) */
        volatile char *out = p->candidate;
        if (len == 0) {
            out[0] = '.'; /* an empty entry is the current directory */
            len = 1;
        } else {
            for (size_t i = 0; i < len; i++)
                out[i] = dir[i];
        }
        out[len] = '/';
        for (size_t i = 0; i <= p->name_len; i++)
            out[len + 1 + i] = p->argv[0][i];
        long rc = RAW(SYS_execve, (long)p->candidate, (long)p->argv, (long)p->envp, 0);
        if (rc == -EACCES)
            first_denied = rc;
        else if (rc != -ENOENT && rc != -ENOTDIR && rc != -ESTALE && rc != -ENODEV &&
                 rc != -ETIMEDOUT)
            return rc;
        if (!*end)
            return first_denied ? first_denied : -ENOENT;
        dir = end + 1;
    }
}

NO_SANITIZE static int child_main(void *arg)
{
    plan *p = arg;
    long rc = 0;
    /* Handlers are the parent's code: none may run in the child. SIGPIPE goes back to its
     * default too, whatever the parent did with it: programs expect the default. */
    for (long sig = 1; sig < 65; sig++) {
        kernel_sigaction old, dfl = {0, {0, 0, 0}};
        if (sig == SIGKILL || sig == SIGSTOP || RAW(SYS_rt_sigaction, sig, 0, (long)&old, 8) < 0)
            continue;
        if ((old.handler != (unsigned long)SIG_IGN && old.handler != (unsigned long)SIG_DFL) ||
            sig == SIGPIPE)
            RAW(SYS_rt_sigaction, sig, (long)&dfl, 0, 8);
    }
    unsigned long empty = 0;
    if (p->set_pgid && (rc = RAW(SYS_setpgid, 0, p->pgid, 0, 0)) < 0)
        goto fail;
    if (p->drop_groups && (rc = RAW(SYS_setgroups, 0, 0, 0, 0)) < 0)
        goto fail;
    if (p->set_gid && (rc = RAW(SYS_setgid, (long)p->gid, 0, 0, 0)) < 0)
        goto fail;
    if (p->set_uid && (rc = RAW(SYS_setuid, (long)p->uid, 0, 0, 0)) < 0)
        goto fail;
    if (p->cwd && (rc = RAW(SYS_chdir, (long)p->cwd, 0, 0, 0)) < 0)
        goto fail;
    for (long i = 0; i < 3; i++) {
        int fd = p->stdio_fd[i];
        if (fd >= 0 && (rc = RAW(SYS_dup3, fd, i, 0, 0)) < 0)
            goto fail;
    }
    /* The parent blocked every signal around the clone; the program starts with none blocked. */
    RAW(SYS_rt_sigprocmask, SIG_SETMASK, (long)&empty, 0, 8);
    if (p->path)
        rc = RAW(SYS_execve, (long)p->path, (long)p->argv, (long)p->envp, 0);
    else
        rc = exec_searched(p);
fail:
    p->error = (int)-rc;
    if (p->error_fd >= 0)
        RAW(SYS_write, p->error_fd, (long)&p->error, sizeof p->error, 0);
    RAW(SYS_exit_group, 127, 0, 0, 0);
    return 127;
}

/* ---- the parent's side ---------------------------------------------------------------------- */

/* The child's standard streams and the parent's pipe ends, before the clone. */
typedef struct stdio_setup {
    int child_fd[3];  /* for the plan */
    int close_fd[4];  /* the parent closes these after the clone: pipe ends, /dev/null */
    int parent_fd[3]; /* the parent's pipe ends, -1 where none */
} stdio_setup;

static void close_all(int *fds, int n)
{
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0) {
            close(fds[i]);
            fds[i] = -1;
        }
}

/* `fd` moved above 2 (closing the original) when it is a standard stream's number, which
 * happens when the process runs with 0, 1 or 2 closed: in the child, setting up one standard
 * stream must not overwrite the source of another. Returns the fd, or -errno (fd closed). */
static int above_stdio(int fd)
{
    if (fd < 0 || fd > 2)
        return fd;
    int moved = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    int err = errno;
    close(fd);
    return moved < 0 ? -err : moved;
}

static int setup_stdio(const edo_command *c, stdio_setup *s)
{
    for (int i = 0; i < 4; i++)
        s->close_fd[i] = i < 3 ? (s->parent_fd[i] = s->child_fd[i] = -1) : -1;
    for (int i = 0; i < 3; i++) {
        switch (c->stdio[i]) {
        case EDO_STDIO_INHERIT:
            break;
        case EDO_STDIO_FD:
            s->child_fd[i] = c->stdio_fd[i]; /* above 2 already (command.c) */
            break;
        case EDO_STDIO_NULL:
            if (s->close_fd[3] < 0) {
                int fd = open("/dev/null", O_RDWR | O_CLOEXEC);
                if (fd < 0)
                    return -errno;
                if ((fd = above_stdio(fd)) < 0)
                    return fd;
                s->close_fd[3] = fd;
            }
            s->child_fd[i] = s->close_fd[3];
            break;
        case EDO_STDIO_PIPE: {
            int fds[2];
            if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
            /* The parent's end goes on the reactor; the child's stays blocking (a separate
             * open file description, so the two flags do not meet). */
            int mine = i == 0 ? fds[1] : fds[0], theirs = i == 0 ? fds[0] : fds[1];
            s->parent_fd[i] = mine;
            if ((theirs = above_stdio(theirs)) < 0)
                return theirs;
            s->child_fd[i] = s->close_fd[i] = theirs;
            int flags = fcntl(mine, F_GETFL);
            if (flags < 0 || fcntl(mine, F_SETFL, flags | O_NONBLOCK) < 0)
                return -errno;
            break;
        }
        }
    }
    return 0;
}

/* Fills the plan's program fields: a path executed as is, or a name searched in PATH through a
 * buffer the child writes candidates into (returned in *scratch to be freed). */
static int plan_program(const edo_command *c, plan *p, char **scratch)
{
    const char *program = c->argv[0];
    *scratch = NULL;
    if (strchr(program, '/')) {
        p->path = program;
        return 0;
    }
    p->search = edo__command_search_path(c);
    p->name_len = strlen(program);
    size_t longest = 1, run = 0;
    for (const char *s = p->search;; s++) {
        if (*s == ':' || !*s) {
            longest = run > longest ? run : longest;
            run = 0;
            if (!*s)
                break;
        } else {
            run++;
        }
    }
    if (!(*scratch = p->candidate = malloc(longest + p->name_len + 2)))
        return -ENOMEM;
    return 0;
}

typedef int (*clone_fn)(int (*fn)(void *), void *stack, int flags, void *arg, ...);

/* The stack a child runs on, in the parent's frame until it executes or exits (the probe's
 * too: syscall(2) under a sanitizer needs more than a few hundred bytes, and a child that ran
 * off its stack would write into the parent's frame below it). */
#define CHILD_STACK 4096

/* libc's clone. ThreadSanitizer intercepts clone as a fork, and its hook in the child resets
 * the sanitizer's bookkeeping, which a CLONE_VM child shares with the parent (every later report
 * is nonsense): under it, clone is looked up in libc itself. */
static clone_fn libc_clone(void)
{
#ifdef EDO_TSAN
    static _Atomic(clone_fn) found;
    clone_fn fn = atomic_load_explicit(&found, memory_order_acquire);
    if (!fn) {
        void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        fn = libc ? (clone_fn)dlsym(libc, "clone") : NULL;
        fn = fn ? fn : clone;
        atomic_store_explicit(&found, fn, memory_order_release);
    }
    return fn;
#else
    return clone;
#endif
}

/* Clones with every signal blocked: no handler may run on the child's stack, in the parent's
 * memory, before it has reset them (the child unblocks them before exec). */
static pid_t clone_blocked(int (*fn)(void *), char *stack_top, int flags, void *arg, int *pidfd)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = libc_clone()(fn, stack_top, flags, arg, pidfd);
    int err = pid < 0 ? errno : 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return pid < 0 ? -err : pid;
}

NO_SANITIZE static int probe_child(void *arg)
{
    *(volatile int *)arg = 1;
    RAW(SYS_exit_group, 0, 0, 0, 0);
    return 0;
}

/* Whether a CLONE_VM | CLONE_VFORK child really shares the parent's memory and runs before the
 * parent goes on. On Linux it does; qemu-user (the AArch64 CI) runs it as a plain fork, with a
 * copy of the memory, and the child's errno must then come back through a pipe. Asked once, by
 * a child that only writes a flag. */
static bool clone_shares_memory(void)
{
    static _Atomic int answer; /* 0: not asked yet, 1: shared, 2: copied */
    int a = atomic_load_explicit(&answer, memory_order_relaxed);
    if (a == 0) {
        char stack[CHILD_STACK] __attribute__((aligned(64)));
        volatile int touched = 0;
        pid_t pid = clone_blocked(probe_child, stack + sizeof stack,
                                  CLONE_VM | CLONE_VFORK | SIGCHLD, (void *)&touched, NULL);
        while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        a = pid < 0 || touched ? 1 : 2; /* a failed clone will fail again, and say why */
        atomic_store_explicit(&answer, a, memory_order_relaxed);
    }
    return a == 1;
}

/* Starts the child; returns its pid and, with `want_pidfd`, its pidfd; or -errno. */
static pid_t start(plan *p, bool want_pidfd, int *pidfd)
{
    char stack[CHILD_STACK] __attribute__((aligned(64)));
    int error_pipe[2] = {-1, -1};
    p->error_fd = -1;
    if (!clone_shares_memory()) {
        if (pipe2(error_pipe, O_CLOEXEC) < 0)
            return -errno;
        p->error_fd = error_pipe[1];
    }
    int flags = CLONE_VM | CLONE_VFORK | SIGCHLD | (want_pidfd ? CLONE_PIDFD : 0);
    pid_t pid = clone_blocked(child_main, stack + sizeof stack, flags, p, pidfd);
    if (error_pipe[0] >= 0) {
        /* The child's copy wrote its errno, or exec closed the pipe: end of file. */
        close(error_pipe[1]);
        int err = 0;
        ssize_t n = 0;
        while (pid > 0 && (n = read(error_pipe[0], &err, sizeof err)) < 0 && errno == EINTR)
            ;
        if (pid > 0 && n == (ssize_t)sizeof err)
            p->error = err;
        close(error_pipe[0]);
    }
    return pid;
}

/* Starts the child with a pidfd, or (a kernel without them, or the fallback forced) with the
 * SIGCHLD watch running first. */
static int start_child(plan *p, pid_t *pid, int *pidfd)
{
    bool want_pidfd = edo__process_use_pidfd();
    if (want_pidfd) {
        *pid = start(p, true, pidfd);
        if (*pid != -EINVAL)
            return *pid < 0 ? *pid : 0;
        edo__process_pidfd_missing(); /* a kernel before CLONE_PIDFD */
    }
    int rc = edo__sigchld_watch();
    if (rc < 0)
        return rc;
    *pid = start(p, false, pidfd);
    return *pid < 0 ? *pid : 0;
}

/* Kills and reaps a child that cannot be handed out. */
static void discard(pid_t pid)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

/* The parent's pipe ends as streams of the child. */
static int open_pipes(edo_child *child, stdio_setup *s)
{
    for (int i = 0; i < 3; i++) {
        if (s->parent_fd[i] < 0)
            continue;
        int rc = edo__fd_stream_open(s->parent_fd[i], EDO__FD_PLAIN, -1, &child->stdio[i]);
        if (rc < 0)
            return rc;
        s->parent_fd[i] = -1; /* the stream's now */
    }
    return 0;
}

int edo_command_spawn(edo_command *c, edo_child **out)
{
    if (!c || !out)
        return -EINVAL;
    if (!edo_runtime_current())
        return -EPERM;
    edo__orphan_reap_pending();
    plan p = {.argv = c->argv, .cwd = c->cwd, .set_pgid = c->set_pgid, .pgid = c->pgid,
              .set_uid = c->set_uid, .uid = c->uid, .set_gid = c->set_gid, .gid = c->gid,
              .drop_groups = c->set_uid && geteuid() == 0};
    char **owned_env = NULL, *scratch = NULL;
    stdio_setup s;
    int rc = setup_stdio(c, &s);
    if (rc == 0)
        rc = plan_program(c, &p, &scratch);
    if (rc == 0)
        rc = edo__command_envp(c, (char ***)&p.envp, &owned_env);
    pid_t pid = -1;
    int pidfd = -1;
    if (rc == 0) {
        memcpy(p.stdio_fd, s.child_fd, sizeof p.stdio_fd);
        rc = start_child(&p, &pid, &pidfd);
    }
    close_all(s.close_fd, 4);
    free(owned_env);
    free(scratch);
    if (rc == 0 && p.error) {
        /* The child failed before its program ran, and has exited: reap it, report why. */
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
            ;
        if (pidfd >= 0)
            close(pidfd);
        rc = -p.error;
    }
    edo_child *child = NULL;
    if (rc == 0 && (rc = edo__child_new(pid, pidfd, &child)) < 0)
        discard(pid);
    if (rc == 0) {
        child->kill_on_drop = c->kill_on_drop;
        if ((rc = open_pipes(child, &s)) < 0) {
            child->kill_on_drop = true; /* it was never handed out: nobody wants it to run */
            edo_child_free(child);
        }
    }
    close_all(s.parent_fd, 3);
    if (rc == 0)
        *out = child;
    return rc;
}
