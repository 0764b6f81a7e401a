    .text
    .globl crc_update
crc_update:
// ok: ARM-ASM-X86-FILE
    crc32cx w0, w0, x1
    ret
