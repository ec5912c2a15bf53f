/* The signal tests, shared by test-signal.c (signalfd) and test-signal-self-pipe.c (the
 * fallback, forced): each file's TEST cases call these bodies. */
#ifndef EDO_TEST_SIGNAL_CASES_H
#define EDO_TEST_SIGNAL_CASES_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include "util.h"

#define LISTENERS 100

/* ---- many listeners, one delivery ---- */

static void *recv_one(void *arg)
{
    return (void *)(intptr_t)edo_signal_recv(arg);
}

static void *hundred_listeners_body(void *arg)
{
    (void)arg;
    edo_signal *sig[LISTENERS];
    edo_task *t[LISTENERS];
    for (int i = 0; i < LISTENERS; i++) {
        CHECK_EQ(edo_signal_listen(SIGUSR1, &sig[i]), 0);
        CHECK_EQ(edo_signal_number(sig[i]), SIGUSR1);
    }
    for (int i = 0; i < LISTENERS; i++)
        CHECK_EQ(edo_spawn(recv_one, sig[i], &t[i]), 0);
    edo_yield(); /* some are waiting, some not yet: both must get it */
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    for (int i = 0; i < LISTENERS; i++) {
        void *out;
        CHECK_EQ(edo_task_join(t[i], &out), 0);
        CHECK_EQ((intptr_t)out, 0);
        edo_task_free(t[i]);
        CHECK_EQ(edo_signal_try_recv(sig[i]), -EAGAIN); /* the delivery was taken */
        edo_signal_free(sig[i]);
    }
    return NULL;
}

static inline void case_hundred_listeners(void)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, hundred_listeners_body, NULL);
}

/* ---- a delivery while nobody waits ---- */

static void *not_lost_body(void *arg)
{
    (void)arg;
    edo_signal *before;
    CHECK_EQ(edo_signal_listen(SIGUSR2, &before), 0);
    CHECK_EQ(edo_signal_try_recv(before), -EAGAIN);
    CHECK_EQ(kill(getpid(), SIGUSR2), 0); /* nobody waits */
    CHECK_EQ(edo_signal_recv(before), 0);
    /* A listener made after the delivery (which is counted now) does not see it. */
    edo_signal *after;
    CHECK_EQ(edo_signal_listen(SIGUSR2, &after), 0);
    CHECK_EQ(edo_signal_try_recv(after), -EAGAIN);
    CHECK_EQ(kill(getpid(), SIGUSR2), 0);
    CHECK_EQ(edo_signal_recv(after), 0);
    CHECK_EQ(edo_signal_recv(before), 0);
    edo_signal_free(after);
    edo_signal_free(before);
    return NULL;
}

static inline void case_not_lost(void)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, not_lost_body, NULL);
    run_coro(EDO_RUNTIME_CURRENT_THREAD, 0, not_lost_body, NULL);
}

/* ---- a burst: at least one wake-up each, never more than deliveries ---- */

#define BURST 50

static void *burst_body(void *arg)
{
    (void)arg;
    edo_signal *a, *b;
    CHECK_EQ(edo_signal_listen(SIGUSR1, &a), 0);
    CHECK_EQ(edo_signal_listen(SIGUSR1, &b), 0);
    for (int i = 0; i < BURST; i++)
        CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    edo_signal *each[] = {a, b};
    for (int k = 0; k < 2; k++) {
        CHECK_EQ(edo_signal_recv(each[k]), 0);
        int wakeups = 1;
        while (edo_signal_try_recv(each[k]) == 0)
            wakeups++;
        CHECK(wakeups >= 1 && wakeups <= BURST);
    }
    edo_signal_free(a);
    edo_signal_free(b);
    return NULL;
}

static inline void case_burst_coalesces(void)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, burst_body, NULL);
}

/* ---- dropping a listener or a wait while a delivery is pending ---- */

static void *drop_body(void *arg)
{
    (void)arg;
    /* A waiting receive aborted: -ECANCELED, its waiter gone. */
    edo_signal *sig;
    CHECK_EQ(edo_signal_listen(SIGUSR1, &sig), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn(recv_one, sig, &t), 0);
    edo_yield();
    CHECK_EQ(edo_task_abort(t), 0);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
    /* A future dropped before it was ready takes nothing. */
    edo_signal_recv_future f;
    edo_signal_recv_future_init(&f, sig);
    edo_future_drop(&f.base);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    edo_signal_recv_future_init(&f, sig);
    CHECK_EQ(edo_await(&f.base, NULL), 0);
    CHECK_EQ(f.result, 0);
    edo_future_drop(&f.base);
    /* Freed with a delivery pending, and freed as the runtime's last listener. */
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    edo_signal_free(sig);
    /* The next listener on this runtime starts afresh. */
    CHECK_EQ(edo_signal_listen(SIGUSR1, &sig), 0);
    CHECK_EQ(kill(getpid(), SIGUSR1), 0);
    CHECK_EQ(edo_signal_recv(sig), 0);
    edo_signal_free(sig);
    return NULL;
}

static inline void case_drop_while_pending(void)
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, drop_body, NULL);
}

/* ---- select with a timer ---- */

static int select_signal_or_sleep(edo_signal *sig, uint64_t ns)
{
    edo_signal_recv_future r;
    edo_sleep_future s;
    edo_signal_recv_future_init(&r, sig);
    edo_sleep_future_init(&s, ns);
    edo_future *either[] = {&r.base, &s.base};
    int which = edo_select(either, 2, EDO_SELECT_BIASED, NULL);
    edo_future_drop(&r.base);
    edo_future_drop(&s.base);
    return which;
}

static void *select_body(void *arg)
{
    (void)arg;
    edo_signal *sig;
    CHECK_EQ(edo_signal_listen(SIGUSR2, &sig), 0);
    CHECK_EQ(select_signal_or_sleep(sig, EDO_SEC(5)), 1); /* paused clock: at once */
    CHECK_EQ(kill(getpid(), SIGUSR2), 0);
    CHECK_EQ(select_signal_or_sleep(sig, EDO_SEC(5)), 0);
    CHECK_EQ(select_signal_or_sleep(sig, EDO_SEC(5)), 1); /* taken */
    edo_signal_free(sig);
    return NULL;
}

static inline void case_select_with_timer(void) { run_paused(select_body, NULL); }

/* ---- edo_ctrl_c ---- */

static void *ctrl_c_task(void *arg)
{
    (void)arg;
    return (void *)(intptr_t)edo_ctrl_c();
}

static void *ctrl_c_body(void *arg)
{
    (void)arg;
    edo_task *t;
    CHECK_EQ(edo_spawn(ctrl_c_task, NULL, &t), 0);
    /* SIGINT until the task has listened and seen one (a SIGINT before its listen is not its,
     * and edo's handler keeps the default action from ending the process only once installed:
     * so the first is sent from inside a listener's life). */
    edo_signal *keep;
    CHECK_EQ(edo_signal_listen(SIGINT, &keep), 0);
    while (!edo_task_is_finished(t)) {
        CHECK_EQ(kill(getpid(), SIGINT), 0);
        CHECK_EQ(edo_signal_recv(keep), 0);
        edo_yield();
    }
    void *out;
    CHECK_EQ(edo_task_join(t, &out), 0);
    CHECK_EQ((intptr_t)out, 0);
    edo_task_free(t);
    edo_signal_free(keep);
    return NULL;
}

static inline void case_ctrl_c(void) { run_coro(EDO_RUNTIME_MULTI_THREAD, 2, ctrl_c_body, NULL); }

/* ---- listeners on two runtimes ---- */

static void *wait_on(void *arg) { return (void *)(intptr_t)edo_signal_recv(arg); }

static inline void case_two_runtimes(void)
{
    edo_runtime *rt1 = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
    edo_runtime *rt2 = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
    edo_signal *s1, *s2;
    CHECK_EQ(edo_signal_listen_on(rt1, SIGHUP, &s1), 0);
    CHECK_EQ(edo_signal_listen_on(rt2, SIGHUP, &s2), 0);
    edo_task *t1, *t2;
    CHECK_EQ(edo_spawn_with(rt1, NULL, wait_on, s1, &t1), 0);
    CHECK_EQ(edo_spawn_with(rt2, NULL, wait_on, s2, &t2), 0);
    CHECK_EQ(kill(getpid(), SIGHUP), 0);
    void *o1, *o2;
    CHECK_EQ(edo_task_join(t1, &o1), 0);
    CHECK_EQ(edo_task_join(t2, &o2), 0);
    CHECK_EQ((intptr_t)o1, 0);
    CHECK_EQ((intptr_t)o2, 0);
    edo_task_free(t1);
    edo_task_free(t2);
    edo_signal_free(s1);
    edo_signal_free(s2);
    edo_runtime_free(rt1);
    edo_runtime_free(rt2);
}

/* ---- a signal sent to one thread that does not block it: the handler's path ---- */

static void *unblocked_thread(void *arg)
{
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    pthread_barrier_wait(arg); /* unblocked */
    pthread_barrier_wait(arg); /* the listener exists: pthread_kill comes, then we are done */
    return NULL;
}

static void *thread_directed_body(void *arg)
{
    pthread_t *th = arg;
    edo_signal *sig;
    CHECK_EQ(edo_signal_listen(SIGWINCH, &sig), 0);
    CHECK_EQ(pthread_kill(*th, SIGWINCH), 0);
    CHECK_EQ(edo_signal_recv(sig), 0);
    edo_signal_free(sig);
    return NULL;
}

static inline void case_thread_directed(void)
{
    pthread_barrier_t barrier;
    pthread_barrier_init(&barrier, NULL, 2);
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, unblocked_thread, &barrier), 0);
    pthread_barrier_wait(&barrier);
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, thread_directed_body, &th);
    pthread_barrier_wait(&barrier);
    pthread_join(th, NULL);
    pthread_barrier_destroy(&barrier);
}

/* ---- SIGPIPE in a runtime thread: EPIPE, and the process lives ---- */

static void *sigpipe_body(void *arg)
{
    (void)arg;
    int fds[2];
    CHECK_EQ(pipe(fds), 0);
    close(fds[0]);
    CHECK_EQ(write(fds[1], "x", 1), -1);
    CHECK_EQ(errno, EPIPE);
    close(fds[1]);
    return NULL;
}

/* Runs fn(NULL) on a worker and on a blocking-pool thread of a new runtime. */
static inline void on_worker_and_pool(void *(*fn)(void *))
{
    run_coro(EDO_RUNTIME_MULTI_THREAD, 2, fn, NULL);
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 1);
    edo_task *t;
    CHECK_EQ(edo_spawn_blocking_on(rt, fn, NULL, &t), 0);
    CHECK_EQ(edo_task_join(t, NULL), 0);
    edo_task_free(t);
    edo_runtime_free(rt);
}

static inline void case_sigpipe_ignored(void) { on_worker_and_pool(sigpipe_body); }

#endif
