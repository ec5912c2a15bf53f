/* edo/process.h refuses bad input with -EINVAL (never a crash, a leak or a hang), and the calls
 * that need a runtime or a coroutine say so. */
#include <errno.h>
#include <signal.h>

#include "process/process_test.h"
#include "util.h"

TEST(builder)
{
    edo_command *c;
    CHECK_EQ(edo_command_new(NULL, &c), -EINVAL);
    CHECK_EQ(edo_command_new("", &c), -EINVAL);
    CHECK_EQ(edo_command_new("true", NULL), -EINVAL);
    CHECK_EQ(edo_command_new("true", &c), 0);
    CHECK_EQ(edo_command_arg(NULL, "x"), -EINVAL);
    CHECK_EQ(edo_command_arg(c, NULL), -EINVAL);
    CHECK_EQ(edo_command_env(c, NULL, "v"), -EINVAL);
    CHECK_EQ(edo_command_env(c, "", "v"), -EINVAL);
    CHECK_EQ(edo_command_env(c, "A=B", "v"), -EINVAL);
    CHECK_EQ(edo_command_env(c, "A", NULL), -EINVAL);
    CHECK_EQ(edo_command_env(NULL, "A", "v"), -EINVAL);
    CHECK_EQ(edo_command_env_remove(c, "A=B"), -EINVAL);
    CHECK_EQ(edo_command_env_remove(c, ""), -EINVAL);
    CHECK_EQ(edo_command_env_remove(NULL, "A"), -EINVAL);
    CHECK_EQ(edo_command_env_clear(NULL), -EINVAL);
    CHECK_EQ(edo_command_cwd(c, NULL), -EINVAL);
    CHECK_EQ(edo_command_cwd(c, ""), -EINVAL);
    CHECK_EQ(edo_command_cwd(NULL, "/"), -EINVAL);
    CHECK_EQ(edo_command_stdin(c, (edo_stdio)99, -1), -EINVAL);
    CHECK_EQ(edo_command_stdout(c, (edo_stdio)-1, -1), -EINVAL);
    CHECK_EQ(edo_command_stderr(c, EDO_STDIO_FD, -1), -EINVAL);
    CHECK_EQ(edo_command_stdin(NULL, EDO_STDIO_NULL, -1), -EINVAL);
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    close(fds[0]);
    close(fds[1]);
    CHECK_EQ(edo_command_stdout(c, EDO_STDIO_FD, fds[0]), -EBADF); /* closed */
    CHECK_EQ(edo_command_stdin_from_child(c, NULL), -EINVAL);
    CHECK_EQ(edo_command_stdin_from_child(NULL, NULL), -EINVAL);
    CHECK_EQ(edo_command_process_group(c, -1), -EINVAL);
    CHECK_EQ(edo_command_process_group(NULL, 0), -EINVAL);
    CHECK_EQ(edo_command_uid(c, (uid_t)-1), -EINVAL);
    CHECK_EQ(edo_command_gid(c, (gid_t)-1), -EINVAL);
    CHECK_EQ(edo_command_uid(NULL, 0), -EINVAL);
    CHECK_EQ(edo_command_gid(NULL, 0), -EINVAL);
    CHECK_EQ(edo_command_kill_on_drop(NULL, true), -EINVAL);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(NULL, &child), -EINVAL);
    CHECK_EQ(edo_command_spawn(c, NULL), -EINVAL);
    CHECK_EQ(edo_command_spawn(c, &child), -EPERM); /* not in a runtime */
    edo_output out;
    CHECK_EQ(edo_command_output(c, &out), -EPERM); /* not in a coroutine */
    CHECK(!out.out && !out.err);
    CHECK_EQ(edo_command_output(NULL, &out), -EINVAL);
    CHECK_EQ(edo_command_output(c, NULL), -EINVAL);
    edo_command_free(c);
    edo_command_free(NULL);
    edo_output_drop(NULL);
}

static void *child_calls(void *arg)
{
    (void)arg;
    edo_exit_status st;
    edo_output out;
    CHECK_EQ(edo_child_pid(NULL), -EINVAL);
    CHECK(!edo_child_take_stdin(NULL) && !edo_child_take_stdout(NULL) &&
          !edo_child_take_stderr(NULL));
    CHECK_EQ(edo_child_wait(NULL, &st), -EINVAL);
    CHECK_EQ(edo_child_try_wait(NULL, &st), -EINVAL);
    CHECK_EQ(edo_child_kill(NULL, &st), -EINVAL);
    CHECK_EQ(edo_child_signal(NULL, SIGTERM), -EINVAL);
    CHECK_EQ(edo_child_output(NULL, &out), -EINVAL);
    edo_child_free(NULL);

    edo_command *c = shell("read x");
    CHECK_EQ(edo_command_stdin(c, EDO_STDIO_PIPE, -1), 0);
    edo_child *child;
    CHECK_EQ(edo_command_spawn(c, &child), 0);
    CHECK_EQ(edo_child_wait(child, NULL), -EINVAL);
    CHECK_EQ(edo_child_try_wait(child, NULL), -EINVAL);
    CHECK_EQ(edo_child_kill(child, NULL), -EINVAL);
    CHECK_EQ(edo_child_output(child, NULL), -EINVAL);
    CHECK_EQ(edo_child_signal(child, 0), -EINVAL);
    CHECK_EQ(edo_child_signal(child, 65), -EINVAL);
    CHECK_EQ(edo_child_signal(child, -1), -EINVAL);
    CHECK_EQ(edo_command_stdin_from_child(c, child), -EINVAL); /* it has no stdout pipe */

    /* futures over nothing complete at once with -EINVAL */
    edo_context cx;
    edo_waker noop = edo_waker_noop();
    edo_context_init(&cx, &noop, NULL);
    edo_child_wait_future w;
    edo_child_wait_future_init(&w, NULL);
    CHECK_EQ(edo_future_poll(&w.base, &cx, NULL), EDO_READY);
    CHECK_EQ(w.result, -EINVAL);
    edo_future_drop(&w.base);
    edo_child_kill_future_init(&w, NULL);
    CHECK_EQ(edo_future_poll(&w.base, &cx, NULL), EDO_READY);
    CHECK_EQ(w.result, -EINVAL);
    edo_future_drop(&w.base);
    edo_child_output_future o;
    edo_child_output_future_init(&o, NULL);
    CHECK_EQ(edo_future_poll(&o.base, &cx, NULL), EDO_READY);
    CHECK_EQ(o.result, -EINVAL);
    edo_future_drop(&o.base);
    edo_child_wait_future_init(NULL, child);
    edo_child_kill_future_init(NULL, child);
    edo_child_output_future_init(NULL, child);

    edo_child_free(child); /* closes its stdin: it ends, reaped in the background */
    edo_command_free(c);
    return NULL;
}
TEST(child_calls) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, child_calls, NULL); }

/* The coroutine calls from a plain thread inside the runtime's reach: -EPERM, nothing lost. */
static edo_child *spawned;

static void *spawn_only(void *arg)
{
    (void)arg;
    edo_command *c = shell("exit 4");
    CHECK_EQ(edo_command_spawn(c, &spawned), 0);
    edo_command_free(c);
    return NULL;
}

TEST(not_in_a_coroutine)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    run_on(rt, spawn_only, NULL);
    edo_exit_status st;
    edo_output out;
    CHECK_EQ(edo_child_wait(spawned, &st), -EPERM);
    CHECK_EQ(edo_child_kill(spawned, &st), -EPERM);
    CHECK_EQ(edo_child_output(spawned, &out), -EPERM);
    int rc;
    for (int i = 0; (rc = edo_child_try_wait(spawned, &st)) == -EAGAIN; i++) { /* no wait */
        CHECK(i < 60000);
        usleep(1000);
    }
    CHECK_EQ(rc, 0);
    CHECK_EQ(st.code, 4);
    edo_child_free(spawned);
    edo_runtime_free(rt);
}
