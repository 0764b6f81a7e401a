/* An include guard named like an ISA is no architecture test: this SSE code is compiled on aarch64. */
#ifndef SIMD_SSE_H
#define SIMD_SSE_H
// unported: ARM-C-INTRIN-HEADER
#include <emmintrin.h>
// unported: ARM-C-INTRIN-CALL
static inline __m128i add4(__m128i a, __m128i b) { return _mm_add_epi32(a, b); }
#endif
