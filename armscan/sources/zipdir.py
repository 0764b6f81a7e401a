"""A zip's central directory read before zipfile is let near it, and its members as bounded streams.

zipfile parses the whole central directory into objects (some 400 bytes each: 2 million entries take 800 MB)
before anyone can count them, so entries are counted here first, from the end record on. The end record also
finds a zip that something is prepended to (a Spring Boot launch script before an executable JAR), which
zipfile reads fine but a check of the magic at offset 0 misses.
"""

from __future__ import annotations

import io
import shutil
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO

_END = b"PK\x05\x06"
_END64_LOCATOR = b"PK\x06\x07"
_END64 = b"PK\x06\x06"
_CENTRAL = b"PK\x01\x02"
_MAX_COMMENT = 0xFFFF
MAX_CENTRAL_DIRECTORY = 64 * 1024 * 1024  # 100,000 entries with long names take some 20 MB
_SPOOL_IN_MEMORY = 16 * 1024 * 1024  # a member larger than this is spooled to an unnamed temporary file
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Directory:
    start: int  # where the central directory is in the file (after anything prepended)
    size: int
    entries: int  # as the end record gives it


def directory(fh: BinaryIO, size: int) -> Directory | None:
    """The central directory the end record points at, None when there is no end record."""
    tail_size = min(size, 22 + _MAX_COMMENT)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(_END)
    if at < 0 or at + 22 > len(tail):
        return None
    end = size - tail_size + at
    entries, cd_size = struct.unpack_from("<HI", tail, at + 10)[0], struct.unpack_from("<I", tail, at + 12)[0]
    locator = tail[at - 20:at] if at >= 20 else b""
    if locator.startswith(_END64_LOCATOR) and end >= 20 + 56:
        fh.seek(end - 20 - 56)
        record = fh.read(56)
        if record.startswith(_END64):
            entries, cd_size = struct.unpack_from("<QQ", record, 32)
            return Directory(end - 20 - 56 - cd_size, cd_size, entries)
    return Directory(end - cd_size, cd_size, entries)


def is_zip(fh: BinaryIO, size: int) -> bool:
    """Whether the file ends like a zip (wherever its first member starts)."""
    found = directory(fh, size)
    fh.seek(0)
    return found is not None and found.start >= 0


def too_many_entries(fh: BinaryIO, size: int, limit: int) -> str | None:
    """Why the zip is not to be opened (too many entries, an oversized directory), None when it may be."""
    found = directory(fh, size)
    fh.seek(0)
    if found is None:
        return None  # zipfile says what is wrong with it
    if found.entries > limit:
        return f"{found.entries} members is over the limit of {limit}"
    if found.size > MAX_CENTRAL_DIRECTORY:
        return f"a central directory of {found.size} bytes is over the limit of {MAX_CENTRAL_DIRECTORY}"
    if found.start < 0:
        return None
    fh.seek(found.start)
    data = fh.read(found.size)
    fh.seek(0)
    count, position = 0, 0
    while position + 46 <= len(data) and data[position:position + 4] == _CENTRAL:
        name, extra, comment = struct.unpack_from("<HHH", data, position + 28)
        position += 46 + name + extra + comment
        count += 1
        if count > limit:
            return f"more than {limit} members (the end record says {found.entries})"
    return None


class _Window(io.RawIOBase):
    """Bytes [start, start + size) of a seekable stream that others read too: every read seeks first."""

    def __init__(self, fh: Any, start: int, size: int) -> None:
        self.fh, self.start, self.size, self.position = fh, start, size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = max(0, min(len(buffer), self.size - self.position))
        if not count:
            return 0
        self.fh.seek(self.start + self.position)
        data = self.fh.read(count)
        buffer[: len(data)] = data
        self.position += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence]
        self.position = max(0, base + offset)
        return self.position

    def tell(self) -> int:
        return self.position


def member_stream(archive: zipfile.ZipFile, info: zipfile.ZipInfo, head: bytes, rest: BinaryIO) -> BinaryIO:
    """The whole member as a seekable stream without holding it in memory: a stored one is a window on the
    archive itself; a compressed one is inflated into a spool (memory up to 16 MiB, then a temporary file).
    `head` was already read from `rest`, the member's open stream."""
    fp = archive.fp
    if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x1 and fp is not None:
        fp.seek(info.header_offset)
        local = fp.read(30)
        if len(local) == 30 and local.startswith(b"PK\x03\x04"):
            name, extra = struct.unpack_from("<HH", local, 26)
            start = info.header_offset + 30 + name + extra
            return io.BufferedReader(_Window(fp, start, info.file_size), buffer_size=65536)
    spool = tempfile.SpooledTemporaryFile(max_size=_SPOOL_IN_MEMORY)  # noqa: SIM115 - the caller closes it
    spool.write(head)
    shutil.copyfileobj(rest, spool, _CHUNK)
    spool.seek(0)
    return spool  # type: ignore[return-value]
