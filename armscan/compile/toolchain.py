"""Find an aarch64 C/C++ compiler on this machine."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass

INSTALL_HINT = ("install an aarch64 cross compiler (Debian/Ubuntu: apt-get install gcc-aarch64-linux-gnu "
                "g++-aarch64-linux-gnu), or clang with an aarch64 sysroot")
_SYSROOTS = ("/usr/aarch64-linux-gnu",)


@dataclass(frozen=True)
class Toolchain:
    cc: str
    cxx: str
    flags: tuple[str, ...] = ()  # added to every command (clang's --target and sysroot)

    def describe(self) -> str:
        return " ".join((os.path.basename(self.cc), *self.flags))


def find_toolchain() -> Toolchain | None:
    """GCC's cross compilers first, then clang with a sysroot the cross packages installed."""
    cc, cxx = shutil.which("aarch64-linux-gnu-gcc"), shutil.which("aarch64-linux-gnu-g++")
    if cc and cxx:
        return Toolchain(cc, cxx)
    clang, clangxx = shutil.which("clang"), shutil.which("clang++")
    sysroot = next((s for s in _SYSROOTS if os.path.isdir(os.path.join(s, "include"))), None)
    if clang and clangxx and sysroot:
        return Toolchain(clang, clangxx, ("--target=aarch64-linux-gnu", f"--sysroot={sysroot}"))
    return None
