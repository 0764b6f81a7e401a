"""ELF details that later checks need: dependencies, interpreter, glibc level, segment alignment."""

from __future__ import annotations

import re
from typing import BinaryIO

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection, DynamicSegment
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection
from elftools.elf.segments import InterpSegment

from armscan.model import ElfDetails

_GLIBC = re.compile(r"^GLIBC_(\d+(?:\.\d+)*)$")


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
    for section in elf.iter_sections():
        if isinstance(section, DynamicSection) and dynamic is None:
            dynamic = section  # an object with section headers but no program headers
        elif isinstance(section, GNUVerNeedSection):
            for _verneed, auxiliaries in section.iter_versions():
                for aux in auxiliaries:
                    match = _GLIBC.match(aux.name)
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
