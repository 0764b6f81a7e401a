// fallback: ARM-RUST-X86-ARCH
use core::arch::x86_64::_mm256_setzero_si256;
