/* The program tests/install/run.sh builds against an installed edo, out of tree, and runs:
 * edo_main, four coroutines spawned and joined, their results summed and printed. */
#include <edo.h>
#include <stdint.h>
#include <stdio.h>

static void *square(void *arg) {
    intptr_t n = (intptr_t)arg;
    edo_yield();
    return (void *)(n * n);
}

static int app(void *unused) {
    (void)unused;
    edo_task *tasks[4];
    for (intptr_t i = 0; i < 4; i++)
        if (edo_spawn(square, (void *)i, &tasks[i]) < 0)
            return 1;
    intptr_t sum = 0;
    for (int i = 0; i < 4; i++) {
        void *out;
        if (edo_task_join(tasks[i], &out) < 0)
            return 1;
        sum += (intptr_t)out;
        edo_task_free(tasks[i]);
    }
    printf("edo %s: 0+1+4+9 = %d\n", EDO_VERSION_STRING, (int)sum);
    return sum == 14 ? 0 : 1;
}

int main(void) {
    return edo_main(app, NULL);
}
