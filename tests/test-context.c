/* The bare context switch: entry, ping-pong, preserved floating-point state, deep stacks. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "coro/context.h"
#include "harness.h"

#define STACK_SIZE (256 * 1024)

static edo__context main_ctx, coro_ctx;
static int counter;

static void count_entry(void *arg)
{
    int *step = arg;
    for (;;) {
        counter += *step;
        edo__context_switch(&coro_ctx, &main_ctx);
    }
}

TEST(switch_ping_pong)
{
    char *stack = malloc(STACK_SIZE);
    int step = 3;
    counter = 0;
    edo__context_make(&coro_ctx, stack + STACK_SIZE, count_entry, &step);
    for (int i = 1; i <= 1000; i++) {
        edo__context_switch(&main_ctx, &coro_ctx);
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
        edo__context_switch(&coro_ctx, &main_ctx);
    }
    *(double *)arg = acc + (double)sum;
    edo__context_switch(&coro_ctx, &main_ctx);
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
        edo__context_switch(&main_ctx, &coro_ctx);
        mine = before + i * 7;
        expect_acc = expect_acc * 1.5 + i;
    }
    edo__context_switch(&main_ctx, &coro_ctx);
    CHECK(shared == expect_acc + 4950.0);
    CHECK_EQ(mine, 7 * 4950);
    free(stack);
}

/* A new context starts with the default floating-point environment, and each context keeps
 * its own rounding mode. */
#include <fenv.h>
static int coro_round;
static void fenv_entry(void *arg)
{
    (void)arg;
    coro_round = fegetround();
    fesetround(FE_UPWARD);
    edo__context_switch(&coro_ctx, &main_ctx);
    coro_round = fegetround();
    edo__context_switch(&coro_ctx, &main_ctx);
    abort();
}

TEST(switch_keeps_fp_control_per_context)
{
    char *stack = malloc(STACK_SIZE);
    fesetround(FE_TOWARDZERO);
    edo__context_make(&coro_ctx, stack + STACK_SIZE, fenv_entry, NULL);
    edo__context_switch(&main_ctx, &coro_ctx);
    CHECK_EQ(coro_round, FE_TONEAREST);
    CHECK_EQ(fegetround(), FE_TOWARDZERO);
    edo__context_switch(&main_ctx, &coro_ctx);
    CHECK_EQ(coro_round, FE_UPWARD);
    CHECK_EQ(fegetround(), FE_TOWARDZERO);
    fesetround(FE_TONEAREST);
    free(stack);
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
    edo__context_switch(&coro_ctx, &main_ctx);
    abort();
}

TEST(switch_deep_recursion)
{
    char *stack = malloc(STACK_SIZE);
    int depth = 300; /* ~300 frames of >512 bytes: most of 256 KiB */
    edo__context_make(&coro_ctx, stack + STACK_SIZE, deep_entry, &depth);
    edo__context_switch(&main_ctx, &coro_ctx);
    long expect = 0;
    for (int d = 1; d <= depth; d++)
        expect += d & 0xff;
    CHECK_EQ(deep_result, expect);
    free(stack);
}
