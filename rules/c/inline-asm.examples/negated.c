/* The x86 assembly sits in the #else of a negated test: aarch64 takes the portable branch. */
#if !defined(__x86_64__)
static inline void relax(void) { }
#else
// fallback: ARM-C-INLINE-ASM
static inline void relax(void) { __asm__ __volatile__("pause" ::: "memory"); }
#endif
