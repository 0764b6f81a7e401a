/* AltiVec in its own branch does not make the file another architecture's: the SSE branch is still x86. */
#ifdef __ALTIVEC__
#include <altivec.h>
#else
// ruleid: ARM-C-INTRIN-HEADER
#include <emmintrin.h>
#endif

// ruleid: ARM-C-INTRIN-CALL
int first(const int *p) { return _mm_cvtsi128_si32(_mm_loadu_si128((const __m128i *)p)); }
