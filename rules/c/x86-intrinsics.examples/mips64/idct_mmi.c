/* Loongson MMI code in a folder for MIPS: its __m64 and _mm_ names come from loongson-mmintrin.h, not x86. */
#include "loongson-mmintrin.h"

// ok: ARM-C-INTRIN-CALL
static __m64 add(__m64 a, __m64 b) { return _mm_add_pi16(a, b); }
