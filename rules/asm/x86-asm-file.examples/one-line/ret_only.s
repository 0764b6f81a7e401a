	.globl g
# ok: ARM-ASM-X86-FILE
g:	ret
