"""Analyze one file's content: classify it as a binary, an archive, or source, and analyze that."""

from __future__ import annotations

import fnmatch
import io
import json
import os
import stat
from pathlib import Path
from typing import BinaryIO

import yaml

from armscan.analyzers import binaries, java, nodelock, nodenative
from armscan.analyzers.counterparts import Siblings
from armscan.analyzers.nodelockfile import LOCK_NAMES, LockError, read_lock
from armscan.analyzers.source import SourceFile, analyze_text
from armscan.binary.headers import EMPTY_ZIP_MAGIC, HEAD_SIZE, ZIP_MAGIC, HeaderError, classify
from armscan.limits import ARCHIVE_SUFFIXES, Limits
from armscan.model import Artifact, Finding, Skipped, SkipReason
from armscan.rules_engine.loader import RuleSet
from armscan.sources import zipdir
from armscan.sources.archives import Nesting


class Collector:
    """Accumulates what the analysis of one top-level file produces."""

    def __init__(self) -> None:
        self.artifacts: list[Artifact] = []
        self.findings: list[Finding] = []
        self.skipped: list[Skipped] = []
        self.source_scanned = False
        self.bytes_read = 0
        self.nesting = Nesting()  # what the archives inside the current top-level file have cost

    def skip(self, path: str, reason: SkipReason, detail: str) -> None:
        self.skipped.append(Skipped(path=path, reason=reason, detail=detail))


def open_regular(path: str) -> BinaryIO:
    """Open without following a symlink or blocking on a FIFO that replaced the file after the walk."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise IsADirectoryError(f"not a regular file (mode {stat.filemode(mode)})")
        return os.fdopen(fd, "rb", buffering=0)
    except BaseException:
        os.close(fd)
        raise


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
    if name in java.BUILD_FILES:
        if size <= limits.max_text_size:
            rest = fh.read(limits.max_text_size - len(head) + 1)
            out.bytes_read += len(rest)
            text = (head + rest).decode("utf-8", "replace")
            found, skipped = java.analyze(name, display, text, Path(fs_path or ".").parent, ruleset)
            out.findings.extend(found)
            out.skipped.extend(skipped)
            out.source_scanned = True
        return
    if name in LOCK_NAMES or (name == "package.json" and _project_manifest(display, fs_path)):
        if size > limits.max_text_size:
            out.skip(display, SkipReason.TOO_LARGE, f"{size} bytes is over the {limits.max_text_size}-byte limit")
            return
        rest = fh.read(limits.max_text_size - len(head) + 1)
        out.bytes_read += len(rest)
        _analyze_node(name, display, (head + rest).decode("utf-8", "replace"), ruleset, out)
        return
    rules = ruleset.for_file(name)
    if not rules:
        return
    if size > limits.max_text_size:
        out.skip(display, SkipReason.TOO_LARGE,
                 f"{size} bytes is over the {limits.max_text_size}-byte limit for source rules")
        return
    if b"\0" in head:
        return  # binary data under a source file name
    rest = fh.read(limits.max_text_size - len(head) + 1)
    out.bytes_read += len(rest)
    text = (head + rest).decode("utf-8", "replace")
    source = SourceFile(fs_path or display, display, name, text, Siblings(fs_path or ""))
    out.findings.extend(analyze_text(source, rules))
    out.source_scanned = True


def _project_manifest(display: str, fs_path: str | None) -> bool:
    """A project's own package.json with no lock file that covers it (the lock says more): none beside it, nor
    at the root of a workspace it is a member of. Those of installed packages under node_modules are not the
    project's choices."""
    if "node_modules/" in display.replace("\\", "/"):
        return False
    if not fs_path:
        return True
    folder = Path(fs_path).parent
    for depth, candidate in enumerate((folder, *folder.parents)):
        if depth > 8:
            break
        if any((candidate / lock).is_file() for lock in LOCK_NAMES) and (
                depth == 0 or _is_member(folder.relative_to(candidate).as_posix(), _workspace_globs(candidate))):
            return False
    return True


def _workspace_globs(root: Path) -> list[str]:
    """The member globs of an npm/yarn (package.json `workspaces`) or pnpm (pnpm-workspace.yaml) workspace."""
    try:
        if (root / "pnpm-workspace.yaml").is_file():
            from armscan.resources import load_yaml

            data = load_yaml((root / "pnpm-workspace.yaml").read_text(encoding="utf-8", errors="replace"))
            globs = data.get("packages") if isinstance(data, dict) else None
        else:
            data = json.loads((root / "package.json").read_bytes()[: 1 << 20])
            globs = data.get("workspaces") if isinstance(data, dict) else None
            globs = globs.get("packages") if isinstance(globs, dict) else globs
    except (OSError, ValueError, RecursionError, yaml.YAMLError):
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


def analyze_file(path: str, display: str, ruleset: RuleSet, limits: Limits) -> Collector:
    """Analyze a file on disk; every failure becomes a skipped record."""
    out = Collector()
    try:
        fh = open_regular(path)
    except FileNotFoundError:
        out.skip(display, SkipReason.VANISHED, "the file disappeared during the scan")
        return out
    except PermissionError as e:
        out.skip(display, SkipReason.UNREADABLE, f"permission denied: {e.strerror}")
        return out
    except IsADirectoryError as e:
        out.skip(display, SkipReason.SPECIAL_FILE, str(e))
        return out
    except OSError as e:
        reason = SkipReason.SYMLINK_LOOP if e.errno == 40 else SkipReason.UNREADABLE
        out.skip(display, reason, e.strerror or str(e))
        return out
    with fh:
        try:
            size = os.fstat(fh.fileno()).st_size
            buffered = io.BufferedReader(fh, buffer_size=65536)  # type: ignore[type-var]
            analyze_stream(buffered, size, display, os.path.basename(path), ruleset, limits, out, fs_path=path)
        except OSError as e:
            out.skip(display, SkipReason.UNREADABLE, f"read failed: {e.strerror or e}")
    return out
