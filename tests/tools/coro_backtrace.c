/* For .ci/gdb.sh: stops (SIGTRAP) inside a coroutine three calls deep, so a debugger can show the
 * coroutine's backtrace: inner_frame <- middle_frame <- coro_body, ending at edo's trampoline. */
#include <signal.h>
#include <stdio.h>

#include "edo.h"

__attribute__((noinline)) static int inner_frame(int x)
{
    raise(SIGTRAP);
    return x + 1;
}

__attribute__((noinline)) static int middle_frame(int x) { return inner_frame(x * 2) + 1; }

static void *coro_body(void *arg)
{
    edo_yield(); /* suspend once, so it may resume on another worker */
    return (void *)(long)middle_frame((int)(long)arg);
}

int main(void)
{
    edo_runtime *rt;
    edo_runtime_config cfg = {.worker_threads = 2};
    if (edo_runtime_new(&cfg, &rt) < 0)
        return 1;
    edo_task *t;
    void *out = NULL;
    if (edo_spawn_with(rt, NULL, coro_body, (void *)20L, &t) < 0 || edo_task_join(t, &out) < 0)
        return 1;
    edo_task_free(t);
    edo_runtime_free(rt);
    printf("result %ld\n", (long)out);
    return (long)out == 43 ? 0 : 1;
}
