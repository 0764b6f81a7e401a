"""Look inside zip-based archives (wheels, JARs, WARs, eggs) in memory, with limits against bombs."""

from __future__ import annotations

import io
import itertools
import posixpath
import re
import zipfile
import zlib
from typing import TYPE_CHECKING, BinaryIO

from armscan.binary.headers import EMPTY_ZIP_MAGIC, HEAD_SIZE, ZIP_MAGIC, HeaderError, classify
from armscan.limits import ARCHIVE_SUFFIXES, Limits, MiB
from armscan.model import PortStatus, SkipReason

if TYPE_CHECKING:
    from armscan.analyzers.files import Collector
    from armscan.rules_engine.loader import RuleSet

_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
           ValueError, OSError)


def _overlapping(infos: list[zipfile.ZipInfo]) -> bool:
    """Entries that share compressed data are the mark of a non-recursive zip bomb."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for first, second in itertools.pairwise(ordered):
        if first.header_offset + 30 + first.compress_size > second.header_offset:
            return True
    return False


def scan_zip(fh: BinaryIO, display: str, ruleset: RuleSet, limits: Limits, out: Collector, *, depth: int) -> None:
    if depth >= limits.max_archive_depth:
        out.skip(display, SkipReason.ARCHIVE_LIMIT, f"archive nested deeper than {limits.max_archive_depth} levels")
        return
    try:
        archive = zipfile.ZipFile(fh)
        infos = [i for i in archive.infolist() if not i.filename.endswith("/")]  # is_dir() fails on an empty name
    except _ERRORS as e:
        out.skip(display, SkipReason.MALFORMED, f"unreadable zip archive: {e}")
        return
    if len(infos) > limits.max_archive_members:
        out.skip(display, SkipReason.ARCHIVE_LIMIT,
                 f"{len(infos)} members is over the limit of {limits.max_archive_members}")
        return
    if _overlapping(infos):
        out.skip(display, SkipReason.ZIP_BOMB, "zip entries overlap (shared compressed data): a zip bomb")
        return
    total = 0
    first_artifact, first_finding = len(out.artifacts), len(out.findings)
    with archive:
        for info in infos:
            member = f"{display}!{info.filename}"
            if info.file_size > limits.max_member_size:
                out.skip(member, SkipReason.TOO_LARGE,
                         f"{info.file_size} bytes uncompressed is over the {limits.max_member_size}-byte limit")
                continue
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > MiB and ratio > limits.max_compression_ratio:
                out.skip(member, SkipReason.ZIP_BOMB,
                         f"compression ratio {ratio:.0f}:1 is over the limit of {limits.max_compression_ratio}:1")
                continue
            total += info.file_size
            if total > limits.max_archive_total:
                out.skip(display, SkipReason.ARCHIVE_LIMIT,
                         f"more than {limits.max_archive_total} bytes uncompressed; members after "
                         f"{info.filename} were not checked")
                return
            _member(archive, info, member, ruleset, limits, out, depth)
    _mark_ported(display, first_artifact, first_finding, ruleset, out)
    from armscan.analyzers.java import classifier_jar_findings

    out.findings.extend(classifier_jar_findings([f"{display}!{i.filename}" for i in infos], ruleset))


# Architecture names in native-library paths of JARs and wheels: snappy's Linux/x86_64, netty's
# ..._x86_64.so and ..._aarch_64.so, zstd-jni's linux/amd64, JNA's linux-x86-64 and linux-aarch64.
_ARCH_TOKEN = re.compile(r"(?<![a-z0-9])(?:x86[_-]64|amd64|x64|aarch[_-]?64|arm64)(?![a-z0-9])", re.IGNORECASE)


def _mark_ported(display: str, first_artifact: int, first_finding: int, ruleset: RuleSet, out: Collector) -> None:
    """A member built for x86 whose aarch64 build ships in the same archive (same path but for the
    architecture name) is already ported: its finding says so, at severity info."""
    from dataclasses import replace

    from armscan.analyzers.source import Hit, to_finding

    arm = {_ARCH_TOKEN.sub("{arch}", a.path) for a in out.artifacts[first_artifact:] if a.machines == ("aarch64",)}
    if not arm:
        return
    for i in range(first_finding, len(out.findings)):
        finding = out.findings[i]
        if finding.status.value != "unported" or _ARCH_TOKEN.sub("{arch}", finding.location.path) not in arm:
            continue
        rule = next((r for r in ruleset.rules if r.id == finding.rule_id), None)
        if rule is None:
            continue
        hit = Hit(line=0, column=0, end_column=None, snippet=finding.location.snippet or "",
                  match=finding.location.match or "", state=PortStatus.PORTED, detail=finding.location.snippet)
        ported = to_finding(rule, hit, finding.location.path)
        out.findings[i] = replace(ported, location=finding.location, message=ported.message)


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, member: str, ruleset: RuleSet, limits: Limits,
            out: Collector, depth: int) -> None:
    from armscan.analyzers.files import analyze_stream

    name = posixpath.basename(info.filename)
    try:
        with archive.open(info) as stream:
            head = stream.read(HEAD_SIZE)
            interesting = _needs_whole(head, name, ruleset)
            data = head + stream.read(info.file_size) if interesting else head
    except _ERRORS as e:
        out.skip(member, SkipReason.MALFORMED, f"archive member unreadable: {e}")
        return
    out.bytes_read += len(data)
    if not interesting:
        return
    analyze_stream(io.BytesIO(data), len(data), member, name, ruleset, limits, out, depth=depth + 1)


def _needs_whole(head: bytes, name: str, ruleset: RuleSet) -> bool:
    try:
        if classify(head) is not None:
            return True
    except HeaderError:
        return True
    if head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)) and name.lower().endswith(ARCHIVE_SUFFIXES):
        return True
    return bool(ruleset.for_file(name))
