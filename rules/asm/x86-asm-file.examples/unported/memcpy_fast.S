/* memcpy_fast.S: x86-64 only, no aarch64 version anywhere. */
    .text
    .globl memcpy_fast
memcpy_fast:
// ruleid: ARM-ASM-X86-FILE
    movq %rdi, %rax
    movq %rdx, %rcx
    rep movsb
    ret
