"""Turn a classified binary into an artifact record and, when it cannot run on aarch64, a finding."""

from __future__ import annotations

import struct
from dataclasses import replace
from typing import BinaryIO

from armscan.analyzers.counterparts import Siblings, has_arm_counterpart, never_loaded_on_linux_arm64
from armscan.analyzers.nodenative import module_note
from armscan.analyzers.source import Hit, to_finding
from armscan.binary import ar, elf, elfopen, foreign, isa
from armscan.binary.headers import Header
from armscan.model import X86_MACHINES, Artifact, Finding, IsaUse, Location, PortStatus, Slice
from armscan.rules_engine.loader import RuleSet

_ARM32 = {"arm"}
_PORTABLE = {"aarch64", "any"}


def inspect(header: Header, fh: BinaryIO, size: int, display: str) -> Artifact:
    """Build the artifact record, reading only the parts of the file each format needs."""
    if header.format == "elf":
        details = None
        uses: tuple[IsaUse, ...] = ()
        notes: tuple[str, ...] = ()
        if header.kind in ("executable", "pie-executable", "shared-object"):
            stream, notes = elfopen.safe_stream(fh, size)
            details = elf.read_details(stream)
            notes += (details.error,) if details.error else ()
            if header.machines == ("aarch64",) and not details.error:
                uses, isa_note = _isa(stream)
                notes += isa_note
        return Artifact(
            path=display,
            format="elf",
            machines=header.machines,
            kind=header.kind,
            size=size,
            bits=header.bits,
            endianness=header.endianness,
            elf=details,
            notes=notes,
            isa=uses,
            packed=_packer(fh),
        )
    if header.format == "ar":
        fh.seek(0)
        members, ar_notes = ar.read_members(fh, size)
        machines = tuple(sorted({m.machine for m in members if m.machine not in ("any", "unknown")}))
        slices = tuple(Slice(name=m.name, format=m.format, machine=m.machine, kind=m.kind) for m in members)
        return Artifact(
            path=display,
            format="ar",
            machines=machines,
            kind="static-archive",
            size=size,
            slices=slices,
            notes=tuple(ar_notes),
        )
    imports, error = foreign.read_imports(fh, size, "pe" if header.format == "pe" else "macho")
    error_notes = (error,) if error else ()
    if header.format == "macho-universal":
        slices = tuple(Slice(name=raw, format="macho", machine=norm) for raw, norm in header.slices)
        return Artifact(path=display, format="macho", machines=header.machines, kind="universal", size=size,
                        imports=imports, slices=slices, notes=error_notes)
    notes = ("IL-only .NET assembly: runs on any architecture",) if header.note == "il-only" else ()
    return Artifact(
        path=display,
        format=header.format,
        machines=("any",) if header.note == "il-only" else header.machines,
        kind=header.kind,
        size=size,
        bits=header.bits,
        endianness=header.endianness,
        imports=imports,
        notes=notes + error_notes,
    )


def header_only(header: Header, size: int, display: str, note: str) -> Artifact:
    """The record of a binary classified from its first bytes alone (too large, or past a limit)."""
    return Artifact(path=display, format="macho" if header.format == "macho-universal" else header.format,
                    machines=header.machines, kind=header.kind, size=size, bits=header.bits,
                    endianness=header.endianness, notes=(note,))


def _isa(fh: BinaryIO) -> tuple[tuple[IsaUse, ...], tuple[str, ...]]:
    from elftools.common.exceptions import ELFError

    try:
        return isa.scan(fh)
    except (ELFError, ValueError, OSError, struct.error, OverflowError, IndexError, KeyError) as e:
        # a malformed binary: its extensions are unknown, which the note says; the rest of its record stands
        return (), (f"instruction scan failed: {type(e).__name__}: {e}",)


def _packer(fh: BinaryIO) -> str | None:
    """UPX writes its "UPX!" header right after the program headers; its stub fails on 64 KB-page kernels."""
    fh.seek(0)
    return "upx" if b"UPX!" in fh.read(4096) else None


def _variant(artifact: Artifact) -> str | None:
    machines = set(artifact.machines)
    if not machines or machines & _PORTABLE:
        return None
    if machines <= X86_MACHINES:
        if artifact.format == "elf":
            return "object-x86" if artifact.kind == "relocatable" else "elf-x86"
        if artifact.format == "ar":
            return "ar-x86"
        if artifact.format == "macho":
            return "macho-x86"
        if artifact.format == "pe":
            return "pe-x86"
        return None
    if artifact.format == "elf":
        return "elf-arm32" if machines <= _ARM32 else "elf-foreign"
    return None


def _describe(artifact: Artifact) -> str:
    what = f"{artifact.format.upper()} {artifact.kind.replace('-', ' ')} for {', '.join(artifact.machines)}"
    if artifact.elf is not None and artifact.elf.needed:
        shown = ", ".join(artifact.elf.needed[:6])
        more = f" and {len(artifact.elf.needed) - 6} more" if len(artifact.elf.needed) > 6 else ""
        what += f"; links {shown}{more}"
    if artifact.imports:
        what += f"; loads {', '.join(artifact.imports[:6])}"
    if artifact.slices and artifact.format == "ar":
        what += f"; {len(artifact.slices)} object members"
    return what


def findings_for(artifact: Artifact, ruleset: RuleSet, name: str, siblings: Siblings | None) -> list[Finding]:
    """The finding for a binary that cannot run on aarch64; ported when an aarch64 build sits beside it."""
    variant = _variant(artifact)
    if variant is None or never_loaded_on_linux_arm64(artifact.path):
        return []
    rule = ruleset.variant("binary", variant)
    if rule is None:
        return []
    detail = _describe(artifact)
    state = PortStatus.UNPORTED
    if siblings is not None and has_arm_counterpart(name, siblings, binary=True):
        state = PortStatus.PORTED
    hit = Hit(line=0, column=0, end_column=None, snippet=detail, match=", ".join(artifact.machines), state=state,
              detail=detail)
    finding = to_finding(rule, hit, artifact.path)
    note = module_note(artifact.path) if state is PortStatus.UNPORTED else ""
    message = f"{finding.message} {note}" if note else finding.message
    return [replace(finding, message=message, location=Location(path=artifact.path, snippet=detail))]
