/* Negated and compound conditions, and #elif chains where aarch64 takes a generic branch. */
#include <stdint.h>

#if !defined(__x86_64__) && !defined(_M_X64)
// ok: ARM-C-INTRIN-CALL
static int lanes(void) { return 1; }
#else
// fallback: ARM-C-INTRIN-HEADER
#  include <emmintrin.h>
// fallback: ARM-C-INTRIN-CALL
static int lanes(void) { __m128i z = _mm_setzero_si128(); (void)z; return 4; }
#endif

#if defined(__i386__) || defined(__x86_64__)
// fallback: ARM-C-INTRIN-CALL
#  define CLEAR(p) _mm_stream_si32((int *)(p), 0)
#elif SIZE_MAX == UINT64_MAX
#  define CLEAR(p) (*(uint64_t *)(p) = 0)
#else
// ok: ARM-C-INTRIN-CALL
#  define CLEAR(p) (*(uint32_t *)(p) = 0)
#endif
