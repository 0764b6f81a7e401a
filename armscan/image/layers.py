"""Stream image layers once each, from the top layer down, and yield the files a container would see.

Layers are read top-down so that whiteouts (`.wh.NAME`) and opaque folders (`.wh..wh..opq`) of upper layers
are known before the lower layers they hide, and nothing deleted is reported. Nothing is extracted to disk:
each file is offered as a stream while its layer is read. Every layer's compressed bytes are hashed as they
stream by, and a layer whose digest or size is wrong is reported as such by its caller.
"""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class LayerError(Exception):
    """A layer is corrupt: wrong digest or size, truncated, or not a tar archive."""


class DigestMismatch(LayerError):
    pass


class _VerifyingReader(io.RawIOBase):
    """Hash the bytes of a blob as they are read; check digest and size once the end is reached."""

    def __init__(self, raw: BinaryIO, digest: str | None, size: int | None) -> None:
        self.raw = raw
        self.expected = digest
        self.size = size
        algorithm = (digest or "sha256:").split(":", 1)[0]
        self.hash = hashlib.new(algorithm if algorithm in ("sha256", "sha512") else "sha256")
        self.count = 0
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        if not data:
            self.done = True
            return 0
        self.hash.update(data)
        self.count += len(data)
        if self.size is not None and self.count > self.size:
            raise DigestMismatch(f"more than the {self.size} bytes the manifest gives")
        buffer[: len(data)] = data
        return len(data)

    def finish(self) -> None:
        """Read to the end (a tar reader stops before the compressed trailer) and verify."""
        while self.read(1 << 20):
            pass
        if self.size is not None and self.count != self.size:
            raise DigestMismatch(f"{self.count} bytes where the manifest gives {self.size}")
        if self.expected is not None:
            actual = f"{self.expected.split(':', 1)[0]}:{self.hash.hexdigest()}"
            if actual != self.expected:
                raise DigestMismatch(f"content digest {actual[:19]}... does not match {self.expected[:19]}...")


class _Inflate(io.RawIOBase):
    """gzip decompression straight on zlib, which checks each member's CRC itself: GzipFile's Python-level
    CRC and buffering make large layers a third slower. Handles multi-member streams and zero padding;
    output comes in slices of at most 1 MiB, so highly compressed data never balloons in memory."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self.pending = b""
        self.out = memoryview(b"")
        self.position = 0
        self.fed = 0  # compressed bytes read from raw

    def readable(self) -> bool:
        return True

    def consumed(self) -> int:
        """Compressed bytes inflated so far (read, less what waits to be)."""
        waiting = len(self.pending) + (len(self.inflater.unused_data) if self.inflater.eof else 0)
        return self.fed - waiting

    def _read_raw(self) -> bytes:
        data: bytes = self.raw.read(1 << 18)
        self.fed += len(data)
        return data

    def _refill(self) -> bool:
        while True:
            if self.inflater.eof:
                # everything after the member is in unused_data; unconsumed_tail can still hold a stale copy
                # of it (when the output limit and the member's end coincide), which must not be read twice
                leftover = self.inflater.unused_data
                self.pending = b""
                while not leftover.strip(b"\0"):  # nothing, or padding, after the last member
                    leftover = self._read_raw()
                    if not leftover:
                        return False
                self.inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self.pending = leftover
            if not self.pending:
                self.pending = self._read_raw()
                if not self.pending:
                    raise EOFError("compressed layer ended before the end of its gzip stream")
            data = self.inflater.decompress(self.pending, 1 << 20)
            self.pending = self.inflater.unconsumed_tail
            if data:
                self.out, self.position = memoryview(data), 0
                return True

    def readinto(self, buffer: Any) -> int:
        if self.position >= len(self.out) and not self._refill():
            return 0
        count = min(len(buffer), len(self.out) - self.position)
        buffer[:count] = self.out[self.position:self.position + count]
        self.position += count
        return count


# A real layer expands a few times. Only a stream of nearly nothing but zeros gets past 1000:1 (gzip's ceiling is
# 1032:1; zstd reaches 32,000:1, a gigabyte in 32 KB), and inflating it costs some 5 s a GiB: a bomb.
MAX_LAYER_RATIO = 1000
RATIO_CHECKED_AFTER = 256 << 20  # uncompressed bytes


class _Bounded:
    """The uncompressed layer, refused (LayerError) once it has expanded past MAX_LAYER_RATIO times the
    compressed bytes `consumed()` says were used, after the first RATIO_CHECKED_AFTER bytes."""

    def __init__(self, stream: Any, consumed: Callable[[], int]) -> None:
        self.stream = stream
        self.consumed = consumed
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data: bytes = self.stream.read(size)
        self.count += len(data)
        if self.count > RATIO_CHECKED_AFTER:
            used = max(self.consumed(), 1)
            if self.count > MAX_LAYER_RATIO * used:
                raise LayerError(f"decompression bomb: {self.count} bytes out of {used} compressed "
                                 f"(over {MAX_LAYER_RATIO}:1)")
        return data


def _decompressed(reader: Any, compressed: _VerifyingReader) -> Any:
    head = reader.peek(4)[:4]
    if head.startswith(_GZIP_MAGIC):
        inflate = _Inflate(reader)
        return _Bounded(io.BufferedReader(inflate, buffer_size=1 << 20), inflate.consumed)
    if head.startswith(_ZSTD_MAGIC):
        import zstandard

        stream = zstandard.ZstdDecompressor().stream_reader(reader, read_across_frames=True)
        return _Bounded(stream, lambda: compressed.count)  # counts its read-ahead: 32,000:1 leaves room
    return reader


def clean_path(name: str) -> str | None:
    """The path inside the image, or None when the entry tries to leave the root (`..`). Only `/` separates:
    a backslash is part of a name (`usr\\local\\.wh.bin` is one odd file, and no whiteout)."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        return None
    return "/".join(parts)


@dataclass
class Hidden:
    """What upper layers hide from the layers below them."""

    paths: set[str] = field(default_factory=set)  # files and folders that exist, or were deleted, above
    deleted_dirs: set[str] = field(default_factory=set)  # whiteouts and opaque folders: everything below is gone

    def hides(self, path: str) -> bool:
        if path in self.paths:
            return True
        parent = path
        while "/" in parent:
            parent = parent.rsplit("/", 1)[0]
            if parent in self.deleted_dirs:
                return True
        return path in self.deleted_dirs


@dataclass(frozen=True)
class LayerFile:
    path: str  # inside the image, without a leading slash
    size: int
    mode: int
    stream: BinaryIO  # valid until the next file is asked for


MAX_LINKS = 200_000  # symbolic links recorded for one image


@dataclass
class LayerStats:
    entries: int = 0
    escaping: list[str] = field(default_factory=list)  # entries with `..`: never followed
    compressed_bytes: int = 0
    links: dict[str, str] = field(default_factory=dict)  # visible symbolic links: path -> target, as written
    hardlinks: dict[str, str] = field(default_factory=dict)  # visible hard links: path -> the member it names


def read_layer(blob: BinaryIO, digest: str | None, size: int | None, hidden: Hidden,
               stats: LayerStats) -> Iterator[LayerFile]:
    """Yield the visible regular files of one layer; then record what it hides. Raises LayerError."""
    reader = _VerifyingReader(blob, digest, size)
    buffered = io.BufferedReader(reader, buffer_size=1 << 20)
    whiteouts: set[str] = set()
    opaque: set[str] = set()
    seen: set[str] = set()
    try:
        stream = _decompressed(buffered, reader)
        with tarfile.open(fileobj=stream, mode="r|", bufsize=1 << 20) as archive:
            for member in archive:
                stats.entries += 1
                path = clean_path(member.name)
                if path is None:
                    stats.escaping.append(member.name[:200])
                    continue
                folder, base = posixpath.split(path)
                if base == OPAQUE:
                    opaque.add(folder)
                    continue
                if base.startswith(WHITEOUT):
                    whiteouts.add(posixpath.join(folder, base[len(WHITEOUT):]))
                    continue
                if not path or hidden.hides(path):
                    continue
                seen.add(path)
                if member.issym() and len(stats.links) < MAX_LINKS:
                    stats.links[path] = member.linkname[:4096]
                elif member.islnk() and len(stats.hardlinks) < MAX_LINKS:
                    target = clean_path(member.linkname)
                    if target is None:
                        stats.escaping.append(member.name[:200])
                    else:
                        stats.hardlinks[path] = target
                if member.isfile():
                    extracted = archive.extractfile(member)
                    if extracted is not None:
                        yield LayerFile(path, member.size, member.mode, extracted)  # type: ignore[arg-type]
        reader.finish()
    except (DigestMismatch, LayerError):
        raise
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as e:
        raise LayerError(f"{type(e).__name__}: {e}") from e
    except Exception as e:  # zstandard raises its own error type
        if type(e).__module__.startswith("zstandard"):
            raise LayerError(f"zstd: {e}") from e
        raise
    finally:
        stats.compressed_bytes += reader.count
    hidden.paths.update(seen)
    hidden.paths.update(whiteouts)
    hidden.deleted_dirs.update(whiteouts)
    hidden.deleted_dirs.update(d for d in opaque if d)
