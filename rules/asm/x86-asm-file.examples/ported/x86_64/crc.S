    .text
    .globl crc_update
crc_update:
// ported: ARM-ASM-X86-FILE
    crc32q %rsi, %rdi
    movq %rdi, %rax
    ret
