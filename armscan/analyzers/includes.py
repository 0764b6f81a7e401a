"""The macros the project headers a C-family file includes leave defined, read within the scanned tree only."""

from __future__ import annotations

import os
import re

from armscan.analyzers.configured import undefined_on_aarch64
from armscan.analyzers.preprocessor import Definition
from armscan.analyzers.text import LineIndex
from armscan.sources.confined import RefusedFile, read_confined

MAX_DEPTH = 8  # headers including headers
MAX_HEADERS = 64  # headers read for one file
MAX_HEADER_BYTES = 1 << 20
_CACHE_ENTRIES = 4096
_FOLDERS = ("", "include", "src", "lib")  # besides the including file's own folder and those above it

_QUOTED_INCLUDE = re.compile(r'#[ \t]*include[ \t]*"([^"\n]{1,512})"')
MAX_INCLUDES = 4096  # recorded for one file

_cache: dict[tuple[str, int, int], dict[str, Definition]] = {}


class Headers:
    """Resolves `#include "name"` of one file to the macros that header defines for aarch64 (cached by file)."""

    def __init__(self, path: str, root: str | None) -> None:
        self.path = path
        self.root = os.path.realpath(root) if root else None
        self.read = 0

    def __call__(self, name: str, depth: int, including: str | None = None) -> dict[str, Definition] | None:
        if self.root is None or depth >= MAX_DEPTH or self.read >= MAX_HEADERS or os.path.isabs(name):
            return None
        found = self._resolve(name, including or self.path)
        if found is None:
            return None
        try:
            st = os.stat(found)
        except OSError:
            return None
        key = (found, st.st_size, st.st_mtime_ns)
        if key in _cache:
            return _cache[key]
        self.read += 1
        try:
            text = read_confined(found, self.root, MAX_HEADER_BYTES).decode("utf-8", "replace")
        except RefusedFile:
            return None
        from armscan.analyzers.conditionals import Conditionals

        _cache[key] = {}  # a header that includes itself sees nothing of itself
        macros = Conditionals(text, LineIndex(text), lambda n, d: self(n, d, found), depth + 1,
                              configured_off=undefined_on_aarch64(self.root)).macros
        if len(_cache) >= _CACHE_ENTRIES:
            _cache.clear()
        _cache[key] = macros
        return macros

    def _resolve(self, name: str, including: str) -> str | None:
        assert self.root is not None
        folder = os.path.dirname(os.path.realpath(including))
        candidates = [os.path.join(folder, name)]
        while folder.startswith(self.root + "/") :
            folder = os.path.dirname(folder)
            candidates.append(os.path.join(folder, name))
        candidates.extend(os.path.join(self.root, sub, name) for sub in _FOLDERS[1:])
        for candidate in candidates:
            real = os.path.realpath(candidate)
            if (real == self.root or real.startswith(self.root + "/")) and os.path.isfile(real):
                return real
        return None


def quoted_includes(text: str) -> tuple[tuple[str, int], ...]:
    """The `#include "name"` directives of a file, with their lines (for the tree's include graph)."""
    found: list[tuple[str, int]] = []
    line, counted = 1, 0
    for match in _QUOTED_INCLUDE.finditer(text):
        start = match.start()
        line_start = text.rfind("\n", 0, start) + 1
        if text[line_start:start].strip(" \t"):
            continue  # not a directive: the # is not the first thing on its line
        line += text.count("\n", counted, start)
        counted = start
        found.append((match.group(1), line))
        if len(found) >= MAX_INCLUDES:
            break
    return tuple(found)
