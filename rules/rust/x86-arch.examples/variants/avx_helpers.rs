// Declared without a cfg: compiled on aarch64 too.
// unported: ARM-RUST-X86-ARCH
use core::arch::x86_64::_mm256_setzero_ps;
