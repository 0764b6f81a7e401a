/* PowerPC VSX and LoongArch LSX code that emulates the SSE types is not x86 code; aarch64 compiles neither. */
#if defined(__powerpc64__) && defined(__VSX__)
#  include <altivec.h>
// ok: ARM-C-INTRIN-CALL
typedef __vector signed int __m128i;
// ok: ARM-C-INTRIN-CALL
static inline __m128i _mm_add_epi32(__m128i a, __m128i b) { return vec_add(a, b); }
#elif defined(__loongarch_sx)
#  include <lsxintrin.h>
// ok: ARM-C-INTRIN-CALL
typedef __m128i simd128;
#endif
