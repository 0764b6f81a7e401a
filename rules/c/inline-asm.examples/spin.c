#include <stdint.h>
// ruleid: ARM-C-CPUID
#include <cpuid.h>

static inline void relax(void) {
    // ruleid: ARM-C-INLINE-ASM
    __asm__ __volatile__("pause" ::: "memory");
}

static inline uint64_t ticks(void) {
    uint32_t lo, hi;
    // ruleid: ARM-C-INLINE-ASM
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

static inline void barrier(void) {
    // ok: ARM-C-INLINE-ASM
    __asm__ __volatile__("" ::: "memory");
}

static int has_avx2(void) {
    unsigned a, b, c, d;
    // ruleid: ARM-C-CPUID
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return 0;
    // ruleid: ARM-C-CPUID
    return __builtin_cpu_supports("avx2") && (b & (1u << 5));
}

// ok: ARM-C-CPUID
static unsigned long long monotonic_ticks(void) { return 0; /* __rdtsc() would be x86-only */ }

void msvc_style(void) {
    // ruleid: ARM-C-INLINE-ASM
    __asm mov eax, 1
}
