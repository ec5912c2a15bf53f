/* edo__context_switch and the first-entry trampoline for AArch64 (AAPCS64). */
    .text

/* Frame saved below the stack pointer, 176 bytes:
 *   0: x19 x20   16: x21 x22   32: x23 x24   48: x25 x26   64: x27 x28   80: x29 x30
 *  96: d8 d9    112: d10 d11  128: d12 d13  144: d14 d15  160: fpcr    168: (pad) */

/* int edo__context_transfer(edo__context *from [x0], edo__context *to [x1], int value [w2])
 * edo__context_switch, edo__context_resume and edo__context_suspend are the same code (on
 * x86-64 the last two are copies, for the branch predictors; see context.h). */
    .globl edo__context_resume
    .type edo__context_resume, %function
    .globl edo__context_suspend
    .type edo__context_suspend, %function
    .globl edo__context_transfer
    .type edo__context_transfer, %function
    .globl edo__context_switch
    .type edo__context_switch, %function
    .p2align 4
edo__context_resume:
edo__context_suspend:
edo__context_transfer:
edo__context_switch:
    .cfi_startproc
    sub sp, sp, #176
    .cfi_adjust_cfa_offset 176
    stp x19, x20, [sp, #0]
    stp x21, x22, [sp, #16]
    stp x23, x24, [sp, #32]
    stp x25, x26, [sp, #48]
    stp x27, x28, [sp, #64]
    stp x29, x30, [sp, #80]
    stp d8, d9, [sp, #96]
    stp d10, d11, [sp, #112]
    stp d12, d13, [sp, #128]
    stp d14, d15, [sp, #144]
    mrs x10, fpcr
    str x10, [sp, #160]         /* x10 keeps it for the comparison below */
    mov x9, sp
    str x9, [x0]
    ldr x9, [x1]
    mov sp, x9                  /* now on the other stack */
    ldp x19, x20, [sp, #0]
    ldp x21, x22, [sp, #16]
    ldp x23, x24, [sp, #32]
    ldp x25, x26, [sp, #48]
    ldp x27, x28, [sp, #64]
    ldp x29, x30, [sp, #80]
    ldp d8, d9, [sp, #96]
    ldp d10, d11, [sp, #112]
    ldp d12, d13, [sp, #128]
    ldp d14, d15, [sp, #144]
    /* Writing FPCR can stall the pipeline and the two contexts almost always agree on it:
     * write it only when they differ. */
    ldr x9, [sp, #160]
    cmp x9, x10
    b.eq 1f
    msr fpcr, x9
1:
    add sp, sp, #176
    .cfi_adjust_cfa_offset -176
    mov w0, w2                  /* the value, returned on the other side */
    ret
    .cfi_endproc
    .size edo__context_transfer, .-edo__context_transfer
    .size edo__context_switch, .-edo__context_switch
    .size edo__context_resume, .-edo__context_resume
    .size edo__context_suspend, .-edo__context_suspend

/* First entry of a new context: edo__context_make left entry in x19 and its argument in x20.
 * The return address is undefined so debuggers end a coroutine's backtrace here. */
    .globl edo__context_trampoline
    .type edo__context_trampoline, %function
    .p2align 4
edo__context_trampoline:
    .cfi_startproc
    .cfi_undefined x30
    mov x0, x20
    blr x19
    brk #0                      /* entry must never return */
    .cfi_endproc
    .size edo__context_trampoline, .-edo__context_trampoline

    .section .note.GNU-stack,"",%progbits
