"""Classify a binary from its first bytes only, so huge trees are classified quickly."""

from __future__ import annotations

import struct
from dataclasses import dataclass

ELF_MAGIC = b"\x7fELF"
AR_MAGIC = b"!<arch>\n"
AR_THIN_MAGIC = b"!<thin>\n"
ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"

# How many leading bytes classification needs (PE headers sit behind e_lfanew).
HEAD_SIZE = 4096

ELF_MACHINES = {
    3: "i386",
    62: "x86_64",
    183: "aarch64",
    40: "arm",
    21: "ppc64",
    20: "ppc",
    22: "s390x",
    243: "riscv64",
    8: "mips",
    2: "sparc",
    43: "sparcv9",
    50: "ia64",
    258: "loongarch64",
}
ELF_TYPES = {1: "relocatable", 2: "executable", 3: "shared-object", 4: "core"}

MACHO_CPU_TYPES = {
    7: "i386",
    0x01000007: "x86_64",
    12: "arm",
    0x0100000C: "arm64",
    0x0200000C: "arm64_32",
    18: "ppc",
    0x01000012: "ppc64",
}
MACHO_FILE_TYPES = {1: "relocatable", 2: "executable", 6: "shared-object", 8: "bundle", 11: "kext"}
_MACHO_THIN = {
    b"\xfe\xed\xfa\xce": (">", 32),
    b"\xce\xfa\xed\xfe": ("<", 32),
    b"\xfe\xed\xfa\xcf": (">", 64),
    b"\xcf\xfa\xed\xfe": ("<", 64),
}
_MACHO_FAT = {b"\xca\xfe\xba\xbe": 32, b"\xca\xfe\xba\xbf": 64}
# Java class files share the 0xCAFEBABE magic; a fat header never has this many slices.
_MAX_FAT_SLICES = 30

PE_MACHINES = {
    0x8664: "x86_64",
    0x14C: "i386",
    0xAA64: "aarch64",
    0xA641: "arm64ec",
    0xA64E: "arm64x",
    0x1C0: "arm",
    0x1C4: "arm",
    0x200: "ia64",
}

# Architecture names are normalised so that "arm64" (Apple, Windows) reads as aarch64.
_NORMALISED = {"arm64": "aarch64", "arm64x": "aarch64", "arm64ec": "aarch64"}


def normalise_machine(name: str) -> str:
    return _NORMALISED.get(name, name)


@dataclass(frozen=True)
class Header:
    """What the first bytes say a binary is."""

    format: str
    machines: tuple[str, ...]
    kind: str
    bits: int | None = None
    endianness: str | None = None
    slices: tuple[tuple[str, str], ...] = ()
    note: str | None = None


class HeaderError(ValueError):
    """The bytes carry a binary's magic but the header is not valid."""


def classify(head: bytes) -> Header | None:
    """Return the header of a native binary, None for anything else.

    Raises HeaderError for a file that starts like a binary but is malformed.
    """
    if head.startswith(ELF_MAGIC):
        return _elf(head)
    if head.startswith(AR_MAGIC) or head.startswith(AR_THIN_MAGIC):
        return Header(format="ar", machines=(), kind="static-archive")
    magic = head[:4]
    if magic in _MACHO_THIN:
        return _macho_thin(head)
    if magic in _MACHO_FAT:
        return _macho_fat(head)
    if head.startswith(b"MZ"):
        return _pe(head)
    return None


def _elf(head: bytes) -> Header:
    if len(head) < 20:
        raise HeaderError("ELF header truncated")
    ei_class, ei_data = head[4], head[5]
    if ei_class not in (1, 2):
        raise HeaderError(f"ELF class byte {ei_class} is neither 32- nor 64-bit")
    if ei_data not in (1, 2):
        raise HeaderError(f"ELF data byte {ei_data} is neither little- nor big-endian")
    order = "<" if ei_data == 1 else ">"
    e_type, e_machine = struct.unpack_from(order + "HH", head, 16)
    bits = 64 if ei_class == 2 else 32
    machine = ELF_MACHINES.get(e_machine, f"elf-machine-{e_machine}")
    if machine == "ppc64" and order == "<":
        machine = "ppc64le"
    if machine == "s390x" and bits == 32:
        machine = "s390"
    if machine == "riscv64" and bits == 32:
        machine = "riscv32"
    kind = ELF_TYPES.get(e_type, f"elf-type-{e_type}")
    if e_type == 3 and _has_interpreter(head, order, bits):
        kind = "pie-executable"
    return Header(
        format="elf",
        machines=(machine,),
        kind=kind,
        bits=bits,
        endianness="little" if order == "<" else "big",
    )


def _has_interpreter(head: bytes, order: str, bits: int) -> bool:
    """A shared object with a PT_INTERP program header is a position-independent executable."""
    if bits == 64:
        if len(head) < 64:
            return False
        (phoff,) = struct.unpack_from(order + "Q", head, 32)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 54)
    else:
        if len(head) < 52:
            return False
        (phoff,) = struct.unpack_from(order + "I", head, 28)
        phentsize, phnum = struct.unpack_from(order + "HH", head, 42)
    if phentsize < 4:
        return False
    for i in range(min(phnum, 64)):
        offset = phoff + i * phentsize
        if offset + 4 > len(head):
            return False
        (p_type,) = struct.unpack_from(order + "I", head, offset)
        if p_type == 3:
            return True
    return False


def _macho_thin(head: bytes) -> Header:
    order, bits = _MACHO_THIN[head[:4]]
    if len(head) < 16:
        raise HeaderError("Mach-O header truncated")
    cputype, _sub, filetype = struct.unpack_from(order + "iii", head, 4)
    cpu = MACHO_CPU_TYPES.get(cputype & 0xFFFFFFFF, f"macho-cpu-{cputype}")
    return Header(
        format="macho",
        machines=(normalise_machine(cpu),),
        kind=MACHO_FILE_TYPES.get(filetype, f"macho-type-{filetype}"),
        bits=bits,
        endianness="little" if order == "<" else "big",
    )


def _macho_fat(head: bytes) -> Header | None:
    if len(head) < 8:
        return None
    (nfat,) = struct.unpack_from(">I", head, 4)
    if nfat == 0 or nfat > _MAX_FAT_SLICES:
        return None  # a Java class file, not a universal binary
    entry = 20 if head[:4] == b"\xca\xfe\xba\xbe" else 32
    if len(head) < 8 + nfat * entry:
        raise HeaderError("universal Mach-O header truncated")
    slices = []
    for i in range(nfat):
        (cputype,) = struct.unpack_from(">I", head, 8 + i * entry)
        cpu = MACHO_CPU_TYPES.get(cputype, f"macho-cpu-{cputype}")
        slices.append((cpu, normalise_machine(cpu)))
    machines = tuple(dict.fromkeys(m for _, m in slices))
    return Header(format="macho-universal", machines=machines, kind="universal", slices=tuple(slices))


def _pe(head: bytes) -> Header | None:
    if len(head) < 0x40:
        return None
    (lfanew,) = struct.unpack_from("<I", head, 0x3C)
    if lfanew + 24 > len(head) or head[lfanew : lfanew + 4] != b"PE\x00\x00":
        # A DOS stub with no PE header, or headers further in than we read.
        return None
    (machine,) = struct.unpack_from("<H", head, lfanew + 4)
    (characteristics,) = struct.unpack_from("<H", head, lfanew + 22)
    (opt_magic,) = struct.unpack_from("<H", head, lfanew + 24) if lfanew + 26 <= len(head) else (0,)
    name = PE_MACHINES.get(machine, f"pe-machine-{machine:#x}")
    kind = "shared-object" if characteristics & 0x2000 else "executable"
    bits = 64 if opt_magic == 0x20B else 32 if opt_magic == 0x10B else None
    note = None
    if _pe_is_il_only(head, lfanew, opt_magic):
        note = "il-only"
    return Header(
        format="pe",
        machines=(normalise_machine(name),),
        kind=kind,
        bits=bits,
        endianness="little",
        note=note,
    )


def _pe_is_il_only(head: bytes, lfanew: int, opt_magic: int) -> bool:
    """A .NET assembly marked IL-only runs on any architecture despite an i386 machine field."""
    opt = lfanew + 24
    dirs = opt + (112 if opt_magic == 0x20B else 96 if opt_magic == 0x10B else -1)
    if dirs < opt:
        return False
    clr_dir = dirs + 14 * 8
    if clr_dir + 8 > len(head):
        return False
    rva, size = struct.unpack_from("<II", head, clr_dir)
    if not rva or not size:
        return False
    (nsections,) = struct.unpack_from("<H", head, lfanew + 6)
    (opt_size,) = struct.unpack_from("<H", head, lfanew + 20)
    table = opt + opt_size
    for i in range(min(nsections, 96)):
        sec = table + i * 40
        if sec + 40 > len(head):
            return False
        vsize, vaddr, raw_size, raw_ptr = struct.unpack_from("<IIII", head, sec + 8)
        if vaddr <= rva < vaddr + max(vsize, raw_size):
            offset = raw_ptr + (rva - vaddr)
            if offset + 20 > len(head):
                return False
            (flags,) = struct.unpack_from("<I", head, offset + 16)
            return bool(flags & 0x1) and not flags & 0x2
    return False
