// Items under a cfg that is false on aarch64 are left out there: their x86 code is an x86 path.
// ruleid: ARM-RUST-CFG-X86-ONLY
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
pub fn sse2_detected() -> bool {
    // fallback: ARM-RUST-X86-ARCH
    is_x86_feature_detected!("sse2")
}

#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "x86")))]
// fallback: ARM-RUST-X86-ARCH
use core::arch::x86_64::_mm_pause;

#[cfg(feature = "simd")]
// unported: ARM-RUST-X86-ARCH
use core::arch::x86_64::_mm_lfence;

pub fn main() {
    // ruleid: ARM-RUST-CFG-X86-ONLY
    #[cfg(target_arch = "x86_64")]
    {
        // fallback: ARM-RUST-X86-ARCH
        dbg!(is_x86_feature_detected!("avx2"));
    }
    // unported: ARM-RUST-X86-ARCH
    dbg!(is_x86_feature_detected!("avx512f"));
}
