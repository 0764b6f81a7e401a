"""Read the members of a Unix `ar` archive (.a, .lib) and classify each by its header."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

from armscan.binary.headers import (
    AR_MAGIC,
    AR_THIN_MAGIC,
    HEAD_SIZE,
    PE_MACHINES,
    HeaderError,
    classify,
    normalise_machine,
)

_HEADER = 60
_SPECIAL = {"/", "//", "/SYM64/", "__.SYMDEF", "__.SYMDEF SORTED", "/<ECSYMBOLS>/", "/<HYBRIDMAP>/"}
MAX_MEMBERS = 200_000


@dataclass(frozen=True)
class Member:
    name: str
    format: str
    machine: str
    kind: str | None


def read_members(fh: BinaryIO, size: int) -> tuple[list[Member], list[str]]:
    """Return the classified object members and notes about anything odd."""
    magic = fh.read(8)
    notes: list[str] = []
    if magic == AR_THIN_MAGIC:
        return [], ["thin archive: members live in other files and are classified there"]
    if magic != AR_MAGIC:
        raise HeaderError("not an ar archive")
    members: list[Member] = []
    long_names = b""
    offset = 8
    count = 0
    while offset + _HEADER <= size:
        fh.seek(offset)
        header = fh.read(_HEADER)
        if len(header) < _HEADER:
            break
        if header[58:60] != b"`\n":
            raise HeaderError(f"ar member header at offset {offset} is corrupt")
        raw_name = header[:16].decode("latin-1").rstrip()
        try:
            data_size = int(header[48:58].decode("ascii").strip() or "0")
        except ValueError as e:
            raise HeaderError(f"ar member size at offset {offset} is not a number") from e
        data_start = offset + _HEADER
        if data_start + data_size > size:
            raise HeaderError(f"ar member {raw_name!r} runs past the end of the archive (truncated?)")
        name = raw_name
        if raw_name.startswith("#1/"):
            # BSD: the name is stored at the start of the data.
            name_len = int(raw_name[3:] or "0")
            name = fh.read(name_len).rstrip(b"\0").decode("utf-8", "replace")
            data_start += name_len
            data_size -= name_len
        elif raw_name == "//":
            long_names = fh.read(data_size)
        elif raw_name.startswith("/") and raw_name[1:].isdigit():
            start = int(raw_name[1:])
            end = long_names.find(b"/\n", start)
            name = long_names[start : end if end >= 0 else None].decode("utf-8", "replace")
        elif raw_name.endswith("/"):
            name = raw_name[:-1]
        if raw_name not in _SPECIAL and not raw_name.startswith("__.SYMDEF"):
            fh.seek(data_start)
            member = _classify_member(name, fh.read(min(HEAD_SIZE, data_size)))
            if member is not None:
                members.append(member)
            count += 1
            if count > MAX_MEMBERS:
                notes.append(f"stopped after {MAX_MEMBERS} members")
                break
        offset = data_start + data_size + (data_size & 1)
    return members, notes


def _classify_member(name: str, head: bytes) -> Member | None:
    try:
        header = classify(head)
    except HeaderError:
        return Member(name=name, format="malformed", machine="unknown", kind=None)
    if header is not None:
        machine = header.machines[0] if header.machines else "unknown"  # an ar archive inside an ar archive
        return Member(name=name, format=header.format, machine=machine, kind=header.kind)
    if head.startswith(b"BC\xc0\xde"):
        return Member(name=name, format="llvm-bitcode", machine="any", kind="bitcode")
    if len(head) >= 20:
        sig1, sig2 = struct.unpack_from("<HH", head, 0)
        if sig1 == 0 and sig2 == 0xFFFF:  # MSVC short import object
            (machine,) = struct.unpack_from("<H", head, 6)
            return _coff_member(name, machine, "import")
        (machine,) = struct.unpack_from("<H", head, 0)
        if machine in PE_MACHINES:
            return _coff_member(name, machine, "relocatable")
    return None


def _coff_member(name: str, machine: int, kind: str) -> Member:
    known = PE_MACHINES.get(machine)  # a short import object may name any machine
    return Member(name=name, format="coff", machine=normalise_machine(known) if known else "unknown", kind=kind)
