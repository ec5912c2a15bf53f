/* The bare context switch: entry, ping-pong, preserved floating-point state, deep stacks. The
 * main side resumes, the context suspends, as a poller and its coroutine. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coro/context.h"
#include "fp_control.h"
#include "harness.h"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0u
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

/* Filled by the register check below (written from assembly, hence not static). */
extern uint64_t edo_test_regs_out[18];
extern uint64_t edo_test_regs_base;

#define STACK_SIZE (256 * 1024)

static edo__context main_ctx, coro_ctx;
static int counter;

static void resume_coro(void)
{
    (void)edo__context_resume(&main_ctx, &coro_ctx, 0, edo__fp_baseline());
}
static void suspend_coro(void) { (void)edo__context_suspend(&coro_ctx, &main_ctx, 0); }

static void count_entry(void *arg)
{
    int *step = arg;
    for (;;) {
        counter += *step;
        suspend_coro();
    }
}

TEST(switch_ping_pong)
{
    char *stack = malloc(STACK_SIZE);
    int step = 3;
    counter = 0;
    edo__context_make(&coro_ctx, stack + STACK_SIZE, count_entry, &step);
    for (int i = 1; i <= 1000; i++) {
        resume_coro();
        CHECK_EQ(counter, 3 * i);
    }
    free(stack);
}

/* Callee-saved registers survive: values live across switches in both contexts. */
static void mix_entry(void *arg)
{
    volatile double acc = *(double *)arg;
    long sum = 0;
    for (int i = 0; i < 100; i++) {
        acc = acc * 1.5 + i;
        sum += i;
        suspend_coro();
    }
    *(double *)arg = acc + (double)sum;
    suspend_coro();
    abort(); /* never resumed again */
}

TEST(switch_preserves_values)
{
    char *stack = malloc(STACK_SIZE);
    double shared = 1.0;
    edo__context_make(&coro_ctx, stack + STACK_SIZE, mix_entry, &shared);
    double expect_acc = 1.0;
    long mine = 0;
    for (int i = 0; i < 100; i++) {
        long before = mine;
        resume_coro();
        mine = before + i * 7;
        expect_acc = expect_acc * 1.5 + i;
    }
    resume_coro();
    CHECK(shared == expect_acc + 4950.0);
    CHECK_EQ(mine, 7 * 4950);
    free(stack);
}

/* The floating-point control state: a new context starts with the poller's baseline, keeps a
 * mode of its own across suspensions, and the poller gets its baseline back at every
 * suspension. Run on a thread of its own that sets a mode before its baseline is first read,
 * so that the baseline is not the process's default. */
static uint64_t coro_fp_first, coro_fp_own, coro_fp_resumed;
static void fenv_entry(void *arg)
{
    (void)arg;
    coro_fp_first = fp_control();
    feraiseexcept(FE_INEXACT); /* a sticky flag as well: the switch compares control bits */
    fp_set_mode(1);
    coro_fp_own = fp_control();
    suspend_coro();
    coro_fp_resumed = fp_control();
    fp_set_mode(3); /* changed again: the new mode is kept */
    coro_fp_own = fp_control();
    suspend_coro();
    coro_fp_resumed = fp_control();
    suspend_coro();
    abort();
}

static void *fenv_poller(void *arg)
{
    (void)arg;
    fp_set_mode(2);
    uint64_t baseline = fp_control();
    char *stack = malloc(STACK_SIZE);
    /* Told to valgrind: on a thread other than the main one, malloc's arena may lie close
     * enough to the thread's stack that valgrind takes the switch for a move within it (and
     * its memory below the stack pointer for unusable). */
    unsigned valgrind_id = VALGRIND_STACK_REGISTER(stack, stack + STACK_SIZE);
    edo__context_make(&coro_ctx, stack + STACK_SIZE, fenv_entry, NULL);
    resume_coro();
    CHECK_EQ(coro_fp_first, baseline);
    CHECK(coro_fp_own != baseline);
    CHECK_EQ(fp_control(), baseline);
    uint64_t own = coro_fp_own;
    resume_coro();
    CHECK_EQ(coro_fp_resumed, own);
    CHECK(coro_fp_own != own);
    CHECK_EQ(fp_control(), baseline);
    own = coro_fp_own;
    resume_coro();
    CHECK_EQ(coro_fp_resumed, own);
    CHECK_EQ(fp_control(), baseline);
    VALGRIND_STACK_DEREGISTER(valgrind_id);
    free(stack);
    return NULL;
}

TEST(switch_keeps_fp_control_per_context)
{
    pthread_t th;
    CHECK_EQ(pthread_create(&th, NULL, fenv_poller, NULL), 0);
    CHECK_EQ(pthread_join(th, NULL), 0);
}

/* Deep recursion on the coroutine's stack, near its size. */
static long recurse(int depth)
{
    volatile unsigned char pad[512];
    memset((unsigned char *)pad, depth & 0xff, sizeof pad);
    if (depth == 0)
        return pad[0];
    return recurse(depth - 1) + pad[1];
}

static long deep_result;
static void deep_entry(void *arg)
{
    deep_result = recurse(*(int *)arg);
    suspend_coro();
    abort();
}

TEST(switch_deep_recursion)
{
    char *stack = malloc(STACK_SIZE);
    int depth = 300; /* ~300 frames of >512 bytes: most of 256 KiB */
    edo__context_make(&coro_ctx, stack + STACK_SIZE, deep_entry, &depth);
    resume_coro();
    long expect = 0;
    for (int d = 1; d <= depth; d++)
        expect += d & 0xff;
    CHECK_EQ(deep_result, expect);
    free(stack);
}

/* ---- every callee-saved register survives a switch, checked in assembly (the compiler may keep
 * nothing of interest in some of them otherwise); the coroutine overwrites the same registers
 * each time. */
uint64_t edo_test_regs_out[18];

#if defined(__aarch64__)
#define XREGS "x19", "x20", "x21", "x22", "x23", "x24", "x25", "x26", "x27", "x28"
#define DREGS "d8", "d9", "d10", "d11", "d12", "d13", "d14", "d15"
#define CALLER_SAVED                                                                            \
    "x4", "x5", "x6", "x7", "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15",         \
        "x16", "x17", "x18", "x30", "v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7", "v16",      \
        "v17", "v18", "v19", "v20", "v21", "v22", "v23", "v24", "v25", "v26", "v27", "v28",    \
        "v29", "v30", "v31", "cc", "memory"
/* Loads each register with a value derived from `base`, switches with `fn` (the resume takes
 * `fp` as the poller's baseline; the suspension ignores it), stores them all. */
#define MARKED_SWITCH(name, fn)                                                                 \
    static void name(edo__context *from, edo__context *to, uint64_t base,                       \
                     const edo__fp_state *fp)                                                   \
    {                                                                                           \
        register edo__context *x0 __asm__("x0") = from;                                         \
        register edo__context *x1 __asm__("x1") = to;                                           \
        register uint64_t x2 __asm__("x2") = base;                                              \
        register const edo__fp_state *x3 __asm__("x3") = fp;                                    \
        __asm__ volatile(                                                                       \
            "add x19, x2, #19\n add x20, x2, #20\n add x21, x2, #21\n add x22, x2, #22\n"       \
            "add x23, x2, #23\n add x24, x2, #24\n add x25, x2, #25\n add x26, x2, #26\n"       \
            "add x27, x2, #27\n add x28, x2, #28\n"                                             \
            "add x9, x2, #8\n  fmov d8, x9\n  add x9, x2, #9\n  fmov d9, x9\n"                   \
            "add x9, x2, #10\n fmov d10, x9\n add x9, x2, #11\n fmov d11, x9\n"                 \
            "add x9, x2, #12\n fmov d12, x9\n add x9, x2, #13\n fmov d13, x9\n"                 \
            "add x9, x2, #14\n fmov d14, x9\n add x9, x2, #15\n fmov d15, x9\n"                 \
            "bl " fn "\n"                                                                       \
            "adrp x9, edo_test_regs_out\n add x9, x9, :lo12:edo_test_regs_out\n"                \
            "stp x19, x20, [x9, #0]\n  stp x21, x22, [x9, #16]\n stp x23, x24, [x9, #32]\n"     \
            "stp x25, x26, [x9, #48]\n stp x27, x28, [x9, #64]\n"                               \
            "stp d8, d9, [x9, #80]\n   stp d10, d11, [x9, #96]\n stp d12, d13, [x9, #112]\n"    \
            "stp d14, d15, [x9, #128]\n"                                                        \
            : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)                                            \
            :                                                                                   \
            : XREGS, DREGS, CALLER_SAVED);                                                      \
    }
static const int first_reg[18] = {19, 20, 21, 22, 23, 24, 25, 26, 27, 28,
                                  8,  9,  10, 11, 12, 13, 14, 15};
#define HAVE_REG_CHECK 1
#endif

#if defined(__x86_64__)
/* rbp is left out: it may be the frame pointer, which inline asm cannot claim. The stack is
 * realigned around the call (and the red zone skipped), the original rsp kept on the stack. */
uint64_t edo_test_regs_base; /* read from assembly, RIP-relative: no register needed */

/* Loads each register with a value derived from `base`, switches with `fn` (the resume takes
 * `fp` as the poller's baseline; the suspension ignores it), stores them all. */
#define MARKED_SWITCH(name, fn)                                                                 \
    static void name(edo__context *from, edo__context *to, uint64_t base,                       \
                     const edo__fp_state *fp)                                                   \
    {                                                                                           \
        edo_test_regs_base = base;                                                              \
        __asm__ volatile("movq edo_test_regs_base(%%rip), %%rbx\n addq $1, %%rbx\n"             \
                         "movq edo_test_regs_base(%%rip), %%r12\n addq $12, %%r12\n"            \
                         "movq edo_test_regs_base(%%rip), %%r13\n addq $13, %%r13\n"            \
                         "movq edo_test_regs_base(%%rip), %%r14\n addq $14, %%r14\n"            \
                         "movq edo_test_regs_base(%%rip), %%r15\n addq $15, %%r15\n"            \
                         "movq %%rsp, %%rax\n subq $256, %%rsp\n andq $-16, %%rsp\n"           \
                         "pushq %%rax\n pushq %%rax\n"                                          \
                         "call " fn "\n"                                                        \
                         "movq %%rbx, edo_test_regs_out+0(%%rip)\n"                             \
                         "movq %%r12, edo_test_regs_out+8(%%rip)\n"                             \
                         "movq %%r13, edo_test_regs_out+16(%%rip)\n"                            \
                         "movq %%r14, edo_test_regs_out+24(%%rip)\n"                            \
                         "movq %%r15, edo_test_regs_out+32(%%rip)\n"                            \
                         "popq %%rax\n popq %%rsp\n"                                            \
                         : "+D"(from), "+S"(to), "+c"(fp)                                       \
                         :                                                                      \
                         : "rax", "rbx", "rdx", "r8", "r9", "r10", "r11", "r12", "r13", "r14",  \
                           "r15", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",       \
                           "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13",          \
                           "xmm14", "xmm15", "cc", "memory");                                   \
    }
static const int first_reg[5] = {1, 12, 13, 14, 15};
#define NREGS 5
#define HAVE_REG_CHECK 1
#elif defined(HAVE_REG_CHECK)
#define NREGS 18
#endif

#ifdef HAVE_REG_CHECK
MARKED_SWITCH(resume_with_marked_regs, "edo__context_resume")
MARKED_SWITCH(suspend_with_marked_regs, "edo__context_suspend")

static void marked_entry(void *arg)
{
    (void)arg;
    for (uint64_t round = 1;; round++)
        suspend_with_marked_regs(&coro_ctx, &main_ctx, 0xc0de000000000000ull + (round << 8),
                                 NULL);
}

TEST(switch_restores_every_callee_saved_register)
{
    enum { SZ = 64 * 1024 };
    char *stack = malloc(SZ);
    memset(edo_test_regs_out, 0, sizeof edo_test_regs_out);
    edo__context_make(&coro_ctx, stack + SZ, marked_entry, NULL);
    for (uint64_t round = 1; round <= 3; round++) {
        uint64_t base = 0x5a17000000000000ull + (round << 8);
        resume_with_marked_regs(&main_ctx, &coro_ctx, base, edo__fp_baseline());
        for (int i = 0; i < NREGS; i++)
            CHECK_EQ(edo_test_regs_out[i], base + (uint64_t)first_reg[i]);
    }
    free(stack);
}
#endif
