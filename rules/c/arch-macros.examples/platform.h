#if defined(__x86_64__) || defined(_M_X64)
#  define CACHE_LINE 64
#elif defined(__i386__)
#  define CACHE_LINE 32
#else
// ruleid: ARM-C-ARCH-ERROR
#  error "unsupported architecture"
#endif

// ruleid: ARM-C-ARCH-NO-ARM-BRANCH
#ifdef __x86_64__
#  define HAVE_FAST_UNALIGNED 1
#endif

// ruleid: ARM-C-ARCH-FALLBACK
#if defined(__x86_64__)
#  define SPIN_HINT() __builtin_ia32_pause()
#else
#  define SPIN_HINT() ((void)0)
#endif

// ruleid: ARM-C-ARCH-FEATURE-ONLY
#ifdef __AVX2__
#  define WIDE_LANES 8
#endif

// ok: ARM-C-ARCH-NO-ARM-BRANCH, ARM-C-ARCH-FALLBACK, ARM-C-ARCH-ERROR
#ifdef NDEBUG
#  define CHECK(x) ((void)0)
#endif

#ifndef __x86_64__
// ruleid: ARM-C-ARCH-ERROR
#  error "this library needs x86-64"
#endif

#if !defined(__i386__) && !defined(__x86_64__)
// ruleid: ARM-C-ARCH-ERROR
#  error "x86 only"
#endif

// ok: ARM-C-ARCH-ERROR
#ifndef NDEBUG_LEVEL
#  error "NDEBUG_LEVEL must be set"
#endif
