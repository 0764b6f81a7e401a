/* The AVX2 codec is included only when the build sets HAVE_AVX2 (an x86 switch); a generic one otherwise. */
#include "config.h"
#if HAVE_AVX2
#  include "avx2/codec.c"
#else
int codec_generic(const unsigned char *in, unsigned long n) { return (int)(n + in[0]); }
#endif
