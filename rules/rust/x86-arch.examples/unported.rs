// ruleid: ARM-RUST-X86-ARCH
use std::arch::x86_64::*;

// ruleid: ARM-RUST-CFG-X86-ONLY
#[cfg(target_arch = "x86_64")]
pub fn sum(xs: &[f32]) -> f32 {
    // ruleid: ARM-RUST-X86-ARCH
    if is_x86_feature_detected!("avx2") {
        return unsafe { sum_avx2(xs) };
    }
    xs.iter().sum()
}

// ruleid: ARM-RUST-X86-ARCH
#[target_feature(enable = "avx2")]
unsafe fn sum_avx2(xs: &[f32]) -> f32 {
    // ok: ARM-RUST-X86-ARCH
    let total = 0.0f32; // std::arch::x86_64 in a comment is not code
    total + xs.len() as f32
}
