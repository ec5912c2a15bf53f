/* A background task that ticks on a timer while the main coroutine does other work, then is
 * stopped (the seed's "Task Spawning" example). */
#include <stdio.h>

#include "edo.h"

static void *background(void *arg)
{
    (void)arg;
    edo_interval every;
    edo_interval_init(&every, EDO_MSEC(100), EDO_MISSED_TICK_SKIP);
    int ticks = 0;
    /* Each tick suspends; abort makes the wait return -ECANCELED and the loop end. */
    while (edo_interval_tick(&every, NULL) == 0)
        printf("background: tick %d\n", ++ticks);
    edo_interval_drop(&every);
    printf("background: stopped after %d ticks\n", ticks);
    return NULL;
}

static void *run(void *arg)
{
    (void)arg;
    edo_task *handle;
    if (edo_spawn(background, NULL, &handle) < 0)
        return NULL;
    edo_sleep(EDO_MSEC(550)); /* other work; the background task ticks meanwhile */
    edo_task_abort(handle);   /* or edo_task_join alone, to wait for it to end by itself */
    edo_task_join(handle, NULL);
    edo_task_free(handle);
    return NULL;
}

/* edo_main runs app on this thread inside a new runtime; app starts the coroutine and waits. */
static int app(void *arg)
{
    edo_task *t;
    if (edo_spawn(run, arg, &t) < 0)
        return 1;
    edo_task_join(t, NULL);
    edo_task_free(t);
    return 0;
}

int main(void) { return edo_main(app, NULL); }
