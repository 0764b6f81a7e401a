/* A file named for x86 that refuses every other architecture: an x86 variant the aarch64 build leaves out. */
#if !(defined(__x86_64__) || defined(__i386__))
// ruleid: ARM-C-ARCH-X86-ONLY-FILE
// ok: ARM-C-ARCH-ERROR
#  error "x86_dispatch.c is only for x86"
#endif

#include <emmintrin.h>
