/* The program tests/install/run.sh builds against an installed edo, out of tree, and runs:
 * edo_main, four coroutines spawned and joined, their results summed and printed; and, where
 * edo has TLS, a TLS configuration made and freed (so the link needs OpenSSL's libraries). */
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
    edo_tls_config *tls;
    if (edo_tls_is_available()) {
        if (edo_tls_config_new(&(edo_tls_options){.role = EDO_TLS_CLIENT}, &tls) < 0)
            return 1;
        edo_tls_config_free(tls);
    }
    printf("edo %s: 0+1+4+9 = %d\n", EDO_VERSION_STRING, (int)sum);
    return sum == 14 ? 0 : 1;
}

int main(void) {
    return edo_main(app, NULL);
}
