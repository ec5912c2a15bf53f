/* What the parts of the process module share: the command (command.c), the child and its exit
 * watch (child.c), reaping children nobody waits for (orphan.c) and the SIGCHLD fallback
 * through the signal module (sigchld.c). */
#ifndef EDO_PROCESS_PROCESS_H
#define EDO_PROCESS_PROCESS_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "edo/process.h"

/* One variable the command changes: set to `value`, or removed (value NULL). "NAME=value". */
typedef struct edo__env_change {
    char *entry;    /* "NAME=value", or "NAME" for a removal */
    size_t name_len;
    bool remove;
} edo__env_change;

struct edo_command {
    char **argv; /* NULL-terminated; argv[0] is the program */
    size_t argc, argv_cap;
    edo__env_change *env;
    size_t env_count, env_cap;
    bool env_clear;
    char *cwd;
    edo_stdio stdio[3];
    bool stdio_set[3]; /* set by the caller (edo_command_output pipes only the others) */
    int stdio_fd[3]; /* the command's own copy for EDO_STDIO_FD, else -1 */
    bool set_pgid, set_uid, set_gid, kill_on_drop;
    pid_t pgid;
    uid_t uid;
    gid_t gid;
};

struct edo_child {
    pid_t pid;
    int exit_fd;   /* the pidfd; -1 in the SIGCHLD fallback */
    bool kill_on_drop;
    edo_io *io;    /* the pidfd's registration: readable once the child has ended */
    pthread_mutex_t lock; /* reaping and signalling: the pid stays ours while it is held */
    bool reaped;
    edo_exit_status status;
    edo_stream *stdio[3]; /* the parent's ends of the pipes, until taken */
    struct edo_child *next_orphan; /* on the list of orphans waiting for a spawn to reap them */
};

/* The child's environment for a spawn: `environ` itself when the command changes nothing
 * (*owned NULL), else a new NULL-terminated array (*owned: free it with free(), the strings are
 * the command's and the process's). Returns 0 or -ENOMEM. */
int edo__command_envp(const edo_command *c, char ***envp, char ***owned);
/* The PATH the program is searched in: the command's own when it sets one, else the
 * process's, else a default. */
const char *edo__command_search_path(const edo_command *c);

/* A child of `pid` whose exit is watched through `pidfd`, registered with the current runtime,
 * or (pidfd -1) through the SIGCHLD fallback. Takes pidfd (closed on failure too). Returns 0 or
 * -errno. */
int edo__child_new(pid_t pid, int pidfd, edo_child **out);
/* One try at reaping `c` (waitid with WNOHANG, under its lock): 0 when it has ended (its status
 * stored), -EAGAIN while it runs, -ECHILD. */
int edo__child_try_reap(edo_child *c);
/* Polls a wait for the child's exit (the socket loop over its exit watch, reaping when it
 * turns readable): EDO_READY with 0 (reaped: c->status) or -errno in *rc, or EDO_PENDING with
 * cx's waker queued on `waiter`. */
edo_poll edo__child_poll_reap(edo_child *c, edo_io_waiter *waiter, edo_context *cx, int *rc);
/* Takes `waiter` off the exit watch's wait list, when it is on it. */
void edo__child_forget_waiter(edo_child *c, edo_io_waiter *waiter);
/* Deregisters and closes the exit watch and frees the child (its pipes already closed). */
void edo__child_release(edo_child *c);

/* Takes a child freed before it was reaped: reaps it in the background (a task on the current
 * runtime waits for its exit), then releases it. */
void edo__orphan_adopt(edo_child *c);
/* Reaps the orphans that could not be given a task (no runtime, one shutting down) and have
 * ended since. Called at each spawn. */
void edo__orphan_reap_pending(void);

/* Whether spawns use pidfds (the kernel has them, and the fallback is not forced). */
bool edo__process_use_pidfd(void);
/* Forces the SIGCHLD fallback on (`on` true) for the spawns that follow, or lets the kernel
 * decide again: for tests of the fallback. */
void edo__process_force_sigchld(bool on);
/* Records that the kernel refused pidfds: every later spawn uses the fallback. */
void edo__process_pidfd_missing(void);

/* The SIGCHLD fallback: starts the process's watch of SIGCHLD (once; the signal hub watches
 * SIGCHLD from then on). Returns 0 or -errno. */
int edo__sigchld_watch(void);
/* edo__child_poll_reap for a child without a pidfd: tries to reap it, and while it runs queues
 * `w` to be woken at the next SIGCHLD. */
edo_poll edo__sigchld_poll_reap(edo_child *c, edo_io_waiter *w, edo_context *cx, int *rc);
/* Takes `w` off the SIGCHLD wait list, when it is on it. */
void edo__sigchld_forget(edo_io_waiter *w);

#endif
