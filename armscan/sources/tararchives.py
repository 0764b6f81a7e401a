"""Look inside compressed tar archives (source tarballs: .tar.gz, .tgz, .tar.xz, .tar.bz2, .tar.zst) as a stream,
with the bounds zip archives have: members, bytes, expansion ratio and nesting, across one top-level file.

The archive is read once, front to back. A member the rules have nothing for is passed over unread; a member
that could matter (a source file the rules know, a binary, an archive) is spooled and analyzed like a file.
The expansion is checked before each member is passed: a bomb is stopped at its first oversized header, not
after it has been inflated.
"""

from __future__ import annotations

import bz2
import gzip
import importlib
import lzma
import posixpath
import tempfile
import zlib
from typing import TYPE_CHECKING, BinaryIO, cast

from armscan.binary.headers import HEAD_SIZE
from armscan.limits import ARCHIVE_SUFFIXES, TAR_SUFFIXES, Limits, MiB
from armscan.model import SkipReason
from armscan.sources.archives import again, charge, enter, header_only, is_binary, sha256_of, too_deep
from armscan.sources.tarstream import Member, TarError, TarStream

if TYPE_CHECKING:
    from armscan.analyzers.files import Collector
    from armscan.rules_engine.loader import RuleSet

_ERRORS = (TarError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError)
_SPOOL_IN_MEMORY = 16 * MiB


def _decompressed(fh: BinaryIO, name: str) -> BinaryIO | str:
    """The tar stream inside the compressed file, or why it cannot be read."""
    lowered = name.lower()
    if lowered.endswith((".tar.gz", ".tgz")):
        return cast(BinaryIO, gzip.GzipFile(fileobj=fh, mode="rb"))
    if lowered.endswith((".tar.xz", ".txz")):
        return cast(BinaryIO, lzma.LZMAFile(fh))
    if lowered.endswith((".tar.bz2", ".tbz2", ".tbz")):
        return cast(BinaryIO, bz2.BZ2File(fh))
    try:
        zstandard = importlib.import_module("zstandard")  # optional: not a dependency of armscan
    except ImportError:
        return "not checked: a zstd-compressed archive, and no zstd decoder is installed (pip install zstandard)"
    return cast(BinaryIO, zstandard.ZstdDecompressor().stream_reader(fh))


def scan_tar(fh: BinaryIO, display: str, name: str, ruleset: RuleSet, limits: Limits, out: Collector, *,
             depth: int, size: int) -> None:
    if not enter(display, limits, out, depth):
        return
    stream = _decompressed(fh, name)
    if isinstance(stream, str):
        out.skip(display, SkipReason.UNREADABLE, stream)
        return
    budget = max(size * limits.max_compression_ratio, MiB)  # what honest compression can expand to
    try:
        with stream:
            archive = TarStream(stream)
            for info in archive.members():
                if not _member(archive, info, display, budget, ruleset, limits, out, depth):
                    return
    except _ERRORS as e:
        out.skip(display, SkipReason.MALFORMED, f"unreadable tar archive: {e}")


def _member(archive: TarStream, info: Member, display: str, budget: int, ruleset: RuleSet,
            limits: Limits, out: Collector, depth: int) -> bool:
    """Analyze one member; False when nothing more of the archive is to be read."""
    from armscan.analyzers.files import analyze_stream

    if out.nesting.spent:
        return False
    member = f"{display}!{info.name}"
    if info.offset + info.size > budget:
        out.skip(display, SkipReason.ZIP_BOMB, f"expands past {limits.max_compression_ratio} times its size at "
                 f"{info.name} (a decompression bomb); it and what follows it were not checked")
        return False
    if not info.regular:
        return True  # folders and links: nothing of their own, and a link is never followed
    if not charge(member, display, info.size, limits, out):
        return False
    if info.size > limits.max_member_size:
        out.skip(member, SkipReason.TOO_LARGE,
                 f"{info.size} bytes uncompressed is over the {limits.max_member_size}-byte limit")
        return True
    base = posixpath.basename(info.name)
    nested = base.lower().endswith(ARCHIVE_SUFFIXES + TAR_SUFFIXES)
    if nested and depth + 1 >= limits.max_archive_depth:
        too_deep(member, limits, out)
        return True
    head = archive.read(HEAD_SIZE)
    out.bytes_read += len(head)
    binary = is_binary(head)
    if not (binary or nested or ruleset.for_file(ruleset.name_for_rules(base))):
        return True
    if binary and header_only(head, member, info.size, ruleset, limits, out):
        return True
    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY) as spool:
        spool.write(head)
        while chunk := archive.read(1 << 20):
            spool.write(chunk)
        out.bytes_read += info.size - len(head)
        spool.seek(0)
        whole: BinaryIO = spool  # type: ignore[assignment]
        sha = sha256_of(whole) if binary else None
        if sha is not None and sha in out.nesting.seen:
            again(out.nesting.seen[sha], member, ruleset, out)
            return True
        first = len(out.artifacts)
        analyze_stream(whole, info.size, member, base, ruleset, limits, out, depth=depth + 1)
        if sha is not None and len(out.artifacts) == first + 1:
            out.nesting.seen[sha] = out.artifacts[first]
    return True
