// ok: ARM-C-ARCH-ERROR, ARM-C-ARCH-NO-ARM-BRANCH
#if defined(__x86_64__)
#  define ARCH_NAME "x86_64"
#elif defined(__aarch64__)
#  define ARCH_NAME "aarch64"
#else
#  error "unsupported architecture"
#endif

// ok: ARM-C-ARCH-FEATURE-ONLY
#ifdef __SSE4_2__
#  define HAVE_CRC32C_HW 1
#endif
