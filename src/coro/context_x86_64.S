/* The two directions of a coroutine's switch and the first-entry trampoline, for x86-64
 * (System V ABI). See context.h for the floating-point contract. */
    .text

/* MXCSR less its sticky exception flags (bits 0-5): pairs are compared on these bits alone.
 * The flags are status, which the ABI does not preserve across calls, and almost any
 * floating-point code sets one (inexact: 1.0 / 3): compared too, a coroutine that computes, or
 * a thread that computed before it polled, would load on every switch. */
    .set EDO_MXCSR_CONTROL, 0xffffffc0

/* A saved frame, 64 bytes from the saved stack pointer up: the floating-point control pair
 * (MXCSR at 0, x87 control word at 4), r15, r14, r13, r12, rbx, rbp, the return address. Both
 * directions save and restore the same frame; they differ in what goes into the pair. */
.macro EDO_SAVE_REGS
    pushq %rbp
    .cfi_adjust_cfa_offset 8
    pushq %rbx
    .cfi_adjust_cfa_offset 8
    pushq %r12
    .cfi_adjust_cfa_offset 8
    pushq %r13
    .cfi_adjust_cfa_offset 8
    pushq %r14
    .cfi_adjust_cfa_offset 8
    pushq %r15
    .cfi_adjust_cfa_offset 8
    subq $8, %rsp
    .cfi_adjust_cfa_offset 8
.endm

/* Pops the frame at %rsp and jumps to its return address; a switch that found the pair at
 * %rsp must be loaded (it differs from what the thread has) jumps to `2f` first. The jump is
 * indirect, not a `ret`: the return-stack predictor still holds the caller on the stack we
 * left, so a `ret` here always mispredicts, while the indirect predictor learns the switch's
 * usual target (a round trip fell from ~38 to ~11 ns). */
.macro EDO_FINISH
1:
    addq $8, %rsp
    .cfi_adjust_cfa_offset -8
    popq %r15
    .cfi_adjust_cfa_offset -8
    popq %r14
    .cfi_adjust_cfa_offset -8
    popq %r13
    .cfi_adjust_cfa_offset -8
    popq %r12
    .cfi_adjust_cfa_offset -8
    popq %rbx
    .cfi_adjust_cfa_offset -8
    popq %rbp
    .cfi_adjust_cfa_offset -8
    popq %rcx
    .cfi_adjust_cfa_offset -8
    jmp *%rcx
2:
    .cfi_adjust_cfa_offset 64
    ldmxcsr (%rsp)
    fldcw 4(%rsp)
    jmp 1b
    .cfi_endproc
.endm

/* int edo__context_resume(edo__context *from [rdi], edo__context *to [rsi], int value [edx],
 *                         const edo__fp_state *baseline [rcx])
 * The poller's side. Its own pair is not read (no stmxcsr): it is the baseline, by contract,
 * and the baseline is what goes into its frame, for the suspension to put back. The
 * coroutine's saved pair is loaded only when its control bits differ from the baseline's:
 * loading serialises the pipeline, and coroutines almost never change them. */
    .globl edo__context_resume
    .type edo__context_resume, @function
    .p2align 4
edo__context_resume:
    .cfi_startproc
    EDO_SAVE_REGS
    movl (%rcx), %r8d           /* the baseline: MXCSR, */
    movzwl 4(%rcx), %r9d        /* x87 control word */
    movl %r8d, (%rsp)
    movw %r9w, 4(%rsp)
    movq %rsp, (%rdi)
    movq (%rsi), %rsp           /* now on the coroutine's stack */
    movl %edx, %eax             /* the value, returned on the coroutine's side */
    movl (%rsp), %r10d
    xorl %r8d, %r10d
    testl $EDO_MXCSR_CONTROL, %r10d
    jnz 2f
    cmpw 4(%rsp), %r9w
    jne 2f
    EDO_FINISH
    .size edo__context_resume, .-edo__context_resume

/* int edo__context_suspend(edo__context *from [rdi], edo__context *to [rsi], int value [edx])
 * The coroutine's side. Its pair is read and kept in its frame (it is its own across
 * suspensions and moves), and the baseline the poller left in its frame is loaded when their
 * control bits differ. */
    .globl edo__context_suspend
    .type edo__context_suspend, @function
    .p2align 4
edo__context_suspend:
    .cfi_startproc
    /* Read first, straight into the pair's place in the frame (below the stack pointer yet:
     * the red zone), so that the comparison's loads come a dozen instructions after these
     * stores rather than right behind them (bench `switch`: ~4% off a round trip). */
    stmxcsr -56(%rsp)
    fnstcw -52(%rsp)
    EDO_SAVE_REGS
    movq %rsp, (%rdi)
    movq %rsp, %r8              /* the coroutine's pair, compared below */
    movq (%rsi), %rsp           /* now on the poller's stack */
    movl %edx, %eax             /* the value, returned on the poller's side */
    movl (%rsp), %r9d
    xorl (%r8), %r9d
    testl $EDO_MXCSR_CONTROL, %r9d
    jnz 2f
    movzwl 4(%rsp), %r9d
    cmpw 4(%r8), %r9w
    jne 2f
    EDO_FINISH
    .size edo__context_suspend, .-edo__context_suspend

/* First entry of a new context: edo__context_make left entry in r12 and its argument in r13.
 * The return address is undefined so debuggers end a coroutine's backtrace here. */
    .globl edo__context_trampoline
    .type edo__context_trampoline, @function
    .p2align 4
edo__context_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    movq %r13, %rdi
    callq *%r12
    ud2                         /* entry must never return */
    .cfi_endproc
    .size edo__context_trampoline, .-edo__context_trampoline

    .section .note.GNU-stack,"",@progbits
