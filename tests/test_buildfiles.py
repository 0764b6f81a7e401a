"""Build files read as an aarch64 build reads them: small CMake and Make projects written here, end to end."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path

import pytest

from armscan.analyzers.buildfiles import Blocks
from armscan.analyzers.cmakefiles import interpret as cmake
from armscan.analyzers.makefiles import interpret as make
from armscan.analyzers.mesonfiles import interpret as meson
from armscan.analyzers.text import LineIndex
from armscan.model import PortStatus, Severity, SkipReason
from armscan.plan import build_plan
from tests.conftest import scan

AVX2_CODEC = ("#include <immintrin.h>\n"
              "int f(const int *p) { return _mm256_extract_epi32(_mm256_loadu_si256((const __m256i *)p), 0); }\n")


def _blocks(text: str, name: str) -> Blocks:
    lines = LineIndex(text)
    blocks = Blocks(text, lines.line_count)
    interpret = cmake if name.endswith(("CMakeLists.txt", ".cmake")) else meson if name == "meson.build" else make
    interpret(text, lines, name, blocks)
    return blocks


def _off(text: str, name: str = "CMakeLists.txt") -> list[int]:
    blocks = _blocks(text, name)
    return [n for n in range(1, text.count("\n") + 2) if blocks.off(n)]


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, body in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body)
    return root


@pytest.mark.parametrize(("condition", "off"), [
    ('CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64"', True),
    ('CMAKE_SYSTEM_PROCESSOR STREQUAL "x86_64"', True),
    ('"${CMAKE_SYSTEM_PROCESSOR}" MATCHES "^(i.86|x86_64)$"', True),
    ('CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64"', False),
    ('NOT CMAKE_SYSTEM_PROCESSOR MATCHES "x86"', False),
    ('CMAKE_SIZEOF_VOID_P EQUAL 4', True),
    ('ARCH STREQUAL "x86_64"', True),  # a variable from elsewhere compared with an x86 name
    ('${ARCH} MATCHES "x86|x64"', True),
    ('WIN32', True),  # the build answered for is aarch64 Linux
    ('MSVC', True),
    ('USE_FAST', False),  # unknown: left as it is
    ('USE_FAST AND CMAKE_SYSTEM_PROCESSOR MATCHES "AMD64"', True),
    ('USE_FAST OR CMAKE_SYSTEM_PROCESSOR MATCHES "AMD64"', False),
    ('((((CMAKE_SYSTEM_PROCESSOR MATCHES "x86"))))', True),
])
def test_cmake_conditions_as_aarch64_sees_them(condition: str, off: bool) -> None:
    assert _off(f"if({condition})\n  add_compile_options(-mavx2)\nendif()\n") == ([2] if off else [])


def test_cmake_elseif_else_and_variables_set_on_x86_only() -> None:
    text = """if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86")
  set(HAVE_X86 ON)
  a()
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64")
  b()
else()
  c()
endif()
if(HAVE_X86)
  d()
endif()
string(TOLOWER "${CMAKE_SYSTEM_PROCESSOR}" arch)
if(arch STREQUAL "amd64")
  e()
endif()
"""
    assert _off(text) == [2, 3, 7, 10, 14]


def test_cmake_probes_and_options() -> None:
    text = """option(FOO_AVX512 "AVX-512 kernels" OFF)
option(FOO_FAST "fast" ON)
check_c_compiler_flag(-mavx2 HAVE_AVX2)
check_cxx_compiler_flag("-march=armv8.2-a" HAVE_DOTPROD)
if(HAVE_AVX2)
  x()
endif()
if(FOO_AVX512)
  y()
endif()
if(FOO_FAST)
  z()
endif()
if(HAVE_DOTPROD)
  w()
endif()
"""
    assert _off(text) == [3, 6, 9]


def test_make_conditions_as_aarch64_sees_them() -> None:
    text = """ARCH ?= $(shell uname -m)
ifeq ($(ARCH),x86_64)
A += -mavx2
else ifeq ($(ARCH),aarch64)
A += -mcpu=neoverse-n1
endif
ifneq (,$(filter i%86 x86_64,$(ARCH)))
B += -msse2
endif
ifeq "$(OS)" "Windows_NT"
C += /arch:AVX2
endif
ifeq ($(findstring x86,$(HOST)),x86)
D += -msse4.1
endif
"""
    assert _off(text, "Makefile") == [3, 8, 14]


def test_make_optional_targets() -> None:
    text = """all: lib tool
lib: lib.o
\t$(CC) -c lib.c
tool: lib
bench32: CFLAGS += -m32
bench32:
\t$(CC) -m32 bench.c
"""
    assert _off(text, "Makefile") == [5, 7]
    assert _off(text, "rules.mk") == []  # the default goal of an included file is the includer's


def test_cmake_project_whose_avx2_codec_only_x86_builds_compile_is_ready(tmp_path: Path) -> None:
    _write(tmp_path, {
        "CMakeLists.txt": 'set(SRC lib/codec.c)\nif(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")\n'
                          "  list(APPEND SRC arch/avx2/codec.c)\n"
                          "  set_source_files_properties(arch/avx2/codec.c PROPERTIES COMPILE_OPTIONS -mavx2)\n"
                          "endif()\nadd_library(codec ${SRC})\n",
        "arch/avx2/codec.c": AVX2_CODEC,
        "lib/codec.c": "int g(void) { return 0; }\n",
    })
    result = scan(tmp_path, display="")
    assert [(f.rule_id, f.location.path) for f in result.findings if f.severity.at_least(Severity.LOW)] == []
    codec = [f for f in result.findings if f.location.path == "arch/avx2/codec.c"]
    assert codec and all(f.status is PortStatus.PORTED and "CMakeLists.txt:3" in f.message for f in codec)
    assert build_plan(result).verdict == "ready"


def test_a_source_also_listed_for_every_build_keeps_its_findings(tmp_path: Path) -> None:
    _write(tmp_path, {
        "CMakeLists.txt": 'if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86")\n  list(APPEND SRC simd.c)\nendif()\n'
                          "add_library(x simd.c)\n",
        "simd.c": AVX2_CODEC,
    })
    result = scan(tmp_path, display="")
    assert any(f.location.path == "simd.c" and f.severity is Severity.BLOCKER for f in result.findings)
    assert build_plan(result).verdict != "ready"


def test_make_project_with_x86_objects_only_on_x86(tmp_path: Path) -> None:
    _write(tmp_path, {
        "Makefile": "UNAME_M := $(shell uname -m)\nOBJS = main.o\nifeq ($(UNAME_M),x86_64)\n"
                    "OBJS += simd_avx2.o\nCFLAGS += -mavx2\nendif\nall: $(OBJS)\n\t$(CC) -o app $(OBJS)\n",
        "simd_avx2.c": AVX2_CODEC,
        "main.c": "int main(void) { return 0; }\n",
    })
    result = scan(tmp_path, display="")
    assert not [f for f in result.findings if f.severity.at_least(Severity.LOW)]
    assert build_plan(result).verdict == "ready"


def test_unconditional_flags_stay_blockers(tmp_path: Path) -> None:
    _write(tmp_path, {"Makefile": "CFLAGS += -mavx2 -D__x86_64__\nLDLIBS += -lmkl\nall:\n\t$(CC) x.c\n"})
    found = {f.rule_id: f for f in scan(tmp_path, display="").findings}
    assert found["ARM-BUILD-X86-ISA-FLAG"].severity is Severity.BLOCKER
    assert found["ARM-BUILD-FAKE-X86-MACRO"].severity is Severity.BLOCKER
    assert found["ARM-BUILD-X86-LIBRARY"].severity is Severity.HIGH


def _tgz(files: dict[str, bytes], mode: str = "w:gz") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "mode"), [("src.tar.gz", "w:gz"), ("src.tgz", "w:gz"), ("src.tar.xz", "w:xz"),
                                            ("src.tar.bz2", "w:bz2")])
def test_source_archives_are_scanned_inside(tmp_path: Path, name: str, mode: str) -> None:
    (tmp_path / name).write_bytes(_tgz({"pkg/simd.c": AVX2_CODEC.encode(), "pkg/README": b"hello"}, mode))
    result = scan(tmp_path, display="")
    assert {f.location.path for f in result.findings} == {f"{name}!pkg/simd.c"}
    assert result.complete


def test_a_broken_source_archive_is_not_checked_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "src.tar.gz").write_bytes(b"not gzip at all")
    result = scan(tmp_path, display="")
    assert [(s.path, s.reason) for s in result.skipped] == [("src.tar.gz", SkipReason.MALFORMED)]
    assert not result.complete


def test_a_tar_bomb_stops_at_its_first_oversized_header(tmp_path: Path) -> None:
    info = tarfile.TarInfo("zeros.c")
    info.size = 10 * 1024**3  # declared, never stored: the ratio is judged before it is inflated
    header = info.tobuf(format=tarfile.GNU_FORMAT)
    import gzip

    (tmp_path / "bomb.tar.gz").write_bytes(gzip.compress(header + b"\0" * 1024 * 1024))
    started = time.monotonic()
    result = scan(tmp_path, display="")
    assert time.monotonic() - started < 5
    assert [(s.path, s.reason) for s in result.skipped] == [("bomb.tar.gz", SkipReason.ZIP_BOMB)]


def test_one_line_x86_assembly_and_upper_case_sources(tmp_path: Path) -> None:
    _write(tmp_path, {"jump.s": "jmp *%rax\n", "ret.s": "\tret\n", "Codec.C": AVX2_CODEC, "Codec.H": AVX2_CODEC,
                      "codec.cxx": AVX2_CODEC, "codec.hh": AVX2_CODEC})
    paths = {f.location.path for f in scan(tmp_path, display="").findings}
    assert paths == {"jump.s", "Codec.C", "Codec.H", "codec.cxx", "codec.hh"}


def test_ifndef_x86_with_error_says_the_build_stops(tmp_path: Path) -> None:
    _write(tmp_path, {"only.h": '#ifndef __x86_64__\n#error "x86-64 only"\n#endif\n'})
    found = scan(tmp_path, display="").findings
    assert [(f.rule_id, f.location.line) for f in found] == [("ARM-C-ARCH-ERROR", 2)]
    assert "the build stops on aarch64" in found[0].message


@pytest.mark.parametrize("tar_format", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_long_member_names_in_every_tar_format(tmp_path: Path, tar_format: int) -> None:
    name = "pkg/" + "a" * 70 + "/" + "b" * 70 + "/simd.c"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", format=tar_format) as archive:
        info = tarfile.TarInfo(name)
        info.size = len(AVX2_CODEC)
        archive.addfile(info, io.BytesIO(AVX2_CODEC.encode()))
        link = tarfile.TarInfo("pkg/link.c")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"  # never followed
        archive.addfile(link)
    (tmp_path / "src.tgz").write_bytes(buffer.getvalue())
    assert {f.location.path for f in scan(tmp_path, display="").findings} == {f"src.tgz!{name}"}


def test_a_tar_header_with_a_wrong_checksum_is_malformed(tmp_path: Path) -> None:
    import gzip

    data = bytearray(_tgz({"a.c": b"int x;\n"}, "w"))
    data[0] = ord("z")  # the name changes, the stored checksum does not
    (tmp_path / "src.tar.gz").write_bytes(gzip.compress(bytes(data)))
    result = scan(tmp_path, display="")
    assert [(s.reason, "checksum" in s.detail) for s in result.skipped] == [(SkipReason.MALFORMED, True)]


def test_a_continued_line_past_the_bound_ends_where_its_lines_end() -> None:
    text = "SRCS = \\\n" + "  a.c \\\n" * 20_000 + "  b.c\nifeq ($(shell uname -m),x86_64)\nA += -mavx2\nendif\n"
    assert _off(text, "Makefile") == [20_004]


PREFETCH_HEADER = ("#if HAVE_MM_PREFETCH\n#include <xmmintrin.h>\n#endif\n"
                   "static inline void prefetch(const char *p) {\n#if HAVE_MM_PREFETCH\n"
                   "  _mm_prefetch(p, _MM_HINT_NTA);\n#elif defined(__GNUC__)\n  __builtin_prefetch(p, 0, 0);\n"
                   "#endif\n}\n")


def _severe(result: object) -> list[tuple[str, str, int | None]]:
    return sorted((f.rule_id, f.location.path, f.location.line) for f in result.findings  # type: ignore[attr-defined]
                  if f.severity.at_least(Severity.MEDIUM))


def test_a_macro_only_an_x86_cmake_probe_defines_is_off_on_aarch64(tmp_path: Path) -> None:
    _write(tmp_path, {
        "CMakeLists.txt": 'include(CheckCXXSourceCompiles)\ncheck_cxx_source_compiles("\n#include <xmmintrin.h>\n'
                          'int main() { char d = 0; _mm_prefetch(&d, _MM_HINT_NTA); return 0; }\n" HAVE_MM_PREFETCH)\n'
                          "configure_file(config.h.in config.h)\nadd_library(x prefetch.cc)\n",
        "config.h.in": "#cmakedefine01 HAVE_MM_PREFETCH\n",
        "prefetch.h": PREFETCH_HEADER,
        "prefetch.cc": '#include "prefetch.h"\nvoid touch(const char *p) { prefetch(p); }\n',
    })
    result = scan(tmp_path, display="")
    assert _severe(result) == []
    assert {(f.rule_id, f.location.line, f.severity) for f in result.findings if f.location.path == "prefetch.h"} == {
        ("ARM-C-INTRIN-HEADER", 2, Severity.LOW), ("ARM-C-INTRIN-CALL", 6, Severity.LOW)}
    plan = build_plan(result)  # the x86 fast path is optional work, counted apart from the estimate
    assert (plan.verdict, plan.days, plan.optional_days > 0) == ("ready", 0, True)


def test_the_same_macro_from_a_probe_of_portable_code_is_not_known(tmp_path: Path) -> None:
    _write(tmp_path, {
        "CMakeLists.txt": 'check_cxx_source_compiles("int main() { return 0; }" HAVE_MM_PREFETCH)\n',
        "prefetch.h": PREFETCH_HEADER,
    })
    assert _severe(scan(tmp_path, display="")) == [("ARM-C-INTRIN-CALL", "prefetch.h", 6),
                                                   ("ARM-C-INTRIN-HEADER", "prefetch.h", 2)]


def test_a_macro_only_an_x86_autoconf_probe_defines_is_off_on_aarch64(tmp_path: Path) -> None:
    _write(tmp_path, {
        "configure.ac": "AC_INIT([x], [1])\nAC_MSG_CHECKING(for RDRAND)\nAC_LINK_IFELSE([AC_LANG_PROGRAM([[\n"
                        "#include <immintrin.h>\n]], [[ unsigned long long x; _rdrand64_step(&x); ]])],\n"
                        "  [AC_MSG_RESULT(yes)\n   AC_DEFINE([HAVE_RDRAND], [1], [rdrand is available])],\n"
                        "  [AC_MSG_RESULT(no)])\nAC_CHECK_HEADERS([sys/random.h wmmintrin.h])\nAC_OUTPUT\n",
        "random.c": "#ifdef HAVE_RDRAND\n#include <immintrin.h>\n#endif\n#ifdef HAVE_WMMINTRIN_H\n"
                    "#include <wmmintrin.h>\n#endif\nunsigned r(void) {\n#ifdef HAVE_RDRAND\n"
                    "  unsigned x; _rdrand32_step(&x); return x;\n#else\n  return 4;\n#endif\n}\n",
    })
    result = scan(tmp_path, display="")
    assert _severe(result) == []
    assert sorted((f.rule_id, f.location.line) for f in result.findings if f.location.path == "random.c") == [
        ("ARM-C-INTRIN-CALL", 9), ("ARM-C-INTRIN-HEADER", 2), ("ARM-C-INTRIN-HEADER", 5)]


def test_assembly_under_or_included_under_an_x86_switch_is_left_out(tmp_path: Path) -> None:
    body = ".text\n.globl f\nf:\n  movq %rdi, %rax\n  addq %rsi, %rax\n  ret\n"
    _write(tmp_path, {
        "salsa_amd64.S": f"#ifdef HAVE_AMD64_ASM\n{body}#endif\n",
        "sandy/all.S": '#ifdef HAVE_AVX_ASM\n#define IN_SANDY\n#include "mul.S"\n#endif\n',
        "sandy/mul.S": f"#ifdef IN_SANDY\n{body}#endif\n",
        "plain.S": body,
    })
    result = scan(tmp_path, display="")
    assert _severe(result) == [("ARM-ASM-X86-FILE", "plain.S", 4)]
    guarded = {(f.location.path, f.severity) for f in result.findings if f.rule_id == "ARM-ASM-X86-FILE"}
    assert guarded == {("plain.S", Severity.BLOCKER), ("salsa_amd64.S", Severity.LOW), ("sandy/mul.S", Severity.LOW)}


def test_objects_listed_by_bare_name_on_continued_lines_under_an_option_at_its_default(tmp_path: Path) -> None:
    _write(tmp_path, {
        "Makefile": "OBJECTS = scalar.o\nSIMD ?= PLAIN\nifeq ($(SIMD), AVX512BW)\nCFLAGS += -mavx512bw\n"
                    "OBJECTS += scalar.o \\\n           avx512.o\nendif\n"
                    "%.o: ./src/%.c\n\t$(CC) $(CFLAGS) -c $<\nall: $(OBJECTS)\n",
        "src/avx512.c": AVX2_CODEC,
        "src/scalar.c": AVX2_CODEC,
    })
    result = scan(tmp_path, display="")
    assert _severe(result) == [("ARM-C-INTRIN-CALL", "src/scalar.c", 2), ("ARM-C-INTRIN-HEADER", "src/scalar.c", 1)]
    assert {(f.rule_id, f.location.line, f.location.match) for f in result.findings
            if f.rule_id == "ARM-BUILD-X86-ONLY-SOURCE"} == {("ARM-BUILD-X86-ONLY-SOURCE", 6, "avx512.o")}
    assert all(f.status is PortStatus.PORTED for f in result.findings if f.location.path == "src/avx512.c")


def test_cmake_x86_switches_set_elsewhere_are_off_and_other_unknowns_stay_unknown() -> None:
    text = ("if(OPUS_X86_MAY_HAVE_AVX2)\n  add_compile_options(-mavx2)\nendif()\n"
            "if(ENABLE_FAST_PATH)\n  add_compile_options(-mavx2)\nendif()\n")
    assert _off(text) == [2]


@pytest.mark.parametrize(("condition", "off"), [
    ("host_machine.cpu_family() == 'x86_64'", True),
    ("target_machine.cpu_family().startswith('x86')", True),
    ("host_machine.cpu_family() in ['x86', 'x86_64']", True),
    ("host_machine.cpu_family() not in ['x86', 'x86_64']", False),
    ("host_machine.cpu_family() == 'aarch64'", False),
    ("cpu == 'x86_64' and get_option('simd')", True),
    ("cc.get_id() == 'msvc'", True),
    ("cc.get_id() == 'gcc'", False),  # unknown: GCC or Clang
    ("get_option('avx2')", False),  # unknown: an option set elsewhere
    ("not (host_machine.system() == 'linux')", True),
])
def test_meson_conditions_as_aarch64_sees_them(condition: str, off: bool) -> None:
    text = f"cpu = host_machine.cpu_family()\nif {condition}\n  args += ['-mavx2']\nendif\n"
    assert _off(text, "meson.build") == ([3] if off else [])


def test_meson_project_whose_x86_sources_only_x86_builds_compile_is_ready(tmp_path: Path) -> None:
    _write(tmp_path, {
        "meson.build": "project('h', 'c')\nsrc = files('src/hash.c')\n"
                       "if target_machine.cpu_family().startswith('x86')\n"
                       "  lib = static_library('aes', 'src/hash_aes.c', c_args: ['-maes', '-mavx2'])\n"
                       "endif\nlibrary('h', src)\n",
        "src/hash.c": "int h(void) { return 0; }\n",
        "src/hash_aes.c": AVX2_CODEC,
    })
    result = scan(tmp_path, display="")
    assert _severe(result) == []
    assert {(f.rule_id, f.location.path, f.location.line) for f in result.findings
            if f.rule_id.startswith("ARM-BUILD-")} == {
        ("ARM-BUILD-X86-ISA-FLAG", "meson.build", 4), ("ARM-BUILD-X86-ONLY-SOURCE", "meson.build", 4)}
    assert build_plan(result).verdict == "ready"
