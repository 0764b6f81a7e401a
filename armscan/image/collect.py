"""Walk an image's layers once, top-down, and collect what the analysis needs from the files a container sees.

Binaries are classified (and ELF details read) from memory, one at a time; archives (JARs, wheels) are
opened in memory with the same limits as in a tree scan; small metadata files (os-release, package databases,
Python dist-info) are kept. Everything else is only looked at for its first bytes.
"""

from __future__ import annotations

import io
import re
import shutil
import tempfile
import zlib
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Protocol

from armscan.analyzers import binaries, nodenative
from armscan.analyzers.files import Collector
from armscan.binary.headers import EMPTY_ZIP_MAGIC, HEAD_SIZE, ZIP_MAGIC, HeaderError, classify
from armscan.image import inventory
from armscan.image.layers import Hidden, LayerError, LayerFile, LayerStats, read_layer
from armscan.image.manifest import Descriptor
from armscan.limits import ARCHIVE_SUFFIXES, Limits, MiB
from armscan.model import Artifact, Finding, Skipped, SkipReason
from armscan.rules_engine.loader import RuleSet

MAX_BINARY_IN_MEMORY = 128 * MiB  # one at a time, read once into one buffer: peak memory stays bounded
MAX_METADATA = 16 * MiB
MAX_RPM_DATABASE = 128 * MiB
_PYTHON_METADATA = re.compile(r"\.(?:dist-info/(?:METADATA|WHEEL|RECORD)|egg-info/(?:PKG-INFO|requires\.txt))$")


class BlobSource(Protocol):
    def blob(self, descriptor: Descriptor) -> AbstractContextManager[BinaryIO]: ...


@dataclass
class Collected:
    artifacts: list[Artifact] = field(default_factory=list)
    archive_findings: list[Finding] = field(default_factory=list)  # binaries inside JARs and wheels
    skipped: list[Skipped] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)  # small metadata files, by path
    paths: set[str] = field(default_factory=set)  # every visible regular file
    links: dict[str, str] = field(default_factory=dict)  # every visible symbolic link: path -> target
    errors: list[str] = field(default_factory=list)
    layers: int = 0
    compressed_bytes: int = 0


def is_kept(path: str) -> bool:
    return (inventory.wanted(path) or bool(_PYTHON_METADATA.search(path))
            or (path.endswith("/package.json") and nodenative.installed_package(path) is not None))


def collect(source: BlobSource, layers: tuple[Descriptor, ...], label: str, ruleset: RuleSet,
            limits: Limits) -> Collected:
    out = Collected()
    hidden = Hidden()
    for number, descriptor in reversed(list(enumerate(layers, start=1))):
        layer = Collector()
        kept: dict[str, bytes] = {}
        paths: set[str] = set()
        stats = LayerStats()
        where = f"{label} layer {number} ({descriptor.digest[:19]}...)"
        try:
            with source.blob(descriptor) as blob:
                for item in read_layer(blob, descriptor.digest, descriptor.size, hidden, stats):
                    paths.add(item.path)
                    try:
                        _visit(item, f"{label}!/{item.path}", kept, layer, ruleset, limits)
                    except (LayerError, OSError, EOFError, zlib.error):
                        raise  # the layer stream itself failed: handled below, for the whole layer
                    except Exception as e:  # one file the analyzers choke on is unknown; the layer goes on
                        layer.skip(f"{label}!/{item.path}", SkipReason.ANALYSIS_FAILED,
                                   f"analysis failed: {type(e).__name__}: {e}")
        except LayerError as e:
            out.errors.append(f"{where}: {e}")
            out.skipped.append(Skipped(f"{label}!layer{number}", SkipReason.MALFORMED,
                                       f"layer not trusted ({e}); what it holds is unknown"))
            continue
        except Exception as e:  # a source failing mid-stream (connection reset, file vanished)
            out.errors.append(f"{where}: {type(e).__name__}: {e}")
            out.skipped.append(Skipped(f"{label}!layer{number}", SkipReason.UNREADABLE,
                                       f"layer could not be read: {e}"))
            continue
        finally:
            out.layers += 1
            out.compressed_bytes += stats.compressed_bytes
        for name in stats.escaping[:20]:
            out.skipped.append(Skipped(f"{label}!layer{number}", SkipReason.MALFORMED,
                                       f"tar entry {name!r} points outside the image root; ignored"))
        out.artifacts.extend(layer.artifacts)
        out.archive_findings.extend(f for f in layer.findings if "!" in f.location.path.split("!/", 1)[-1])
        out.skipped.extend(layer.skipped)
        out.files.update(kept)
        out.paths.update(paths)
        for path, target in stats.links.items():
            out.links.setdefault(path, target)  # an upper layer's link hides a lower one's
        _follow_hard_links(stats.hardlinks, paths, layer.artifacts, label, out)
    return out


def _follow_hard_links(hardlinks: dict[str, str], paths: set[str], artifacts: list[Artifact], label: str,
                       out: Collected) -> None:
    """A hard link is the file it names, under another path (the `.node` Node loads from lib/binding/): the
    binary found at its target is found at the link too. A target this layer did not let be read (a later layer
    deleted or replaced it: the link keeps the old content) is reported as not checked."""
    by_path = {a.path.split("!/", 1)[-1]: a for a in artifacts}
    for path, target in hardlinks.items():
        if target in by_path:
            out.artifacts.append(replace(by_path[target], path=f"{label}!/{path}"))
            out.paths.add(path)
        elif target not in paths:
            out.skipped.append(Skipped(f"{label}!/{path}", SkipReason.UNREADABLE,
                                       f"hard link to /{target}, which a later layer deleted or replaced: its content "
                                       "was not read"))


def _visit(item: LayerFile, display: str, kept: dict[str, bytes], out: Collector, ruleset: RuleSet,
           limits: Limits) -> None:
    if is_kept(item.path):
        limit = MAX_RPM_DATABASE if item.path == inventory.RPM_SQLITE else MAX_METADATA
        if item.size <= limit:
            whole = _read_whole(b"", item)
            kept[item.path] = whole.read()
            whole.close()
        else:
            out.skip(display, SkipReason.TOO_LARGE, f"{item.size} bytes is over the {limit}-byte limit for it")
        return
    if item.size < 4:
        return
    head = item.stream.read(HEAD_SIZE)
    try:
        header = classify(head)
    except HeaderError as e:
        out.skip(display, SkipReason.MALFORMED, f"looks like a binary but is malformed: {e}")
        return
    if header is not None:
        if item.size > MAX_BINARY_IN_MEMORY:
            artifact = Artifact(path=display, format=header.format, machines=header.machines, kind=header.kind,
                                size=item.size, bits=header.bits, endianness=header.endianness,
                                notes=(f"over {MAX_BINARY_IN_MEMORY // MiB} MiB: classified from its header only",))
        else:
            whole = _read_whole(head, item)
            try:
                artifact = binaries.inspect(header, whole, item.size, display)
            except HeaderError as e:
                out.skip(display, SkipReason.MALFORMED, f"{header.format} file is malformed: {e}")
                return
            finally:
                whole.close()
        out.artifacts.append(artifact)
        return
    name = item.path.rsplit("/", 1)[-1].lower()
    # a JAR may have a launch script in front (Spring Boot's executable JARs): found by its end record
    if name.endswith(ARCHIVE_SUFFIXES) and head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC, b"#!")):
        if item.size > limits.max_member_size:
            out.skip(display, SkipReason.TOO_LARGE, f"archive of {item.size} bytes is over the limit")
            return
        from armscan.sources import zipdir
        from armscan.sources.archives import scan_zip

        with _spooled(head, item) as spool:
            if head.startswith(b"#!") and not zipdir.is_zip(spool, item.size):  # type: ignore[arg-type]
                return
            scan_zip(spool, display, ruleset, limits, out, depth=0, size=item.size)  # type: ignore[arg-type]


def _spooled(head: bytes, item: LayerFile) -> tempfile.SpooledTemporaryFile[bytes]:
    """The whole member, in memory up to 16 MiB, else in an unnamed temporary file: an archive is read at
    random, and a large one (hundreds of MB of stored JARs in a small layer) must not sit in memory."""
    spool = tempfile.SpooledTemporaryFile(max_size=16 * MiB)  # noqa: SIM115 - the caller closes it
    spool.write(head)
    shutil.copyfileobj(item.stream, spool, MiB)
    spool.seek(0)
    return spool


class _BufferStream(io.RawIOBase):
    """A seekable read-only stream over a buffer, without the copy io.BytesIO makes of a bytearray."""

    def __init__(self, buffer: bytearray) -> None:
        self.buffer = buffer
        self.view = memoryview(buffer)
        self.position = 0

    def close(self) -> None:
        """Free the buffer now: pyelftools keeps the stream in a reference cycle that only the cyclic GC
        would break, and it runs by object counts, not bytes, so big buffers would pile up until then."""
        if not self.closed:
            self.view.release()
            self.buffer.clear()
        super().close()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, target: bytearray | memoryview) -> int:  # type: ignore[override]
        count = max(0, min(len(target), len(self.view) - self.position))
        target[:count] = self.view[self.position:self.position + count]
        self.position += count
        return count

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: len(self.view)}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position


def _read_whole(head: bytes, item: LayerFile) -> BinaryIO:
    """The whole member in one buffer of its size, filled in place."""
    buffer = bytearray(item.size)
    buffer[: len(head)] = head
    view = memoryview(buffer)
    filled = len(head)
    while filled < item.size:
        # in 1 MiB steps: tarfile's stream reader joins a copy of whatever one call asks for
        count = item.stream.readinto(view[filled:filled + MiB])  # type: ignore[attr-defined]
        if not count:
            break
        filled += count
    del view
    if filled < item.size:
        del buffer[filled:]
    return io.BufferedReader(_BufferStream(buffer), buffer_size=65536)
