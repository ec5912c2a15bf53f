/* The two directions of a coroutine's switch and the first-entry trampoline, for AArch64
 * (AAPCS64). See context.h for the floating-point contract. */
    .text

/* A saved frame, 176 bytes from the saved stack pointer up:
 *   0: x19 x20   16: x21 x22   32: x23 x24   48: x25 x26   64: x27 x28   80: x29 x30
 *  96: d8 d9    112: d10 d11  128: d12 d13  144: d14 d15  160: fpcr    168: (pad)
 * Both directions save and restore the same frame; they differ in what goes into fpcr's slot. */
.macro EDO_SAVE_REGS
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
.endm

/* Saves the stack pointer into *x0, moves to the one saved in *x1 and loads its frame, except
 * fpcr; leaves that frame's fpcr slot in x9. */
.macro EDO_SWITCH_STACK_AND_RESTORE
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
    ldr x9, [sp, #160]
.endm

/* Writing FPCR can stall the pipeline and the two sides almost always agree on it: it is
 * written only when x9 (the arriving side's) differs from x10 (what FPCR holds now). */
.macro EDO_FPCR_AND_RETURN
    cmp x9, x10
    b.eq 1f
    msr fpcr, x9
1:
    add sp, sp, #176
    .cfi_adjust_cfa_offset -176
    mov w0, w2                  /* the value, returned on the other side */
    ret
    .cfi_endproc
.endm

/* int edo__context_resume(edo__context *from [x0], edo__context *to [x1], int value [w2],
 *                         const edo__fp_state *baseline [x3])
 * The poller's side: its FPCR is not read (mrs), it is the baseline by contract, and the
 * baseline is what goes into its frame, for the suspension to put back. */
    .globl edo__context_resume
    .type edo__context_resume, %function
    .p2align 4
edo__context_resume:
    EDO_SAVE_REGS
    ldr x10, [x3]
    str x10, [sp, #160]
    EDO_SWITCH_STACK_AND_RESTORE
    EDO_FPCR_AND_RETURN
    .size edo__context_resume, .-edo__context_resume

/* int edo__context_suspend(edo__context *from [x0], edo__context *to [x1], int value [w2])
 * The coroutine's side: its FPCR is kept in its frame (its own across suspensions and moves),
 * and the baseline that the poller left in its frame is written back when they differ. */
    .globl edo__context_suspend
    .type edo__context_suspend, %function
    .p2align 4
edo__context_suspend:
    EDO_SAVE_REGS
    mrs x10, fpcr
    str x10, [sp, #160]
    EDO_SWITCH_STACK_AND_RESTORE
    EDO_FPCR_AND_RETURN
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
