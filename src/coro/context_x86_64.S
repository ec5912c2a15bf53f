/* edo__context_switch and the first-entry trampoline for x86-64 (System V ABI). */
    .text

/* int edo__context_transfer(edo__context *from [rdi], edo__context *to [rsi], int value [edx])
 * edo__context_switch is the same code, its value unused. edo__context_resume and
 * edo__context_suspend are copies of it too (see context.h): each copy's final indirect jump
 * has its own entry in the CPU's branch predictors, so the two directions of a coroutine's
 * switch do not share one jump whose target alternates between the poller and the coroutine. */
.macro EDO_SWITCH_BODY
    .cfi_startproc
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
    subq $8, %rsp               /* MXCSR at 0, x87 control word at 4 */
    .cfi_adjust_cfa_offset 8
    stmxcsr (%rsp)
    fnstcw 4(%rsp)
    movl (%rsp), %r8d           /* keep this context's pair for the comparison below */
    movzwl 4(%rsp), %r9d
    movq %rsp, (%rdi)
    movq (%rsi), %rsp           /* now on the other stack */
    movl %edx, %eax             /* the value, returned on the other side */
    /* Loading MXCSR and the x87 control word is slow (ldmxcsr serialises the pipeline) and the
     * two contexts almost always agree on them: load only when they differ. */
    cmpl (%rsp), %r8d
    jne 2f
    cmpw 4(%rsp), %r9w
    jne 2f
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
    /* Return with an indirect jump, not `ret`: the return-stack predictor still holds the
     * caller on the stack we left, so a `ret` here always mispredicts, while the indirect
     * predictor learns the switch's usual targets (a round trip fell from ~38 to ~11 ns). */
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

    .globl edo__context_transfer
    .type edo__context_transfer, @function
    .globl edo__context_switch
    .type edo__context_switch, @function
    .p2align 4
edo__context_transfer:
edo__context_switch:
    EDO_SWITCH_BODY
    .size edo__context_transfer, .-edo__context_transfer
    .size edo__context_switch, .-edo__context_switch

    .globl edo__context_resume
    .type edo__context_resume, @function
    .p2align 4
edo__context_resume:
    EDO_SWITCH_BODY
    .size edo__context_resume, .-edo__context_resume

    .globl edo__context_suspend
    .type edo__context_suspend, @function
    .p2align 4
edo__context_suspend:
    EDO_SWITCH_BODY
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
