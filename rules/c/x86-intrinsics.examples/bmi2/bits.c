/* HAS_BMI2 comes from another header: the intrinsics below are not compiled for aarch64. */
#include <stdint.h>
#include "features.h"

#if HAS_BMI2
// fallback: ARM-C-INTRIN-HEADER
#  include <immintrin.h>
// fallback: ARM-C-INTRIN-CALL
uint64_t spread(uint64_t x) { return _pdep_u64(x, 0x5555555555555555ULL); }
#else
uint64_t spread(uint64_t x) { uint64_t r = 0; for (int i = 0; i < 32; i++) r |= ((x >> i) & 1) << (2 * i); return r; }
#endif
