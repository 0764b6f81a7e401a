"""Analyze one file's content: classify it as a binary, an archive, or source, and analyze that."""

from __future__ import annotations

import fnmatch
import io
import json
import os
import re
from pathlib import Path
from typing import BinaryIO

import yaml

from armscan.analyzers import binaries, java, nodelock, nodenative
from armscan.analyzers.counterparts import Siblings
from armscan.analyzers.includes import quoted_includes
from armscan.analyzers.nodelockfile import LOCK_NAMES, LockError, read_lock
from armscan.analyzers.source import SourceFile, analyze_text
from armscan.binary.headers import EMPTY_ZIP_MAGIC, HEAD_SIZE, ZIP_MAGIC, HeaderError, classify
from armscan.limits import ARCHIVE_SUFFIXES, TAR_SUFFIXES, Limits
from armscan.model import Artifact, Finding, Skipped, SkipReason
from armscan.rules_engine.loader import RuleSet
from armscan.sources import zipdir
from armscan.sources.archives import Nesting
from armscan.sources.confined import RefusedFile, inside, open_confined, read_confined


class Collector:
    """Accumulates what the analysis of one top-level file produces."""

    def __init__(self) -> None:
        self.artifacts: list[Artifact] = []
        self.findings: list[Finding] = []
        self.skipped: list[Skipped] = []
        self.source_scanned = False
        self.bytes_read = 0
        self.nesting = Nesting()  # what the archives inside the current top-level file have cost
        self.includes: tuple[tuple[str, int], ...] = ()  # a C-family file's `#include "name"` and their lines

    def skip(self, path: str, reason: SkipReason, detail: str) -> None:
        self.skipped.append(Skipped(path=path, reason=reason, detail=detail))


def analyze_stream(
    fh: BinaryIO,
    size: int,
    display: str,
    name: str,
    ruleset: RuleSet,
    limits: Limits,
    out: Collector,
    *,
    fs_path: str | None = None,
    fs_root: str | None = None,
    depth: int = 0,
) -> None:
    """Analyze one file or archive member given as a seekable stream."""
    head = fh.read(HEAD_SIZE)
    out.bytes_read += len(head)
    try:
        header = classify(head)
    except HeaderError as e:
        out.skip(display, SkipReason.MALFORMED, f"looks like a binary but is malformed: {e}")
        return
    if header is not None:
        try:
            artifact = binaries.inspect(header, fh, size, display)
        except HeaderError as e:
            out.skip(display, SkipReason.MALFORMED, f"{header.format} file is malformed: {e}")
            return
        out.artifacts.append(artifact)
        siblings = Siblings(fs_path) if fs_path else None
        out.findings.extend(binaries.findings_for(artifact, ruleset, name, siblings))
        return
    if name.lower().endswith(ARCHIVE_SUFFIXES) and (
            head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)) or zipdir.is_zip(fh, size)):
        from armscan.sources.archives import scan_zip

        fh.seek(0)
        scan_zip(fh, display, ruleset, limits, out, depth=depth, size=size)
        return
    if name.lower().endswith(TAR_SUFFIXES):
        from armscan.sources.tararchives import scan_tar

        fh.seek(0)
        scan_tar(fh, display, name, ruleset, limits, out, depth=depth, size=size)
        out.source_scanned = True
        return
    if name in java.BUILD_FILES:
        if size > limits.max_text_size:
            out.skip(display, SkipReason.TOO_LARGE, f"{size} bytes is over the {limits.max_text_size}-byte limit")
            return
        rest = fh.read(limits.max_text_size - len(head) + 1)
        out.bytes_read += len(rest)
        folder = Path(fs_path).parent if fs_path else None
        found, skipped = java.analyze(name, display, decode_text(head + rest), folder, ruleset, root=fs_root)
        out.findings.extend(found)
        out.skipped.extend(skipped)
        out.source_scanned = True
        return
    if name in LOCK_NAMES or (name == "package.json" and _project_manifest(display, fs_path, fs_root)):
        if size > limits.max_text_size:
            out.skip(display, SkipReason.TOO_LARGE, f"{size} bytes is over the {limits.max_text_size}-byte limit")
            return
        rest = fh.read(limits.max_text_size - len(head) + 1)
        out.bytes_read += len(rest)
        _analyze_node(name, display, decode_text(head + rest), ruleset, out)
        return
    name = ruleset.name_for_rules(name)
    rules = ruleset.for_file(name)
    if not rules:
        return
    if size > limits.max_text_size:
        out.skip(display, SkipReason.TOO_LARGE,
                 f"{size} bytes is over the {limits.max_text_size}-byte limit for source rules")
        return
    rest = fh.read(limits.max_text_size - len(head) + 1)
    out.bytes_read += len(rest)
    text = decode_text(head + rest)
    source = SourceFile(fs_path or display, display, name, text, Siblings(fs_path or "", fs_root), root=fs_root)
    out.findings.extend(analyze_text(source, rules, limits.max_findings_per_rule))
    out.source_scanned = True
    if fs_path and depth == 0 and _QUOTED_INCLUDE_HINT.search(text) and any("c" in r.languages or "asm" in r.languages
                                                                           for r in rules):
        out.includes = quoted_includes(text)


_QUOTED_INCLUDE_HINT = re.compile(r'include[ \t]*"')
_BOMS = ((b"\xff\xfe\x00\x00", "utf-32-le"), (b"\x00\x00\xfe\xff", "utf-32-be"), (b"\xef\xbb\xbf", "utf-8-sig"),
         (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def decode_text(data: bytes) -> str:
    """A text file's content: UTF-8 unless a byte-order mark, or NUL bytes in every other place, say UTF-16 or
    UTF-32. A stray NUL is kept as a character (compilers ignore it), so that it hides nothing after it."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom):].decode(encoding.removesuffix("-sig"), "replace")
    sample = data[:4096]
    if b"\0" in sample and len(sample) >= 4:
        even, odd = sample[0::2], sample[1::2]
        if odd.count(0) >= 0.9 * len(odd) and even.count(0) < 0.1 * len(even):
            return data.decode("utf-16-le", "replace")
        if even.count(0) >= 0.9 * len(even) and odd.count(0) < 0.1 * len(odd):
            return data.decode("utf-16-be", "replace")
    return data.decode("utf-8", "replace")


def _project_manifest(display: str, fs_path: str | None, fs_root: str | None) -> bool:
    """A project's own package.json with no lock file that covers it (the lock says more): none beside it, nor
    at the root of a workspace it is a member of. Those of installed packages under node_modules are not the
    project's choices."""
    if "node_modules/" in display.replace("\\", "/"):
        return False
    if not fs_path:
        return True
    folder = Path(fs_path).parent
    for depth, candidate in enumerate((folder, *folder.parents)):
        if depth > 8 or (fs_root is not None and not inside(os.path.realpath(candidate), fs_root)):
            break  # a workspace root above the scanned tree is not the scan's to read
        if any((candidate / lock).is_file() for lock in LOCK_NAMES) and (depth == 0 or _is_member(
                folder.relative_to(candidate).as_posix(), _workspace_globs(candidate, fs_root))):
            return False
    return True


def _workspace_globs(root: Path, fs_root: str | None) -> list[str]:
    """The member globs of an npm/yarn (package.json `workspaces`) or pnpm (pnpm-workspace.yaml) workspace."""
    try:
        if (root / "pnpm-workspace.yaml").is_file():
            from armscan.resources import load_yaml

            text = read_confined(root / "pnpm-workspace.yaml", fs_root, 1 << 20).decode("utf-8", "replace")
            data = load_yaml(text)
            globs = data.get("packages") if isinstance(data, dict) else None
        else:
            data = json.loads(read_confined(root / "package.json", fs_root, 1 << 20))
            globs = data.get("workspaces") if isinstance(data, dict) else None
            globs = globs.get("packages") if isinstance(globs, dict) else globs
    except (RefusedFile, OSError, ValueError, RecursionError, yaml.YAMLError):
        return []
    return [str(g) for g in globs] if isinstance(globs, list) else []


def _is_member(relative: str, globs: list[str]) -> bool:
    def matches(glob: str) -> bool:
        return fnmatch.fnmatchcase(relative, glob.removeprefix("./").rstrip("/"))

    included = any(matches(g) for g in globs if not g.startswith("!"))
    return included and not any(matches(g[1:]) for g in globs if g.startswith("!"))


def _analyze_node(name: str, display: str, text: str, ruleset: RuleSet, out: Collector) -> None:
    out.source_scanned = True
    if name == "package.json":
        found, skipped = nodenative.manifest_findings(text, display, ruleset)
        out.findings.extend(found)
        out.skipped.extend(skipped)
        return
    try:
        lock = read_lock(name, text)
    except LockError as e:
        out.skip(display, SkipReason.MALFORMED, f"lock file not read: {e}")
        return
    out.findings.extend(nodelock.analyze(lock, display, ruleset))
    out.findings.extend(nodenative.lock_findings(lock, display, ruleset))


def analyze_file(path: str, display: str, ruleset: RuleSet, limits: Limits, root: str | None = None) -> Collector:
    """Analyze a file on disk (inside `root` only, read as it is when opened); failures become skipped records."""
    out = Collector()
    try:
        fh = open_confined(path, root)
    except RefusedFile as e:
        if e.reason is SkipReason.NOT_FOUND:
            out.skip(display, SkipReason.VANISHED, "the file disappeared during the scan")
        elif e.reason is SkipReason.SPECIAL_FILE:
            out.skip(display, e.reason, f"{e.detail} (it replaced the file during the scan)")
        elif e.reason is SkipReason.OUTSIDE_TREE:
            out.skip(display, e.reason, "it became a link out of the scanned tree during the scan; not read")
        else:
            out.skip(display, e.reason, e.detail)
        return out
    with fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            buffered = io.BufferedReader(fh, buffer_size=65536)  # type: ignore[type-var]
            analyze_stream(buffered, size, display, os.path.basename(path), ruleset, limits, out, fs_path=path,
                           fs_root=root)
        except OSError as e:
            out.skip(display, SkipReason.UNREADABLE, f"read failed: {e.strerror or e}")
    return out
