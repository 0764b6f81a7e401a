"""Mutated real binaries and archives never crash the analysis or hang it: results or skipped records only."""

from __future__ import annotations

import io
import os
import random
import struct
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import fixtures.hostile.binaries as binfix
from armscan.analyzers.counterparts import is_aarch64_binary
from armscan.analyzers.files import Collector, analyze_stream
from armscan.binary.elf import needed_versions
from armscan.limits import Limits
from armscan.model import Artifact
from armscan.rules_engine.loader import RuleSet
from tests.conftest import BIN, scan

SEEDS = ["hello-x86_64", "libmix-aarch64.so", "libmix-x86_64.a", "mix-aarch64.o", "tool-universal.macho",
         "Portable.dll", "nativepkg-1.0-cp311-cp311-linux_x86_64.whl", "app-fat.jar"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    choice = rng.random()
    if choice < 0.5:  # flip bytes in the headers, where parsers trust counts and offsets
        for _ in range(rng.randint(1, 8)):
            pos = rng.randrange(min(len(buf), 4096))
            buf[pos] = rng.randrange(256)
    elif choice < 0.8:  # large values in random 4-byte fields
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(max(1, min(len(buf), 4096) - 4))
            buf[pos : pos + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x80", b"\xff\xff\x00\x00"])
    else:  # truncation
        del buf[rng.randrange(len(buf)) :]
    return bytes(buf)


@pytest.mark.parametrize("seed_name", SEEDS)
def test_mutations_never_raise(seed_name: str, ruleset: RuleSet) -> None:
    rng = random.Random(f"armscan-{seed_name}")
    data = (BIN / seed_name).read_bytes()
    for _ in range(60):
        sample = mutate(data, rng)
        out = Collector()
        start = time.monotonic()
        analyze_stream(io.BytesIO(sample), len(sample), seed_name, seed_name, ruleset, Limits(), out)
        assert time.monotonic() - start < 5, "analysis of a mutated file took too long"
        for skipped in out.skipped:
            assert skipped.detail


def test_corrupt_symbol_table_leaves_the_instruction_scan_unknown(tmp_path: Path) -> None:
    """A function symbol with an impossible address: the binary is still recorded, its extensions unknown."""
    from elftools.elf.elffile import ELFFile

    data = bytearray((BIN / "isa-lse").read_bytes())
    with open(BIN / "isa-lse", "rb") as fh:
        elf = ELFFile(fh)
        dynsym = elf.get_section_by_name(".dynsym")
        index = next(i for i, s in enumerate(dynsym.iter_symbols()) if s["st_info"]["type"] == "STT_FUNC")
        offset = dynsym["sh_offset"] + index * dynsym["sh_entsize"] + 8  # st_value
    data[offset:offset + 8] = b"\xff" * 8
    (tmp_path / "tool").write_bytes(bytes(data))
    result = scan(tmp_path, display="")
    assert result.complete and [a.machines for a in result.artifacts] == [("aarch64",)]
    assert not result.skipped  # nothing crashed: the bad symbol is ignored, the code is still scanned
    assert [(u.feature, u.unguarded) for u in result.artifacts[0].isa] == [("lse", 2)]


def _artifact(tmp_path: Path, name: str, data: bytes) -> Artifact:
    (tmp_path / name).write_bytes(data)
    result = scan(tmp_path / name, display="")
    assert len(result.artifacts) == 1, result.skipped
    return result.artifacts[0]


def test_version_needs_claiming_four_billion_entries_are_read_to_the_chain_end(tmp_path: Path) -> None:
    data = binfix.verneed_count_huge((BIN / "hello-aarch64").read_bytes())
    start = time.monotonic()
    artifact = _artifact(tmp_path, "tool", data)
    assert time.monotonic() - start < 30
    assert artifact.elf is not None and artifact.elf.glibc_versions == ("2.17", "2.34")
    assert artifact.elf.error is None


def test_a_dynamic_table_without_an_end_is_not_walked(tmp_path: Path) -> None:
    artifact = _artifact(tmp_path, "tool", binfix.dynamic_without_end((BIN / "hello-aarch64").read_bytes()))
    assert artifact.machines == ("aarch64",) and artifact.isa == ()
    assert artifact.notes == ("ELF details unreadable: no DT_NULL within the first 4096 dynamic entries",)


def test_version_needs_walk_stops_at_the_chain_end_and_the_data_end() -> None:
    strings = b"\0GLIBC_2.17\0libc.so.6\0"
    aux = struct.pack("<IHHII", 0, 0, 2, 1, 0)
    one = struct.pack("<HHIII", 1, 1, 12, 16, 0) + aux  # vn_next 0: the last entry, whatever the count says
    assert needed_versions(one, strings, 0xFFFFFFFF, True) == ["GLIBC_2.17"]
    # 65,535 auxiliaries claimed, each pointing 16 bytes on: only those inside the data are read
    chained = struct.pack("<HHIII", 1, 0xFFFF, 12, 16, 0) + struct.pack("<IHHII", 0, 0, 2, 1, 16) * 3
    assert needed_versions(chained, strings, 1, True) == ["GLIBC_2.17"] * 3
    big_endian = struct.pack(">HHIII", 1, 1, 12, 16, 0) + struct.pack(">IHHII", 0, 0, 2, 1, 0)
    assert needed_versions(big_endian, strings, 1, False) == ["GLIBC_2.17"]


@pytest.mark.parametrize(("surgery", "note"), [
    (binfix.sstripped, "no section headers (stripped with sstrip or similar): checked from the program headers"),
    (binfix.shoff_past_end, "section headers point past the end of the file: checked from the program headers"),
])
def test_aarch64_binary_without_usable_section_headers_is_checked_from_program_headers(
        tmp_path: Path, surgery: Callable[[bytes], bytes], note: str) -> None:
    whole = _artifact(tmp_path, "whole", (BIN / "isa-sve").read_bytes())
    damaged = _artifact(tmp_path, "damaged", surgery((BIN / "isa-sve").read_bytes()))
    assert damaged.notes == (note,)
    assert damaged.elf is not None and whole.elf is not None
    assert damaged.elf.glibc_versions == whole.elf.glibc_versions == ("2.17", "2.34")
    assert damaged.elf.min_load_align == whole.elf.min_load_align == 65536
    assert damaged.elf.needed == ("libc.so.6",) and damaged.elf.interpreter == whole.elf.interpreter
    assert [(u.feature, u.count, u.unguarded) for u in damaged.isa] == [("sve", 19, 19)]
    assert damaged.isa == whole.isa


def test_twelve_thousand_section_headers_are_set_aside(tmp_path: Path) -> None:
    artifact = _artifact(tmp_path, "tool", binfix.many_sections((BIN / "hello-aarch64").read_bytes()))
    assert artifact.notes == ("12000 section headers is over the limit of 1024: checked from the program headers",)
    assert artifact.elf is not None and artifact.elf.glibc_versions == ("2.17", "2.34")


def test_overlapping_code_sections_are_read_once(tmp_path: Path) -> None:
    """Under the section limit, 1,000 headers over one range of code: that range is scanned once."""
    data = binfix.many_sections((BIN / "isa-lse").read_bytes(), count=1000, code=64 * 1024)
    with open(tmp_path / "x", "wb") as fh:
        fh.write(data)
    from elftools.elf.elffile import ELFFile

    from armscan.binary.isa import _code_sections

    with open(tmp_path / "x", "rb") as fh:
        sections = _code_sections(ELFFile(fh))
    assert sum(len(s.words) for s in sections) * 4 <= len(data)


def _counterpart_tree(tmp_path: Path, counterpart: bytes | None) -> Path:
    for arch in ("x86_64", "aarch64"):
        (tmp_path / "lib" / arch).mkdir(parents=True)
    (tmp_path / "lib" / "x86_64" / "libfoo.so").write_bytes((BIN / "libmix-x86_64.so").read_bytes())
    if counterpart is not None:
        (tmp_path / "lib" / "aarch64" / "libfoo.so").write_bytes(counterpart)
    return tmp_path


def _x86_status(tmp_path: Path) -> list[tuple[str, str]]:
    result = scan(tmp_path, display="")
    return [(f.location.path, f.status.value) for f in result.findings if "x86_64" in f.location.path]


@pytest.mark.parametrize(("counterpart", "status"), [
    (b"TODO: build for arm64\n", "unported"),  # not a binary
    ((BIN / "hello-riscv64").read_bytes(), "unported"),  # another machine's ELF
    ((BIN / "libmix-x86_64.so").read_bytes(), "unported"),  # the x86 build again
    ((BIN / "libmix-aarch64.so").read_bytes(), "ported"),
])
def test_a_counterpart_must_be_an_aarch64_binary(tmp_path: Path, counterpart: bytes, status: str) -> None:
    _counterpart_tree(tmp_path, counterpart)
    assert _x86_status(tmp_path) == [("lib/x86_64/libfoo.so", status)]


def test_a_counterpart_link_is_followed_only_inside_the_folders_looked_in(tmp_path: Path) -> None:
    tree = _counterpart_tree(tmp_path / "tree", None)
    (tree / "lib" / "aarch64" / "libfoo.so.1").write_bytes((BIN / "libmix-aarch64.so").read_bytes())
    (tree / "lib" / "aarch64" / "libfoo.so").symlink_to("libfoo.so.1")
    assert _x86_status(tree) == [("lib/x86_64/libfoo.so", "ported")]
    outside = tmp_path / "elsewhere.so"
    outside.write_bytes((BIN / "libmix-aarch64.so").read_bytes())
    for name in ("libfoo.so", "libfoo.so.1"):
        (tree / "lib" / "aarch64" / name).unlink()
    (tree / "lib" / "aarch64" / "libfoo.so").symlink_to(outside)
    assert _x86_status(tree) == [("lib/x86_64/libfoo.so", "unported")]


def test_a_fifo_counterpart_is_not_read(tmp_path: Path) -> None:
    _counterpart_tree(tmp_path, None)
    os.mkfifo(tmp_path / "lib" / "aarch64" / "libfoo.so")
    assert is_aarch64_binary(str(tmp_path / "lib" / "aarch64" / "libfoo.so"), str(tmp_path)) is False
    assert _x86_status(tmp_path) == [("lib/x86_64/libfoo.so", "unported")]
