"""Read RPM's sqlite database (rpm 4.16 and later: Amazon Linux 2023, Fedora, RHEL 9) from memory.

Each row of the Packages table is an RPM header: a count of index entries, the size of the data store, the
entries (tag, type, offset, count; big-endian), then the data. Older Berkeley DB databases (`Packages`,
RHEL 8, Amazon Linux 2) are not read.
"""

from __future__ import annotations

import sqlite3
import struct

SQLITE_DB = "var/lib/rpm/rpmdb.sqlite"
_NAME, _VERSION, _RELEASE, _ARCH = 1000, 1001, 1002, 1022
_DIRINDEXES, _BASENAMES, _DIRNAMES = 1116, 1117, 1118
_STRING, _INT32, _STRING_ARRAY, _I18NSTRING = 6, 4, 8, 9
MAX_ENTRIES = 100_000


class RpmDbError(Exception):
    pass


def _header(blob: bytes) -> dict[int, list[str] | list[int] | str]:
    if len(blob) < 8:
        raise RpmDbError("header too short")
    count, size = struct.unpack(">II", blob[:8])
    store = 8 + 16 * count
    if count > MAX_ENTRIES or store + size > len(blob):
        raise RpmDbError("header sizes do not fit")
    data = blob[store:store + size]
    values: dict[int, list[str] | list[int] | str] = {}
    for i in range(count):
        tag, kind, offset, n = struct.unpack(">IIII", blob[8 + 16 * i: 24 + 16 * i])
        if tag not in (_NAME, _VERSION, _RELEASE, _ARCH, _DIRINDEXES, _BASENAMES, _DIRNAMES) or offset > len(data):
            continue
        if tag in values:
            continue  # a tag repeated thousands of times would walk the data again each time
        if kind in (_STRING, _I18NSTRING):
            values[tag] = data[offset:data.index(b"\0", offset)].decode("utf-8", "replace")
        elif kind == _STRING_ARRAY:
            strings, position = [], offset
            for _ in range(min(n, MAX_ENTRIES)):
                end = data.index(b"\0", position)
                strings.append(data[position:end].decode("utf-8", "replace"))
                position = end + 1
            values[tag] = strings
        elif kind == _INT32 and offset + 4 * n <= len(data):
            values[tag] = list(struct.unpack(f">{n}i", data[offset:offset + 4 * n]))
    return values


def owners(database: bytes) -> dict[str, str]:
    """Path inside the image (no leading slash) -> "rpm:name version-release (arch)". Raises RpmDbError."""
    connection = sqlite3.connect(":memory:")
    try:
        connection.deserialize(database)
        rows = connection.execute("SELECT blob FROM Packages").fetchall()
    except (sqlite3.Error, ValueError, MemoryError) as e:  # deserialize() of an empty file raises MemoryError
        raise RpmDbError(f"not a readable RPM sqlite database: {type(e).__name__} {e}".rstrip()) from e
    finally:
        connection.close()
    found: dict[str, str] = {}
    for (blob,) in rows:
        if not isinstance(blob, bytes):
            continue  # NULL, text or a number where a header belongs (bytes(10**12) would allocate a terabyte)
        try:
            header = _header(blob)
        except (RpmDbError, ValueError, struct.error):
            continue
        label = f"rpm:{header.get(_NAME, '?')} {header.get(_VERSION, '')}-{header.get(_RELEASE, '')} " \
                f"({header.get(_ARCH, '?')})"
        basenames, dirnames, indexes = header.get(_BASENAMES), header.get(_DIRNAMES), header.get(_DIRINDEXES)
        if not isinstance(basenames, list) or not isinstance(dirnames, list) or not isinstance(indexes, list):
            continue
        for base, index in zip(basenames, indexes, strict=False):
            if isinstance(index, int) and 0 <= index < len(dirnames):
                found[f"{dirnames[index]}{base}".lstrip("/")] = label
    return found
