/* Three operations run concurrently and are joined (the seed's "Concurrent Operations"): each
 * "fetch" takes 100 ms, all three together take about 100 ms, not 300. */
#include <stdio.h>
#include <stdlib.h>

#include "edo.h"

/* Stands in for a request: waits 100 ms and returns a result string (freed by the caller). */
static void *fetch_data(void *arg)
{
    const char *url = arg;
    if (edo_sleep(EDO_MSEC(100)) < 0)
        return NULL;
    char *result = malloc(128);
    if (result)
        snprintf(result, 128, "Data from %s", url);
    return result;
}

static void *run(void *arg)
{
    (void)arg;
    static const char *urls[] = {"https://api1.example.com", "https://api2.example.com",
                                 "https://api3.example.com"};
    edo_task *t[3];
    edo_instant start = edo_now();
    for (int i = 0; i < 3; i++)
        if (edo_spawn(fetch_data, (void *)urls[i], &t[i]) < 0)
            return NULL;
    for (int i = 0; i < 3; i++) {
        void *result = NULL;
        edo_task_join(t[i], &result);
        edo_task_free(t[i]);
        printf("Result %d: %s\n", i + 1, result ? (char *)result : "(failed)");
        free(result);
    }
    printf("all three in %.0f ms\n", (double)(edo_now() - start) / 1e6);
    return NULL;
}

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
