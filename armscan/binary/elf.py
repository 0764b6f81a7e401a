"""ELF details that later checks need: dependencies, interpreter, glibc level, segment alignment."""

from __future__ import annotations

import re
import struct
from typing import Any, BinaryIO

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.segments import InterpSegment

from armscan.model import ElfDetails

_GLIBC = re.compile(r"^GLIBC_(\d+(?:\.\d+)*)$")
# Version needs are walked by hand: pyelftools believes the entry count (sh_info) and loops 4 billion times on
# one entry when it says 0xFFFFFFFF. A library needs a few files' versions, a few dozen names in all.
_MAX_VERNEED_FILES = 256
_MAX_VERNEED_NAMES = 4096
_MAX_VERNEED_BYTES = 1 << 20
MAX_DYNAMIC_TAGS = 4096  # a real dynamic table has 30 to 100


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) for p in version.split("."))


def read_details(fh: BinaryIO) -> ElfDetails:
    """Read the dynamic section, version needs and program headers; never raises."""
    try:
        return _read(fh)
    except (ELFError, ValueError, KeyError, IndexError, OSError, AssertionError, TypeError) as e:
        return ElfDetails(error=f"ELF details unreadable: {e}")
    except Exception as e:  # pyelftools raises assorted errors on hostile input
        return ElfDetails(error=f"ELF details unreadable: {type(e).__name__}: {e}")


def _read(fh: BinaryIO) -> ElfDetails:
    elf = ELFFile(fh)
    needed: list[str] = []
    soname = None
    interpreter = None
    aligns: list[int] = []
    dynamic: DynamicSegment | DynamicSection | None = None
    for segment in elf.iter_segments():
        if segment["p_type"] == "PT_LOAD":
            aligns.append(int(segment["p_align"]))
        elif isinstance(segment, InterpSegment):
            interpreter = segment.get_interp_name()
        elif isinstance(segment, DynamicSegment):
            dynamic = segment
    glibc: set[str] = set()
    version_names: list[str] | None = None
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection) and dynamic is None:
            dynamic = section  # an object with section headers but no program headers
        elif section["sh_type"] == "SHT_GNU_verneed" and version_names is None:
            strings = elf.get_section(section["sh_link"]) if section["sh_link"] < elf.num_sections() else None
            version_names = needed_versions(_bounded(section), _bounded(strings) if strings else b"",
                                            int(section["sh_info"]), elf.little_endian)
    if dynamic is not None and not dynamic_ends(elf, dynamic):
        raise ValueError(f"no DT_NULL within the first {MAX_DYNAMIC_TAGS} dynamic entries")
    if version_names is None and dynamic is not None and elf.num_sections() == 0:
        version_names = _segment_versions(elf, dynamic)
    for name in version_names or ():
        match = _GLIBC.match(name)
        if match:
            glibc.add(match.group(1))
    if dynamic is not None:
        for tag in dynamic.iter_tags():
            if tag.entry.d_tag == "DT_NEEDED":
                needed.append(str(getattr(tag, "needed", "")))
            elif tag.entry.d_tag == "DT_SONAME":
                soname = str(getattr(tag, "soname", ""))
    versions = tuple(sorted(glibc, key=_version_key))
    return ElfDetails(
        needed=tuple(needed),
        soname=soname,
        interpreter=interpreter,
        max_glibc=versions[-1] if versions else None,
        glibc_versions=versions,
        min_load_align=min(aligns) if aligns else None,
    )


def dynamic_ends(elf: ELFFile, dynamic: Any) -> bool:
    """Whether the dynamic table ends (DT_NULL) within MAX_DYNAMIC_TAGS entries: pyelftools walks it, and looks
    DT_STRTAB up in it, until DT_NULL or the end of the file, one parsed entry at a time."""
    header = dynamic.header
    offset = int(header["p_offset"] if "p_offset" in header else header["sh_offset"])
    size = 16 if elf.elfclass == 64 else 8
    elf.stream.seek(offset)
    data = elf.stream.read(MAX_DYNAMIC_TAGS * size)
    order = ("<" if elf.little_endian else ">") + ("q" if size == 16 else "i")
    return any(struct.unpack_from(order, data, at)[0] == 0 for at in range(0, len(data) - size + 1, size))


def _bounded(section: Any) -> bytes:
    section.stream.seek(section["sh_offset"])
    return bytes(section.stream.read(min(int(section["sh_size"]), _MAX_VERNEED_BYTES)))


def _segment_versions(elf: ELFFile, dynamic: DynamicSegment | DynamicSection) -> list[str]:
    """Version needs of a file without section headers, where DT_VERNEED and DT_STRTAB say (addresses)."""
    tags = {tag.entry.d_tag: int(tag.entry.d_val) for tag in dynamic.iter_tags()
            if tag.entry.d_tag in ("DT_VERNEED", "DT_VERNEEDNUM", "DT_STRTAB", "DT_STRSZ")}
    if "DT_VERNEED" not in tags or "DT_STRTAB" not in tags:
        return []
    needs = _at_address(elf, tags["DT_VERNEED"], _MAX_VERNEED_BYTES)
    strings = _at_address(elf, tags["DT_STRTAB"], min(tags.get("DT_STRSZ", _MAX_VERNEED_BYTES), _MAX_VERNEED_BYTES))
    return needed_versions(needs, strings, tags.get("DT_VERNEEDNUM", _MAX_VERNEED_FILES), elf.little_endian)


def _at_address(elf: ELFFile, address: int, limit: int) -> bytes:
    """Up to `limit` bytes of the file at a virtual address, through the PT_LOAD segment that maps it."""
    for segment in elf.iter_segments():
        if segment["p_type"] != "PT_LOAD":
            continue
        start, filesz = int(segment["p_vaddr"]), int(segment["p_filesz"])
        if start <= address < start + filesz:
            elf.stream.seek(int(segment["p_offset"]) + address - start)
            return bytes(elf.stream.read(min(limit, start + filesz - address)))
    return b""


def needed_versions(data: bytes, strings: bytes, count: int, little_endian: bool) -> list[str]:
    """The version names (GLIBC_2.17 ...) of a version-needs table (Elf_Verneed entries, each with its
    Elf_Vernaux list); stops at the end of a chain, at a loop, at the data's end and at the limits."""
    order = "<" if little_endian else ">"
    names: list[str] = []
    offset, seen = 0, set()
    for _ in range(min(count, _MAX_VERNEED_FILES)):
        if offset in seen or offset + 16 > len(data):
            break
        seen.add(offset)
        _version, aux_count, _file, aux_offset, next_offset = struct.unpack_from(order + "HHIII", data, offset)
        aux = offset + aux_offset
        for _ in range(aux_count):
            if aux + 16 > len(data) or len(names) >= _MAX_VERNEED_NAMES:
                break
            _hash, _flags, _other, name, aux_next = struct.unpack_from(order + "IHHII", data, aux)
            end = strings.find(b"\0", name)
            names.append(strings[name:end if end >= 0 else len(strings)].decode("ascii", "replace"))
            if not aux_next:
                break
            aux += aux_next
        if not next_offset:
            break
        offset += next_offset
    return names
