# ruleid: ARM-ASM-X86-FILE
jmp *%rax
