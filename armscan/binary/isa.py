"""Which AArch64 instruction-set extensions an ELF's code uses, and whether it selects them at run time.

A64 instructions are 32-bit words at fixed positions, so each extension is found by masking every word of
the executable sections at once (numpy), at hundreds of MB/s. A use counts as selected at run time when it
sits in GCC's outline-atomics helpers (`__aarch64_*`, which test `__aarch64_have_lse_atomics`), next to
the LL/SC sequence that replaces it (the same helpers, stripped), or in a function of a binary that picks
implementations at run time (IFUNC resolvers, getauxval/HWCAP checks) whose name marks it as a variant.
"""

from __future__ import annotations

import fnmatch
import itertools
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, BinaryIO

import numpy as np

from armscan.binary import ifunc
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
MAX_SYMBOLS = 200_000  # read one by one with pyelftools: a large C++ library has some 100,000


@lru_cache(maxsize=1)
def _profile() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml((rules_dir() / "targets" / "cpus.yaml").read_text(encoding="utf-8"))
    return data


def _guarded_functions() -> tuple[str, ...]:
    return tuple(str(g) for g in _profile().get("guarded-functions", []))


def _guarded_library(elf: Any) -> bool:
    from armscan.binary.elf import dynamic_ends

    dynamic = elf.get_section_by_name(".dynamic")
    if dynamic is None or not hasattr(dynamic, "iter_tags") or not dynamic_ends(elf, dynamic):
        return False
    names = {str(g) for g in _profile().get("guarded-libraries", [])}
    return any(tag.entry.d_tag == "DT_SONAME" and tag.soname in names for tag in dynamic.iter_tags())


@dataclass
class _Code:
    words: Any  # numpy uint32 array
    address: int


def _code_sections(elf: Any) -> list[_Code]:
    """Executable sections; without section headers, executable PT_LOAD segments. Each byte of the file is
    read once: a section overlapping one already read (a hostile table repeating one range) is not."""
    ranges: list[tuple[int, int, int]] = []  # file offset, size, address
    if elf.num_sections():
        ranges = [(int(s["sh_offset"]), int(s["sh_size"]), int(s["sh_addr"])) for s in elf.iter_sections()
                  if s["sh_type"] == "SHT_PROGBITS" and s["sh_flags"] & 0x4]
    else:
        ranges = [(int(p["p_offset"]), int(p["p_filesz"]), int(p["p_vaddr"])) for p in elf.iter_segments()
                  if p["p_type"] == "PT_LOAD" and p["p_flags"] & 0x1]
    found: list[_Code] = []
    taken: list[tuple[int, int]] = []
    for offset, size, address in ranges:
        if size > MAX_CODE or any(offset < end and start < offset + size for start, end in taken):
            continue
        taken.append((offset, offset + size))
        elf.stream.seek(offset)
        data = elf.stream.read(size)
        usable = len(data) - len(data) % 4
        found.append(_Code(np.frombuffer(data[:usable], dtype="<u4"), address))
    return found


def _selects_at_run_time(elf: Any) -> str | None:
    """How the binary picks implementations by CPU: "dynamic" (IFUNC or getauxval in its dynamic symbols),
    "static" (only IRELATIVE relocations: a static binary whose libc has IFUNCs), or None."""
    for name in (".dynsym", ".symtab"):
        table = elf.get_section_by_name(name)
        if table is None or not hasattr(table, "iter_symbols"):
            continue
        for symbol in itertools.islice(table.iter_symbols(), MAX_SYMBOLS):
            if symbol["st_info"]["type"] == "STT_GNU_IFUNC" or symbol.name in ("getauxval", "__getauxval"):
                return "dynamic" if name == ".dynsym" else "static"
    if ifunc.resolvers(elf):  # IRELATIVE relocations: IFUNCs, even in a stripped static binary
        return "static"
    return None


def scan(fh: BinaryIO) -> tuple[tuple[IsaUse, ...], tuple[str, ...]]:
    """Extensions an AArch64 ELF uses, and notes on what could not be looked at. Raises the errors pyelftools
    raises on a malformed file."""
    from elftools.elf.elffile import ELFFile

    fh.seek(0)
    elf = ELFFile(fh)
    if elf["e_machine"] != "EM_AARCH64":
        return (), ()
    sections = _code_sections(elf)
    if not sections:
        return (), ("no executable code found: instruction-set extensions not checked",)
    functions = _Functions(elf)
    selection = _selects_at_run_time(elf)
    dispatching = selection is not None
    # a static binary's IFUNCs are its libc's: their variants are placed, the rest of its code is not excused
    variants = ifunc.variants(elf, [(c.words, c.address) for c in sections]) if selection == "static" else None
    whole_library = _guarded_library(elf)
    totals: dict[str, list[int]] = {}
    firsts: dict[str, tuple[int, str | None]] = {}
    for code in sections:
        verifier = _Verifier()
        for offset, found, llsc in _chunks(code.words):
            for feature, hit_indexes in found.items():
                indexes = hit_indexes
                addresses = code.address + 4 * (indexes + offset)
                if whole_library:
                    guarded = np.ones(len(indexes), dtype=bool)
                elif feature == "lse":
                    # LL/SC next door or a helper by name; a library dispatching through IFUNCs covers unplaced
                    # atomics too (libatomic's variants), a static executable's IRELATIVEs (libc's) do not
                    guarded = functions.guarded(addresses, selection == "dynamic") | (
                        _near_llsc(indexes, llsc) & ~functions.named(addresses))
                elif variants is not None:
                    guarded = functions.guarded(addresses, True, unplaced=False) | variants.contain(addresses)
                else:
                    guarded = functions.guarded(addresses, dispatching)
                if feature == "sve" and not guarded.all():
                    guarded |= _unwinder_vg_read(code.words, indexes + offset)
                loose = np.flatnonzero(~guarded)
                # constant tables in .text are not instructions: not counted at all
                data = verifier.not_code(feature, code.words, indexes[loose] + offset)
                indexes, addresses, guarded = _without(loose[data], indexes, addresses, guarded)
                loose = np.flatnonzero(~guarded)
                if feature == "sve" and len(loose):
                    sve2 = loose[_sve2(code.words, indexes[loose] + offset)]
                    _tally("sve2", len(sve2), len(sve2), addresses[sve2], functions, totals, firsts)
                    indexes, addresses, guarded = _without(sve2, indexes, addresses, guarded)
                    loose = np.flatnonzero(~guarded)
                _tally(feature, len(indexes), len(loose), addresses[loose], functions, totals, firsts)
    uses = tuple(IsaUse(f, counts[0], counts[1], *(firsts.get(f, (None, None))))
                 for f, counts in sorted(totals.items()) if counts[0])
    return uses, ifunc.truncation_notes(elf)


_CHUNK = 1 << 20  # words: 4 MB at a time stays in cache, several times faster than whole sections
# libgcc's unwinder reads the SVE vector length (CNTD) only for DWARF register 46 (VG), that is only when
# unwinding a frame that saved SVE state: `cmp wN, #46` a few words before `cntd xM`
_CNTD = (0xFFFFFFE0, 0x04E0E3E0)
_CMP_46 = (0xFFFFFC1F, 0x7100B81F)
_VG_CHECK_DISTANCE = 8  # words


def _unwinder_vg_read(words: Any, indexes: Any) -> Any:
    """SVE hits (word indexes) that are the unwinder's guarded vector-length reads, found in stripped code."""
    result = (words[indexes] & _CNTD[0]) == _CNTD[1]
    for n in np.flatnonzero(result).tolist():
        index = int(indexes[n])
        before = words[max(0, index - _VG_CHECK_DISTANCE):index]
        result[n] = bool(((before & _CMP_46[0]) == _CMP_46[1]).any())
    return result


def _top_byte_table() -> Any:
    """For each value of a word's top byte, whether any pattern can match: about 3% of real code passes, so
    the patterns are then tested on that small sample only."""
    table = np.zeros(256, dtype=bool)
    for mask, value in [(m, v) for _, m, v in PATTERNS] + [_RCPC, _LLSC]:
        top_mask, top_value = (mask >> 24) & 0xFF, (value >> 24) & 0xFF
        table |= (np.arange(256) & top_mask) == top_value
    return table


_TOP_BYTE = _top_byte_table()


def _chunks(words: Any) -> Any:
    """For each chunk of a section: its offset in words, the hit indexes of each feature, the LL/SC indexes."""
    for offset in range(0, len(words), _CHUNK):
        chunk = words[offset:offset + _CHUNK]
        # the words are little-endian in memory: every fourth byte from the fourth is a top byte
        candidates = np.flatnonzero(_TOP_BYTE[chunk.view(np.uint8)[3::4]])
        sample = chunk[candidates]

        def matches(mask: int, value: int, sample: Any = sample, candidates: Any = candidates) -> Any:
            return candidates[(sample & mask) == value]

        rcpc = matches(*_RCPC)
        found: dict[str, Any] = {}
        for feature, mask, value in PATTERNS:
            hits = matches(mask, value)
            if feature == "lse":
                hits = np.setdiff1d(hits, rcpc, assume_unique=True)
            found[feature] = hits if feature not in found else np.union1d(found[feature], hits)
        found["sve"] = _clustered(found["sve"])
        found["rcpc"] = rcpc
        llsc = matches(*_LLSC)
        hits_by_feature = {}
        for feature, hits in found.items():
            code = hits[_code_like(chunk, hits)] if len(hits) else hits
            if len(code):
                hits_by_feature[feature] = code.astype(np.int64)
        yield offset, hits_by_feature, llsc


_VERIFY_WINDOW = 4  # words on each side that must decode too
_MAX_VERIFIED = 65536  # per section and feature; beyond, the share found to be data so far stands
_MAX_SVE2_CHECKED = 4096  # per chunk: mnemonics are told apart one instruction at a time


def _without(positions: Any, indexes: Any, addresses: Any, guarded: Any) -> tuple[Any, Any, Any]:
    if not len(positions):
        return indexes, addresses, guarded
    keep = np.ones(len(indexes), dtype=bool)
    keep[positions] = False
    return indexes[keep], addresses[keep], guarded[keep]


def _tally(feature: str, count: int, unguarded: int, unguarded_addresses: Any, functions: _Functions,
           totals: dict[str, list[int]], firsts: dict[str, tuple[int, str | None]]) -> None:
    if not count:
        return
    entry = totals.setdefault(feature, [0, 0])
    entry[0] += count
    entry[1] += unguarded
    if unguarded and feature not in firsts:
        first = int(unguarded_addresses[0])
        firsts[feature] = (first, functions.name_at(first))


def _sve2(words: Any, indexes: Any) -> Any:
    """Which SVE-space instructions are SVE2-only, by the mnemonic capstone decodes them to."""
    mnemonics = frozenset(str(m) for m in _profile().get("sve2-mnemonics", []))
    disassembler = _disassembler()
    result = np.zeros(len(indexes), dtype=bool)
    for n, index in enumerate(indexes[:_MAX_SVE2_CHECKED].tolist()):
        decoded = next(disassembler.disasm_lite(words[index:index + 1].tobytes(), 0), None)
        result[n] = decoded is not None and decoded[2] in mnemonics
    return result


def _decoder(words: Any) -> Any:
    """A function (start, end) -> how many of words[start:end] capstone decodes from the start (it stops at
    the first it cannot). Through capstone's C call on the array's own memory when the binding exposes it:
    iterating the Python generator costs five times as much, and slicing would copy the words."""
    import ctypes

    import capstone

    disassembler = _disassembler()
    library, instruction = getattr(capstone, "_cs", None), getattr(capstone, "_cs_insn", None)
    if library is None or instruction is None or not hasattr(library, "cs_disasm") or not words.flags.c_contiguous:
        return lambda start, end: sum(1 for _ in disassembler.disasm_lite(words[start:end].tobytes(), 0))
    base, char_pointer = int(words.ctypes.data), ctypes.POINTER(ctypes.c_char)

    def count(start: int, end: int) -> int:
        decoded = ctypes.POINTER(instruction)()
        code = ctypes.cast(ctypes.c_void_p(base + 4 * start), char_pointer)
        found = int(library.cs_disasm(disassembler.csh, code, 4 * (end - start), 0, 0, ctypes.byref(decoded)))
        if found > 0:
            library.cs_free(decoded, found)
        return found

    return count


def _disassembler() -> Any:
    import capstone

    arch = getattr(capstone, "CS_ARCH_ARM64", None) or capstone.CS_ARCH_AARCH64
    return capstone.Cs(arch, capstone.CS_MODE_ARM)


class _Verifier:
    """Decodes the neighbourhood of unguarded hits with capstone, up to _MAX_VERIFIED per feature of a
    section; past that, the share found to be data so far stands for the rest."""

    def __init__(self) -> None:
        self.checked: dict[str, int] = {}
        self.data: dict[str, int] = {}

    def not_code(self, feature: str, words: Any, indexes: Any) -> Any:
        """True for hits (sorted word indexes) whose neighbourhood does not decode as A64: data, not code.
        Random data decodes about a third of the time, so nine words in a row almost never do."""
        result = np.zeros(len(indexes), dtype=bool)
        if not len(indexes):
            return result
        budget = max(0, _MAX_VERIFIED - self.checked.get(feature, 0))
        done = min(budget, len(indexes))
        if done:
            checked = indexes[:done]
            lows = np.maximum(checked - _VERIFY_WINDOW, 0)
            highs = np.minimum(checked + _VERIFY_WINDOW + 1, len(words))
            undecodable = _undecodable(words, lows, highs)
            result[:done] = np.searchsorted(undecodable, lows) < np.searchsorted(undecodable, highs)
        self.checked[feature] = self.checked.get(feature, 0) + done
        self.data[feature] = self.data.get(feature, 0) + int(result[:done].sum())
        if done < len(indexes):
            result[done:] = self.data[feature] > self.checked[feature] / 2
        return result


def _undecodable(words: Any, lows: Any, highs: Any) -> Any:
    """Sorted indexes of words capstone cannot decode, enough to tell for each window [low, high) (sorted)
    whether it holds one. A64 words decode independently, so overlapping windows (dense SVE code) are decoded
    once; after an undecodable word, decoding resumes at the first window that starts past it."""
    count = _decoder(words)
    run_ends = np.maximum.accumulate(highs)  # where the run of overlapping windows each window is in reaches
    found: list[int] = []
    position, i, total = 0, 0, len(lows)
    while i < total:
        position = max(position, int(lows[i]))
        end = int(run_ends[i])
        if position < end:
            position += count(position, end)
        if position < end:
            found.append(position)
            position += 1
            i = int(np.searchsorted(lows, position - 1, side="right"))  # windows holding it are data
        else:
            i = int(np.searchsorted(lows, end, side="left"))  # the run is decoded: on to the next one
    return np.array(found, dtype=np.int64)


_WINDOW = 8  # words on each side
_MAX_INVALID = 1  # unallocated encodings tolerated around a word that counts as code
_OFFSETS = np.arange(-_WINDOW, _WINDOW + 1)


def _code_like(chunk: Any, index: Any) -> Any:
    """Hits whose neighbourhood decodes as code. Constant tables in .text (OpenSSL's, say) match patterns by
    chance, but are full of unallocated encodings (op0 = 0001 or 0011, or 0000 outside SME and padding),
    which code is not."""
    positions = index[:, None] + _OFFSETS
    inside = (positions >= 0) & (positions < len(chunk))
    window = chunk[np.clip(positions, 0, len(chunk) - 1)]
    op0 = (window >> 25) & 0xF
    invalid = ((op0 == 1) | (op0 == 3) | ((op0 == 0) & (window < 0x80000000) & (window != 0))) & inside
    return invalid.sum(axis=1) <= _MAX_INVALID


def _clustered(index: Any) -> Any:
    """Keep SVE matches (sorted word indexes) that have another within a few words: real SVE code is dense."""
    if len(index) < 2:
        return index[:0]
    gaps = np.diff(index)
    near = np.zeros(len(index), dtype=bool)
    near[1:] |= gaps <= _SVE_CLUSTER
    near[:-1] |= gaps <= _SVE_CLUSTER
    return index[near]


def _near_llsc(indexes: Any, llsc: Any) -> Any:
    """Uses with an LDXR/LDAXR within a few words: the two paths of an outline-atomics helper, stripped."""
    if not len(llsc):
        return np.zeros(len(indexes), dtype=bool)
    position = np.searchsorted(llsc, indexes)
    after = llsc[np.minimum(position, len(llsc) - 1)]
    before = llsc[np.maximum(position - 1, 0)]
    return (np.abs(after - indexes) <= _NEAR) | (np.abs(indexes - before) <= _NEAR)


class _Functions:
    """Function symbols as sorted arrays, so that millions of addresses are placed at once."""

    def __init__(self, elf: Any) -> None:
        symbols = sorted(s for s in _function_symbols(elf) if 0 < s[0] < 2**62 and 0 <= s[1] < 2**32)
        self.starts = np.array([s[0] for s in symbols], dtype=np.int64)
        self.ends = np.array([s[0] + max(s[1], 4) for s in symbols], dtype=np.int64)
        self.names = [s[2] for s in symbols]
        guards = re.compile("|".join(fnmatch.translate(g) for g in _guarded_functions()) or "(?!)")
        self.by_name = np.array([bool(guards.match(n)) for n in self.names], dtype=bool)
        self.variant = np.array([bool(_VARIANT_NAME.search(n)) for n in self.names], dtype=bool)

    def _index(self, addresses: Any) -> tuple[Any, Any]:
        if not len(self.starts):
            return np.zeros(len(addresses), dtype=np.int64), np.zeros(len(addresses), dtype=bool)
        index = np.searchsorted(self.starts, addresses, side="right") - 1
        inside = (index >= 0) & (addresses < self.ends[np.maximum(index, 0)])
        return np.maximum(index, 0), inside

    def named(self, addresses: Any) -> Any:
        return self._index(addresses)[1]

    def guarded(self, addresses: Any, dispatching: bool, unplaced: bool = True) -> Any:
        """Uses in guarded functions, and in a dispatching binary in variants by name and (with `unplaced`)
        anywhere no symbol covers."""
        index, inside = self._index(addresses)
        if not len(self.starts):
            return np.full(len(addresses), dispatching and unplaced, dtype=bool)
        guarded = inside & self.by_name[index]
        if dispatching:
            guarded |= inside & self.variant[index]
            if unplaced:  # stripped code in a library that picks code by CPU cannot be placed: not blamed
                guarded |= ~inside
        return guarded

    def name_at(self, address: int) -> str | None:
        index, inside = self._index(np.array([address], dtype=np.int64))
        return self.names[int(index[0])] if bool(inside[0]) else None


_SYMBOL = np.dtype([("name", "<u4"), ("info", "u1"), ("other", "u1"), ("shndx", "<u2"), ("value", "<u8"),
                    ("size", "<u8")])
_STT_FUNC, _STT_GNU_IFUNC = 2, 10


def _function_symbols(elf: Any) -> list[tuple[int, int, str]]:
    """Function symbols of .symtab, else .dynsym, read with numpy (pyelftools' per-symbol parsing is slow)."""
    for name in (".symtab", ".dynsym"):
        table = elf.get_section_by_name(name)
        if table is None or table["sh_entsize"] != _SYMBOL.itemsize or not elf.little_endian or elf.elfclass != 64:
            continue
        data = table.data()
        symbols = np.frombuffer(data[: len(data) - len(data) % _SYMBOL.itemsize], dtype=_SYMBOL)
        kinds = symbols["info"] & 0xF
        chosen = symbols[((kinds == _STT_FUNC) | (kinds == _STT_GNU_IFUNC)) & (symbols["value"] != 0)][:MAX_SYMBOLS]
        strings = elf.get_section(table["sh_link"]).data()
        found = []
        for offset, value, size in zip(chosen["name"].tolist(), chosen["value"].tolist(), chosen["size"].tolist(),
                                       strict=True):
            end = strings.find(b"\0", offset)
            found.append((value, size, strings[offset:end if end >= 0 else len(strings)].decode("utf-8", "replace")))
        if found:
            return found
    return []
