/* Signals through the signalfd backend. Most tests block the signals in the main thread too, as
 * the header advises, so every thread blocks them and deliveries come through the signalfd;
 * `*_handler` tests leave main unblocked, so the handler (in main) takes them. */
#include "signal/signal_cases.h"

/* Every thread blocks the usual signals: deliveries go through the signalfd. */
static void block_in_main(void) { CHECK_EQ(edo_signal_block_in_this_thread(), 0); }

TEST(hundred_listeners)
{
    block_in_main();
    case_hundred_listeners();
}

TEST(hundred_listeners_handler) { case_hundred_listeners(); }

TEST(not_lost)
{
    block_in_main();
    case_not_lost();
}

TEST(not_lost_handler) { case_not_lost(); }

TEST(burst_coalesces)
{
    block_in_main();
    case_burst_coalesces();
}

TEST(drop_while_pending)
{
    block_in_main();
    case_drop_while_pending();
}

TEST(select_with_timer)
{
    block_in_main();
    case_select_with_timer();
}

TEST(select_with_timer_handler) { case_select_with_timer(); }

TEST(ctrl_c)
{
    block_in_main();
    case_ctrl_c();
}

TEST(two_runtimes)
{
    block_in_main();
    case_two_runtimes();
}

TEST(thread_directed_handler) { case_thread_directed(); }

TEST(sigpipe_ignored) { case_sigpipe_ignored(); }

/* Runtime threads block the usual signals from their start. */
static void *mask_of_worker(void *arg)
{
    (void)arg;
    sigset_t mask;
    pthread_sigmask(SIG_BLOCK, NULL, &mask);
    int want[] = {SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGCHLD, SIGWINCH, SIGPIPE};
    for (unsigned i = 0; i < sizeof want / sizeof want[0]; i++)
        CHECK(sigismember(&mask, want[i]));
    return NULL;
}

TEST(runtime_threads_block) { on_worker_and_pool(mask_of_worker); }

/* Bad input: -EINVAL for what cannot be listened for, -EPERM outside a runtime. */
static void *bad_input_body(void *arg)
{
    (void)arg;
    edo_signal *sig;
    int bad[] = {0, -1, 65, 1000, SIGKILL, SIGSTOP, SIGSEGV, SIGBUS, SIGILL, SIGFPE, 32, 33};
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_EQ(edo_signal_listen(bad[i], &sig), -EINVAL);
    CHECK_EQ(edo_signal_listen(SIGUSR1, NULL), -EINVAL);
    CHECK_EQ(edo_signal_listen_on(NULL, SIGUSR1, &sig), -EINVAL);
    CHECK_EQ(edo_signal_recv(NULL), -EINVAL);
    CHECK_EQ(edo_signal_try_recv(NULL), -EINVAL);
    CHECK_EQ(edo_signal_number(NULL), -EINVAL);
    edo_signal_free(NULL);
    edo_signal_recv_future_init(NULL, NULL);
    edo_signal_recv_future f;
    edo_signal_recv_future_init(&f, NULL);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, -EINVAL);
    edo_future_drop(&f.base);
    /* A real-time signal works like any other. */
    CHECK_EQ(edo_signal_listen(SIGRTMIN + 1, &sig), 0);
    CHECK_EQ(kill(getpid(), SIGRTMIN + 1), 0);
    CHECK_EQ(edo_signal_recv(sig), 0);
    edo_signal_free(sig);
    return NULL;
}

TEST(bad_input)
{
    edo_signal *sig;
    CHECK_EQ(edo_signal_listen(SIGUSR1, &sig), -EPERM);
    CHECK_EQ(edo_ctrl_c(), -EPERM);
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
    CHECK_EQ(edo_signal_listen_on(rt, SIGUSR1, &sig), 0); /* from a plain thread */
    edo_signal_free(sig);
    CHECK_EQ(edo_signal_recv(sig = NULL), -EINVAL);
    edo_runtime_free(rt);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 1, bad_input_body, NULL);
}
