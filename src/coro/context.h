/* Machine contexts: the few registers a C function must preserve across a call, saved on the
 * context's own stack, so switching between two stacks is one call and one return.
 *
 * Only callee-saved state is kept (x86-64 SysV: rbx, rbp, r12-r15, rsp, MXCSR and the x87 control
 * word; AAPCS64: x19-x30, sp, d8-d15 and FPCR): a switch is an ordinary function call, so the
 * compiler has already spilled everything else. No system call, no signal mask (that is what
 * makes swapcontext slow).
 */
#ifndef EDO_CORO_CONTEXT_H
#define EDO_CORO_CONTEXT_H

#include <stddef.h>

typedef struct edo__context {
    void *sp; /* the saved stack pointer; the registers are stored just above it */
} edo__context;

/* Saves the running context into *from and resumes *to. Returns when something switches back
 * to *from. */
void edo__context_switch(edo__context *from, edo__context *to);

/* The same switch, carrying a value: *to's side returns `value` from the edo__context_transfer
 * (or edo__context_switch) call it is suspended in. A caller may tail-call it (`return
 * edo__context_transfer(...)`): it is then resumed straight in its own caller. On x86-64 the
 * switch returns with an indirect jump, never a `ret`, so the resumed side pops no entry of the
 * CPU's return-address stack (which holds the other side's calls: each such pop would be a
 * mispredicted return). */
int edo__context_transfer(edo__context *from, edo__context *to, int value);
/* edo__context_transfer for the two directions of a coroutine's switch: resume from its poller
 * into it, suspend from it back to its poller. The same switch, but on x86-64 each is its own
 * copy of the code: the indirect jump that ends a switch then has one usual target per copy
 * (the poll's return point; the coroutine's suspension point), where one shared jump would
 * alternate between the two and leave its prediction to the branch history. */
int edo__context_resume(edo__context *from, edo__context *to, int value);
int edo__context_suspend(edo__context *from, edo__context *to, int value);

/* Prepares *ctx so that the first switch to it calls entry(arg) on the stack whose highest
 * address is `stack_top` (exclusive). `entry` must never return: it ends by switching away for
 * the last time. */
void edo__context_make(edo__context *ctx, void *stack_top, void (*entry)(void *), void *arg);

#endif
