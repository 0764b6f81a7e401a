"""#if conditions evaluated as the aarch64 compiler would, within a file and across a project's includes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from armscan.analyzers.conditionals import Conditionals
from armscan.analyzers.preprocessor import _ABSENT, UNDEFINED, Evaluator, predefined
from armscan.analyzers.text import LineIndex
from armscan.model import PortStatus, Severity
from tests.conftest import scan

PROJECT = {"FOUR": "4", "HAS_BMI2": UNDEFINED, "SELF": "SELF", "FN": "(x)"}


def value(expression: str) -> int | None:
    return Evaluator(lambda name: PROJECT.get(name, _ABSENT)).value(expression)


@pytest.mark.parametrize(("expression", "expected"), [
    ("defined(__aarch64__) && __ARM_NEON", 1),
    ("defined(__x86_64__) || defined(_M_X64) || defined(__i386__)", 0),
    ("!defined(__x86_64__)", 1),
    ("defined __SSE2__", 0),
    ("__ARM_FEATURE_SVE", 0),  # not in the base aarch64 target
    ("SIZE_MAX == UINT64_MAX", 1),
    ("__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__", 1),
    ("__SIZEOF_POINTER__ == 8 && __LP64__", 1),
    ("__GNUC__ * 100 + __GNUC_MINOR__ >= 408", 1),
    ("FOUR > 3 ? FOUR << 2 : -1", 16),
    ("0x10 + 010 + 0b1 + 10UL + 'A'", 16 + 8 + 1 + 10 + 65),
    ("-7 / 2 == -3 && -7 % 2 == -1", 1),
    ("HAS_BMI2", 0),  # the project leaves it undefined on aarch64
    ("HAVE_AVX2", None),  # the build decides
    ("defined(HAVE_AVX2)", None),
    ("HAVE_AVX2 && defined(__x86_64__)", 0),  # false whatever the build says
    ("HAVE_AVX2 || defined(__aarch64__)", 1),
    ("HAVE_AVX2 ? 1 : 1", 1),
    ("__has_include(<arm_neon.h>)", None),
    ("SELF", None),  # a macro defined as itself
    ("1 / 0", None),
    ("(1", None),
    ("1 +", None),
    ("09", None),
])
def test_expressions(expression: str, expected: int | None) -> None:
    assert value(expression) == expected


def test_no_x86_macro_is_predefined() -> None:
    names = set(predefined("c")) | set(predefined("c++"))
    assert "__aarch64__" in names and "__ARM_NEON" in names
    assert not {"__x86_64__", "__SSE2__", "_M_X64", "__i386__", "__AVX2__", "__amd64__"} & names


def test_hostile_expressions_are_bounded_and_linear() -> None:
    assert value("(" * 100_000 + "1" + ")" * 100_000) is None  # too long: unknown at once
    assert value("(" * 1000 + "1" + ")" * 1000) is None  # too deep
    assert value("!" * 2000 + "1") is None
    chain = {f"M{i}": f"(M{i + 1} + M{i + 1})" for i in range(100)}  # doubles at every level
    started = time.monotonic()
    assert Evaluator(lambda name: chain.get(name, _ABSENT)).value("M0") is None
    wide = " || ".join(["defined(X)"] * 800)
    assert value(wide) is None
    assert time.monotonic() - started < 1


def test_many_directives_stay_linear() -> None:
    text = "#define A 1\n#if A && !defined(__x86_64__)\n#else\n#endif\n" * 50_000
    started = time.monotonic()
    conditionals = Conditionals(text, LineIndex(text))
    assert len(conditionals.branches) == 100_000
    assert time.monotonic() - started < 5


def conditionals(text: str) -> Conditionals:
    return Conditionals(text, LineIndex(text))


def test_branch_that_aarch64_takes() -> None:
    text = "\n".join([
        "#if defined(__x86_64__) && defined(__BMI2__)",  # 1
        "x86();",  # 2
        "#elif SIZE_MAX == UINT64_MAX",  # 3
        "generic64();",  # 4
        "#else",  # 5
        "generic32();",  # 6
        "#endif",  # 7
        "#if !defined(__x86_64__)",  # 8
        "portable();",  # 9
        "#else",  # 10
        "asm_x86();",  # 11
        "#endif",  # 12
    ])
    c = conditionals(text)
    assert [b.taken for b in c.branches] == [False, True, False, True, False]
    assert c.state_of(2) is PortStatus.FALLBACK
    assert c.state_of(4) is PortStatus.UNPORTED
    assert c.state_of(6) is PortStatus.FALLBACK
    assert c.state_of(9) is PortStatus.UNPORTED
    assert c.state_of(11) is PortStatus.FALLBACK


def test_defines_before_the_line_and_undef() -> None:
    text = ("#define USE_SSE 0\n#if USE_SSE\nsse();\n#endif\n"
            "#undef USE_SSE\n#define USE_SSE 1\n#if USE_SSE\nsse();\n#endif\n")
    c = conditionals(text)
    assert c.compiled(3) is False and c.compiled(8) is True


def test_include_guard_is_no_architecture_test() -> None:
    text = "#ifndef SIMDUTF_SSE_H\n#define SIMDUTF_SSE_H\n_mm_add_epi32(a, b);\n#endif\n"
    c = conditionals(text)
    assert c.compiled(3) is True and c.state_of(3) is PortStatus.UNPORTED
    other = "#ifndef USE_SSE_H\nsse();\n#endif\n"  # no #define after it: not a guard, the build decides
    assert conditionals(other).compiled(2) is None


def test_other_architectures_simd_is_no_x86_code() -> None:
    text = "#if defined(__powerpc64__) || defined(__loongarch64)\n__m128i emulated;\n#endif\n"
    assert conditionals(text).state_of(2) is None


def _project(root: Path) -> None:
    files = {
        "include/features.h": (
            "#ifndef PROJ_FEATURES_H\n#define PROJ_FEATURES_H\n"
            "#if defined(__x86_64__) && defined(__BMI2__)\n#define HAS_BMI2 1\n#else\n#define HAS_BMI2 0\n#endif\n"
            "#endif\n"
        ),
        "src/bits.c": (
            '#include "features.h"\n#include <stdint.h>\n#if HAS_BMI2\n#include <immintrin.h>\n'
            "uint32_t spread(uint32_t x) { return _pdep_u32(x, 0x5555); }\n#endif\n"
        ),
        "src/codec.c": '#include "config.h"\n#if HAVE_AVX2\n#include "arch/avx2/codec.c"\n#endif\nint codec;\n',
        "src/arch/avx2/codec.c": (
            "#include <immintrin.h>\nvoid add8(int *a) { __m256i v = _mm256_loadu_si256((void *)a);\n"
            "_mm256_storeu_si256((void *)a, _mm256_add_epi32(v, v)); }\n"
        ),
        "src/simd_sse.h": (
            "#ifndef SIMD_SSE_H\n#define SIMD_SSE_H\n#include <emmintrin.h>\n"
            "static inline __m128i add4(__m128i a, __m128i b) { return _mm_add_epi32(a, b); }\n#endif\n"
        ),
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def test_project_conditions_end_to_end(tmp_path: Path) -> None:
    _project(tmp_path)
    findings = [f for f in scan(tmp_path, display="").findings if f.rule_id.startswith("ARM-C-INTRIN")]
    blockers = {f.location.path for f in findings if f.severity is Severity.BLOCKER}
    assert blockers == {"src/simd_sse.h"}  # the include guard makes nothing optional
    bits = [f for f in findings if f.location.path == "src/bits.c"]
    assert bits and all(f.status is PortStatus.FALLBACK for f in bits)  # HAS_BMI2 is 0 on aarch64
    avx2 = [f for f in findings if f.location.path == "src/arch/avx2/codec.c"]
    assert avx2 and all(f.status is PortStatus.FALLBACK and f.severity is Severity.LOW for f in avx2)
    assert all("included only under an x86-only condition (src/codec.c:3)" in f.message for f in avx2)


def test_file_also_included_unconditionally_stays_a_blocker(tmp_path: Path) -> None:
    _project(tmp_path)
    (tmp_path / "src/main.c").write_text('#include "arch/avx2/codec.c"\n')
    findings = scan(tmp_path, display="").findings
    assert any(f.location.path == "src/arch/avx2/codec.c" and f.severity is Severity.BLOCKER for f in findings)


def test_include_cycles_and_chains_are_bounded(tmp_path: Path) -> None:
    (tmp_path / "a.h").write_text('#include "b.h"\n#define FROM_A 1\n')
    (tmp_path / "b.h").write_text('#include "a.h"\n#define FROM_B 0\n')
    for i in range(40):  # a chain of headers deeper than the bound
        (tmp_path / f"h{i}.h").write_text(f'#include "h{i + 1}.h"\n')
    (tmp_path / "h40.h").write_text("#define DEEP 0\n")
    (tmp_path / "main.c").write_text(
        '#include "a.h"\n#include "h0.h"\n#if FROM_B\n_mm_pause();\n#endif\n#if DEEP\n_mm_pause();\n#endif\n'
        '#include "main.c"\n'
    )
    (tmp_path / "x.c").write_text('#include "y.c"\n')
    (tmp_path / "y.c").write_text('#include "x.c"\n#if HAVE_SSE2\n#include "z.c"\n#endif\n')
    (tmp_path / "z.c").write_text("_mm_pause();\n")
    started = time.monotonic()
    findings = {(f.location.path, f.location.line): f.status for f in scan(tmp_path, display="").findings
                if f.rule_id == "ARM-C-INTRIN-CALL"}
    assert time.monotonic() - started < 5
    assert findings[("main.c", 4)] is PortStatus.FALLBACK  # FROM_B is 0, through the cycle
    assert findings[("main.c", 7)] is PortStatus.UNPORTED  # past the depth bound DEEP is unknown: as before
    assert findings[("z.c", 1)] is PortStatus.FALLBACK  # included only under an x86 switch, by files in a cycle


def test_conditions_over_heavy_macros_stay_bounded() -> None:
    body = " + ".join(["B"] * 500)  # each evaluation of A reads B 500 times, up to the per-condition bound
    text = f"#define B (1 + 2 + 3)\n#define A ({body})\n" + "#if A > 0\nx();\n#endif\n" * 20_000
    started = time.monotonic()
    c = Conditionals(text, LineIndex(text))
    assert len(c.branches) == 20_000
    assert time.monotonic() - started < 5


def test_findings_say_which_way_aarch64_goes(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text(
        "#if defined(_MSC_VER)\n_tzcnt_u32(x);\n#elif defined(__GNUC__)\n__builtin_ctz(x);\n#endif\n"
        "#if HAVE_SSE2\n_mm_pause();\n#endif\n"
    )
    messages = {f.location.line: f.message for f in scan(tmp_path, display="").findings
                if f.rule_id == "ARM-C-INTRIN-CALL"}
    assert messages[2].endswith("aarch64 does not take the #if defined(_MSC_VER) on line 1; it takes line 3 "
                                "(#elif defined(__GNUC__)).")
    assert messages[7].endswith("depends on the build: the #if HAVE_SSE2 on line 6 names a macro neither the "
                                "compiler nor the project's headers define.")


@pytest.mark.parametrize(("language", "expression", "expected"), [
    ("c", "defined(__cplusplus)", 0),
    ("c++", "__cplusplus >= 201103L", 1),
    (None, "defined(__cplusplus)", None),  # a header: either
    ("c", "defined(_GNU_SOURCE)", None),  # the build sets these, not the compiler
    ("c", "_FILE_OFFSET_BITS == 64", None),
    ("c", "defined(__GLIBC__)", None),
    ("c", "defined(_MSC_VER) || defined(_WIN32)", 0),
])
def test_language_and_names_the_build_sets(language: str | None, expression: str, expected: int | None) -> None:
    assert Evaluator(lambda name: _ABSENT, language).value(expression) == expected


SSE_LINE = "static int f(void) { return _mm_cvtsi128_si32(_mm_setzero_si128()); }\n"


def _states(tree: Path, path: str) -> list[tuple[Severity, PortStatus]]:
    return sorted({(f.severity, f.status) for f in scan(tree, display="").findings
                   if f.location.path == path and f.rule_id.startswith("ARM-C-INTRIN")}, key=str)


def test_a_project_macro_defined_only_on_x86_in_a_header_included_by_angle_brackets(tmp_path: Path) -> None:
    (tmp_path / "include/proj").mkdir(parents=True)
    (tmp_path / "src").mkdir()
    (tmp_path / "include/proj/portability.h").write_text(
        "#if defined(__riscv)\n#define PROJ_IS_RISCV 1\n#elif defined(__x86_64__) || defined(_M_X64)\n"
        "#define PROJ_IS_X64 1\n#endif\n#define PROJ_FAST 1\n")
    (tmp_path / "src/bitset.c").write_text("#include <stdint.h>\n#include <proj/portability.h>\n"
                                           "#if PROJ_IS_X64\n#include <emmintrin.h>\n" + SSE_LINE + "#endif\n")
    (tmp_path / "src/always.c").write_text("#include <proj/portability.h>\n#if PROJ_FAST\n#include <emmintrin.h>\n"
                                           + SSE_LINE + "#endif\n")
    assert _states(tmp_path, "src/bitset.c") == [(Severity.LOW, PortStatus.FALLBACK)]
    assert _states(tmp_path, "src/always.c") == [(Severity.BLOCKER, PortStatus.UNPORTED)]


@pytest.mark.parametrize("switch", ["LTC_AES_NI", "HAVE_GCC_GET_CPUID", "T1HA_IA32_AESNI", "USE_BMI2"])
def test_macros_named_for_x86_features_are_switches_the_aarch64_build_leaves_off(tmp_path: Path, switch: str) -> None:
    (tmp_path / "aes.c").write_text(f"#if defined({switch})\n#include <wmmintrin.h>\n{SSE_LINE}#endif\n")
    assert _states(tmp_path, "aes.c") == [(Severity.LOW, PortStatus.FALLBACK)]


def test_a_macro_that_merely_contains_bmi_is_no_switch(tmp_path: Path) -> None:
    (tmp_path / "submit.c").write_text(f"#if defined(HAVE_SUBMIT)\n#include <emmintrin.h>\n{SSE_LINE}#endif\n")
    assert _states(tmp_path, "submit.c") == [(Severity.BLOCKER, PortStatus.UNPORTED)]


def test_an_x86_source_folder_beside_an_arm_one_is_the_x86_variant(tmp_path: Path) -> None:
    (tmp_path / "celt/x86").mkdir(parents=True)
    (tmp_path / "celt/x86/vq_sse2.c").write_text("#include <emmintrin.h>\n" + SSE_LINE)
    assert _states(tmp_path, "celt/x86/vq_sse2.c") == [(Severity.BLOCKER, PortStatus.UNPORTED)]
    (tmp_path / "celt/arm").mkdir()
    (tmp_path / "celt/arm/pitch_neon_intr.c").write_text("#include <arm_neon.h>\n")
    assert _states(tmp_path, "celt/x86/vq_sse2.c") == [(Severity.INFO, PortStatus.PORTED)]


def test_a_projects_own_neon_switch_is_its_arm_path(tmp_path: Path) -> None:
    (tmp_path / "hh_buffer.h").write_text("#if HH_TARGET == HH_TARGET_NEON\n#include <arm_neon.h>\n#else\n"
                                          "#include <emmintrin.h>\n" + SSE_LINE + "#endif\n")
    assert _states(tmp_path, "hh_buffer.h") == [(Severity.INFO, PortStatus.PORTED)]


def test_an_x86_only_header_included_only_under_x86_conditions_does_not_stop_the_build(tmp_path: Path) -> None:
    (tmp_path / "vec.h").write_text('#if defined(__AVX2__)\n#include "vec_wide.h"\n#else\nint scalar;\n#endif\n')
    (tmp_path / "vec_wide.h").write_text("#ifdef __x86_64__\n#include <immintrin.h>\n#else\n#error needs x86\n#endif\n")
    found = {(f.rule_id, f.severity) for f in scan(tmp_path, display="").findings if f.location.path == "vec_wide.h"}
    assert found == {("ARM-C-ARCH-ERROR", Severity.LOW), ("ARM-C-INTRIN-HEADER", Severity.LOW)}


def test_arm_assembly_in_an_arm_folder_is_not_x86(tmp_path: Path) -> None:
    (tmp_path / "celt/arm").mkdir(parents=True)
    (tmp_path / "celt/arm/xcorr.s").write_text("  AREA |.text|, CODE, READONLY\n  EXPORT xcorr\nxcorr PROC\n"
                                               "  push {r4-r6, lr}\n  mov r0, r1\n  pop {r4-r6, pc}\n  ENDP\n  END\n")
    (tmp_path / "x86.s").write_text(".text\nf:\n  movq %rdi, %rax\n  ret\n")
    assert {(f.rule_id, f.location.path) for f in scan(tmp_path, display="").findings} == {
        ("ARM-ASM-X86-FILE", "x86.s")}


def test_folders_above_the_scanned_tree_are_not_the_projects(tmp_path: Path) -> None:
    (tmp_path / "arm").mkdir()
    tree = tmp_path / "x86"
    tree.mkdir()
    (tree / "codec.c").write_text("#include <emmintrin.h>\n" + SSE_LINE)
    assert _states(tree, "codec.c") == [(Severity.BLOCKER, PortStatus.UNPORTED)]
