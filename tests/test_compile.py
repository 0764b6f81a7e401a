"""`armscan scan --compile`: the aarch64 cross compiler's verdict on every translation unit, end to end."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from armscan.compile import treecopy
from armscan.compile.commands import CompileCommand, CompileSetupError
from armscan.compile.dryrun import parse_dry_run
from armscan.compile.toolchain import Toolchain
from armscan.reporters import markdown, terminal
from armscan.reporters.load import from_document
from armscan.resources import schema_path
from tests.conftest import run_cli
from tests.registry import ensure_tools

INTRINSICS = "#include <immintrin.h>\nint fast(int x) { return _mm_cvtsi128_si32(_mm_set1_epi32(x)); }\n"
PORTABLE = "int fast(int x) { return x; }\n"
SCHEMA = json.loads(schema_path("result.schema.json").read_text())
# a portable file that includes an x86 header anyway, an x86-only file the build selects on x86 only, a header
# and a source that another source includes (neither is a translation unit of its own)
SOURCES = {"main.c": ('#include "util.h"\n#include "tables.c"\nint fast(int x);\n'
                      "int main(void) { return fast(TABLE[0]); }\n"),
           "util.h": "#define UNUSED(x) (void)(x)\n",
           "tables.c": "static const int TABLE[] = {1, 2};\n",
           "codec.c": "#include <stdint.h>\n#include <immintrin.h>\nint codec(void) { return 0; }\n",
           "fast_sse.c": INTRINSICS,
           "fast_generic.c": PORTABLE}
# what a build that compiles main.c, codec.c and fast_generic.c for aarch64 finds
EXPECTED = [
    ("ARM-C-INTRIN-CALL", "low", "fast_sse.c", 2, "fallback"),
    ("ARM-C-INTRIN-HEADER", "blocker", "codec.c", 2, "unported"),
    ("ARM-C-INTRIN-HEADER", "low", "fast_sse.c", 1, "fallback"),
    ("ARM-COMPILE-ERROR", "blocker", "codec.c", 2, "unported"),
    ("ARM-COMPILE-NOT-BUILT", "info", "fast_sse.c", None, "unported"),
]
CONFIGURE_AC = """AC_INIT([demo], [1.0])
AC_CONFIG_SRCDIR([main.c])
AC_CANONICAL_HOST
AM_INIT_AUTOMAKE([foreign])
AC_PROG_CC
AM_CONDITIONAL([X86_64], [test "x$host_cpu" = xx86_64])
AC_CONFIG_FILES([Makefile])
AC_OUTPUT
"""
MAKEFILE_AM = """bin_PROGRAMS = app
app_SOURCES = main.c codec.c util.h
app_CFLAGS = -DAPP
if X86_64
app_SOURCES += fast_sse.c
else
app_SOURCES += fast_generic.c
endif
EXTRA_DIST = tables.c
"""


@pytest.fixture(scope="module", autouse=True)
def toolchain() -> None:
    ensure_tools("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++", "cmake", "make", "meson", "ninja", "autoreconf",
                 "automake",
                 packages=("gcc-aarch64-linux-gnu", "g++-aarch64-linux-gnu", "cmake", "make", "meson", "ninja-build",
                           "autoconf", "automake"))


def compile_scan(tree: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    done = run_cli("scan", str(tree), "--compile", "--offline", "--no-index", "--json", "-", "-q", *args,
                   env=env)
    return done.returncode, json.loads(done.stdout), done.stderr


def found(doc: dict, tree: Path) -> list[tuple[str, str, str, int | None, str]]:
    return sorted((f["rule_id"], f["severity"], f["location"]["path"].removeprefix(f"{tree}/"),
                   f["location"].get("line"), f["status"]) for f in doc["findings"]
                  if f["rule_id"].startswith(("ARM-C-", "ARM-COMPILE-")))  # not the build-file rules


def listing(tree: Path) -> dict[str, tuple[int, int]]:
    """Every path of the tree with its modification time and size: what a write into it would change."""
    return {str(p.relative_to(tree)): (p.lstat().st_mtime_ns, p.lstat().st_size) for p in [tree, *tree.rglob("*")]}


def project(tree: Path, **files: str) -> Path:
    tree.mkdir(parents=True)
    for name, text in {**SOURCES, **files}.items():
        (tree / name).write_text(text)
    return tree


def scan_unchanged(tree: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    before = listing(tree)
    code, doc, stderr = compile_scan(tree, *args, env=env)
    assert listing(tree) == before, "the scanned tree was written to"
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    return code, doc, stderr


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
    assert doc["compile"] == {"units": 3, "failed": 1, "not_checked": 1, "not_built": 1,
                              "builds": [f"{tree}: CMake, configured for aarch64"]}


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


def test_meson_project_set_up_with_a_cross_file(tmp_path: Path) -> None:
    tree = project(tmp_path / "proj", **{"meson.build": (
        "project('demo', 'c')\nsources = ['main.c', 'codec.c']\n"
        "if host_machine.cpu_family() == 'x86_64'\n  sources += 'fast_sse.c'\nelse\n  sources += 'fast_generic.c'\n"
        "endif\nexecutable('app', sources)\n")})
    code, doc, stderr = scan_unchanged(tree)
    assert code == 1 and doc["complete"] is True, stderr
    # meson.build lists fast_sse.c for x86 only, as CMakeLists.txt does above: ported before any compiler is asked
    assert found(doc, tree) == sorted([
        ("ARM-C-INTRIN-CALL", "info", "fast_sse.c", 2, "ported"), ("ARM-C-INTRIN-HEADER", "info", "fast_sse.c", 1,
                                                                    "ported"),
        *(e for e in EXPECTED if e[2] != "fast_sse.c" or e[0] == "ARM-COMPILE-NOT-BUILT")])
    assert doc["compile"] == {"units": 3, "failed": 1, "not_checked": 1, "not_built": 1,
                              "builds": [f"{tree}: Meson, set up for aarch64 with a cross file"]}
    # the reporters say it in the same words, and a saved result reads back with it
    result = from_document(doc)
    said = "3 translation units compiled for aarch64, 1 failed; 1 source file not compile-checked (not in the " \
           "aarch64 build)"
    assert f"Compile proof: {said}." in markdown.render(result, None)
    console = Console(file=io.StringIO(), width=300)
    terminal.render(result, console, threshold=None, verbose=False)
    assert said in console.file.getvalue()  # type: ignore[attr-defined]


def test_meson_project_with_a_wrap_is_set_up_on_a_copy(tmp_path: Path) -> None:
    """Meson unpacks a wrap's archive from subprojects/packagecache into subprojects/: into a copy, here."""
    tree = project(tmp_path / "proj", **{"meson.build": (
        "project('demo', 'c')\nhelper = subproject('helper').get_variable('helper_dep')\n"
        "executable('app', 'main.c', 'codec.c', 'fast_generic.c', dependencies: helper)\n")})
    staging = tmp_path / "helper-1.0"
    staging.mkdir()
    (staging / "meson.build").write_text("project('helper', 'c')\nhelper_dep = declare_dependency("
                                         "sources: files('helper.c'))\n")
    (staging / "helper.c").write_text("#include <immintrin.h>\nint helper(void) { return 0; }\n")
    (tree / "subprojects" / "packagecache").mkdir(parents=True)
    archive = tree / "subprojects" / "packagecache" / "helper-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(staging, arcname="helper-1.0")
    (tree / "subprojects" / "helper.wrap").write_text(
        "[wrap-file]\ndirectory = helper-1.0\nsource_url = https://example.invalid/helper-1.0.tar.gz\n"
        f"source_filename = helper-1.0.tar.gz\nsource_hash = {hashlib.sha256(archive.read_bytes()).hexdigest()}\n")
    code, doc, stderr = scan_unchanged(tree)
    assert code == 1 and doc["complete"] is True, stderr
    # the subproject's source is read inside its archive; the unit Meson compiles is unpacked in the copy only
    assert found(doc, tree) == sorted([*EXPECTED, ("ARM-C-INTRIN-HEADER", "blocker",
                                                   "subprojects/packagecache/helper-1.0.tar.gz!helper-1.0/helper.c",
                                                   1, "unported")])
    assert doc["compile"] == {"units": 3, "failed": 1, "not_checked": 1, "not_built": 1, "builds": [
        f"{tree}: Meson, set up for aarch64 with a cross file, on a copy of the tree"]}


def test_meson_without_ninja_is_one_line_naming_what_to_install(tmp_path: Path) -> None:
    tree = project(tmp_path / "proj", **{"meson.build": "project('demo', 'c')\nexecutable('app', 'main.c')\n"})
    tools = tmp_path / "bin"
    tools.mkdir()
    for name in ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++", "meson"):
        (tools / name).symlink_to(shutil.which(name) or name)
    code, doc, _ = compile_scan(tree, env={**os.environ, "PATH": str(tools)})
    assert code == 3 and doc["errors"] == [
        f"--compile: {tree}: Meson projects need meson and ninja: ninja not found (Debian/Ubuntu: apt-get install "
        "ninja-build); its files were not compile-checked"]


def test_makefile_dry_run_works_on_a_copy_and_checks_native_builds_as_generic_aarch64(tmp_path: Path) -> None:
    tree = project(tmp_path / "proj", Makefile=(
        "CFLAGS = -O2 -march=native\n"
        "HAVE_ZLIB := $(shell echo 'int main(void) { return 0; }' > have_zlib.c && echo 1; rm -f have_zlib.c)\n"
        "app: main.o codec.o fast_generic.o\n\t$(CC) -o app $^\n"
        "%.o: %.c\n\t$(CC) $(CFLAGS) -c -o $@ $<\n"))
    code, doc, stderr = scan_unchanged(tree)  # the probe wrote into a copy of the tree
    assert code == 1 and doc["complete"] is True, stderr
    assert found(doc, tree) == EXPECTED  # -march=native: the aarch64 machine that builds, not an error
    assert doc["compile"] == {"units": 3, "failed": 1, "not_checked": 1, "not_built": 1, "builds": [
        f"{tree}: the Makefile's dry run (make -n) with the aarch64 compilers, on a copy of the tree"]}


def test_meson_that_cannot_be_set_up_says_why(tmp_path: Path) -> None:
    tree = project(tmp_path / "proj", **{"meson.build": "project('demo', 'c')\ndependency('libfoo')\n"})
    code, doc, _ = scan_unchanged(tree)
    assert code == 3 and doc["errors"] == [
        f"--compile: {tree}: meson setup (with an aarch64 cross file) failed: meson.build:2:0: ERROR: Dependency "
        '"libfoo" not found, tried pkgconfig (install the aarch64 libraries and tools it needs, or give its '
        "compile_commands.json with --compile-commands); its files were not compile-checked"]


@pytest.fixture(scope="module")
def autotools_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The autotools project with its configure script generated, as a release tarball has it."""
    tree = project(tmp_path_factory.mktemp("autotools") / "proj", **{"configure.ac": CONFIGURE_AC,
                                                                     "Makefile.am": MAKEFILE_AM})
    subprocess.run(["autoreconf", "-fi"], cwd=tree, check=True, capture_output=True)
    return tree


def test_autotools_project_with_only_configure_ac_is_configured_on_a_copy(tmp_path: Path) -> None:
    tree = project(tmp_path / "proj", **{"configure.ac": CONFIGURE_AC, "Makefile.am": MAKEFILE_AM})
    code, doc, stderr = scan_unchanged(tree)
    assert code == 1 and doc["complete"] is True, stderr
    assert found(doc, tree) == EXPECTED
    assert doc["compile"] == {"units": 3, "failed": 1, "not_checked": 1, "not_built": 1, "builds": [
        f"{tree}: autotools: autoreconf and configure --host=aarch64-linux-gnu on a copy of the tree, then make -n"]}


@pytest.mark.parametrize("state", ["fresh", "configured in place"])
def test_autotools_project_with_a_generated_configure(autotools_template: Path, tmp_path: Path, state: str) -> None:
    tree = tmp_path / "proj"
    shutil.copytree(autotools_template, tree)
    # a git checkout can leave Makefile.am newer than Makefile.in: make, even under -n, then regenerates it
    os.utime(tree / "Makefile.am", ns=(tree.stat().st_mtime_ns, (tree / "Makefile.in").stat().st_mtime_ns + 10**9))
    if state == "configured in place":  # for this machine: configure refuses to build such a tree elsewhere
        subprocess.run(["sh", "./configure"], cwd=tree, check=True, capture_output=True)
    code, doc, stderr = scan_unchanged(tree)
    assert code == 1 and doc["complete"] is True, stderr
    assert found(doc, tree) == EXPECTED
    how = ("configure --host=aarch64-linux-gnu in a scratch build folder" if state == "fresh"
           else "configure --host=aarch64-linux-gnu on a copy of the tree")
    assert doc["compile"] == {"units": 3, "failed": 1, "not_checked": 1, "not_built": 1,
                              "builds": [f"{tree}: autotools: {how}, then make -n"]}


def test_a_build_that_cannot_be_configured_leaves_the_static_findings_as_they_are(tmp_path: Path) -> None:
    tree = project(tmp_path / "proj", **{"CMakeLists.txt": "cmake_minimum_required(VERSION 3.13)\nproject(demo C)\n"
                                                           "message(FATAL_ERROR \"needs libfoo for aarch64\")\n"})
    code, doc, _ = scan_unchanged(tree)
    assert code == 3 and doc["complete"] is False
    assert doc["errors"][0] == (
        f"--compile: {tree}: CMake (configuring for aarch64) failed: CMakeLists.txt:3: needs libfoo for aarch64 "
        "(install the aarch64 libraries and tools it needs, or give its compile_commands.json with "
        "--compile-commands); its files were not compile-checked")
    assert found(doc, tree) == [("ARM-C-INTRIN-CALL", "blocker", "fast_sse.c", 2, "unported"),
                                ("ARM-C-INTRIN-HEADER", "blocker", "codec.c", 2, "unported"),
                                ("ARM-C-INTRIN-HEADER", "blocker", "fast_sse.c", 1, "unported")]
    assert doc["compile"] == {"units": 0, "failed": 0, "not_checked": 5, "not_built": 0, "builds": []}


def test_no_build_at_the_top_and_usage_errors(tmp_path: Path) -> None:
    tree = tmp_path / "proj"
    tree.mkdir()
    (tree / "a.c").write_text(PORTABLE)
    code, doc, _ = compile_scan(tree)
    assert code == 3 and doc["errors"][0] == (
        f"--compile: {tree}: no CMakeLists.txt, meson.build, configure script or Makefile at the top of the tree: "
        "give a compile_commands.json with --compile-commands; its files were not compile-checked")
    done = run_cli("scan", str(tree), "--compile-commands", str(tree / "a.c"))
    assert done.returncode == 2 and "--compile-commands only applies with --compile" in done.stderr


def test_dry_run_commands_behind_libtool_echo_and_vpath_rules(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "here.c").write_text("")
    printed = (
        f"make: Entering directory '{tmp_path}'\n"
        f"make[1]: Entering directory '{tmp_path}/src'\n"
        "echo \"  CC      \" a.lo;/bin/bash ../libtool  --tag=CC   --mode=compile aarch64-linux-gnu-gcc "
        "-DHAVE_CONFIG_H -I. -g -c -o a.lo ../../up/a.c\n"
        "aarch64-linux-gnu-gcc -I. -c -o lib_la-b.o `test -f 'b.c' || echo '../../up/'`b.c &&\\\n"
        "  mv -f .deps/b.Tpo .deps/b.Po\n"
        "aarch64-linux-gnu-gcc -c -o lib_la-here.o `test -f 'here.c' || echo '../../up/'`here.c\n"
        f"make[1]: Leaving directory '{tmp_path}/src'\n"
        "aarch64-linux-gnu-g++ -O2 -o tool tool.cpp\n"
        "aarch64-linux-gnu-gcc -o app a.o b.o -lm\n"
        "rm -f app.c\n")
    commands = parse_dry_run(printed, Toolchain("/usr/bin/aarch64-linux-gnu-gcc", "/usr/bin/aarch64-linux-gnu-g++"),
                             str(tmp_path))
    up = str(tmp_path.parent / "up")
    assert [(c.directory, c.file, c.arguments[0], c.arguments[-1]) for c in commands] == [
        (f"{tmp_path}/src", f"{up}/a.c", "aarch64-linux-gnu-gcc", "../../up/a.c"),
        (f"{tmp_path}/src", f"{up}/b.c", "aarch64-linux-gnu-gcc", "../../up/b.c"),
        (f"{tmp_path}/src", f"{tmp_path}/src/here.c", "aarch64-linux-gnu-gcc", "here.c"),
        (str(tmp_path), f"{tmp_path}/tool.cpp", "aarch64-linux-gnu-g++", "tool.cpp"),
    ]


def test_tree_copy_is_bounded_leaves_out_vcs_and_outward_links(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    tree = tmp_path / "proj"
    (tree / ".git").mkdir(parents=True)
    (tree / ".git" / "HEAD").write_text("ref: main\n")
    (tree / "src").mkdir()
    (tree / "src" / "a.c").write_text(PORTABLE)
    (tree / "include").symlink_to("src")
    (tree / "secret").symlink_to(tmp_path / "outside.txt")
    (tmp_path / "outside.txt").write_text("not the tree's\n")
    copy = treecopy.copy_tree(tree, tmp_path / "scratch" / "tree", "autoreconf")
    files = sorted(str(p.relative_to(copy.copy)) for p in Path(copy.copy).rglob("*"))
    assert files == ["include", "src", "src/a.c"]
    assert os.readlink(Path(copy.copy) / "include") == "src"
    assert copy.original(f"{copy.copy}/include/a.c") == str(tree / "src" / "a.c")
    assert copy.original("/usr/include/stdio.h") == "/usr/include/stdio.h"
    command = CompileCommand(copy.copy, f"{copy.copy}/src/a.c", ("cc", "-c", "src/a.c"))
    assert copy.in_users_tree([command])[0].file == str(tree / "src" / "a.c")
    monkeypatch.setattr(treecopy, "MAX_FILES", 1)
    (tree / "src" / "b.c").write_text(PORTABLE)
    with pytest.raises(CompileSetupError, match=r"^the tree is too large to copy for autoreconf \(more than 1 files "
                                                r"or 512 MiB, VCS folders left out\): give its compile_commands.json "
                                                r"with --compile-commands$"):
        treecopy.copy_tree(tree, tmp_path / "scratch2" / "tree", "autoreconf")


def test_the_one_build_below_a_tree_without_one_at_its_top_is_configured(tmp_path: Path) -> None:
    tree = tmp_path / "proj"
    (tree / "c").mkdir(parents=True)
    (tree / "tests").mkdir()
    (tree / "README.md").write_text("A Rust crate at the top; its C library's build lives in c/.\n")
    (tree / "tests" / "Makefile").write_text("all:\n\t$(CC) -c check.c\n")  # a test folder's is not the project's
    (tree / "c" / "CMakeLists.txt").write_text("cmake_minimum_required(VERSION 3.13)\nproject(lib C)\n"
                                               "add_library(lib codec.c)\n")
    (tree / "c" / "codec.c").write_text(INTRINSICS)
    code, doc, stderr = scan_unchanged(tree)
    assert code == 1, stderr
    assert [(r, p, line) for r, _, p, line, _ in found(doc, tree) if r.startswith("ARM-COMPILE-")] == [
        ("ARM-COMPILE-ERROR", "c/codec.c", 1)]
    assert doc["compile"]["builds"] == [f"{tree}: CMake, configured for aarch64, in c/"]


def test_several_builds_below_and_none_at_the_top_say_which(tmp_path: Path) -> None:
    tree = tmp_path / "proj"
    for name in ("lib", "cli"):
        (tree / name).mkdir(parents=True)
        (tree / name / "Makefile").write_text("all:\n\t$(CC) -c a.c\n")
        (tree / name / "a.c").write_text(PORTABLE)
    code, doc, _ = compile_scan(tree)
    assert code == 3 and doc["errors"] == [
        f"--compile: {tree}: no build at the top of the tree, and several below it (cli/, lib/): scan the one to "
        "check, or give a compile_commands.json with --compile-commands; its files were not compile-checked"]


def test_a_header_no_clean_aarch64_unit_reads_is_an_x86_path(tmp_path: Path) -> None:
    tree = tmp_path / "proj"
    tree.mkdir()
    (tree / "CMakeLists.txt").write_text("cmake_minimum_required(VERSION 3.13)\nproject(h C)\nadd_library(h hash.c)\n")
    (tree / "hash.c").write_text('#include "vector_neon.h"\nint h(void) { return width(); }\n')
    (tree / "vector_neon.h").write_text("static inline int width(void) { return 16; }\n")
    (tree / "vector128.h").write_text(INTRINSICS)  # read by no unit of the aarch64 build
    code, doc, stderr = scan_unchanged(tree)
    assert code == 0, stderr
    assert [(r, s, p, st) for r, s, p, _, st in found(doc, tree)] == [
        ("ARM-C-INTRIN-CALL", "low", "vector128.h", "fallback"),
        ("ARM-C-INTRIN-HEADER", "low", "vector128.h", "fallback")]
    (tree / "broken.c").write_text(INTRINSICS)  # a unit that fails: what it would have read is not known
    (tree / "CMakeLists.txt").write_text("cmake_minimum_required(VERSION 3.13)\nproject(h C)\n"
                                         "add_library(h hash.c broken.c)\n")
    code, doc, _ = scan_unchanged(tree)
    assert ("ARM-C-INTRIN-HEADER", "blocker", "vector128.h", "unported") in [
        (r, s, p, st) for r, s, p, _, st in found(doc, tree)]
