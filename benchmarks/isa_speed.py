"""Instruction-set scan speed: a large real aarch64 library, and a generated 200 MB text section.

Usage: python benchmarks/isa_speed.py [--library PATH] [--generated-mb 200]
The generated section repeats the library's real code to the size asked for (no symbols: the worst case).
Without --library, libcrypto.so.3 is taken from Debian's arm64 libssl3 package (`apt-get download
libssl3:arm64`, adding the arm64 architecture to dpkg first when missing; needs root), and SLEEF's
libsleef.so (libsleef3, dense with SVE code) is timed too. Times armscan's
scan (armscan.binary.isa.scan) on one core and prints MB/s of executable code. Target: at least 200 MB/s.
Prints figures, asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import lzma
import struct
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from armscan.binary.isa import scan  # noqa: E402


def _ar_members(data: bytes) -> dict[str, bytes]:
    members, offset = {}, 8
    while offset + 60 <= len(data):
        header = data[offset:offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        members[name] = data[offset + 60:offset + 60 + size]
        offset += 60 + size + (size % 2)
    return members


def download_library(folder: Path, package: str, name: str) -> Path:
    """apt-get download PACKAGE:arm64 and take the library NAME out of it (the arm64 architecture is added to
    dpkg first when missing; root)."""
    architectures = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True, text=True).stdout
    if "arm64" not in architectures.split():
        subprocess.run(["dpkg", "--add-architecture", "arm64"], check=True)
        subprocess.run(["apt-get", "update", "-q"], check=True, capture_output=True)
    subprocess.run(["apt-get", "download", "-q", f"{package}:arm64"], cwd=folder, check=True, capture_output=True)
    deb_path = next(folder.glob(f"{package}_*_arm64.deb"))
    data = next(v for k, v in _ar_members(deb_path.read_bytes()).items() if k.startswith("data.tar"))
    with tarfile.open(fileobj=io.BytesIO(lzma.decompress(data) if data[:6] == b"\xfd7zXZ\x00" else data)) as tf:
        member = next(m for m in tf.getmembers() if m.name.endswith(f"/{name}") and m.isfile())
        extracted = tf.extractfile(member)
        assert extracted is not None
        path = folder / name
        path.write_bytes(extracted.read())
    print(f"{name} from {deb_path.name}")
    return path


def download_libcrypto(folder: Path) -> Path:
    return download_library(folder, "libssl3", "libcrypto.so.3")


def generated_elf(folder: Path, megabytes: int, library: Path) -> Path:
    """A minimal aarch64 ELF with one executable section of real code: the library's, repeated to size."""
    from elftools.elf.elffile import ELFFile

    with library.open("rb") as fh:
        text = b"".join(s.data() for s in ELFFile(fh).iter_sections() if s["sh_flags"] & 0x4 and s["sh_size"])
    text = text[: len(text) - len(text) % 4]
    code = (text * (megabytes * 1024 * 1024 // len(text) + 1))[: megabytes * 1024 * 1024]
    shstrtab = b"\0.text\0.shstrtab\0"
    text_offset = 64
    shstr_offset = text_offset + len(code)
    sh_offset = shstr_offset + len(shstrtab)
    header = struct.pack("<16sHHIQQQIHHHHHH", b"\x7fELF\x02\x01\x01" + bytes(9), 3, 183, 1, 0, 0, sh_offset, 0,
                         64, 0, 0, 64, 3, 2)
    null = bytes(64)
    section = struct.pack("<IIQQQQIIQQ", 1, 1, 0x6, 0x10000, text_offset, len(code), 0, 0, 16, 0)
    strtab = struct.pack("<IIQQQQIIQQ", 7, 3, 0, 0, shstr_offset, len(shstrtab), 0, 0, 1, 0)
    path = folder / "generated.so"
    path.write_bytes(header + code + shstrtab + null + section + strtab)
    return path


def time_scan(path: Path, code_bytes: int | None = None) -> None:
    with path.open("rb") as fh:
        start = time.process_time()
        uses = scan(fh)
        seconds = time.process_time() - start
    if code_bytes is None:
        from elftools.elf.elffile import ELFFile

        with path.open("rb") as fh:
            code_bytes = sum(s["sh_size"] for s in ELFFile(fh).iter_sections() if s["sh_flags"] & 0x4)
    found = ", ".join(f"{u.feature} {u.count} ({u.unguarded} unguarded)" for u in uses) or "none"
    print(f"{path.name}: {code_bytes / 1e6:.1f} MB of code in {seconds:.3f} s CPU = "
          f"{code_bytes / 1e6 / max(seconds, 1e-9):.0f} MB/s; extensions: {found}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--library", type=Path)
    parser.add_argument("--generated-mb", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="armscan-isabench-") as work:
        folder = Path(work)
        library = args.library or download_libcrypto(folder)
        time_scan(library)
        if args.library is None:  # SVE-dense code: every SVE function of SLEEF is a separate, unguarded entry
            time_scan(download_library(folder, "libsleef3", "libsleef.so.3.5.1"))
        time_scan(generated_elf(folder, args.generated_mb, library), args.generated_mb * 1024 * 1024)


if __name__ == "__main__":
    main()
