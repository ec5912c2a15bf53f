/* Machine contexts: the few registers a C function must preserve across a call, saved on the
 * context's own stack, so switching between two stacks is one call and one return.
 *
 * Only callee-saved state is kept (x86-64 SysV: rbx, rbp, r12-r15, rsp, MXCSR and the x87 control
 * word; AAPCS64: x19-x30, sp, d8-d15 and FPCR): a switch is an ordinary function call, so the
 * compiler has already spilled everything else. No system call, no signal mask (that is what
 * makes swapcontext slow).
 *
 * The floating-point control state (rounding mode, exception masks, flush-to-zero) is a
 * coroutine's own, and its poller's is the thread's *baseline* (edo__fp_baseline), which every
 * function the poller calls must leave as it found it, as the ABI asks of any function not
 * meant to change it: a future's poll, and so a coroutine's poll, returns with the baseline
 * in place. So the state is read once per round trip, not once per switch (reading it costs
 * more than the rest of a switch's stores): a resume reads nothing of the poller's state and
 * loads the coroutine's only when it differs from the baseline; a suspension reads the
 * coroutine's state into its frame and loads the baseline only when the two differ. "Differ"
 * counts control bits only: MXCSR's sticky exception flags are status, which the ABI does not
 * preserve across calls either, and comparing them made every switch load once a thread had
 * computed anything inexact (1.0 / 3) before it polled. (FPCR holds no status: that is FPSR.)
 */
#ifndef EDO_CORO_CONTEXT_H
#define EDO_CORO_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "platform/tls.h"

typedef struct edo__context {
    void *sp; /* the saved stack pointer; the registers are stored just above it */
} edo__context;

/* A floating-point control state, as a switch's frame keeps it. */
typedef struct edo__fp_state {
#if defined(__x86_64__)
    uint32_t mxcsr;
    uint16_t x87_cw;
#elif defined(__aarch64__)
    uint64_t fpcr;
#endif
    bool known; /* in a thread's baseline: read already (the switch ignores this field) */
} edo__fp_state;

/* The calling thread's baseline, zero until edo__fp_baseline first reads it. */
extern _Thread_local EDO__TLS_HOT edo__fp_state edo__fp_thread_baseline;

/* Reads the calling thread's floating-point control state into *fp. */
void edo__fp_read(edo__fp_state *fp);

/* Makes the calling thread's current floating-point control state its baseline: at its first
 * edo__fp_baseline, and again whenever a thread that runs user code between its polls (a thread
 * driving a current-thread runtime) starts polling. */
void edo__fp_baseline_read(void);

/* The calling thread's baseline: its floating-point control state when it first asked. The
 * address is this thread's: not to be kept across a suspension. */
static inline const edo__fp_state *edo__fp_baseline(void)
{
    if (__builtin_expect(!edo__fp_thread_baseline.known, 0))
        edo__fp_baseline_read();
    return &edo__fp_thread_baseline;
}

/* The two directions of a coroutine's switch, each carrying a value: edo__context_resume, from
 * the poller into the coroutine (*to's side returns `value` from the edo__context_suspend call it
 * is suspended in, or starts in its entry), and edo__context_suspend, from the coroutine back to
 * the poller (*to's side returns `value` from its edo__context_resume). Each saves the running
 * context into *from and returns when something switches back to *from.
 *
 * `baseline` is the poller's floating-point control state, which must be the thread's state
 * when it resumes: the thread's baseline (edo__fp_baseline()), or where the poller's state may
 * be another (a coroutine polling one, a drop on any thread) that state read now
 * (edo__fp_read). The coroutine gets its own state back, and the suspension puts `baseline`
 * back. A context must always be resumed with edo__context_resume
 * and left with edo__context_suspend (a frame saved by one is restored by the other).
 *
 * A caller may tail-call either (`return edo__context_suspend(...)`): it is then resumed
 * straight in its own caller. On x86-64 both return with an indirect jump, never a `ret`, so the
 * resumed side pops no entry of the CPU's return-address stack (which holds the other side's
 * calls: each such pop would be a mispredicted return); and each direction is its own code, so
 * its final jump has one usual target (the poll's return point; the coroutine's suspension
 * point), where one shared jump would alternate between the two. */
int edo__context_resume(edo__context *from, edo__context *to, int value,
                        const edo__fp_state *baseline);
int edo__context_suspend(edo__context *from, edo__context *to, int value);

/* Prepares *ctx so that the first edo__context_resume of it calls entry(arg) on the stack whose
 * highest address is `stack_top` (exclusive), with the calling thread's baseline as its
 * floating-point control state. `entry` must never return: it ends by switching away for the
 * last time. */
void edo__context_make(edo__context *ctx, void *stack_top, void (*entry)(void *), void *arg);

#endif
