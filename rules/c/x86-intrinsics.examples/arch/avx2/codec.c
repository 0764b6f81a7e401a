/* No condition in this file: it is x86-only because the only file that includes it does so under HAVE_AVX2. */
// fallback: ARM-C-INTRIN-HEADER
#include <immintrin.h>
int codec_avx2(const unsigned char *in, unsigned long n) {
    // fallback: ARM-C-INTRIN-CALL
    __m256i v = _mm256_loadu_si256((const __m256i *)in);
    (void)v;
    return (int)n;
}
