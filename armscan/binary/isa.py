"""Which AArch64 instruction-set extensions an ELF's code uses, and whether it selects them at run time.

A64 instructions are 32-bit words at fixed positions, so each extension is found by masking every word of
the executable sections at once (numpy), at hundreds of MB/s. A use counts as selected at run time when it
sits in GCC's outline-atomics helpers (`__aarch64_*`, which test `__aarch64_have_lse_atomics`), next to
the LL/SC sequence that replaces it (the same helpers, stripped), or in a function of a binary that picks
implementations at run time (IFUNC resolvers, getauxval/HWCAP checks) whose name marks it as a variant.
"""

from __future__ import annotations

import bisect
import fnmatch
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, BinaryIO

import numpy as np

from armscan.model import IsaUse
from armscan.resources import load_yaml, rules_dir

# (feature, mask, value): a word w uses the feature when w & mask == value
PATTERNS: tuple[tuple[str, int, int], ...] = (
    ("lse", 0x3F200C00, 0x38200000),   # LDADD, LDCLR, LDEOR, LDSET, LD{S,U}{MAX,MIN}, SWP (and LDAPR, below)
    ("lse", 0x3FA07C00, 0x08A07C00),   # CAS, CASA, CASL, CASAL (B, H, W, X)
    ("lse", 0xBFA07C00, 0x08207C00),   # CASP
    ("sve", 0x1E000000, 0x04000000),   # the SVE/SVE2 encoding space (op0 = 0010)
    ("dotprod", 0xBF20FC00, 0x0E009400),  # SDOT, UDOT (vector)
    ("dotprod", 0xBF00F400, 0x0F00E000),  # SDOT, UDOT (by element)
    ("fp16", 0xFFE00C00, 0x1EE00800),  # half-precision FADD, FSUB, FMUL, FDIV, FMAX, FMIN ... (scalar)
    ("bf16", 0xBFE0FC00, 0x2E40FC00),  # BFDOT (vector)
    ("bf16", 0xFFE0FC00, 0x6E40EC00),  # BFMMLA
    ("i8mm", 0xFFE0F400, 0x4E80A400),  # SMMLA, UMMLA (bit 29 selects), USMMLA
    ("i8mm", 0xBFE0FC00, 0x0E809C00),  # USDOT (vector)
)
_RCPC = (0x3FE0FC00, 0x38BFC000)  # LDAPR: inside the atomic-memory-operation space, but an Armv8.3 feature
_LLSC = (0x3F7F7C00, 0x085F7C00)  # LDXR/LDAXR (B, H, W, X): the LL/SC fallback next to outline helpers
_NEAR = 16  # words
_SVE_CLUSTER = 8  # an SVE word counts when another sits within this many words: lone matches are not SVE code
_VARIANT_NAME = re.compile(r"sve|a64fx|neoverse|dotprod|i8mm|bf16|_lse|lse_|fp16|asimd|_v8[._]?[2-9]|_v9"
                           r"|armv8[._]?[2-9]", re.IGNORECASE)
MAX_CODE = 512 * 1024 * 1024


@lru_cache(maxsize=1)
def _guarded_functions() -> tuple[str, ...]:
    data = load_yaml((rules_dir() / "targets" / "cpus.yaml").read_text(encoding="utf-8"))
    return tuple(str(g) for g in data.get("guarded-functions", []))


@dataclass
class _Code:
    words: Any  # numpy uint32 array
    address: int


def _code_sections(elf: Any) -> list[_Code]:
    found = []
    for section in elf.iter_sections():
        if section["sh_type"] != "SHT_PROGBITS" or not section["sh_flags"] & 0x4 or section["sh_size"] > MAX_CODE:
            continue
        data = section.data()
        usable = len(data) - len(data) % 4
        found.append(_Code(np.frombuffer(data[:usable], dtype="<u4"), int(section["sh_addr"])))
    return found


def _functions(elf: Any) -> tuple[list[int], list[tuple[int, int, str]]]:
    symbols = []
    for name in (".symtab", ".dynsym"):
        table = elf.get_section_by_name(name)
        if table is None or not hasattr(table, "iter_symbols"):
            continue
        for symbol in table.iter_symbols():
            if symbol["st_info"]["type"] in ("STT_FUNC", "STT_GNU_IFUNC") and symbol["st_value"]:
                symbols.append((int(symbol["st_value"]), int(symbol["st_size"]) or 4, symbol.name))
        if symbols:
            break
    symbols.sort()
    return [s[0] for s in symbols], symbols


def _selects_at_run_time(elf: Any) -> bool:
    """IFUNC symbols, IRELATIVE relocations, or a getauxval import: the binary picks implementations by CPU."""
    if elf.get_section_by_name(".rela.iplt") is not None:
        return True  # a static binary with IFUNCs, even stripped
    for name in (".dynsym", ".symtab"):
        table = elf.get_section_by_name(name)
        if table is None or not hasattr(table, "iter_symbols"):
            continue
        for symbol in table.iter_symbols():
            if symbol["st_info"]["type"] == "STT_GNU_IFUNC" or symbol.name in ("getauxval", "__getauxval"):
                return True
    return False


def scan(fh: BinaryIO) -> tuple[IsaUse, ...]:
    """Extensions an AArch64 ELF uses. Raises the errors pyelftools raises on a malformed file."""
    from elftools.elf.elffile import ELFFile

    fh.seek(0)
    elf = ELFFile(fh)
    if elf["e_machine"] != "EM_AARCH64":
        return ()
    sections = _code_sections(elf)
    if not sections:
        return ()
    starts, functions = _functions(elf)
    dispatching = _selects_at_run_time(elf)
    totals: dict[str, list[int]] = {}
    firsts: dict[str, tuple[int, str | None]] = {}
    for code in sections:
        words = code.words
        llsc = np.flatnonzero((words & _LLSC[0]) == _LLSC[1])
        rcpc = (words & _RCPC[0]) == _RCPC[1]
        for feature, mask, value in PATTERNS:
            hits = (words & mask) == value
            if feature == "lse":
                hits &= ~rcpc
            if feature == "sve":
                hits = _clustered(hits)
            _count(feature, np.flatnonzero(hits), code, llsc, starts, functions, dispatching, totals, firsts)
        _count("rcpc", np.flatnonzero(rcpc), code, llsc, starts, functions, dispatching, totals, firsts)
    return tuple(IsaUse(f, counts[0], counts[1], *(firsts.get(f, (None, None))))
                 for f, counts in sorted(totals.items()) if counts[0])


def _clustered(hits: Any) -> Any:
    """Keep SVE matches that have another within a few words: real SVE code is dense."""
    index = np.flatnonzero(hits)
    if len(index) < 2:
        return np.zeros_like(hits)
    gaps = np.diff(index)
    near = np.zeros(len(index), dtype=bool)
    near[1:] |= gaps <= _SVE_CLUSTER
    near[:-1] |= gaps <= _SVE_CLUSTER
    kept = np.zeros_like(hits)
    kept[index[near]] = True
    return kept


def _count(feature: str, indexes: Any, code: _Code, llsc: Any, starts: list[int],
           functions: list[tuple[int, int, str]], dispatching: bool, totals: dict[str, list[int]],
           firsts: dict[str, tuple[int, str | None]]) -> None:
    if not len(indexes):
        return
    entry = totals.setdefault(feature, [0, 0])
    entry[0] += len(indexes)
    for index in indexes.tolist():
        address = code.address + 4 * index
        name = _function_at(address, starts, functions)
        if _guarded(feature, index, name, llsc, dispatching):
            continue
        entry[1] += 1
        if feature not in firsts:
            firsts[feature] = (address, name)


def _function_at(address: int, starts: list[int], functions: list[tuple[int, int, str]]) -> str | None:
    position = bisect.bisect_right(starts, address) - 1
    if position < 0:
        return None
    start, size, name = functions[position]
    return name if start <= address < start + max(size, 4) else None


def _guarded(feature: str, index: int, function: str | None, llsc: Any, dispatching: bool) -> bool:
    if function is not None and any(fnmatch.fnmatchcase(function, g) for g in _guarded_functions()):
        return True
    if feature == "lse" and function is None and len(llsc):
        position = int(np.searchsorted(llsc, index))
        neighbours = llsc[max(0, position - 1):position + 1]
        if len(neighbours) and int(np.min(np.abs(neighbours - index))) <= _NEAR:
            return True
    if dispatching and function is None:
        return True  # stripped, and the binary picks code by CPU: the use cannot be placed, so it is not blamed
    return dispatching and function is not None and bool(_VARIANT_NAME.search(function))
