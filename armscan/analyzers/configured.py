"""Macros a project's configure step defines only when an x86 probe succeeds, so never on aarch64.

`check_cxx_source_compiles("#include <xmmintrin.h> ... _mm_prefetch(...)" HAVE_MM_PREFETCH)` in CMake, or an
`AC_LINK_IFELSE` of `_rdrand64_step` that ends in `AC_DEFINE([HAVE_RDRAND])` in autoconf: on aarch64 the probe
fails, the config header leaves the macro out (or at 0), and code under `#if HAVE_MM_PREFETCH` is not compiled
there. The build files are read once per scan, before the files are analyzed; every C-family file of the tree
then evaluates its conditions with these macros undefined.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

from armscan.analyzers import cmakefiles
from armscan.analyzers.buildfiles import X86_CODE, X86_FLAG
from armscan.sources.confined import RefusedFile, read_confined
from armscan.sources.tree import FileEntry

MAX_BUILD_FILES = 512
MAX_BUILD_FILE_BYTES = 1 << 20
MAX_MACROS = 4096
_AUTOCONF_NAMES = frozenset({"configure.ac", "configure.in"})
# An autoconf probe: the program runs to the probe's end, where its success branch says what it defines
_AC_PROBE = re.compile(r"\b(?:AC_(?:COMPILE|LINK|RUN|PREPROC)_IFELSE|AC_TRY_(?:COMPILE|LINK|RUN|CPP))\s*\(")
_AC_DEFINE = re.compile(r"\bAC_DEFINE(?:_UNQUOTED)?\s*\(\s*\[?\s*([A-Za-z_]\w*)")
_AC_CHECK_HEADERS = re.compile(r"\bAC_CHECK_HEADERS?\s*\(\s*\[?([^\])]{1,2048})")
_X86_HEADER_NAME = re.compile(r"^(?:[a-z]?mmintrin|immintrin|x86intrin|ammintrin|cpuid)\.h$")
_ARM_CODE = re.compile(r"__aarch64__|__arm__|__ARM_|arm_neon|_M_ARM")  # a probe that passes on ARM too
_PROBE_WINDOW = 4096  # characters of a probe read for its program and its defines

_by_root: dict[str, frozenset[str]] = {}


def learn(entries: Iterable[FileEntry]) -> dict[str, frozenset[str]]:
    """The macros defined only by x86 probes in each scanned tree's build files, by tree root."""
    found: dict[str, set[str]] = {}
    read = 0
    for entry in entries:
        name = os.path.basename(entry.path)
        kind = "cmake" if name == "CMakeLists.txt" or name.endswith(".cmake") else \
            "autoconf" if name in _AUTOCONF_NAMES else None
        if kind is None or entry.root is None or read >= MAX_BUILD_FILES:
            continue
        read += 1
        try:
            text = read_confined(entry.path, entry.root, MAX_BUILD_FILE_BYTES).decode("utf-8", "replace")
        except RefusedFile:
            continue
        names = found.setdefault(entry.root, set())
        names.update(cmake_probes(text) if kind == "cmake" else autoconf_probes(text))
        if len(names) > MAX_MACROS:
            names.clear()  # past any real project's count: trust none of it
    return {root: frozenset(names) for root, names in found.items() if names}


def use(by_root: Mapping[str, frozenset[str]]) -> None:
    """Make the learned macros what this process's analyses see (each worker process is handed them)."""
    _by_root.clear()
    _by_root.update(by_root)


def undefined_on_aarch64(root: str | None) -> frozenset[str]:
    return _by_root.get(root, frozenset()) if root else frozenset()


def cmake_probes(text: str) -> set[str]:
    """Result variables of CMake probes of x86 code or x86 flags (CMake writes them to the config header as
    #cmakedefine or #cmakedefine01, where they are named alike)."""
    names = set()
    for command in cmakefiles.commands(text):
        words = [word for word, _, _ in command.args]
        if len(words) < 2:
            continue
        program = " ".join(words[:-1])
        if command.name in cmakefiles.CODE_PROBES and X86_CODE.search(program) and not _ARM_CODE.search(program):
            names.add(words[-1].strip('"'))
        elif command.name in cmakefiles.FLAG_PROBES:
            at = cmakefiles.FLAG_PROBES[command.name]
            if len(words) > at + 1 and any(X86_FLAG.match(w) for w in words[at].strip('"').split()):
                names.add(words[at + 1].strip('"'))
    return {n for n in names if re.fullmatch(r"[A-Za-z_]\w*", n)}


def autoconf_probes(text: str) -> set[str]:
    """Macros AC_DEFINE'd by autoconf probes whose program is x86 code, and HAVE_*_H of x86-only headers."""
    names = set()
    for probe in _AC_PROBE.finditer(text):
        window = text[probe.end(): probe.end() + _PROBE_WINDOW]
        define = _AC_DEFINE.search(window)
        program = window[: define.start()] if define is not None else ""
        if define is not None and X86_CODE.search(program) and not _ARM_CODE.search(program):
            names.add(define.group(1))
    for check in _AC_CHECK_HEADERS.finditer(text):
        for header in check.group(1).split():
            if _X86_HEADER_NAME.match(header):
                names.add("HAVE_" + re.sub(r"\W", "_", header.upper()))
    return names
