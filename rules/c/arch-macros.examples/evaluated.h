/* Conditions judged by the branch the aarch64 compiler takes. */
#ifndef __x86_64__
// ruleid: ARM-C-ARCH-ERROR
// ok: ARM-C-ARCH-X86-ONLY-FILE
#  error "x86-64 only"
#endif

// ruleid: ARM-C-ARCH-FALLBACK
#if defined(__x86_64__)
#  define WORD_BITS 64
#elif SIZE_MAX == UINT64_MAX
#  define WORD_BITS 64
#endif

// ok: ARM-C-ARCH-NO-ARM-BRANCH, ARM-C-ARCH-FALLBACK, ARM-C-ARCH-FEATURE-ONLY
#if defined(__powerpc64__)
#  if defined(__x86_64__)
#    define NEVER 1
#  endif
#endif
