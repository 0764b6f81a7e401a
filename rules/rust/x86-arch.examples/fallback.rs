// ruleid: ARM-RUST-CFG-X86-ONLY
#[cfg(target_arch = "x86_64")]
// ruleid: ARM-RUST-X86-ARCH
use core::arch::x86_64::_mm_crc32_u64;

#[cfg(not(target_arch = "x86_64"))]
// ok: ARM-RUST-X86-ARCH
pub fn crc(x: u64) -> u64 { x.rotate_left(7) }
