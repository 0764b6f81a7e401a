#include "textflag.h"

// ruleid: ARM-GO-AMD64-ONLY
TEXT ·Sum(SB), NOSPLIT, $0-32
	MOVQ xs_base+0(FP), SI
	RET
