"""Rust code that `#[cfg(...)]` leaves out of an aarch64 Linux build.

An item, block or statement under `#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]` is not compiled
for aarch64: x86 intrinsics in it are an x86 path, not a blocker. A module file declared only under a cfg
(`#[cfg(blake3_sse2_rust)] #[path = "rust_sse2.rs"] mod sse2;`) and named for x86 is an x86 variant that the
build selects per target. Predicates are evaluated for aarch64-unknown-linux-gnu; a cfg set by the build
(a feature, `test`, a build script's own) is unknown.
"""

from __future__ import annotations

import os
import re
from bisect import bisect_left

from armscan.analyzers.text import LineIndex
from armscan.sources.confined import RefusedFile, read_confined

MAX_PREDICATE = 2048
MAX_MODULE_FILE_BYTES = 1 << 20
_CFG = re.compile(r"#\[cfg\(")
_ATTRIBUTE = re.compile(r"\s*#!?\[")
_KEY_VALUE = re.compile(r'\s*(\w+)\s*=\s*"([^"]*)"')
_WORD = re.compile(r"\s*(\w+)")
_TARGET = {"target_arch": "aarch64", "target_os": "linux", "target_family": "unix", "target_env": "gnu",
           "target_endian": "little", "target_pointer_width": "64", "target_vendor": "unknown"}
# Features the aarch64 target enables by default; any other target_feature (sse2, avx2) is off
_AARCH64_FEATURES = frozenset({"neon", "fp", "fp-armv8"})
_NAMES = {"unix": True, "windows": False}
Tri = bool | None


def evaluate(predicate: str) -> Tri:
    """A cfg predicate for aarch64 Linux: True, False, or None when the build decides."""
    if len(predicate) > MAX_PREDICATE:
        return None
    try:
        value, end = _predicate(predicate, 0, 0)
    except (ValueError, IndexError, RecursionError):
        return None
    return value if not predicate[end:].strip() else None


def _predicate(text: str, at: int, depth: int) -> tuple[Tri, int]:
    if depth > 32:
        raise ValueError("too deep")
    pair = _KEY_VALUE.match(text, at)
    if pair:
        key, value = pair.groups()
        if key == "target_feature":
            return value in _AARCH64_FEATURES, pair.end()
        return (_TARGET[key] == value if key in _TARGET else None), pair.end()
    word = _WORD.match(text, at)
    if word is None:
        raise ValueError("no predicate")
    name, at = word.group(1), word.end()
    rest = text[at:].lstrip()
    if name not in ("any", "all", "not") or not rest.startswith("("):
        return _NAMES.get(name), at
    at = text.index("(", at) + 1
    values: list[Tri] = []
    while True:
        if text[at:].lstrip().startswith(")"):
            at = text.index(")", at) + 1
            break
        value, at = _predicate(text, at, depth + 1)
        values.append(value)
        stripped = text[at:].lstrip()
        if stripped.startswith(","):
            at = text.index(",", at) + 1
    if name == "not":
        return (None if len(values) != 1 or values[0] is None else not values[0]), at
    if name == "any":
        return (True if True in values else None if None in values else False), at
    return (False if False in values else None if None in values else True), at


def _closing(text: str, at: int, opening: str, closing: str, limit: int) -> int:
    """The offset just past the bracket that closes the one before `at`; -1 when none within `limit`."""
    depth, end = 1, min(len(text), at + limit)
    for i in range(at, end):
        char = text[i]
        if char == opening:
            depth += 1
        elif char == closing:
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


MAX_REGIONS = 10_000  # cfg'd items judged in one file; past it the rest are as written
_MOD = re.compile(r"\bmod[ \t\r\n]+(\w+)[ \t\r\n]*;")
_PATH_ATTRIBUTE = re.compile(r'#\[path\s*=\s*"([^"\n]{1,512})"\]')
MAX_DECLARATIONS = 10_000
_ATTRIBUTES_BEFORE = 4096  # characters before a `mod x;` read for its attributes


class RustCfg:
    """The line ranges of one Rust file that cfg attributes leave out of an aarch64 build."""

    def __init__(self, text: str, lines: LineIndex) -> None:
        depth = [0] * (lines.line_count + 2)  # regions opening minus closing, by line
        items: _Items | None = None
        regions = 0
        for match in _CFG.finditer(text):
            if regions >= MAX_REGIONS:
                break
            close = _closing(text, match.end(), "(", ")", MAX_PREDICATE)
            if close < 0 or evaluate(text[match.end(): close - 1]) is not False:
                continue
            items = items or _Items(text)
            end = items.end_after(close + 1)
            if end > close:
                regions += 1
                depth[lines.line_of(close)] += 1
                depth[lines.line_of(end - 1) + 1] -= 1
        self._off = bytearray(len(depth))
        if regions:
            running = 0
            for line, change in enumerate(depth):
                running += change
                self._off[line] = running > 0

    def left_out(self, line: int) -> bool:
        """Whether aarch64 builds leave this line out (regions may nest: any holding the line counts)."""
        return 0 <= line < len(self._off) and bool(self._off[line])


class _Items:
    """Where the item after an attribute ends, found in one pass over the text: the brace that closes its
    body, or its semicolon."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.closing: dict[int, int] = {}
        self.braces: list[int] = []
        self.semicolons: list[int] = []
        stack: list[int] = []
        for match in re.finditer(r"[{};]", text):
            char, at = match.group(), match.start()
            if char == "{":
                stack.append(at)
                self.braces.append(at)
            elif char == "}":
                if stack:
                    self.closing[stack.pop()] = at + 1
            else:
                self.semicolons.append(at)

    def end_after(self, at: int) -> int:
        text = self.text
        for _ in range(64):  # further attributes of the same item
            attribute = _ATTRIBUTE.match(text, at, min(len(text), at + MAX_PREDICATE))
            if attribute is None:
                break
            close = _closing(text, attribute.end(), "[", "]", MAX_PREDICATE)
            if close < 0:
                return -1
            at = close
        brace = _first_at_or_after(self.braces, at)
        semicolon = _first_at_or_after(self.semicolons, at)
        if brace < 0 and semicolon < 0:
            return -1
        if brace < 0 or 0 <= semicolon < brace:
            return semicolon + 1
        return self.closing.get(brace, -1)


def _first_at_or_after(positions: list[int], at: int) -> int:
    index = bisect_left(positions, at)
    return positions[index] if index < len(positions) else -1


def _attributes_before(text: str, at: int) -> list[str]:
    """The outer attributes (`#[...]`) right before a declaration, read backwards over a bounded stretch."""
    window = text[max(0, at - _ATTRIBUTES_BEFORE):at].rstrip()
    if window.endswith(")") and "pub" in window[-64:]:  # pub(crate) mod x;
        window = window[:window.rfind("pub")].rstrip()
    elif window.endswith("pub"):
        window = window[:-3].rstrip()
    found = []
    while window.endswith("]"):
        start = window.rfind("#[")
        if start < 0:
            break
        found.append(window[start:])
        window = window[:start].rstrip()
    return found


def declared_only_under_cfg(path: str, root: str | None) -> bool:
    """Whether the module file is declared (in lib.rs, main.rs or mod.rs beside it) only under cfg attributes
    not known to hold on aarch64."""
    if root is None:
        return False
    folder, name = os.path.split(path)
    found = False
    for parent in ("lib.rs", "main.rs", "mod.rs"):
        try:
            text = read_confined(os.path.join(folder, parent), root, MAX_MODULE_FILE_BYTES).decode("utf-8", "replace")
        except (RefusedFile, OSError):
            continue
        for count, match in enumerate(_MOD.finditer(text)):
            if count >= MAX_DECLARATIONS:
                break
            module = match.group(1)
            if f"{module}.rs" != name and name not in text[max(0, match.start() - _ATTRIBUTES_BEFORE):match.start()]:
                continue  # neither its name nor a #[path] naming this file
            attributes = _attributes_before(text, match.start())
            path_attribute = next((m.group(1) for a in attributes if (m := _PATH_ATTRIBUTE.match(a))), None)
            declared = os.path.basename(path_attribute) if path_attribute else f"{module}.rs"
            if declared != name:
                continue
            cfgs = [a[len("#[cfg("):-2] for a in attributes if a.startswith("#[cfg(") and a.endswith(")]")]
            if all(evaluate(cfg) is True for cfg in cfgs):  # none, or all true: compiled on aarch64
                return False
            found = True
    return found
