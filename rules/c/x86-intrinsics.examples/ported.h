/* Ported code in the style of xxHash: a dispatch macro chooses AVX2, SSE2 or NEON. */
#if defined(__AVX2__)
#  define VEC_IMPL 2
#elif defined(__SSE2__)
#  define VEC_IMPL 1
#elif defined(__aarch64__) || defined(__ARM_NEON)
#  define VEC_IMPL 3
#else
#  define VEC_IMPL 0
#endif

#if VEC_IMPL == 2
// ported: ARM-C-INTRIN-HEADER
#  include <immintrin.h>
static inline void acc(unsigned long long *a) {
    // ported: ARM-C-INTRIN-CALL
    __m256i v = _mm256_loadu_si256((const __m256i *)a);
    (void)v;
}
#elif VEC_IMPL == 3
#  include <arm_neon.h>
static inline void acc(unsigned long long *a) {
    // ok: ARM-C-INTRIN-CALL
    uint64x2_t v = vld1q_u64(a);
    (void)v;
}
#endif
