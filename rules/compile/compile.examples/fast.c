// ruleid: ARM-COMPILE-ERROR
#include <immintrin.h>
int fast(int x) {
    __m128i v = _mm_set1_epi32(x);
    return _mm_cvtsi128_si32(v);
}
