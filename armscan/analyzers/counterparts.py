"""Does an x86-specific file have an aarch64 counterpart beside it (foo_sse2.c next to foo_neon.c)?"""

from __future__ import annotations

import os
import re
from functools import lru_cache

_SPLIT = re.compile(r"[^a-z0-9]+")
_X86_TOKEN = re.compile(r"x8664|x86|x64|amd64|i[3-6]86|ia32|intel|sse\d*|ssse3|avx\w*|mmx|x86asm|nasm|yasm")
_ARM_TOKEN = re.compile(r"aarch64|arm64|armv\d\w*|arm|neon|sve\d?|asimd|arm32|thumb\d?")
_KNOWN_EXTENSIONS = re.compile(r"\.(?:c|h|cc|cpp|cxx|hpp|hh|s|asm|nasm|yasm|go|rs|inc|inl|mm?)$", re.I)


def _tokens(name: str) -> list[str]:
    lowered = name.lower().replace("x86_64", "x8664").replace("x86-64", "x8664")
    return [t for t in _SPLIT.split(lowered) if t]


def is_x86_named(name: str) -> bool:
    return any(_X86_TOKEN.fullmatch(t) for t in _tokens(name))


def is_arm_named(name: str) -> bool:
    return any(_ARM_TOKEN.fullmatch(t) for t in _tokens(name))


def base_name(name: str) -> str:
    """The name without its extension, architecture words and numbers: mix_sse2.c -> mix."""
    stem = _KNOWN_EXTENSIONS.sub("", name)
    return "_".join(
        t for t in _tokens(stem) if not (_X86_TOKEN.fullmatch(t) or _ARM_TOKEN.fullmatch(t) or t.isdigit())
    )


class Siblings:
    """What lies next to a file: names in its folder and in the folders beside that folder."""

    def __init__(self, path: str) -> None:
        self.directory = os.path.dirname(path)

    def names(self) -> tuple[str, ...]:
        return _list(self.directory)

    def nearby_folders(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        parent = os.path.dirname(self.directory)
        result = []
        for entry in _list(parent):
            full = os.path.join(parent, entry)
            if full != self.directory and os.path.isdir(full) and not os.path.islink(full):
                result.append((entry, _list(full)))
        return tuple(result)

    def read_head(self, name: str, size: int = 4096) -> str:
        try:
            with open(os.path.join(self.directory, name), "rb") as fh:
                return fh.read(size).decode("utf-8", "replace")
        except OSError:
            return ""


@lru_cache(maxsize=4096)
def _list(directory: str) -> tuple[str, ...]:
    try:
        return tuple(sorted(os.listdir(directory)))
    except OSError:
        return ()


def has_arm_counterpart(name: str, siblings: Siblings, *, require_x86_name: bool = True) -> bool:
    """True when a file named for ARM with the same base name sits beside this one.

    With require_x86_name (the default), only a file or folder named for x86 can have a counterpart,
    so that a generic crc32.c is not taken as ported because crc32_neon.c exists.
    """
    folder = os.path.basename(siblings.directory)
    if require_x86_name and not (is_x86_named(name) or is_x86_named(folder)):
        return False
    base = base_name(name)
    for other in siblings.names():
        if other != name and is_arm_named(other) and base_name(other) == base:
            return True
    if is_x86_named(folder) or not require_x86_name:
        for folder_name, names in siblings.nearby_folders():
            if is_arm_named(folder_name) and any(base_name(n) == base for n in names):
                return True
    return False
