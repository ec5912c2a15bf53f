/* The thread's floating-point control state, as the tests of coroutine switches see it: the
 * rounding mode, the exception masks, flush-to-zero (x86-64: MXCSR without its sticky exception
 * flags, and the x87 control word; AArch64: FPCR). */
#ifndef EDO_TEST_FP_CONTROL_H
#define EDO_TEST_FP_CONTROL_H

#include <fenv.h>
#include <stdint.h>

/* The whole control state in one value, to compare. */
static inline uint64_t fp_control(void)
{
#if defined(__x86_64__)
    uint32_t mxcsr;
    uint16_t cw;
    __asm__ volatile("stmxcsr %0\n\tfnstcw %1" : "=m"(mxcsr), "=m"(cw));
    return (uint64_t)(mxcsr & ~0x3fu) | (uint64_t)cw << 32;
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    return fpcr;
#endif
}

/* Sets flush-to-zero (MXCSR.FTZ; FPCR.FZ) on or off. */
static inline void fp_set_flush_to_zero(int on)
{
#if defined(__x86_64__)
    uint32_t mxcsr;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    mxcsr = on ? mxcsr | 0x8000u : mxcsr & ~0x8000u;
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));
#elif defined(__aarch64__)
    uint64_t fpcr;
    __asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
    fpcr = on ? fpcr | (1u << 24) : fpcr & ~(uint64_t)(1u << 24);
    __asm__ volatile("msr fpcr, %0" : : "r"(fpcr));
#endif
}

/* A mode of its own, numbered 1-3 (0: leaves the state as it is): a rounding mode, and for
 * some flush-to-zero and (x86-64, where exceptions can trap) an unmasked division-by-zero
 * exception, which nothing in the tests raises. */
static inline void fp_set_mode(int mode)
{
    switch (mode) {
    case 1:
        fesetround(FE_UPWARD);
        fp_set_flush_to_zero(1);
#if defined(__x86_64__)
        feenableexcept(FE_DIVBYZERO);
#endif
        break;
    case 2:
        fesetround(FE_DOWNWARD);
        break;
    case 3:
        fesetround(FE_TOWARDZERO);
        fp_set_flush_to_zero(1);
        break;
    default:
        break;
    }
}

#endif
