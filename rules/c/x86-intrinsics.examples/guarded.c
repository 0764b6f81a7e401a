/* x86 fast path with a scalar fallback and no ARM branch: compiles on aarch64, loses the fast path. */
#include <stddef.h>
#if defined(__SSE2__)
// ruleid: ARM-C-INTRIN-HEADER
#include <emmintrin.h>
#endif

int add_all(const int *a, size_t n) {
    int total = 0;
#ifdef __SSE2__
    // ruleid: ARM-C-INTRIN-CALL
    __m128i acc = _mm_setzero_si128();
    (void)acc;
#else
    // ok: ARM-C-INTRIN-CALL
    for (size_t i = 0; i < n; i++) total += a[i];
#endif
    return total;
}
