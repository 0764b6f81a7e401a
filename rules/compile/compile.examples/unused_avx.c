#include <immintrin.h>
__m256 twice(__m256 v) { return _mm256_add_ps(v, v); }
