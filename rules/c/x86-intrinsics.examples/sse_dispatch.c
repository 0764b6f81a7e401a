/* A file named for x86 that refuses every other architecture: its intrinsics are an x86 path aarch64 leaves out. */
#if !(defined(__x86_64__) || defined(__i386__))
#  error "sse_dispatch.c is only for x86"
#endif

// ported: ARM-C-INTRIN-HEADER
#include <emmintrin.h>

// ported: ARM-C-INTRIN-CALL
int first(const int *p) { return _mm_cvtsi128_si32(_mm_loadu_si128((const __m128i *)p)); }
