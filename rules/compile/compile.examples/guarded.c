/* ok: ARM-COMPILE-ERROR */
#if defined(__x86_64__)
#include <immintrin.h>
int g(void) { return _mm_cvtsi128_si32(_mm_set1_epi32(1)); }
#else
int g(void) { return 1; }
#endif
