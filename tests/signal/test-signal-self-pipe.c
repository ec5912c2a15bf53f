/* Signals through the self-pipe fallback (forced here; it is what a system without signalfd
 * uses): the same cases as test-signal.c. */
#include "platform/sigmask.h"
#include "signal/signal_cases.h"

/* Before any runtime or listener exists. */
__attribute__((constructor)) static void force_self_pipe(void)
{
    CHECK_EQ(edo__sigmask_force_self_pipe(), 0);
}

TEST(hundred_listeners) { case_hundred_listeners(); }
TEST(not_lost) { case_not_lost(); }
TEST(burst_coalesces) { case_burst_coalesces(); }
TEST(drop_while_pending) { case_drop_while_pending(); }
TEST(select_with_timer) { case_select_with_timer(); }
TEST(ctrl_c) { case_ctrl_c(); }
TEST(two_runtimes) { case_two_runtimes(); }
TEST(thread_directed) { case_thread_directed(); }
TEST(sigpipe_ignored) { case_sigpipe_ignored(); }

/* Runtime threads block only SIGPIPE: the handler must be able to run anywhere. */
static void *mask_of_worker(void *arg)
{
    (void)arg;
    CHECK(edo__sigmask_uses_signalfd() == false);
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    CHECK(sigismember(&mask, SIGPIPE));
    CHECK(!sigismember(&mask, SIGINT));
    CHECK(!sigismember(&mask, SIGUSR1));
    return NULL;
}

TEST(runtime_threads_block) { on_worker_and_pool(mask_of_worker); }
