/* A project macro that only x86 defines: HAS_BMI2 is 0 when the aarch64 compiler reads this header. */
#ifndef BMI2_FEATURES_H
#define BMI2_FEATURES_H
#if defined(__x86_64__) && defined(__BMI2__)
#  define HAS_BMI2 1
#else
#  define HAS_BMI2 0
#endif
#endif
