"""Binary classification and details on the real fixture binaries and their corrupt variants."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from armscan.binary import ar, elf
from armscan.binary.headers import HEAD_SIZE, HeaderError, classify
from armscan.model import SkipReason
from tests.conftest import BIN, scan


def head(name: str) -> bytes:
    return (BIN / name).read_bytes()[:HEAD_SIZE]


@pytest.mark.parametrize(
    ("name", "fmt", "machines", "kind", "bits"),
    [
        ("hello-x86_64", "elf", ("x86_64",), "pie-executable", 64),
        ("hello-aarch64", "elf", ("aarch64",), "pie-executable", 64),
        ("libmix-x86_64.so", "elf", ("x86_64",), "shared-object", 64),
        ("mix-aarch64.o", "elf", ("aarch64",), "relocatable", 64),
        ("hello-armhf", "elf", ("arm",), "pie-executable", 32),
        ("hello-mips", "elf", ("mips",), "pie-executable", 32),
        ("hello-riscv64", "elf", ("riscv64",), "pie-executable", 64),
        ("hello-i386", "elf", ("i386",), "pie-executable", 32),
        ("hello-ppc64le", "elf", ("ppc64le",), "pie-executable", 64),
        ("hello-s390x", "elf", ("s390x",), "pie-executable", 64),
        ("tool-x86_64.macho", "macho", ("x86_64",), "executable", 64),
        ("tool-universal.macho", "macho-universal", ("x86_64", "aarch64"), "universal", None),
        ("tool-x64.exe", "pe", ("x86_64",), "shared-object", 64),
        ("tool-arm64.exe", "pe", ("aarch64",), "shared-object", 64),
    ],
)
def test_classify_from_header(name: str, fmt: str, machines: tuple[str, ...], kind: str, bits: int | None) -> None:
    header = classify(head(name))
    assert header is not None
    assert (header.format, header.machines, header.kind, header.bits) == (fmt, machines, kind, bits)


def test_big_endian_mips_is_big_endian() -> None:
    header = classify(head("hello-mips"))
    assert header is not None and header.endianness == "big"


def test_il_only_dotnet_assembly_is_portable() -> None:
    header = classify(head("Portable.dll"))
    assert header is not None and header.note == "il-only" and header.machines == ("i386",)


def test_java_class_file_is_not_a_universal_binary() -> None:
    assert classify(b"\xca\xfe\xba\xbe\x00\x00\x00\x34" + b"\x00" * 64) is None


def test_non_binaries_are_not_classified() -> None:
    assert classify(head("corrupt-bad-magic")) is None
    assert classify(b"#!/bin/sh\necho hi\n") is None
    assert classify(b"MZ") is None


@pytest.mark.parametrize("name", ["corrupt-truncated-header", "corrupt-bad-class"])
def test_corrupt_headers_raise(name: str) -> None:
    with pytest.raises(HeaderError):
        classify(head(name))


def test_elf_details_of_shared_library() -> None:
    with (BIN / "libmix-x86_64.so").open("rb") as fh:
        details = elf.read_details(fh)
    assert details.error is None
    assert details.soname == "libmix.so.1"
    assert details.needed == ("libm.so.6", "libc.so.6")
    assert details.interpreter is None
    assert details.max_glibc == "2.14"  # memcpy@GLIBC_2.14 on x86_64
    assert "2.2.5" in details.glibc_versions
    assert details.min_load_align == 0x1000


def test_elf_details_of_aarch64_executable() -> None:
    with (BIN / "hello-aarch64").open("rb") as fh:
        details = elf.read_details(fh)
    assert details.interpreter == "/lib/ld-linux-aarch64.so.1"
    assert details.needed == ("libc.so.6",)
    assert details.min_load_align == 0x10000  # GNU ld's default max page size on aarch64
    assert details.max_glibc is not None and tuple(map(int, details.max_glibc.split("."))) >= (2, 17)


def test_elf_details_of_truncated_file_is_an_error_not_an_exception() -> None:
    details = elf.read_details(io.BytesIO((BIN / "corrupt-truncated-body.so").read_bytes()))
    assert details.error is not None and details.error.startswith("ELF details unreadable")


def test_ar_members_are_classified() -> None:
    data = (BIN / "libmix-aarch64.a").read_bytes()
    members, notes = ar.read_members(io.BytesIO(data), len(data))
    assert notes == []
    assert [(m.name, m.format, m.machine, m.kind) for m in members] == [
        ("mix-aarch64.o", "elf", "aarch64", "relocatable")
    ]


def test_truncated_ar_is_reported_malformed(tmp_path) -> None:
    data = (BIN / "libmix-x86_64.a").read_bytes()
    (tmp_path / "libcut.a").write_bytes(data[: len(data) // 2])
    result = scan(tmp_path)
    assert [(s.path.rsplit("/", 1)[-1], s.reason) for s in result.skipped] == [("libcut.a", SkipReason.MALFORMED)]
    assert "truncated" in result.skipped[0].detail
    assert result.artifacts == ()


def test_corrupt_fixtures_scan_as_skipped_or_noted(tmp_path) -> None:
    for name in ("corrupt-truncated-header", "corrupt-bad-class", "corrupt-bad-magic", "corrupt-truncated-body.so"):
        (tmp_path / name).write_bytes((BIN / name).read_bytes())
    result = scan(tmp_path)
    skipped = {s.path.rsplit("/", 1)[-1]: s.reason for s in result.skipped}
    assert skipped == {"corrupt-truncated-header": SkipReason.MALFORMED, "corrupt-bad-class": SkipReason.MALFORMED}
    # The truncated body still has a valid header: it is an x86 artifact whose details are unknown.
    (artifact,) = result.artifacts
    assert artifact.path.endswith("corrupt-truncated-body.so") and artifact.machines == ("x86_64",)
    assert artifact.elf is not None and artifact.elf.error is not None
    assert [f.rule_id for f in result.findings] == ["ARM-BIN-ELF-X86"]


def test_real_pe_launchers_from_pip_when_present() -> None:
    """pip vendors real Windows launchers for x86, x64 and arm64: classification and imports (via LIEF)."""
    import pip

    distlib = Path(pip.__file__).parent / "_vendor" / "distlib"
    if not (distlib / "t64-arm.exe").exists():
        pytest.skip("this pip has no distlib launchers")
    result = scan(distlib, display="")
    by_name = {a.path: a for a in result.artifacts if a.path.endswith(".exe")}
    assert by_name["t64.exe"].machines == ("x86_64",) and by_name["t64-arm.exe"].machines == ("aarch64",)
    assert by_name["t32.exe"].machines == ("i386",)
    assert "KERNEL32.dll" in by_name["t64-arm.exe"].imports
    flagged = sorted(f.location.path for f in result.findings if f.rule_id == "ARM-BIN-PE-X86")
    assert "t64.exe" in flagged and "t32.exe" in flagged and "t64-arm.exe" not in flagged
