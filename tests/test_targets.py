"""Target CPUs and systems: the instruction-set verdicts are proven by running the fixtures under qemu-user's
Cortex-A72 (AWS A1), Neoverse N1 (Graviton2) and `max` (with SVE) models."""

from __future__ import annotations

import json
import re
import signal
import subprocess
from pathlib import Path

import pytest

from tests.conftest import BIN, run_cli
from tests.registry import ensure_tools

SYSROOT = "/usr/aarch64-linux-gnu"
ISA_FIXTURES = ("isa-lse", "isa-outline-atomics", "isa-sve", "isa-sve2", "isa-sve-static", "hello-aarch64-static")


def run_on(cpu: str, binary: str) -> int:
    done = subprocess.run(["qemu-aarch64", "-L", SYSROOT, "-cpu", cpu, str(BIN / binary)], capture_output=True,
                          timeout=60)
    return done.returncode


@pytest.fixture(scope="module")
def qemu() -> None:
    loader = str(Path(SYSROOT, "lib", "ld-linux-aarch64.so.1"))
    ensure_tools("qemu-aarch64", packages=("qemu-user", "libc6-arm64-cross"), files=(loader,))


def isa_findings(*targets: str) -> set[tuple[str, str]]:
    args = [a for t in targets for a in ("--target", t)]
    done = run_cli("scan", *(str(BIN / name) for name in ISA_FIXTURES), *args, "--os", "debian12", "--offline",
                   "--no-index", "--json", "-", "-q")
    doc = json.loads(done.stdout)
    return {(f["location"]["path"].rsplit("/", 1)[-1], f["location"]["match"]) for f in doc["findings"]
            if f["rule_id"] == "ARM-TARGET-ISA"}


def test_isa_verdicts_match_what_the_cpus_really_do(qemu: None) -> None:
    sigill = -signal.SIGILL
    cpus = ("cortex-a72", "neoverse-n1", "a64fx", "max")
    ran = {(name, cpu): run_on(cpu, name) for name in ISA_FIXTURES for cpu in cpus}
    expected_sigill = {("isa-lse", "cortex-a72"), ("isa-sve", "cortex-a72"), ("isa-sve", "neoverse-n1"),
                       ("isa-sve2", "cortex-a72"), ("isa-sve2", "neoverse-n1"), ("isa-sve2", "a64fx"),
                       ("isa-sve-static", "cortex-a72"), ("isa-sve-static", "neoverse-n1")}
    assert ran == {key: sigill if key in expected_sigill else 0 for key in ran}
    # armscan says exactly that: a1 is Cortex-A72, graviton2 Neoverse N1; graviton3 has SVE but not SVE2
    # (as qemu's a64fx model); graviton4 has both (as max). The stripped static ones hold glibc's SVE string
    # functions too, chosen by IFUNC resolvers: only the program's own SVE loop counts
    assert isa_findings("a1", "graviton2", "graviton3", "graviton4") == {
        ("isa-lse", "a1"), ("isa-sve", "a1"), ("isa-sve", "graviton2"), ("isa-sve2", "a1"),
        ("isa-sve2", "graviton2"), ("isa-sve2", "graviton3"), ("isa-sve-static", "a1"),
        ("isa-sve-static", "graviton2")}


def test_isa_facts_in_the_json() -> None:
    done = run_cli("scan", str(BIN / "isa-outline-atomics"), str(BIN / "isa-sve"), "--offline", "--no-index",
                   "--json", "-", "-q")
    isa = {a["path"].rsplit("/", 1)[-1]: [(u["feature"], u["count"], u["unguarded"]) for u in a["isa"]]
           for a in json.loads(done.stdout)["artifacts"]}
    assert isa == {"isa-outline-atomics": [("lse", 2, 0)], "isa-sve": [("sve", 19, 19)]}
    # stripped static: glibc's SVE variants (placed through the IFUNC resolvers) and the unwinder's guarded
    # vector-length reads are selected at run time; the program's loop (the 19 of isa-sve) is not
    done = run_cli("scan", str(BIN / "isa-sve-static"), str(BIN / "hello-aarch64-static"), "--offline",
                   "--no-index", "--json", "-", "-q")
    isa = {a["path"].rsplit("/", 1)[-1]: [(u["feature"], u["count"], u["unguarded"]) for u in a["isa"]]
           for a in json.loads(done.stdout)["artifacts"]}
    assert isa == {"isa-sve-static": [("lse", 13, 0), ("sve", 218, 19)],
                   "hello-aarch64-static": [("lse", 13, 0), ("sve", 199, 0)]}
    done = run_cli("scan", str(BIN / "isa-sve2"), "--offline", "--no-index", "--json", "-", "-q")
    uses = json.loads(done.stdout)["artifacts"][0]["isa"]
    assert [(u["feature"], u["unguarded"] > 0) for u in uses] == [("sve", True), ("sve2", True)]


def test_target_names_instance_families_and_errors(tmp_path: Path) -> None:
    assert isa_findings("c7g.2xlarge") == {("isa-sve2", "graviton3")}  # Graviton3: SVE and LSE, no SVE2
    assert isa_findings("r6g") == {("isa-sve", "graviton2"), ("isa-sve2", "graviton2"), ("isa-sve-static", "graviton2")}
    done = run_cli("scan", str(tmp_path), "--target", "pentium4")
    assert done.returncode == 2 and "unknown --target 'pentium4'" in done.stderr
    done = run_cli("scan", str(tmp_path), "--os", "windows")
    assert done.returncode == 2 and "unknown --os 'windows'" in done.stderr


def test_os_profile_sets_the_libc_for_python_and_binaries(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.armscan]\ntargets = ["a1"]\nos = "alpine"\n')
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "tool").write_bytes((BIN / "isa-lse").read_bytes())
    done = run_cli("scan", ".", "--offline", "--no-index", "--json", "-", "-q", cwd=tmp_path)
    doc = json.loads(done.stdout)
    assert sorted(f["rule_id"] for f in doc["findings"]) == ["ARM-TARGET-ISA", "ARM-TARGET-LIBC"]
    assert doc["targets"] == ["AWS A1 (Cortex-A72, Armv8.0)", "Alpine Linux"]


def test_a_verdict_per_target() -> None:
    done = run_cli("scan", str(BIN / "isa-lse"), str(BIN / "isa-sve"), "--target", "a1", "--target", "graviton2",
                   "--target", "graviton3", "--os", "debian12", "--offline", "--no-index", "--json", "-", "-q")
    plan = json.loads(done.stdout)["plan"]
    assert [(t["target"], t["verdict"]) for t in plan["targets"]] == [
        ("a1", "ready-after-work"), ("graviton2", "ready-after-work"), ("graviton3", "ready")]
    assert plan["targets"][0]["reason"].endswith("2 binaries with instructions it lacks")
    terminal = run_cli("scan", str(BIN / "isa-sve"), "--target", "a1", "--target", "graviton3", "--offline",
                       "--no-index", env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert "AWS A1 (Cortex-A72, Armv8.0): ready after work" in terminal.stdout
    assert re.search(r"AWS Graviton3 \(Neoverse V1, Armv8\.4\): ready\s*│", terminal.stdout)


def test_a_real_upx_packed_binary_runs_but_is_flagged_for_64k_pages(qemu: None) -> None:
    # packed by UPX 3.94 (fixtures/build.sh): a working binary on 4 KB pages, which qemu-user has
    done = subprocess.run(["qemu-aarch64", "-cpu", "neoverse-n1", str(BIN / "hello-aarch64-static-upx")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.startswith("hello, world")
    result = run_cli("scan", str(BIN / "hello-aarch64-static-upx"), "--os", "rhel8", "--offline", "--no-index",
                     "--json", "-", "-q")
    doc = json.loads(result.stdout)
    assert [a["packed"] for a in doc["artifacts"]] == ["upx"]
    assert sorted(f["rule_id"] for f in doc["findings"]) == ["ARM-TARGET-PAGE-SIZE", "ARM-TARGET-UPX"]
    done = run_cli("scan", str(BIN / "hello-aarch64-static-upx"), "--os", "al2023", "--offline", "--no-index",
                   "--json", "-", "-q")
    # 4 KB pages: it loads, but the packing stays a finding (it breaks on a 64 KB-page kernel later)
    assert [f["rule_id"] for f in json.loads(done.stdout)["findings"]] == ["ARM-TARGET-UPX"]
