// fallback: ARM-RUST-X86-ARCH
use core::arch::x86_64::*;
