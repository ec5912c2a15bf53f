/* Building a context's first frame (the same layout the switch restores, with the trampoline as
 * return address and entry/arg in registers the trampoline reads), and the thread's
 * floating-point baseline. */
#include "coro/context.h"

#include <string.h>

_Thread_local EDO__TLS_HOT edo__fp_state edo__fp_thread_baseline;

void edo__context_trampoline(void);

void edo__fp_read(edo__fp_state *fp)
{
#if defined(__x86_64__)
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(fp->mxcsr), "=m"(fp->x87_cw));
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fp->fpcr = fpcr;
#endif
    fp->known = true;
}

void edo__fp_baseline_read(void) { edo__fp_read(&edo__fp_thread_baseline); }

void edo__context_make(edo__context *ctx, void *stack_top, void (*entry)(void *), void *arg)
{
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
    const edo__fp_state *fp = edo__fp_baseline();
#if defined(__x86_64__)
    /* From low to high: MXCSR + x87 CW (8), r15, r14, r13, r12, rbx, rbp, return address. The
     * trampoline starts with rsp == top, 16-byte aligned, as the ABI wants before a call. */
    uint64_t *frame = (uint64_t *)(top - 8 * 8);
    memset(frame, 0, 8 * 8);
    memcpy((char *)frame, &fp->mxcsr, sizeof fp->mxcsr);
    memcpy((char *)frame + 4, &fp->x87_cw, sizeof fp->x87_cw);
    frame[3] = (uint64_t)(uintptr_t)arg;   /* r13 */
    frame[4] = (uint64_t)(uintptr_t)entry; /* r12 */
    frame[7] = (uint64_t)(uintptr_t)edo__context_trampoline;
    ctx->sp = frame;
#elif defined(__aarch64__)
    uint64_t *frame = (uint64_t *)(top - 176);
    memset(frame, 0, 176);
    frame[0] = (uint64_t)(uintptr_t)entry;                  /* x19 */
    frame[1] = (uint64_t)(uintptr_t)arg;                    /* x20 */
    frame[11] = (uint64_t)(uintptr_t)edo__context_trampoline; /* x30 */
    frame[20] = fp->fpcr;
    ctx->sp = frame;
#else
#error "edo: no context switch for this architecture yet"
#endif
}
