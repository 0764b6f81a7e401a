"""A tar archive read front to back from a stream: headers (ustar, GNU long names, pax path and size) and member
data, nothing else.

tarfile parses every field of every header into objects (some 30 µs a member: 100,000 empty members took 3 s)
and reads a long-name or pax header whole into memory whatever size it claims. Here a header costs a checksum
and three fields, and an extended header over 1 MiB is refused before it is read.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

BLOCK = 512
MAX_EXTENDED = 1 << 20
_CHUNK = 1 << 20
_REGULAR = (b"0", b"\0", b"7")


class TarError(Exception):
    """The stream is not a tar archive, or a header in it is broken."""


@dataclass(frozen=True)
class Member:
    name: str
    size: int  # bytes of data that follow the header
    regular: bool  # a file (folders, links and devices have no content of their own to analyze)
    offset: int  # where its data starts in the uncompressed stream


def _number(field: bytes) -> int:
    if field[:1] and field[0] & 0x80:  # GNU base-256 for sizes over 8 GiB
        value = int.from_bytes(field[1:], "big")
        return -value if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError as e:
        raise TarError(f"invalid number field {text[:20]!r}") from e


def _text(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax(data: bytes) -> dict[str, str]:
    """The records of a pax header: `LENGTH KEY=VALUE\\n`, each LENGTH bytes long."""
    records: dict[str, str] = {}
    at = 0
    while at < len(data):
        space = data.find(b" ", at, at + 24)
        if space < 0:
            break
        try:
            length = int(data[at:space])
        except ValueError as e:
            raise TarError("invalid pax header record") from e
        if length <= space - at or at + length > len(data):
            raise TarError("invalid pax header record")
        key, _, value = data[space + 1:at + length - 1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "surrogateescape")
        at += length
    return records


class TarStream:
    """Iterate over members; read the current member's data with `read` before moving on (the rest is skipped)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.position = 0  # in the uncompressed stream
        self._left = 0  # unread data bytes of the current member, then its padding
        self._padding = 0

    def _read_exact(self, size: int) -> bytes:
        data = self.stream.read(size)
        self.position += len(data)
        if len(data) != size:
            raise TarError("unexpected end of archive")
        return data

    def _skip(self, size: int) -> None:
        while size > 0:
            data = self.stream.read(min(size, _CHUNK))
            if not data:
                raise TarError("unexpected end of archive")
            self.position += len(data)
            size -= len(data)

    def read(self, size: int) -> bytes:
        """Up to `size` bytes more of the current member's data."""
        size = min(size, self._left)
        data = self.stream.read(size) if size > 0 else b""
        self.position += len(data)
        self._left -= len(data)
        if len(data) != size:
            raise TarError("unexpected end of archive")
        return data

    def members(self) -> Iterator[Member]:
        long_name: str | None = None
        pax: dict[str, str] = {}
        while True:
            self._skip(self._left + self._padding)
            self._left = self._padding = 0
            header = self.stream.read(BLOCK)
            self.position += len(header)
            if len(header) < BLOCK:
                if header.strip(b"\0") or self.position == len(header):
                    raise TarError("truncated header" if header else "empty archive")
                return  # some writers leave out the end-of-archive blocks
            if not header.strip(b"\0"):
                return
            stored = _number(header[148:156])
            if stored != sum(header[:148]) + 256 + sum(header[156:]):
                raise TarError("header checksum does not match: not a tar archive or a damaged one")
            kind, size = header[156:157], _number(header[124:136])
            if size < 0:
                raise TarError("negative member size")
            if kind in (b"L", b"x", b"K", b"g"):
                if size > MAX_EXTENDED:
                    raise TarError(f"an extended header of {size} bytes (over {MAX_EXTENDED})")
                data = self._read_exact(size)
                self._skip(-size % BLOCK)
                if kind == b"L":
                    long_name = _text(data)
                elif kind == b"x":
                    pax = _pax(data)
                continue
            name = _text(header[0:100])
            if header[257:263] == b"ustar\x00" and header[345:346] != b"\0":
                name = f"{_text(header[345:500])}/{name}"
            name = pax.get("path") or long_name or name
            if "size" in pax:
                try:
                    size = int(pax["size"])
                except ValueError as e:
                    raise TarError("invalid pax size") from e
            long_name, pax = None, {}
            regular = kind in _REGULAR and not name.endswith("/")
            if kind in (b"1", b"2", b"3", b"4", b"5", b"6"):
                size = 0 if kind != b"5" else size
            self._left, self._padding = size, -size % BLOCK
            yield Member(name, size, regular, self.position)
