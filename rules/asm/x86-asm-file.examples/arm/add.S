    .text
    .globl add2
add2:
// ok: ARM-ASM-X86-FILE
    add x0, x0, x1
    ret
