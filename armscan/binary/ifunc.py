"""Where a static AArch64 executable keeps the variants its IFUNC resolvers choose between (glibc's string
functions for SVE or A64FX, say), even when it is stripped.

Each IRELATIVE relocation names a resolver; the resolver is decoded (capstone) and the code addresses it forms
with ADRP+ADD or ADR are the variants it may return. A variant reaches up to the next variant or resolver, at
most _MAX_VARIANT bytes. Instructions there are selected at run time; those elsewhere (the program's own code)
are not, so a stripped static binary no longer gets the benefit of the doubt for all of its code.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import numpy as np

_R_AARCH64_IRELATIVE = 1032
_MAX_RESOLVER = 96  # instructions
_MAX_VARIANT = 16 * 1024  # bytes
_MAX_RESOLVERS = 4096  # a static glibc binary has about a hundred; a hostile file is not decoded without end
MAX_RELOCATIONS = 200_000  # read one by one with pyelftools; past this a hostile table would take minutes
_IMMEDIATE = re.compile(r"#(-?0x[0-9a-f]+|-?\d+)")
_CONDITIONAL = ("b.", "cbz", "cbnz", "tbz", "tbnz")


def resolvers(elf: Any) -> list[int]:
    """The resolver addresses that IRELATIVE relocations name (their addends)."""
    found = []
    for name in (".rela.iplt", ".rela.plt"):
        section = elf.get_section_by_name(name)
        if section is None or not hasattr(section, "iter_relocations"):
            continue
        for relocation in itertools.islice(section.iter_relocations(), MAX_RELOCATIONS):
            if relocation["r_info_type"] == _R_AARCH64_IRELATIVE and relocation.is_RELA():
                found.append(int(relocation["r_addend"]))
    return sorted(set(found))[:_MAX_RESOLVERS]


def truncation_notes(elf: Any) -> tuple[str, ...]:
    """Notes for symbol and relocation tables longer than the scan reads (runtime selection may be missed)."""
    from armscan.binary.isa import MAX_SYMBOLS

    notes = []
    for name, limit in ((".dynsym", MAX_SYMBOLS), (".symtab", MAX_SYMBOLS), (".rela.iplt", MAX_RELOCATIONS),
                        (".rela.plt", MAX_RELOCATIONS)):
        section = elf.get_section_by_name(name)
        entry = int(section["sh_entsize"]) if section is not None else 0
        if entry and int(section["sh_size"]) // entry > limit:
            notes.append(f"{name} has {int(section['sh_size']) // entry} entries: only the first {limit} were read")
    return tuple(notes)


def _immediates(operands: str) -> list[int]:
    return [int(value, 0) for value in _IMMEDIATE.findall(operands)]


def _targets(instructions: Any) -> set[int]:
    """Code addresses a resolver forms: ADRP page + ADD offset on the same register, or ADR. Decoding stops at
    a return past every forward conditional branch seen."""
    pages: dict[str, int] = {}
    found: set[int] = set()
    furthest = 0
    for address, _size, mnemonic, operands in instructions:
        registers = [r.strip() for r in operands.split(",")]
        values = _immediates(operands)
        if mnemonic == "adrp" and values:
            pages[registers[0]] = values[-1]
        elif mnemonic == "add" and len(registers) >= 3 and registers[1] in pages and values:
            found.add(pages[registers[1]] + (values[0] << 12 if "lsl #12" in operands else values[0]))
        elif mnemonic == "adr" and values:
            found.add(values[-1])
        elif mnemonic.startswith(_CONDITIONAL) and values:
            furthest = max(furthest, values[-1])
        elif mnemonic in ("ret", "br", "b") and address >= furthest:
            break
    return found


class Variants:
    """Address ranges of IFUNC variants, for placing millions of addresses at once."""

    def __init__(self, starts: list[int], ends: list[int]) -> None:
        self.starts = np.array(starts, dtype=np.int64)
        self.ends = np.array(ends, dtype=np.int64)

    def contain(self, addresses: Any) -> Any:
        if not len(self.starts):
            return np.zeros(len(addresses), dtype=bool)
        index = np.searchsorted(self.starts, addresses, side="right") - 1
        return (index >= 0) & (addresses < self.ends[np.maximum(index, 0)])


def variants(elf: Any, sections: list[tuple[Any, int]]) -> Variants:
    """The variants of a static binary's IFUNCs; `sections` are (uint32 words, address) of its code."""
    from armscan.binary.isa import _disassembler

    def located(address: int) -> tuple[Any, int] | None:
        for words, base in sections:
            if base <= address < base + 4 * len(words) and (address - base) % 4 == 0:
                return words, base
        return None

    found: set[int] = set()
    resolver_addresses = resolvers(elf)
    disassembler = _disassembler()
    for resolver in resolver_addresses:
        where = located(resolver)
        if where is None:
            continue
        words, base = where
        start = (resolver - base) // 4
        code = words[start:start + _MAX_RESOLVER].tobytes()
        found |= {t for t in _targets(disassembler.disasm_lite(code, resolver)) if located(t) is not None}
    entries = sorted(found - set(resolver_addresses))
    bounds = np.array(sorted(set(entries) | set(resolver_addresses)), dtype=np.int64)
    ends = []
    for entry in entries:
        words, base = located(entry) or (None, 0)
        following = bounds[np.searchsorted(bounds, entry, side="right"):][:1]
        end = min(entry + _MAX_VARIANT, base + 4 * len(words) if words is not None else entry,
                  int(following[0]) if len(following) else entry + _MAX_VARIANT)
        ends.append(end)
    return Variants(entries, ends)
