	.globl f
# ruleid: ARM-ASM-X86-FILE
f:	movl $1, %eax
	ret
