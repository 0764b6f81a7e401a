/* Unported SSE code: every x86 intrinsic is reported as a blocker. */
// ruleid: ARM-C-INTRIN-HEADER
#include <immintrin.h>
// ok: ARM-C-INTRIN-HEADER
#include <stdint.h>
// ok: ARM-C-INTRIN-HEADER
#include "simde/x86/sse2.h"

// ok: ARM-C-INTRIN-CALL
/* A comment that mentions _mm_add_ps is not code. */
static float sum4(const float *p) {
    // ruleid: ARM-C-INTRIN-CALL
    __m128 v = _mm_loadu_ps(p);
    // ruleid: ARM-C-INTRIN-CALL
    v = _mm_add_ps(v, _mm_movehl_ps(v, v));
    // ok: ARM-C-INTRIN-CALL
    float out[4];
    // ruleid: ARM-C-INTRIN-CALL
    _mm_storeu_ps(out, v);
    return out[0] + out[1];
}

// ruleid: ARM-C-INTRIN-CALL
unsigned bits(unsigned long long x) { return (unsigned)_pdep_u64(x, 0xffull); }
// ok: ARM-C-INTRIN-CALL
const char *name = "_mm_add_ps";
#ifdef _MSC_VER
// ok: ARM-C-INTRIN-HEADER
#include <intrin.h>
#endif
