"""Build files read as an aarch64 build would: which lines only x86 builds use, and which sources only x86
builds compile.

CMake, Make and Meson files are interpreted once, top to bottom (armscan/analyzers/cmakefiles.py,
makefiles.py, mesonfiles.py), with what an aarch64 build knows: CMAKE_SYSTEM_PROCESSOR and `uname -m` are
aarch64, a compiler probe of an x86 flag fails, an option is at its default. A flag under a condition that is
false there is not passed on aarch64; a source listed only there is not compiled on aarch64.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from armscan.analyzers.counterparts import is_x86_named
from armscan.model import Finding, PortStatus

if TYPE_CHECKING:
    from armscan.analyzers.source import Hit, SourceFile
    from armscan.rules_engine.loader import Rule, RuleSet

LANGUAGES = frozenset({"cmake", "make", "meson"})
X86_ONLY_SOURCE = "ARM-BUILD-X86-ONLY-SOURCE"
# x86 architecture names as build files spell them: a comparison with one of them holds only on x86
X86_NAMES = frozenset({"x86_64", "x86-64", "amd64", "x64", "x86", "i386", "i486", "i586", "i686", "i86pc", "ia32",
                       "em64t", "intel64"})
X86_FLAG = re.compile(
    r"^(?:-m(?:no-)?(?:sse\w*|ssse3|avx\w*|fma4?|bmi2?|popcnt|pclmul|aes|f16c|lzcnt|rdrnd|rdseed|sha|xop|mmx|"
    r"movbe|adx|gfni|vaes|vpclmulqdq|32)|-march=(?!native|armv|aarch)\S+|/arch:(?:AVX\w*|SSE\w*|IA32))$",
    re.IGNORECASE)
X86_CODE = re.compile(r"[a-z]?mmintrin\.h|immintrin|x86intrin|cpuid\.h|_mm\d*_\w+|__m(?:128|256|512)|__cpuid"
                      r"|__builtin_ia32|__x86_64__|__SSE\d?\w*__|__AVX\w*__", re.IGNORECASE)
SOURCE_NAME = re.compile(r"\.(?:c|cc|cpp|cxx|c\+\+|m|mm|s|S|asm|nasm|cu|o|obj|lo)$", re.IGNORECASE)
MAX_LINES_OFF = 10_000_000


Tri = bool | None


@dataclass
class Frame:
    """One if/elif/else block of a build file as an aarch64 configure goes through it (Make and Meson)."""

    outer: Tri  # whether the code around the block runs
    branch: Tri = None  # the current branch's condition
    taken: bool = False  # an earlier branch is true
    maybe: bool = False  # an earlier branch may be true
    first_line: int = 0
    reason: str = ""

    def enter(self, line: int, value: Tri, reason: str) -> None:
        """A branch starts after `line`, under a condition of that value."""
        self.branch, self.first_line = value, line + 1
        self.reason = reason if len(reason) <= 100 else reason[:99] + "…"

    def next_value(self, value: Tri) -> Tri:
        """An elif/else branch's value, given the branches before it."""
        self.taken, self.maybe = self.taken or self.branch is True, self.maybe or self.branch is None
        return False if self.taken else None if self.maybe and value is not False else value

    def leave(self, line: int, blocks: Blocks) -> None:
        """The current branch ends before `line`: its lines are off when aarch64 does not take it."""
        if self.branch is False and self.outer is not False:
            blocks.mark(self.first_line, line - 1, self.reason)


def live(stack: list[Frame]) -> Tri:
    """Whether the lines at this point run on aarch64."""
    if not stack:
        return True
    frame = stack[-1]
    if frame.outer is False or frame.branch is False:
        return False
    return None if frame.outer is None or frame.branch is None else True


@dataclass(frozen=True)
class Listed:
    """A source named where only x86 builds use it."""

    start: int  # offsets of the name in the build file
    end: int
    condition: str


class Blocks:
    """What an aarch64 build does not use in one build file: lines (with the reason) and sources."""

    def __init__(self, text: str, line_count: int) -> None:
        self.text = text
        self._diff = [0] * (min(line_count, MAX_LINES_OFF) + 2)
        self._reasons: list[tuple[int, int, str]] = []
        self._off: bytearray | None = None
        self.listed: list[Listed] = []
        self.used_sources: set[str] = set()  # names of sources also used on aarch64

    def mark(self, first: int, last: int, reason: str) -> None:
        """Lines first..last (1-based, inclusive) are only used when `reason` holds, which it does not on aarch64."""
        last = min(last, len(self._diff) - 2)
        if first > last:
            return
        self._diff[first] += 1
        self._diff[last + 1] -= 1
        self._reasons.append((first, last, reason))

    def off(self, line: int) -> bool:
        if self._off is None:
            off, depth = bytearray(len(self._diff)), 0
            for i, change in enumerate(self._diff):
                depth += change
                off[i] = depth > 0
            self._off = off
        return 0 < line < len(self._off) and bool(self._off[line])

    def state_of(self, line: int) -> PortStatus:
        return PortStatus.PORTED if self.off(line) else PortStatus.UNPORTED

    def sources(self) -> list[Listed]:
        return [s for s in self.listed if _source_key(self._text_of(s)) not in self.used_sources]

    def _text_of(self, listed: Listed) -> str:
        return self.text[listed.start:listed.end]


def blocks_of(source: SourceFile, language: str | None) -> Blocks | None:
    """The file's blocks, computed once per file; None for files of other kinds."""
    cached: dict[str, Blocks | None] = source.__dict__.setdefault("_build_blocks", {})
    key = language or ""
    if key not in cached:
        cached[key] = _parse(source, language)
    return cached[key]


def _parse(source: SourceFile, language: str | None) -> Blocks | None:
    if language == "cmake":
        from armscan.analyzers.cmakefiles import interpret
    elif language == "make":
        from armscan.analyzers.makefiles import interpret
    elif language == "meson":
        from armscan.analyzers.mesonfiles import interpret
    else:
        return None
    blocks = Blocks(source.text, source.lines.line_count)
    interpret(source.text, source.lines, source.name, blocks)
    return blocks


def _source_key(name: str) -> str:
    """A source's name without quotes, the current-folder prefix and an object or source suffix."""
    name = name.strip("\"'")
    for prefix in ("${CMAKE_CURRENT_SOURCE_DIR}/", "${CMAKE_CURRENT_LIST_DIR}/", "$(srcdir)/", "./"):
        name = name.removeprefix(prefix)
    return SOURCE_NAME.sub("", posixpath.normpath(name)) if name else name


def x86_only_sources(source: SourceFile, rule: Rule) -> Iterator[Hit]:
    """Built-in check: each source a build file lists only where aarch64 builds do not go."""
    language = rule.language_of(source.name)
    blocks = blocks_of(source, language)
    if blocks is None:
        return
    for listed in blocks.sources():
        yield source.hit_at(listed.start, listed.end, PortStatus.PORTED, detail=listed.condition)


def apply_x86_only_sources(findings: Iterable[Finding], ruleset: RuleSet) -> list[Finding]:
    """Findings in sources that only x86 builds compile are x86 paths the aarch64 build does not take."""
    from armscan.analyzers.source import Hit, to_finding

    findings = list(findings)
    only_x86: dict[str, str] = {}
    for f in findings:
        if f.rule_id == X86_ONLY_SOURCE and f.location.match and f.location.line:
            folder = posixpath.dirname(f.location.path)
            key = posixpath.normpath(posixpath.join(folder, _source_key(f.location.match)))
            only_x86.setdefault(key, f"{f.location.path}:{f.location.line}")
    if not only_x86:
        return findings
    # A folder named for x86 (arch/avx2/, simd/x86_64/) whose sources only x86 builds compile: the fragments in it
    # that those sources include (jccolext-avx2.asm, enc_loop.c) are only compiled there too
    folders: dict[str, str] = {}
    for key, where in only_x86.items():
        folder = posixpath.dirname(key)
        if is_x86_named(posixpath.basename(folder)):
            folders.setdefault(folder, where)
    # An object named without its folder (`OBJECTS += avx512.o` built by `%.o: ./src/%.c`): the one source of that
    # name under the build file's folder
    by_name: dict[tuple[str, str], str] = {}
    for key, where in only_x86.items():
        by_name.setdefault((posixpath.dirname(key), posixpath.basename(key)), where)
    rules = {r.id: r for r in ruleset.rules}
    out = []
    for f in findings:
        key = _source_key(f.location.path)
        listed = None if f.status is PortStatus.PORTED else \
            only_x86.get(key) or folders.get(posixpath.dirname(key)) or _named_above(key, by_name)
        rule = rules.get(f.rule_id)
        if listed is None or rule is None or f.rule_id.startswith("ARM-BUILD-"):
            out.append(f)
            continue
        hit = Hit(line=f.location.line or 0, column=f.location.column or 0, end_column=f.location.end_column,
                  snippet=f.location.snippet or "", match=f.location.match or "", state=PortStatus.PORTED)
        ported = to_finding(rule, hit, f.location.path)
        message = (f"Only x86 builds compile this file ({listed} lists it under a condition that is false on "
                   f"aarch64), so this x86 path does not stop the aarch64 build: {f.message}")
        out.append(replace(ported, location=f.location, message=message, suppressed=f.suppressed))
    return out


def _named_above(key: str, by_name: dict[tuple[str, str], str]) -> str | None:
    """Where a build file in a folder above lists this source by its bare name, if one does."""
    folder, name = posixpath.split(key)
    while folder:
        folder, above = posixpath.dirname(folder), folder
        if (folder, name) in by_name:
            return by_name[(folder, name)]
        if folder == above:  # the root, "/"
            return None
    return None
