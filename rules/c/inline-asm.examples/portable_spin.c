/* A spin hint with both an x86 and an aarch64 version. */
static inline void relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    // ported: ARM-C-INLINE-ASM
    __asm__ __volatile__("pause");
#elif defined(__aarch64__)
    // ok: ARM-C-INLINE-ASM
    __asm__ __volatile__("yield");
#endif
}

static inline unsigned long long ticks(void) {
#if defined(__aarch64__)
    unsigned long long v;
    // ok: ARM-C-INLINE-ASM
    __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
    return v;
#else
    // ported: ARM-C-CPUID
    return __rdtsc();
#endif
}
