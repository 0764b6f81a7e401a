#include <arm_neon.h>
// ok: ARM-C-INTRIN-CALL
int f(int x) { return vgetq_lane_s32(vdupq_n_s32(x), 0); }
