"""`armscan scan --compile`: the aarch64 cross compiler's verdict on every translation unit, end to end."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.registry import ensure_tools

INTRINSICS = "#include <immintrin.h>\nint fast(int x) { return _mm_cvtsi128_si32(_mm_set1_epi32(x)); }\n"
PORTABLE = "int fast(int x) { return x; }\n"


@pytest.fixture(scope="module", autouse=True)
def toolchain() -> None:
    ensure_tools("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++", "cmake", "make",
                 packages=("gcc-aarch64-linux-gnu", "g++-aarch64-linux-gnu", "cmake", "make"))


def compile_scan(tree: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    done = run_cli("scan", str(tree), "--compile", "--offline", "--no-index", "--json", "-", "-q", *args,
                   env=env)
    return done.returncode, json.loads(done.stdout), done.stderr


def found(doc: dict, tree: Path) -> list[tuple[str, str, str, int | None, str]]:
    return sorted((f["rule_id"], f["severity"], f["location"]["path"].removeprefix(f"{tree}/"),
                   f["location"].get("line"), f["status"]) for f in doc["findings"]
                  if f["rule_id"].startswith(("ARM-C-", "ARM-COMPILE-")))  # not the build-file rules


def listing(tree: Path) -> list[str]:
    return sorted(str(p.relative_to(tree)) for p in tree.rglob("*"))


def test_cmake_project_configured_for_aarch64_in_a_scratch_folder(tmp_path: Path) -> None:
    tree = tmp_path / "proj"
    tree.mkdir()
    (tree / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.13)\nproject(demo C)\nadd_executable(app main.c codec.c)\n"
        "if(CMAKE_SYSTEM_PROCESSOR MATCHES \"x86_64|AMD64\")\n  target_sources(app PRIVATE fast_sse.c)\n"
        "else()\n  target_sources(app PRIVATE fast_generic.c)\nendif()\n")
    (tree / "main.c").write_text("int fast(int x);\nint main(void) { return fast(0); }\n")
    (tree / "codec.c").write_text("#include <immintrin.h>\nint codec(void) { return 0; }\n")
    (tree / "fast_sse.c").write_text(INTRINSICS)
    (tree / "fast_generic.c").write_text(PORTABLE)
    before = listing(tree)
    code, doc, stderr = compile_scan(tree)
    assert listing(tree) == before, "the scanned tree was written to"
    assert code == 1 and doc["complete"] is True, stderr
    assert found(doc, tree) == [  # fast_sse.c: CMakeLists.txt lists it for x86 only, before any compiler is asked
        ("ARM-C-INTRIN-CALL", "info", "fast_sse.c", 2, "ported"),
        ("ARM-C-INTRIN-HEADER", "blocker", "codec.c", 1, "unported"),
        ("ARM-C-INTRIN-HEADER", "info", "fast_sse.c", 1, "ported"),
        ("ARM-COMPILE-ERROR", "blocker", "codec.c", 1, "unported"),
        ("ARM-COMPILE-NOT-BUILT", "info", "fast_sse.c", None, "unported"),
    ]
    error = next(f for f in doc["findings"] if f["rule_id"] == "ARM-COMPILE-ERROR")
    assert error["message"] == "The aarch64 compiler stops here: immintrin.h: No such file or directory"


def test_given_compile_commands_and_a_clean_file_lowers_static_findings(tmp_path: Path) -> None:
    tree = tmp_path / "proj"
    tree.mkdir()
    (tree / "simd.c").write_text("#if defined(__SSE2__)\n#include <emmintrin.h>\n#endif\nint s(void) { return 0; }\n"
                                 "#ifdef __x86_64__\nint t(void) { return _mm_cvtsi128_si32(_mm_set1_epi32(1)); }\n"
                                 "#endif\n")
    (tree / "broken.c").write_text(INTRINSICS)
    database = tmp_path / "compile_commands.json"
    database.write_text(json.dumps([
        {"directory": str(tree), "file": "simd.c", "arguments": ["cc", "-O2", "-c", "simd.c", "-o", "simd.o"]},
        {"directory": str(tree), "file": "broken.c", "command": "/usr/bin/cc -DNDEBUG -o broken.o -c broken.c"},
    ]))
    code, doc, stderr = compile_scan(tree, "--compile-commands", str(database))
    assert code == 1, stderr
    rules = {(r, p, s) for r, s, p, _, _ in found(doc, tree)}
    assert ("ARM-COMPILE-ERROR", "broken.c", "blocker") in rules
    assert not any(r == "ARM-COMPILE-ERROR" and p == "simd.c" for r, p, _ in rules)
    assert not any(p == "simd.c" and s in ("blocker", "high") for _, p, s in rules)


def test_no_toolchain_is_one_line_and_never_ready(tmp_path: Path) -> None:
    tree = tmp_path / "proj"
    tree.mkdir()
    (tree / "Makefile").write_text("all: a.o\n")
    (tree / "a.c").write_text(PORTABLE)
    code, doc, stderr = compile_scan(tree, env={**os.environ, "PATH": str(tmp_path / "empty-bin")})
    assert code == 3 and doc["complete"] is False
    lines = [line for line in stderr.splitlines() if "--compile" in line]
    assert lines == ["error: --compile: no aarch64 C/C++ compiler found; install an aarch64 cross compiler "
                     "(Debian/Ubuntu: apt-get install gcc-aarch64-linux-gnu g++-aarch64-linux-gnu), or clang with "
                     "an aarch64 sysroot. The static analysis ran; no file was compile-checked"]


def test_unsupported_build_and_usage_errors(tmp_path: Path) -> None:
    tree = tmp_path / "proj"
    tree.mkdir()
    (tree / "meson.build").write_text("project('x', 'c')\n")
    (tree / "a.c").write_text(PORTABLE)
    code, doc, _ = compile_scan(tree)
    assert code == 3 and doc["errors"][0] == (
        f"--compile: {tree}: Meson projects are not configured by armscan yet: give their compile_commands.json "
        "with --compile-commands; its files were not compile-checked")
    done = run_cli("scan", str(tree), "--compile-commands", str(tree / "a.c"))
    assert done.returncode == 2 and "--compile-commands only applies with --compile" in done.stderr
