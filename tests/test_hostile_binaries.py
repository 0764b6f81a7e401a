"""Mutated real binaries and archives never crash the analysis or hang it: results or skipped records only."""

from __future__ import annotations

import io
import random
import time
from pathlib import Path

import pytest

from armscan.analyzers.files import Collector, analyze_stream
from armscan.limits import Limits
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
