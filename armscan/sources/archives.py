"""Look inside zip-based archives (wheels, JARs, WARs, eggs) in memory, with limits against bombs."""

from __future__ import annotations

import hashlib
import io
import itertools
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, BinaryIO

from armscan.binary.headers import EMPTY_ZIP_MAGIC, HEAD_SIZE, ZIP_MAGIC, HeaderError, classify
from armscan.limits import ARCHIVE_SUFFIXES, TAR_SUFFIXES, Limits, MiB
from armscan.model import Artifact, PortStatus, SkipReason
from armscan.sources import zipdir

if TYPE_CHECKING:
    from armscan.analyzers.files import Collector
    from armscan.rules_engine.loader import RuleSet

_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError,
           ValueError, OSError, IndexError)  # IndexError: zipfile on an entry with an empty name


def _overlapping(infos: list[zipfile.ZipInfo]) -> bool:
    """Entries that share compressed data are the mark of a non-recursive zip bomb."""
    ordered = sorted(infos, key=lambda i: i.header_offset)
    for first, second in itertools.pairwise(ordered):
        if first.header_offset + 30 + first.compress_size > second.header_offset:
            return True
    return False


def scan_zip(fh: BinaryIO, display: str, ruleset: RuleSet, limits: Limits, out: Collector, *, depth: int,
             size: int | None = None) -> None:
    """Analyze the members of a zip. The limits on bytes and binaries hold across the whole nesting of one
    top-level file (depth 0), not per archive: 42.zip-style nesting multiplies per-archive limits."""
    if not enter(display, limits, out, depth):
        return
    if size is None:
        size = fh.seek(0, io.SEEK_END)
        fh.seek(0)
    try:
        refused = zipdir.too_many_entries(fh, size, limits.max_archive_members)
        if refused:
            out.skip(display, SkipReason.ARCHIVE_LIMIT, refused)
            return
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
    first_artifact, first_finding = len(out.artifacts), len(out.findings)
    with archive:
        for info in infos:
            if out.nesting.spent:
                return
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
            if not charge(member, display, info.file_size, limits, out):
                return
            nested = info.filename.lower().endswith(ARCHIVE_SUFFIXES + TAR_SUFFIXES)
            if depth + 1 >= limits.max_archive_depth and nested:
                too_deep(member, limits, out)  # not read at all: it would not be opened
                continue
            _member(archive, info, member, ruleset, limits, out, depth)
    _mark_ported(display, first_artifact, first_finding, ruleset, out)
    from armscan.analyzers.java import classifier_jar_findings

    out.findings.extend(classifier_jar_findings([f"{display}!{i.filename}" for i in infos], ruleset))


# Architecture names in native-library paths of JARs and wheels: snappy's Linux/x86_64, netty's
# ..._x86_64.so and ..._aarch_64.so, zstd-jni's linux/amd64, JNA's linux-x86-64 and linux-aarch64.
_ARCH_TOKEN = re.compile(r"(?<![a-z0-9])(?:x86[_-]64|amd64|x64|aarch[_-]?64|arm64)(?![a-z0-9])", re.IGNORECASE)


# rocksdbjni's flat names: librocksdbjni-linux64.so is the x86-64 build beside librocksdbjni-linux-aarch64.so
_LINUX_BITS = re.compile(r"(?i)(?<![a-z0-9])linux(64|32)(?![a-z0-9])")
_WORDS = re.compile(r"[^a-z0-9]+")
# Another operating system's build (Windows/x86, osx-x86_64, darwin, freebsd, sunos), or 32-bit x86, which a
# linux/arm64 JVM never loads when the archive also carries the linux aarch64 build
_OTHER_OS_WORDS = frozenset({"windows", "win32", "win64", "win", "osx", "darwin", "mac", "macos", "macosx", "freebsd",
                             "openbsd", "netbsd", "sunos", "solaris", "aix"})
_X86_32_WORDS = frozenset({"x86", "i386", "i486", "i586", "i686", "ia32", "linux32"})
_OTHER_OS_SUFFIXES = (".dll", ".dylib", ".jnilib")


def _arch_free(path: str) -> str:
    return _ARCH_TOKEN.sub("{arch}", _LINUX_BITS.sub(lambda m: "linux-" + ("x86_64" if m.group(1) == "64" else "x86"),
                                                     path))


def _never_loaded_beside_arm(path: str) -> bool:
    member = path.rsplit("!", 1)[-1].lower()
    words = set(_WORDS.split(member.replace("x86_64", "x8664").replace("x86-64", "x8664")))
    return member.endswith(_OTHER_OS_SUFFIXES) or bool(words & _OTHER_OS_WORDS) or bool(words & _X86_32_WORDS)


def _mark_ported(display: str, first_artifact: int, first_finding: int, ruleset: RuleSet, out: Collector) -> None:
    """A member built for x86 whose aarch64 build ships in the same archive (same path but for the
    architecture name) is already ported: its finding says so, at severity info. When the archive carries a
    linux aarch64 build, its builds for other systems and for 32-bit x86 are no finding at all."""

    from armscan.analyzers.source import Hit, to_finding

    arm = {_arch_free(a.path) for a in out.artifacts[first_artifact:] if a.machines == ("aarch64",)}
    if not arm:
        return
    dropped: set[int] = set()
    for i in range(first_finding, len(out.findings)):
        finding = out.findings[i]
        if finding.status.value == "unported" and _never_loaded_beside_arm(finding.location.path):
            dropped.add(i)
            continue
        if finding.status.value != "unported" or _arch_free(finding.location.path) not in arm:
            continue
        rule = next((r for r in ruleset.rules if r.id == finding.rule_id), None)
        if rule is None:
            continue
        hit = Hit(line=0, column=0, end_column=None, snippet=finding.location.snippet or "",
                  match=finding.location.match or "", state=PortStatus.PORTED, detail=finding.location.snippet)
        ported = to_finding(rule, hit, finding.location.path)
        out.findings[i] = replace(ported, location=finding.location, message=ported.message)
    if dropped:
        out.findings[:] = [f for i, f in enumerate(out.findings) if i not in dropped]


@dataclass
class Nesting:
    """What the archives inside one top-level file have cost so far."""

    unpacked: int = 0  # uncompressed bytes of the members of every archive in it
    members: int = 0  # members of every archive in it
    too_deep: bool = False  # an archive nested too deep was met (said once)
    inspected: int = 0  # binaries read whole and parsed (the rest are classified from their headers)
    spent: bool = False  # the byte limit was reached: nothing more is opened
    seen: dict[bytes, Artifact] = field(default_factory=dict)  # binaries parsed, by SHA-256 of their content


def enter(display: str, limits: Limits, out: Collector, depth: int) -> bool:
    """Start on an archive at this depth of a top-level file; False when the nesting's bounds leave it unread."""
    if depth == 0:
        out.nesting = Nesting()
    if out.nesting.spent:
        return False
    if depth >= limits.max_archive_depth:
        too_deep(display, limits, out)
        return False
    return True


def charge(member: str, display: str, size: int, limits: Limits, out: Collector) -> bool:
    """Count a member against the bounds of the whole nesting; False, said once, when they are exceeded."""
    out.nesting.unpacked += size
    out.nesting.members += 1
    over = (f"more than {limits.max_archive_total} bytes uncompressed"
            if out.nesting.unpacked > limits.max_archive_total else
            f"more than {limits.max_archive_members} members"
            if out.nesting.members > limits.max_archive_members else None)
    if over is None:
        return True
    out.nesting.spent = True
    top = display.split("!", 1)[0]
    out.skip(top, SkipReason.ARCHIVE_LIMIT, f"{over} in it and the archives inside it; "
             f"{member.removeprefix(top + '!')} and what follows it were not checked")
    return False


def too_deep(display: str, limits: Limits, out: Collector) -> None:
    if not out.nesting.too_deep:
        out.nesting.too_deep = True
        out.skip(display, SkipReason.ARCHIVE_LIMIT, f"archive nested deeper than {limits.max_archive_depth} levels "
                 "(this one and any others in the same file were not opened)")


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, member: str, ruleset: RuleSet, limits: Limits,
            out: Collector, depth: int) -> None:
    from armscan.analyzers.files import analyze_stream

    name = posixpath.basename(info.filename)
    try:
        with archive.open(info) as stream:
            head = stream.read(HEAD_SIZE)
            out.bytes_read += len(head)
            if header_only(head, member, info.file_size, ruleset, limits, out):
                return
            if not _needs_whole(head, name, ruleset):
                return
            whole = zipdir.member_stream(archive, info, head, stream)  # type: ignore[arg-type]
    except _ERRORS as e:
        out.skip(member, SkipReason.MALFORMED, f"archive member unreadable: {e}")
        return
    with whole:
        out.bytes_read += info.file_size - len(head)
        digest = sha256_of(whole) if is_binary(head) else None
        if digest is not None and digest in out.nesting.seen:
            again(out.nesting.seen[digest], member, ruleset, out)  # the same binary, already parsed
            return
        first = len(out.artifacts)
        analyze_stream(whole, info.file_size, member, name, ruleset, limits, out, depth=depth + 1)
        if digest is not None and len(out.artifacts) == first + 1:
            out.nesting.seen[digest] = out.artifacts[first]


def is_binary(head: bytes) -> bool:
    try:
        return classify(head) is not None
    except HeaderError:
        return False


def sha256_of(stream: BinaryIO) -> bytes:
    digest = hashlib.sha256()
    while chunk := stream.read(1 << 20):
        digest.update(chunk)
    stream.seek(0)
    return digest.digest()


def again(artifact: Artifact, member: str, ruleset: RuleSet, out: Collector) -> None:
    """A copy of a binary met before in the same top-level file (nested archives repeat libraries, and bombs
    repeat everything): its record under this path, without parsing it again."""
    from armscan.analyzers import binaries

    copy = replace(artifact, path=member)
    out.artifacts.append(copy)
    out.findings.extend(binaries.findings_for(copy, ruleset, posixpath.basename(member), None))


def header_only(head: bytes, member: str, size: int, ruleset: RuleSet, limits: Limits, out: Collector) -> bool:
    """Past the limit of binaries parsed per top-level file, a binary is classified from its header alone (its
    architecture is known; its ISA and glibc checks are not made), and one skipped record says so."""
    from armscan.analyzers import binaries

    try:
        header = classify(head)
    except HeaderError:
        return False
    if header is None:
        return False
    out.nesting.inspected += 1
    if out.nesting.inspected <= limits.max_archive_binaries:
        return False
    if out.nesting.inspected == limits.max_archive_binaries + 1:
        out.skip(member.split("!", 1)[0], SkipReason.ARCHIVE_LIMIT,
                 f"more than {limits.max_archive_binaries} binaries inside: from {member.split('!', 1)[1]} on, "
                 "they are classified from their headers only (no instruction-set, glibc or page-size checks)")
    artifact = binaries.header_only(header, size, member, f"over {limits.max_archive_binaries} binaries in the "
                                    "archive: classified from its header only")
    out.artifacts.append(artifact)
    out.findings.extend(binaries.findings_for(artifact, ruleset, posixpath.basename(member), None))
    return True


def _needs_whole(head: bytes, name: str, ruleset: RuleSet) -> bool:
    try:
        if classify(head) is not None:
            return True
    except HeaderError:
        return True
    if head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC)) and name.lower().endswith(ARCHIVE_SUFFIXES):
        return True
    if name.lower().endswith(TAR_SUFFIXES):
        return True
    return bool(ruleset.for_file(name))
