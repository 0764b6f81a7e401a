/* Only listed for x86 builds by the Makefile above; the C rules are not run on this example folder. */
int codec_avx2(void) { return 2; }
