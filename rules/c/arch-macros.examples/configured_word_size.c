/* An #error reached only when the build does not configure SIZEOF_SIZE_T, on any architecture. */
// ruleid: ARM-C-ARCH-FALLBACK
#if (defined(SIZEOF_SIZE_T) && SIZEOF_SIZE_T == 8) || (defined(__x86_64__) && defined(__ILP32__))
#  define BIT_BUF_SIZE 64
#elif defined(SIZEOF_SIZE_T) && SIZEOF_SIZE_T == 4
#  define BIT_BUF_SIZE 32
#else
// ok: ARM-C-ARCH-ERROR
#  error Cannot determine word size
#endif
