/* LoongArch LSX code: lsxintrin.h defines its own __m128i, which is not x86's. */
#include "config.h"
#if PNG_LOONGARCH_LSX_IMPLEMENTATION == 1
#include <lsxintrin.h>

// ok: ARM-C-INTRIN-CALL
static __m128i keep(__m128i a) { return a; }
#endif
