"""Installed environments: a real virtualenv with the fixture wheels installed by pip, checked for aarch64."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from armscan.python.environment import Environment, FolderReader, InstalledDist, read_environment
from tests.conftest import BIN, run_cli
from tests.pyindex import FILES, IndexServer

SITE = "lib/python3.{minor}/site-packages"
INSTALLED = ["app-1.0-py3-none-any.whl", "capper-1.0-py3-none-any.whl", "purepkg-1.0-py3-none-any.whl",
             "oldnative-1.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
             "nativeok-1.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
             "intel_openmp-2024.0.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
             "newglibc-1.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"]


@pytest.fixture(scope="module")
def index() -> IndexServer:
    with IndexServer() as server:
        yield server


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv made by `venv`, the fixture wheels installed into it by pip, plus what users leave there."""
    root = tmp_path_factory.mktemp("project")
    env = root / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(env / "bin" / "python"), "install", "-q",
                    "--no-index", "--no-deps", "--disable-pip-version-check",
                    *(str(FILES / name) for name in INSTALLED)], check=True)
    site = env / SITE.format(minor=sys.version_info[1])
    shutil.copy(BIN / "libmix-x86_64.so", site / "handplaced.so")  # not in any RECORD
    (site / "nativeok" / "simd.h").write_text("#include <immintrin.h>\n__m128 twice(__m128 v);\n")
    broken = site / "broken-1.0.dist-info"
    broken.mkdir()
    (broken / "METADATA").write_bytes(b"Metadata-Version: 2.1\nName: broken\n\xff\xfe no version here\n")
    (root / "requirements.txt").write_text("purepkg==1.0\n")
    return root


def run_env(index: IndexServer, *args: str) -> tuple[int, dict]:
    done = run_cli("env", *args, "--index-url", f"{index.url}/simple/", "--glibc", "2.26",
                   "--timeout", "5", "--json", "-", "-q")
    return done.returncode, json.loads(done.stdout)


def site_of(venv: Path) -> str:
    return str(venv / ".venv" / SITE.format(minor=sys.version_info[1]))


def test_env_from_interpreter_judges_every_installed_distribution(index: IndexServer, venv: Path,
                                                                  tmp_path: Path) -> None:
    code, doc = run_env(index, "--python", str(venv / ".venv" / "bin" / "python"), "--cache-dir", str(tmp_path))
    site = site_of(venv)
    assert code == 3  # the broken METADATA leaves one distribution unknown
    assert doc["inputs"] == [site]
    assert {p["name"]: (p["status"], p["chain"]) for p in doc["packages"]} == {
        "app": ("pure", ["app 1.0"]),
        "capper": ("pure", ["app 1.0", "capper 1.0"]),
        "purepkg": ("pure", ["app 1.0", "purepkg 1.0"]),
        "oldnative": ("upgrade", ["app 1.0", "capper 1.0", "oldnative 1.0"]),
        "nativeok": ("ready", ["app 1.0", "nativeok 1.0"]),
        "intel-openmp": ("none", ["app 1.0", "intel-openmp 2024.0.0"]),
        "newglibc": ("glibc", ["app 1.0", "newglibc 1.0"]),
    }
    findings = {(f["rule_id"], f["location"]["path"].removeprefix(site + "/")): f["message"]
                for f in doc["findings"]}
    assert sorted(findings) == [
        ("ARM-BIN-ELF-X86", "handplaced.so"),
        ("ARM-PY-GLIBC-TOO-OLD", "newglibc-1.0.dist-info/METADATA"),
        ("ARM-PY-NO-AARCH64", "intel_openmp-2024.0.0.dist-info/METADATA"),
        ("ARM-PY-UPGRADE-FOR-WHEEL", "oldnative-1.0.dist-info/METADATA"),
    ]
    assert findings[("ARM-PY-UPGRADE-FOR-WHEEL", "oldnative-1.0.dist-info/METADATA")].startswith(
        "app 1.0 -> capper 1.0 -> oldnative 1.0: no wheel for CPython 3.")
    assert "Held back by: capper 1.0. Upgrade with it: capper 1.1." in findings[
        ("ARM-PY-UPGRADE-FOR-WHEEL", "oldnative-1.0.dist-info/METADATA")]
    assert "added by hand" in findings[("ARM-BIN-ELF-X86", "handplaced.so")]
    # the binaries the x86 wheels installed belong to their packages; their verdicts stand for them
    owners = {a["path"].removeprefix(site + "/"): a["owner"] for a in doc["artifacts"]}
    assert owners == {"handplaced.so": None,
                      "intel_openmp/_native.abi3.so": "pypi:intel-openmp 2024.0.0",
                      "nativeok/_native.abi3.so": "pypi:nativeok 1.0",
                      "newglibc/_native.abi3.so": "pypi:newglibc 1.0",
                      "oldnative/_native.abi3.so": "pypi:oldnative 1.0"}
    ready = next(p for p in doc["packages"] if p["name"] == "nativeok")
    assert ready["file"] == "nativeok-1.0-cp38-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl"
    assert "installed from a manylinux2014_x86_64, manylinux_2_17_x86_64 wheel" in ready["detail"]
    assert [(s["path"].removeprefix(site + "/"), s["reason"]) for s in doc["skipped"]] == [
        ("broken-1.0.dist-info/METADATA", "malformed")]
    assert doc["targets"] == ["AWS Graviton2 (Neoverse N1, Armv8.2)", "Amazon Linux 2023",
                              f"CPython 3.{sys.version_info[1]}, Linux aarch64, glibc 2.26"]


def test_env_of_a_folder_infers_the_python_version(index: IndexServer, venv: Path, tmp_path: Path) -> None:
    code, doc = run_env(index, str(venv / ".venv"), "--cache-dir", str(tmp_path))
    assert code == 3  # the broken METADATA
    assert doc["targets"] == ["AWS Graviton2 (Neoverse N1, Armv8.2)", "Amazon Linux 2023",
                              f"CPython 3.{sys.version_info[1]}, Linux aarch64, glibc 2.26"]
    assert {p["name"] for p in doc["packages"]} == {"app", "capper", "purepkg", "oldnative", "nativeok",
                                                     "intel-openmp", "newglibc"}


def test_scan_finds_the_environment_in_a_tree(index: IndexServer, venv: Path, tmp_path: Path) -> None:
    done = run_cli("scan", str(venv), "--index-url", f"{index.url}/simple/", "--glibc", "2.26", "--cache-dir",
                   str(tmp_path), "--json", "-", "-q")
    doc = json.loads(done.stdout)
    paths = [f["location"]["path"] for f in doc["findings"]]
    # the intrinsics header inside an installed package is third-party code: not the user's to port
    assert not any(p.endswith("simd.h") for p in paths)
    assert not any(p.endswith("_native.abi3.so") for p in paths)
    assert sorted(p.rsplit("/", 2)[-2] for p in paths if p.endswith("METADATA")) == [
        "intel_openmp-2024.0.0.dist-info", "newglibc-1.0.dist-info", "oldnative-1.0.dist-info"]
    sources = {p["source"].removeprefix(str(venv) + "/") for p in doc["packages"] if p["name"] == "purepkg"}
    assert "requirements.txt:1" in sources  # the requirement file is checked as well, on its own
    assert done.returncode == 3  # the broken METADATA


def test_without_an_index_installed_binaries_stay_findings(venv: Path) -> None:
    done = run_cli("scan", str(venv), "--no-index", "--json", "-", "-q")
    doc = json.loads(done.stdout)
    site = site_of(venv)
    got = sorted((f["rule_id"], f["location"]["path"].removeprefix(site + "/")) for f in doc["findings"])
    assert got == [("ARM-BIN-ELF-X86", "handplaced.so"),
                   ("ARM-BIN-ELF-X86", "intel_openmp/_native.abi3.so"),
                   ("ARM-BIN-ELF-X86", "nativeok/_native.abi3.so"),
                   ("ARM-BIN-ELF-X86", "newglibc/_native.abi3.so"),
                   ("ARM-BIN-ELF-X86", "oldnative/_native.abi3.so")]
    message = next(f["message"] for f in doc["findings"] if "oldnative" in f["location"]["path"])
    assert message.endswith("installed by oldnative 1.0 from a manylinux2014_x86_64, manylinux_2_17_x86_64 wheel.")
    assert doc["packages"] == []


def test_env_errors_are_usage_errors(tmp_path: Path) -> None:
    done = run_cli("env", "--python", str(tmp_path / "nope"))
    assert done.returncode == 2 and "no such interpreter" in done.stderr
    done = run_cli("env", "--python", "/bin/false")
    assert done.returncode == 2 and "not a usable Python 3 interpreter" in done.stderr
    done = run_cli("env", str(tmp_path / "missing"))
    assert done.returncode == 2 and "not a folder" in done.stderr


def test_python_version_from_pyvenv_cfg_and_from_tags(tmp_path: Path) -> None:
    site = tmp_path / "venv" / "Lib" / "site-packages"  # a Windows-style layout has no pythonX.Y folder
    info = site / "x-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: x\nVersion: 1.0\n")
    (info / "WHEEL").write_text("Wheel-Version: 1.0\nTag: cp39-cp39-manylinux_2_17_x86_64\n")
    assert read_environment(site, "site").python_version == (3, 9)
    (tmp_path / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.12.4\n")
    assert read_environment(site, "site").python_version == (3, 9)  # above the scanned folder: not read
    env = read_environment(FolderReader(site, str(tmp_path / "venv")), "site", ["x-1.0.dist-info/METADATA"])
    assert env.python_version == (3, 12)
    assert [(d.name, d.version, d.is_platform_wheel) for d in env.dists] == [("x", "1.0", True)]


def test_chains_survive_cycles() -> None:
    from packaging.requirements import Requirement

    def dist(name: str, *requires: str) -> InstalledDist:
        return InstalledDist(name, name, "1", f"{name}/METADATA", requires=tuple(Requirement(r) for r in requires))

    env = Environment("site", dists=[dist("a", "b"), dist("b", "c"), dist("c", "b"), dist("x", "y"),
                                     dist("y", "x")])
    assert env.chains() == {"a": ("a 1",), "b": ("a 1", "b 1"), "c": ("a 1", "b 1", "c 1"), "x": ("x 1",),
                            "y": ("y 1",)}


def test_wheel_file_whose_release_has_an_aarch64_wheel_on_the_index(index: IndexServer, tmp_path: Path) -> None:
    house = tmp_path / "wheelhouse"
    house.mkdir()
    x86 = "nativeok-1.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    shutil.copy(FILES / x86, house / x86)
    (house / "not-a-wheel.whl").write_bytes(b"PK\x05\x06" + bytes(18))
    done = run_cli("scan", str(tmp_path), "--index-url", f"{index.url}/simple/", "--glibc", "2.26",
                   "--python-version", "3.11", "--cache-dir", str(tmp_path / "cache"), "--json", "-", "-q")
    doc = json.loads(done.stdout)
    assert [(f["rule_id"], f["location"]["path"].removeprefix(str(tmp_path) + "/")) for f in doc["findings"]] == [
        ("ARM-PY-WHEEL-FILE-X86", f"wheelhouse/{x86}")]
    assert doc["findings"][0]["message"] == (
        f"{x86} is built for manylinux2014_x86_64, manylinux_2_17_x86_64 only; the index has "
        "nativeok-1.0-cp38-abi3-manylinux_2_17_aarch64.manylinux2014_aarch64.whl for CPython 3.11, Linux aarch64, "
        "glibc 2.26: put it beside this one (pip download --no-deps --only-binary=:all: --platform "
        "manylinux2014_aarch64 --python-version 3.11 nativeok==1.0).")
    assert [(s["path"].rsplit("/", 1)[-1], s["reason"]) for s in doc["skipped"]] == [
        ("not-a-wheel.whl", "malformed")]
    assert [(p["name"], p["status"]) for p in doc["packages"]] == [("nativeok", "ready")]
    assert done.returncode == 3  # the malformed wheel is unknown


def test_wheel_file_with_a_broken_index_is_unknown_not_ready(index: IndexServer, tmp_path: Path) -> None:
    x86 = "nativeok-1.0-cp38-abi3-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"
    shutil.copy(FILES / x86, tmp_path / x86)
    done = run_cli("scan", str(tmp_path), "--index-url", f"{index.url}/garbage/simple/", "--python-version", "3.11",
                   "--cache-dir", str(tmp_path / "cache"), "--json", "-", "-q")
    doc = json.loads(done.stdout)
    assert done.returncode == 3 and doc["complete"] is False
    assert [s["reason"] for s in doc["skipped"]] == ["index-error"]
    assert "no aarch64 wheel of nativeok 1.0 is in the tree" in doc["findings"][0]["message"]
