/* Children: waiting, exit statuses, signals, kill, output, pipes, a pipeline, many children at
 * once, the SIGCHLD fallback. */
#include <errno.h>
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
