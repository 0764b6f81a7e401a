"""Libraries that Mach-O and PE binaries load, read with LIEF (ELF details come from pyelftools)."""

from __future__ import annotations

from typing import BinaryIO

MAX_PARSE_SIZE = 64 * 1024 * 1024


def read_imports(fh: BinaryIO, size: int, fmt: str) -> tuple[tuple[str, ...], str | None]:
    """(library names, error); never raises."""
    if size > MAX_PARSE_SIZE:
        return (), f"over {MAX_PARSE_SIZE} bytes: imports not read"
    try:
        import lief

        lief.logging.disable()
        fh.seek(0)
        data = list(fh.read(size))
        names: list[object] = []
        if fmt == "pe":
            pe = lief.PE.parse(data)
            if pe is None:
                return (), "LIEF could not parse this PE file"
            names = [entry.name for entry in pe.imports]
        else:
            fat = lief.MachO.parse(data)
            if fat is None:
                return (), "LIEF could not parse this Mach-O file"
            for binary in fat:
                names.extend(library.name for library in binary.libraries)
        text = (n.decode("utf-8", "replace") if isinstance(n, bytes) else str(n) for n in names if n)
        return tuple(dict.fromkeys(text)), None
    except Exception as e:  # LIEF raises assorted errors on hostile input
        return (), f"imports unreadable: {type(e).__name__}: {e}"
