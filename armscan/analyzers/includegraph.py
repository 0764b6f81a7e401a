"""Files the tree includes only under conditions aarch64 does not compile (`#if HAVE_AVX2` ...
`#include "arch/avx2/codec.c"`): their x86 code is a fast path the aarch64 build never compiles.

This runs after the per-file pass, which records each C-family file's `#include "..."` lines, and only when some
C-family file holds unported x86 findings: each inclusion of such a file is judged with the includer's own #if
structure (and, up the graph, the inclusions of the includer).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence

from armscan.analyzers.conditionals import Conditionals
from armscan.analyzers.configured import undefined_on_aarch64
from armscan.analyzers.includes import Headers
from armscan.analyzers.source import _judge
from armscan.analyzers.text import LineIndex
from armscan.model import Finding, PortStatus
from armscan.rules_engine.loader import Rule, RuleSet
from armscan.sources.confined import RefusedFile, read_confined
from armscan.sources.tree import FileEntry

MAX_FILE_BYTES = 1 << 20
_JUDGED = ("ARM-C-", "ARM-ASM-")  # C-family files, and assembly that the C preprocessor reads (.S)


def rejudge(entries: Sequence[FileEntry], findings: list[Finding], ruleset: RuleSet,
            includes: Mapping[str, tuple[tuple[str, int], ...]]) -> list[Finding]:
    """The findings, with those of files included only under x86-only conditions judged as x86 fast paths.

    `includes`: the `#include "name"` directives (and their lines) of each C-family file, by display name."""
    globs = _c_globs(ruleset)
    if not globs:
        return findings
    by_display = {e.display: e for e in entries}
    candidates: dict[str, FileEntry] = {}
    for finding in findings:
        entry = by_display.get(finding.location.path)
        if (entry is not None and finding.status is PortStatus.UNPORTED and finding.rule_id.startswith(_JUDGED)
                and _is_c(entry, globs, ruleset)):
            candidates[os.path.normpath(entry.path)] = entry
    if not candidates or not includes:
        return findings
    graph = _Graph([e for e in entries if _is_c(e, globs, ruleset)], includes)
    x86_only: dict[str, str] = {}
    for real, entry in candidates.items():
        where = graph.x86_only(real, 0, set())
        if where is not None:
            x86_only[entry.display] = where
    if not x86_only:
        return findings
    return [_as_fallback(f, ruleset, x86_only[f.location.path])
            if f.location.path in x86_only and f.status is PortStatus.UNPORTED and f.rule_id.startswith(_JUDGED)
            else f for f in findings]


class _Graph:
    """Who includes whom (`#include "..."`) among the tree's C-family files."""

    def __init__(self, entries: list[FileEntry], includes: Mapping[str, tuple[tuple[str, int], ...]]) -> None:
        self._conditionals: dict[str, Conditionals] = {}
        self._verdicts: dict[str, str | None] = {}
        self._files: dict[str, list[str]] = defaultdict(list)  # by file name
        self._naming: dict[str, list[tuple[FileEntry, str, int]]] = defaultdict(list)  # by the file name included
        for entry in entries:
            self._files[os.path.basename(entry.path)].append(os.path.normpath(entry.path))
            for name, line in includes.get(entry.display, ()):
                self._naming[os.path.basename(name)].append((entry, name, line))

    def _edges(self, path: str) -> list[tuple[FileEntry, int]]:
        """Where the file is included: resolved on demand, as only files with findings (and up) are asked about."""
        base = os.path.basename(path)
        same_name = self._files.get(base, [])
        places = []
        for entry, name, line in self._naming.get(base, ()):
            target = os.path.normpath(os.path.join(os.path.dirname(entry.path), name))
            if target not in same_name and not os.path.isfile(target):  # from one of the tree's include folders
                tail = "/" + os.path.normpath(name).lstrip("./")
                found = [other for other in same_name if other.endswith(tail)]
                target = found[0] if len(found) == 1 else target
            if target == path:
                places.append((entry, line))
        return places

    def x86_only(self, real: str, depth: int, visiting: set[str]) -> str | None:
        """Where the file is included from, when every inclusion is x86-only (directly, or by an includer that
        is itself included only on x86); None when some inclusion is compiled on aarch64, or none is known."""
        if real in self._verdicts:
            return self._verdicts[real]
        places = self._edges(real)
        if not places or depth > 16 or real in visiting:
            return None
        visiting.add(real)
        where = None
        for entry, line in places:
            if self._conditionals_of(entry).x86_only(line):
                where = where or f"{entry.display}:{line}"
            else:
                above = self.x86_only(os.path.normpath(entry.path), depth + 1, visiting)
                if above is None:
                    where = None
                    break
                where = where or f"{entry.display}:{line}, itself from {above}"
        visiting.discard(real)
        self._verdicts[real] = where
        return where

    def _conditionals_of(self, entry: FileEntry) -> Conditionals:
        found = self._conditionals.get(entry.path)
        if found is None:
            try:
                text = read_confined(entry.path, entry.root, MAX_FILE_BYTES).decode("utf-8", "replace")
            except RefusedFile:
                text = ""
            if len(self._conditionals) >= 256:
                self._conditionals.clear()
            found = self._conditionals[entry.path] = Conditionals(
                text, LineIndex(text), Headers(entry.path, entry.root),
                configured_off=undefined_on_aarch64(entry.root))
        return found


def _as_fallback(finding: Finding, ruleset: RuleSet, where: str) -> Finding:
    try:
        rule = ruleset.by_id(finding.rule_id)
    except KeyError:
        return finding
    if rule.when_guarded.severity is None and rule.when_guarded.message is None:
        return finding  # a rule with no x86-fast-path judgment (an #if chain finding) stays as it is
    severity, confidence, message, advice = _judge(rule, PortStatus.FALLBACK)
    if finding.location.line is not None:
        match, detail = _parts(rule, finding)
        message = " ".join(message.replace("{match}", match).replace("{detail}", detail).split())
    else:
        message = finding.message
    return dataclasses.replace(
        finding, severity=severity, confidence=confidence, advice=advice, status=PortStatus.FALLBACK,
        message=f"{message} This file is compiled only on x86: it is included only under an x86-only condition "
                f"({where}).",
    )


def _parts(rule: Rule, finding: Finding) -> tuple[str, str]:
    """The {match} and {detail} the finding's message was made with."""
    pattern = re.escape(" ".join(rule.message.split()))
    pattern = pattern.replace(re.escape("{match}"), "(?P<match>.*?)", 1).replace(re.escape("{detail}"),
                                                                                 "(?P<detail>.*?)", 1)
    found = re.match(pattern.replace(re.escape("{match}"), ".*?").replace(re.escape("{detail}"), ".*?"),
                     finding.message) if len(finding.message) < 2000 else None  # a note may follow
    groups = found.groupdict() if found else {}
    match = groups.get("match") or finding.location.match or ""
    return match, groups.get("detail") or match


def _c_globs(ruleset: RuleSet) -> tuple[str, ...]:
    """The file names of C-family and assembly sources (which #include one another)."""
    found: dict[str, tuple[str, ...]] = {}
    for rule in ruleset.rules:
        for language, globs in rule.language_globs:
            if language in ("c", "asm"):
                found.setdefault(language, globs)
    return tuple(dict.fromkeys(g for globs in found.values() for g in globs))


def _is_c(entry: FileEntry, globs: tuple[str, ...], ruleset: RuleSet) -> bool:
    name = ruleset.name_for_rules(os.path.basename(entry.path))
    suffixes = _SUFFIXES.get(globs)
    if suffixes is None:
        suffixes = _SUFFIXES[globs] = tuple(g[1:] for g in globs if g.startswith("*.") and "*" not in g[1:])
    return name.endswith(suffixes) or any(fnmatch.fnmatchcase(name, g) for g in globs if g[1:] not in suffixes)


_SUFFIXES: dict[tuple[str, ...], tuple[str, ...]] = {}
