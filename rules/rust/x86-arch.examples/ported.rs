// ported: ARM-RUST-CFG-X86-ONLY
#[cfg(target_arch = "x86_64")]
// ported: ARM-RUST-X86-ARCH
use std::arch::x86_64::_mm_pause;
#[cfg(target_arch = "aarch64")]
// ok: ARM-RUST-X86-ARCH
use std::arch::aarch64::__yield;

// ok: ARM-RUST-CFG-X86-ONLY
#[cfg(target_arch = "aarch64")]
pub fn spin() {}
