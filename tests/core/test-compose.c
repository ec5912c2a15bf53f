/* Composing futures: select (first ready wins, biased and fair), join (all), NULL entries,
 * cancellation while selecting, the future form. */
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

static void *select_cases(void *arg)
{
    (void)arg;
    edo_chan *ch;
    CHECK_EQ(edo_chan_new(4, NULL, &ch), 0);
    /* The timer wins when nothing is sent. */
    edo_sleep_future timer;
    edo_chan_recv_future recv;
    edo_sleep_future_init(&timer, EDO_MSEC(50));
    edo_chan_recv_future_init(&recv, ch);
    edo_future *either[] = {&recv.base, &timer.base};
    edo_instant start = edo_now();
    void *out = (void *)1;
    CHECK_EQ(edo_select(either, 2, EDO_SELECT_BIASED, &out), 1);
    CHECK_EQ(edo_now() - start, EDO_MSEC(50));
    edo_future_drop(&recv.base); /* the loser: cancelled, took nothing */
    edo_future_drop(&timer.base);
    /* The message wins when it is there. */
    CHECK_EQ(edo_chan_try_send(ch, (void *)7), 0);
    edo_sleep_future_init(&timer, EDO_MSEC(50));
    edo_chan_recv_future_init(&recv, ch);
    CHECK_EQ(edo_select(either, 2, EDO_SELECT_FAIR, &out), 0);
    CHECK_EQ((intptr_t)out, 7);
    CHECK_EQ(edo_now() - start, EDO_MSEC(50)); /* no time passed */
    edo_future_drop(&recv.base);
    edo_future_drop(&timer.base);
    /* NULL entries are skipped; none left is -EINVAL. */
    edo_sleep_future_init(&timer, 0);
    edo_future *with_null[] = {NULL, &timer.base};
    CHECK_EQ(edo_select(with_null, 2, EDO_SELECT_BIASED, NULL), 1);
    edo_future_drop(&timer.base);
    edo_future *none[] = {NULL, NULL};
    CHECK_EQ(edo_select(none, 2, EDO_SELECT_FAIR, NULL), -EINVAL);
    CHECK_EQ(edo_select(NULL, 2, EDO_SELECT_FAIR, NULL), -EINVAL);
    edo_chan_sender_close(ch);
    edo_chan_receiver_close(ch);
    return NULL;
}

TEST(select_first_ready_wins) { run_paused(select_cases, NULL); }

/* Two futures always ready: biased always picks the first; fair spreads the wins. */
static void *bias_cases(void *arg)
{
    (void)arg;
    int wins[2] = {0, 0};
    for (int mode = 0; mode < 2; mode++) {
        wins[0] = wins[1] = 0;
        for (int i = 0; i < 100; i++) {
            edo_sleep_future a, b;
            edo_sleep_future_init(&a, 0);
            edo_sleep_future_init(&b, 0);
            edo_future *both[] = {&a.base, &b.base};
            int w = edo_select(both, 2, mode ? EDO_SELECT_BIASED : EDO_SELECT_FAIR, NULL);
            CHECK(w == 0 || w == 1);
            wins[w]++;
            edo_future_drop(&a.base);
            edo_future_drop(&b.base);
        }
        if (mode)
            CHECK_EQ(wins[0], 100);
        else
            CHECK(wins[0] > 10 && wins[1] > 10);
    }
    return NULL;
}

TEST(select_biased_and_fair) { run_paused(bias_cases, NULL); }

static void *join_cases(void *arg)
{
    (void)arg;
    edo_sleep_future s[3];
    static const int ms[3] = {30, 10, 20};
    edo_future *all[3];
    for (int i = 0; i < 3; i++) {
        edo_sleep_future_init(&s[i], EDO_MSEC(ms[i]));
        all[i] = &s[i].base;
    }
    void *outs[3];
    edo_instant start = edo_now();
    CHECK_EQ(edo_join(all, 3, outs), 0);
    CHECK_EQ(edo_now() - start, EDO_MSEC(30)); /* concurrently: the longest, not the sum */
    for (int i = 0; i < 3; i++)
        edo_future_drop(&s[i].base);
    CHECK_EQ(edo_join(all, 0, NULL), 0);
    edo_future *bad[] = {NULL};
    CHECK_EQ(edo_join(bad, 1, NULL), -EINVAL);
    return NULL;
}

TEST(join_waits_for_all) { run_paused(join_cases, NULL); }

static void *select_forever(void *arg)
{
    edo_chan *ch = arg;
    edo_chan_recv_future a;
    edo_chan_recv_future_init(&a, ch);
    edo_sleep_future never;
    edo_sleep_future_init_at(&never, EDO_INSTANT_NEVER);
    edo_future *both[] = {&a.base, &never.base};
    int rc = edo_select(both, 2, EDO_SELECT_FAIR, NULL);
    edo_future_drop(&a.base);
    edo_future_drop(&never.base);
    return (void *)(intptr_t)rc;
}

TEST(abort_while_selecting)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_MULTI_THREAD, 2);
    edo_chan *ch;
    CHECK_EQ(edo_chan_new(1, NULL, &ch), 0);
    edo_task *t;
    CHECK_EQ(edo_spawn_with(rt, NULL, select_forever, ch, &t), 0);
    usleep(5000);
    edo_task_abort(t);
    CHECK_EQ(edo_task_join(t, NULL), -ECANCELED);
    edo_task_free(t);
    /* The cancelled select took nothing: a message sent now is there to receive. */
    CHECK_EQ(edo_chan_try_send(ch, (void *)5), 0);
    void *m;
    CHECK_EQ(edo_chan_try_recv(ch, &m), 0);
    CHECK_EQ((intptr_t)m, 5);
    edo_chan_sender_close(ch);
    edo_chan_receiver_close(ch);
    edo_runtime_free(rt);
}

TEST(select_future_form_and_outside_coroutine)
{
    edo_runtime *rt = new_rt(EDO_RUNTIME_CURRENT_THREAD, 0);
    edo_sleep_future a, b;
    edo_sleep_future_init(&a, EDO_SEC(60));
    edo_sleep_future_init(&b, EDO_MSEC(5));
    edo_future *both[] = {&a.base, &b.base};
    edo_select_future f;
    edo_select_future_init(&f, both, 2, EDO_SELECT_BIASED);
    CHECK_EQ(edo_block_on(rt, &f.base, NULL), 0);
    CHECK_EQ(f.index, 1);
    edo_future_drop(&a.base);
    edo_future_drop(&b.base);
    CHECK_EQ(edo_select(both, 2, EDO_SELECT_FAIR, NULL), -EPERM);
    CHECK_EQ(edo_join(both, 2, NULL), -EPERM);
    edo_runtime_free(rt);
}
