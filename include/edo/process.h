/* edo/process.h — child processes: build a command, spawn it, talk to it through its pipes
 * (edo_stream), wait for it, signal it.
 *
 *     edo_command *cmd;                              // in a coroutine
 *     edo_command_new("git", &cmd);                  // searched in PATH, as a shell would
 *     edo_command_arg(cmd, "rev-parse");
 *     edo_command_arg(cmd, "HEAD");
 *     edo_output out;
 *     int rc = edo_command_output(cmd, &out);        // runs it, collects stdout and stderr
 *     if (rc == 0 && edo_exit_status_is_success(out.status))
 *         printf("HEAD is %s", out.out);
 *     edo_output_drop(&out);
 *     edo_command_free(cmd);
 *
 * A command (edo_command) is a reusable description: program, arguments, environment, working
 * directory, what the child's stdin/stdout/stderr are, its process group, user and group, and
 * whether dropping the child kills it. Spawning it gives an edo_child: its pid, the parent's
 * ends of the pipes asked for (edo_stream, edo/stream.h), and its exit status once waited for.
 *
 * How (Linux): the child is started with clone(CLONE_VM | CLONE_VFORK) and execve, never with
 * fork (which copies the page tables of a large multithreaded process): the calling thread is
 * held until the child has executed its program (or failed to), which is also how a missing
 * program is reported by the spawn itself (-ENOENT) rather than as a child that exits 127. The
 * exit is watched through a pidfd (CLONE_PIDFD, Linux 5.3 and later) registered with the
 * runtime's reactor, and reaped with waitid(P_PIDFD); on a kernel without pidfds, SIGCHLD
 * wakes the waiters instead, through edo/signal.h's machinery (from the first spawn that needs
 * it, edo then handles SIGCHLD for the rest of the process, as edo_signal_listen says).
 *
 * The child starts with: every signal the parent handled back at its default action, SIGPIPE
 * at its default action too (whatever the parent did with it), an empty signal mask (the
 * signals the runtime's threads block are not inherited), the parent's file descriptors that are not
 * close-on-exec (all of edo's are), and the standard streams the command names.
 *
 * No zombie is left: a child is reaped when it is waited for; an edo_child freed before its
 * exit is handed to the runtime, which reaps it in the background when it exits (and kills it
 * first when the command asked for kill-on-drop). SIGCHLD must not be set to SIG_IGN (the
 * kernel would then reap children itself and their status would be lost: waits give -ECHILD).
 *
 * Deadlines and cancellation: the waiting calls are coroutine calls bounded by the coroutine's
 * deadline (edo_deadline_push, edo_timeout: -ETIMEDOUT) and ended by an abort (-ECANCELED);
 * the child keeps running then. Each has a future form for future tasks and edo_select.
 */
#ifndef EDO_PROCESS_H
#define EDO_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "edo/future.h"
#include "edo/io.h"
#include "edo/stream.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct edo_command edo_command;
typedef struct edo_child edo_child;

/* What one of the child's standard streams is. */
typedef enum edo_stdio {
    EDO_STDIO_INHERIT = 0, /* the parent's own (the default) */
    EDO_STDIO_NULL,        /* /dev/null */
    EDO_STDIO_PIPE,        /* a new pipe: the parent's end is an edo_stream of the child */
    EDO_STDIO_FD,          /* a file descriptor of the caller's (the command keeps a copy) */
} edo_stdio;

/* How a child ended. */
typedef struct edo_exit_status {
    int code;   /* its exit code (0 to 255) when it exited; -1 when a signal ended it */
    int signal; /* the signal that ended it; 0 when it exited */
} edo_exit_status;

/* True when the child exited with code 0. Never suspends. */
static inline bool edo_exit_status_is_success(edo_exit_status s)
{
    return s.code == 0 && s.signal == 0;
}

/* What edo_command_output and edo_child_output collect. `out` and `err` are allocated and
 * NUL-terminated (the child's bytes may contain NULs too: the lengths count them); free them
 * with edo_output_drop. */
typedef struct edo_output {
    edo_exit_status status;
    char *out;
    size_t out_len;
    char *err;
    size_t err_len;
} edo_output;

/* Frees what `o` holds and empties it. NULL: no-op. Never suspends. */
void edo_output_drop(edo_output *o);

/* ---------------------------------------------------------------------------------------------
 * The command builder. Every setter returns 0, or -EINVAL for a NULL command or an argument
 * described as refused, or -ENOMEM. None suspends. A command is not thread-safe: build and
 * spawn it from one task at a time (spawning does not change it: spawn it as often as wanted).
 * ------------------------------------------------------------------------------------------- */

/* A command running `program`: a path when it contains '/', else a name searched in the
 * directories of PATH (the command's own PATH when edo_command_env set one, else the
 * process's, else "/bin:/usr/bin"), as execvp does. argv[0] is `program`. Returns 0, or -EINVAL
 * (program or out NULL, program empty), -ENOMEM. */
int edo_command_new(const char *program, edo_command **out);
/* Frees the command and the descriptors it copied (EDO_STDIO_FD). Children spawned from it live
 * on. NULL: no-op. */
void edo_command_free(edo_command *c);
/* Appends one argument. -EINVAL for a NULL arg. */
int edo_command_arg(edo_command *c, const char *arg);
/* Sets the environment variable `name` to `value` for the child. -EINVAL for a NULL name or
 * value, an empty name or one containing '='. */
int edo_command_env(edo_command *c, const char *name, const char *value);
/* Removes `name` from the child's environment. -EINVAL as edo_command_env's name. */
int edo_command_env_remove(edo_command *c, const char *name);
/* The child starts from an empty environment (variables set afterwards are still passed).
 * Without it the child gets the process's environment (read at each spawn) with the changes
 * above. */
int edo_command_env_clear(edo_command *c);
/* The child's working directory (a relative program path is resolved from there, as execve
 * does). -EINVAL for a NULL or empty dir. A missing directory fails the spawn (-ENOENT). */
int edo_command_cwd(edo_command *c, const char *dir);
/* What the child's stdin, stdout or stderr is (`how`); `fd` is used by EDO_STDIO_FD only (else
 * ignored): the command takes a close-on-exec copy of it at once (the caller may close its own),
 * and the child gets it as it is (a blocking descriptor, normally). -EINVAL for a `how` outside
 * edo_stdio or a negative fd with EDO_STDIO_FD; -EBADF or -EMFILE from copying the fd. The
 * defaults are EDO_STDIO_INHERIT, except in edo_command_output. */
int edo_command_stdin(edo_command *c, edo_stdio how, int fd);
int edo_command_stdout(edo_command *c, edo_stdio how, int fd);
int edo_command_stderr(edo_command *c, edo_stdio how, int fd);
/* The child's stdin reads what `from` writes to its stdout: takes `from`'s stdout pipe (which
 * must be EDO_STDIO_PIPE and not taken yet; the child `from` keeps no stream for it) into the
 * command, as a blocking descriptor. For pipelines (`a | b`). -EINVAL for a NULL from or one
 * without its stdout pipe. */
int edo_command_stdin_from_child(edo_command *c, edo_child *from);
/* Puts the child in process group `pgid` (setpgid); 0: a new group led by the child (whose id
 * is then its pid). -EINVAL for a negative pgid. A group that does not exist fails the spawn
 * (-EPERM). */
int edo_command_process_group(edo_command *c, pid_t pgid);
/* The child's user id (setuid) and group id (setgid), set after the group and before the
 * working directory; when the process runs as root and sets a user id, the supplementary groups
 * are dropped too. -EINVAL for (uid_t)-1 / (gid_t)-1. Without the privilege the spawn fails
 * (-EPERM). */
int edo_command_uid(edo_command *c, uid_t uid);
int edo_command_gid(edo_command *c, gid_t gid);
/* When `on`, freeing a child of this command that has not been reaped kills it (SIGKILL) before
 * it is reaped in the background. Off by default: a freed child runs on. */
int edo_command_kill_on_drop(edo_command *c, bool on);

/* ---------------------------------------------------------------------------------------------
 * Spawning
 * ------------------------------------------------------------------------------------------- */

/* Starts the command. On success *out is the child (release it with edo_child_free). The
 * calling thread is held while the child sets itself up and executes the program (it does not
 * suspend). Returns 0, or
 *   -EINVAL   c or out NULL;
 *   -EPERM    not in a runtime (the pipes and the exit watch need its reactor); or the child
 *             could not take the process group, user or group asked for;
 *   -ENOENT   the program (or the working directory) does not exist;
 *   -EACCES   the program is not executable (or a directory on the way is not searchable);
 *   -ENOEXEC, -E2BIG, -ENOTDIR, -ELOOP, -ENAMETOOLONG, -ETXTBSY ...: what execve or chdir gave;
 *   -EMFILE, -ENFILE, -ENOMEM, -EAGAIN (the process limit): no resources.
 * On failure no child is left running. Thread-safe (for different commands). */
int edo_command_spawn(edo_command *c, edo_child **out);

/* Inside a coroutine: spawns the command with stdout and stderr piped (unless the command set
 * them otherwise: then that part of the output is empty) and stdin /dev/null (unless set), reads
 * both pipes concurrently to their end while waiting for the exit (a child filling one pipe
 * while the other is read never deadlocks), and fills *out. Returns 0 (whatever the exit status
 * says), or the errors of edo_command_spawn, -ENOMEM (the output does not fit in memory; the
 * child is killed), -ECANCELED or -ETIMEDOUT (the child is left to run, reaped in the
 * background, or killed with kill-on-drop), -EPERM (not in a coroutine). *out is emptied first
 * and holds nothing on failure. Suspends. */
int edo_command_output(edo_command *c, edo_output *out);

/* ---------------------------------------------------------------------------------------------
 * The child. Its calls are thread-safe (wait from one task while another signals it), except
 * edo_child_free, which must be the last.
 * ------------------------------------------------------------------------------------------- */

/* The child's process id, or -EINVAL for NULL. Once reaped the id may belong to another
 * process. Never suspends. */
pid_t edo_child_pid(const edo_child *c);
/* The parent's end of the child's stdin, stdout or stderr pipe, which the caller now owns
 * (edo_stream_close it), or NULL when that stream is not a pipe (or was taken already, or c is
 * NULL). Writing to a stdin whose reader is gone returns -EPIPE (never SIGPIPE). Never
 * suspends. */
edo_stream *edo_child_take_stdin(edo_child *c);
edo_stream *edo_child_take_stdout(edo_child *c);
edo_stream *edo_child_take_stderr(edo_child *c);

/* Inside a coroutine: waits for the child to end and stores how in *status. The child's stdin
 * pipe, when the child still holds it (not taken), is closed first, so a child reading its
 * input to the end is not waited for in vain. Once reaped, every later wait returns the same
 * status at once. Returns 0, or -EINVAL (c or status NULL), -EPERM (not in a coroutine),
 * -ECANCELED, -ETIMEDOUT (the child runs on), -ECHILD (someone else reaped it: SIGCHLD ignored,
 * a waitpid(-1) elsewhere). Suspends. */
int edo_child_wait(edo_child *c, edo_exit_status *status);
/* Without waiting: 0 with *status when the child has ended (reaping it), -EAGAIN while it runs,
 * -EINVAL (c or status NULL), -ECHILD. Never suspends. */
int edo_child_try_wait(edo_child *c, edo_exit_status *status);
/* Sends signal `sig` to the child. Returns 0, -EINVAL (c NULL, sig outside 1 to 64),
 * -ESRCH (the child has been reaped already: its pid may be someone else's now, so nothing is
 * sent), -EPERM. Never suspends. */
int edo_child_signal(edo_child *c, int sig);
/* Inside a coroutine: kills the child (SIGKILL) and waits for it, storing its status (which
 * says SIGKILL, unless it had ended already). Errors as edo_child_wait. Suspends. */
int edo_child_kill(edo_child *c, edo_exit_status *status);
/* Inside a coroutine: reads the child's stdout and stderr pipes that it still holds (not taken)
 * to their end, concurrently, and waits for its exit (closing a stdin pipe it still holds
 * first), filling *out (emptied first). Returns 0, or -EINVAL (c or out NULL), -ENOMEM (the
 * output does not fit in memory), -EPERM, -ECANCELED, -ETIMEDOUT (what was read is lost; the
 * pipes stay usable), -ECHILD, or a read's error. Suspends. */
int edo_child_output(edo_child *c, edo_output *out);
/* Releases the child: closes the pipes it still holds and, when it has not been reaped, hands
 * it to the runtime, which kills it first if its command asked for kill-on-drop, and reaps it
 * when it exits. Must not be called while a call on the child is in progress. NULL: no-op.
 * Never suspends; may be called from any thread. */
void edo_child_free(edo_child *c);

/* ---------------------------------------------------------------------------------------------
 * Future forms. Initialise, poll until EDO_READY, read `result` (what the coroutine call
 * returns, less -EPERM, -ECANCELED and -ETIMEDOUT: drop the future to stop waiting, bound it
 * with edo_timeout_future_init) and the status or output; then edo_future_drop. Bad arguments
 * complete at the first poll with -EINVAL. The child must outlive the future; like any future
 * it must not move once polled. NULL f: no-op. Never suspends.
 * ------------------------------------------------------------------------------------------- */

typedef struct edo_child_wait_future {
    edo_future base;
    int result;
    edo_exit_status status; /* when result is 0 */
    edo_child *child_;
    edo_io_waiter waiter_;
    bool kill_;
} edo_child_wait_future;

/* edo_child_wait. */
void edo_child_wait_future_init(edo_child_wait_future *f, edo_child *c);
/* edo_child_kill: the signal is sent at the first poll. */
typedef edo_child_wait_future edo_child_kill_future;
void edo_child_kill_future_init(edo_child_kill_future *f, edo_child *c);

typedef struct edo_child_output_future {
    edo_future base;
    int result;
    edo_output output; /* when result is 0; the caller frees it (edo_output_drop) */
    edo_child_wait_future wait_;
    edo_stream_future read_[2];
    size_t cap_[2];
    uint32_t state_;
} edo_child_output_future;

/* edo_child_output. Dropping it before it is ready frees what was read. */
void edo_child_output_future_init(edo_child_output_future *f, edo_child *c);

#ifdef __cplusplus
}
#endif

#endif /* EDO_PROCESS_H */
