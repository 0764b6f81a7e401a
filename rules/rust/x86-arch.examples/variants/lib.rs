// Per-target modules chosen by cfgs the build script sets: the x86 ones are not compiled for aarch64.
#[cfg(blake_sse2_rust)]
#[path = "rust_sse2.rs"]
mod sse2;
#[cfg(blake_neon)]
#[path = "ffi_neon.rs"]
mod neon;
mod avx_helpers;
#[cfg(blake_avx2_rust)]
#[path = "rust_avx2.rs"]
pub(crate) mod avx2;
