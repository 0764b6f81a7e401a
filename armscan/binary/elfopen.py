"""Open an ELF for pyelftools with its header made safe: section headers that cannot be trusted are hidden.

pyelftools believes the ELF header. Section headers that are missing (sstrip), point past the end of the file,
or number in the thousands (each can claim the whole file as code) are hidden behind a copy of the header
with no sections, so every check falls back to the program headers, which the loader itself uses; a note
says so. Program headers past a sane count are cut to it, with a note too.
"""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

# Linked executables and libraries have some 25-60 sections; a debug build of a large C++ library, a few
# hundred. Relocatable objects (thousands with -ffunction-sections) are not opened this way.
MAX_SECTIONS = 1024
MAX_SEGMENTS = 256  # the loader handles a handful; no linker emits hundreds


@dataclass(frozen=True)
class _Layout:
    shoff: int  # field offsets in the ELF header, by class
    shoff_size: int
    shentsize: int
    header_size: int


_LAYOUTS = {1: _Layout(0x20, 4, 0x2E, 52), 2: _Layout(0x28, 8, 0x3A, 64)}


class _Overlay(io.RawIOBase):
    """The file with its first bytes replaced by a patched ELF header."""

    def __init__(self, fh: BinaryIO, header: bytes) -> None:
        self.fh = fh
        self.header = header

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self.fh.seek(offset, whence)

    def tell(self) -> int:
        return self.fh.tell()

    def readinto(self, buffer: Any) -> int:
        position = self.fh.tell()
        data = self.fh.read(len(buffer))
        if position < len(self.header) and data:
            end = min(len(self.header), position + len(data))
            data = self.header[position:end] + data[end - position:]
        buffer[: len(data)] = data
        return len(data)


def safe_stream(fh: BinaryIO, size: int) -> tuple[BinaryIO, tuple[str, ...]]:
    """The stream to give pyelftools, and notes on what of the header was set aside (none: the file as is)."""
    fh.seek(0)
    head = fh.read(64)
    if len(head) < 52 or head[4] not in _LAYOUTS or head[5] not in (1, 2):
        return fh, ()
    layout = _LAYOUTS[head[4]]
    if len(head) < layout.header_size:
        return fh, ()
    order = "<" if head[5] == 1 else ">"
    wide = "Q" if layout.shoff_size == 8 else "I"
    (shoff,) = struct.unpack_from(order + wide, head, layout.shoff)
    shentsize, shnum, _shstrndx = struct.unpack_from(order + "HHH", head, layout.shentsize)
    (phnum,) = struct.unpack_from(order + "H", head, layout.shentsize - 2)
    notes: list[str] = []
    patched = bytearray(head[: layout.header_size])
    if shnum == 0 and shoff:
        shnum = _extended_count(fh, shoff, order, layout, size)
    reason = None
    if shoff == 0 or shnum == 0:
        reason = "no section headers (stripped with sstrip or similar)"
    elif shentsize < (64 if layout.shoff_size == 8 else 40) or shoff + shnum * shentsize > size:
        reason = "section headers point past the end of the file"
    elif shnum > MAX_SECTIONS:
        reason = f"{shnum} section headers is over the limit of {MAX_SECTIONS}"
    if reason is not None:
        struct.pack_into(order + wide, patched, layout.shoff, 0)
        struct.pack_into(order + "HH", patched, layout.shentsize + 2, 0, 0)  # e_shnum, e_shstrndx
        notes.append(f"{reason}: checked from the program headers")
    if phnum > MAX_SEGMENTS:
        struct.pack_into(order + "H", patched, layout.shentsize - 2, MAX_SEGMENTS)
        notes.append(f"{phnum} program headers is over the limit of {MAX_SEGMENTS}: the first "
                     f"{MAX_SEGMENTS} were read")
    if not notes:
        fh.seek(0)
        return fh, ()
    overlay = _Overlay(fh, bytes(patched))
    overlay.seek(0)
    return overlay, tuple(notes)  # type: ignore[return-value]


def _extended_count(fh: BinaryIO, shoff: int, order: str, layout: _Layout, size: int) -> int:
    """With e_shnum 0 and a table, the count is in section 0's sh_size (more than 0xff00 sections)."""
    at = shoff + (0x20 if layout.shoff_size == 8 else 0x14)
    if at + layout.shoff_size > size:
        return 0
    fh.seek(at)
    raw = fh.read(layout.shoff_size)
    if len(raw) < layout.shoff_size:
        return 0
    (count,) = struct.unpack(order + ("Q" if layout.shoff_size == 8 else "I"), raw)
    return int(count) or MAX_SECTIONS + 1  # a table whose count is nowhere is not believed either
