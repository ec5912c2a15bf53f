/* What the allocation-failure tests share (tests/alloc/, docs/reliability.md).
 *
 * Each test drives one part of edo and accepts -ENOMEM from any call that allocates, but only
 * once the EDO_FAULT_ALLOC build has failed an allocation on purpose: in any other build, and
 * before the injected failure, -ENOMEM is a wrong error like any other. What they check besides:
 * no crash, no leak (the driver builds them with AddressSanitizer), no task lost (every task a
 * spawn accepted is joined: it ran, or reports -ECANCELED), no join that hangs, and a runtime
 * that always shuts down. .ci/alloc-fail.sh runs each with the 1st, 2nd, 3rd... allocation
 * failing until one run fails none. */
#ifndef EDO_TEST_ALLOC_TEST_H
#define EDO_TEST_ALLOC_TEST_H

#include <errno.h>
#include <stdbool.h>

#include "util.h"

#ifdef EDO_FAULT_ALLOC
#include "platform/fault_alloc.h"
static inline unsigned long allocations_failed(void) { return edo__fault_alloc_failed(); }
#else
static inline unsigned long allocations_failed(void) { return 0; }
#endif

/* True when `rc` is a success (>= 0); false for -ENOMEM after an injected failure; any other
 * result fails the test. */
#define ALLOC_OK(rc) alloc_ok((long)(rc), #rc, __FILE__, __LINE__)
static inline bool alloc_ok(long rc, const char *what, const char *file, int line)
{
    if (rc >= 0)
        return true;
    if (rc == -ENOMEM && allocations_failed() > 0)
        return false;
    fprintf(stderr, "%s:%d: %s: %ld (%s)%s\n", file, line, what, rc, edo_strerror((int)rc),
            rc == -ENOMEM ? ", with no allocation failed" : "");
    abort();
}

static const edo_runtime_flavor alloc_flavors[] = {EDO_RUNTIME_CURRENT_THREAD,
                                                   EDO_RUNTIME_MULTI_THREAD};
#define ALLOC_NFLAVORS (sizeof alloc_flavors / sizeof *alloc_flavors)

/* Pending for ever, and never wakes anyone: only an abort or a shutdown ends it. */
static inline edo_poll never_poll(edo_future *f, edo_context *cx, void **out)
{
    (void)f, (void)cx, (void)out;
    return EDO_PENDING;
}
static const edo_future_vtable never_vtable = {never_poll, NULL};

/* edo_task_join, again while it fails for lack of memory (a plain thread joining a task of a
 * current-thread runtime needs a waker): the task must not be lost. */
static inline int alloc_join(edo_task *t, void **out)
{
    int rc;
    while ((rc = edo_task_join(t, out)) == -ENOMEM)
        CHECK(allocations_failed() > 0);
    return rc;
}

/* A runtime of `flavor` with 2 workers (multi-thread), or NULL when it could not be made for
 * lack of memory. */
static inline edo_runtime *alloc_rt(edo_runtime_flavor flavor, bool paused)
{
    edo_runtime_config cfg = {.flavor = flavor, .worker_threads = 2, .start_paused = paused};
    edo_runtime *rt = NULL;
    if (!ALLOC_OK(edo_runtime_new(&cfg, &rt))) {
        CHECK(rt == NULL);
        return NULL;
    }
    return rt;
}

/* Runs fn(arg) as a coroutine on a new runtime of `flavor` and joins it; false when the runtime
 * or the spawn ran out of memory. Otherwise the coroutine must complete (not be cancelled). */
static inline bool alloc_run(edo_runtime_flavor flavor, bool paused, void *(*fn)(void *),
                             void *arg)
{
    edo_runtime *rt = alloc_rt(flavor, paused);
    if (!rt)
        return false;
    edo_task *t;
    bool ran = ALLOC_OK(edo_spawn_with(rt, NULL, fn, arg, &t));
    if (ran) {
        CHECK_EQ(alloc_join(t, NULL), 0);
        edo_task_free(t);
    }
    edo_runtime_free(rt);
    return ran;
}

#endif
