/* Reporting coroutine stack overflows.
 *
 * A coroutine that runs off the bottom of a guarded stack touches its guard page and faults.
 * Without help that is a bare "Segmentation fault" — and the handler could not even run, since
 * the faulting stack has no room left. So every runtime thread gets an alternate signal stack,
 * and a SIGSEGV/SIGBUS handler checks whether the fault hit the guard page of the coroutine
 * running on this thread: then it says so and aborts. Any other fault goes to the handler that
 * was installed before (or the default action), as if edo were not there.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/runtime.h"
#include "coro/coro.h"

#define ALT_STACK_SIZE (64 * 1024)

static struct sigaction previous_segv, previous_bus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
static _Thread_local void *alt_stack; /* ours, when this thread got one from us */

static void write_str(const char *s) { (void)!write(2, s, strlen(s)); }

static void write_num(unsigned long v, int base)
{
    char buf[32];
    int i = sizeof buf;
    do {
        buf[--i] = "0123456789abcdef"[v % (unsigned long)base];
        v /= (unsigned long)base;
    } while (v && i > 0);
    (void)!write(2, buf + i, sizeof buf - (size_t)i);
}

static void on_fault(int sig, siginfo_t *info, void *uctx)
{
    edo__coro *co = edo__coro_running();
    const edo__stack *st = co ? co->stack : NULL;
    char *addr = info->si_addr;
    if (st && st->guard != EDO__GUARD_NONE && addr >= st->map && addr < st->stack_lo) {
        write_str("edo: coroutine stack overflow: a stack of ");
        write_num(st->stack_size, 10);
        write_str(" bytes ran into its guard page at 0x");
        write_num((unsigned long)addr, 16);
        write_str(". Spawn it with a larger stack (edo_spawn_with), or move large locals to the "
                  "heap.\n");
        abort();
    }
    /* Not ours: hand it to whoever was there before, or let the default action happen when
     * the faulting instruction runs again. */
    struct sigaction *prev = sig == SIGSEGV ? &previous_segv : &previous_bus;
    if (prev->sa_flags & SA_SIGINFO) {
        if (prev->sa_sigaction) {
            prev->sa_sigaction(sig, info, uctx);
            return;
        }
    } else if (prev->sa_handler != SIG_DFL && prev->sa_handler != SIG_IGN) {
        prev->sa_handler(sig);
        return;
    }
    signal(sig, SIG_DFL);
}

static void install(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_segv);
    sigaction(SIGBUS, &sa, &previous_bus);
}

void edo__overflow_thread_init(void)
{
    pthread_once(&install_once, install);
    stack_t current;
    if (sigaltstack(NULL, &current) == 0 && !(current.ss_flags & SS_DISABLE))
        return; /* the thread has one already */
    void *mem = malloc(ALT_STACK_SIZE);
    if (!mem)
        return;
    stack_t ss = {.ss_sp = mem, .ss_size = ALT_STACK_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        free(mem);
        return;
    }
    alt_stack = mem;
}

void edo__overflow_thread_exit(void)
{
    if (!alt_stack)
        return;
    stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    free(alt_stack);
    alt_stack = NULL;
}
