/* Building a context's first frame: the same layout edo__context_switch restores, with the
 * trampoline as return address and entry/arg in registers the trampoline reads. */
#include "coro/context.h"

#include <stdint.h>
#include <string.h>

void edo__context_trampoline(void);

void edo__context_make(edo__context *ctx, void *stack_top, void (*entry)(void *), void *arg)
{
    uintptr_t top = (uintptr_t)stack_top & ~(uintptr_t)15;
#if defined(__x86_64__)
    /* From low to high: MXCSR + x87 CW (8), r15, r14, r13, r12, rbx, rbp, return address. The
     * trampoline starts with rsp == top, 16-byte aligned, as the ABI wants before a call. */
    uint64_t *frame = (uint64_t *)(top - 8 * 8);
    memset(frame, 0, 8 * 8);
    uint32_t fpu[2] = {0x1f80u /* MXCSR: all exceptions masked, round to nearest */,
                       0x037fu /* x87: the same, extended precision */};
    memcpy(&frame[0], fpu, sizeof fpu);
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
    ctx->sp = frame;
#else
#error "edo: no context switch for this architecture yet"
#endif
}
