/* An x86 file with an ARM sibling (filter_neon.c): the project already ports it file by file. */
// ported: ARM-C-INTRIN-HEADER
#include <smmintrin.h>
int f(int x) {
    // ported: ARM-C-INTRIN-CALL
    return _mm_cvtsi128_si32(_mm_set1_epi32(x));
}
