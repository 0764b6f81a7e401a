"""Text parsers on hostile input: findings capped with an exact count, linear matching, every text read or
skipped with its reason, broken TOML as a skipped lock or a usage error (fixtures/hostile/parsers.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from armscan.analyzers.conditionals import Conditionals
from armscan.analyzers.files import decode_text
from armscan.analyzers.nodelockfile import read_lock
from armscan.analyzers.text import LineIndex
from armscan.config import ConfigError
from armscan.config import load as load_config
from armscan.limits import Limits
from armscan.model import PortStatus, ScanResult, Severity, SkipReason
from armscan.rules_engine.loader import RuleSet
from armscan.sources.tree import FileEntry, walk
from fixtures.hostile.parsers import NESTED, PNPM_DATA
from tests.conftest import cli_json, run_cli, scan

CALL = "    r = _mm_add_ps(a, b);\n"
RULE = "ARM-C-INTRIN-CALL"


def _rule_findings(result: ScanResult, rule: str = RULE) -> list[tuple[int | None, str, str | None]]:
    """In line order, a count (no line) last."""
    found = [(f.location.line, f.severity.value, f.suppressed) for f in result.findings if f.rule_id == rule]
    return sorted(found, key=lambda f: (f[0] is None, f[0] or 0))


def test_findings_past_the_cap_are_one_exact_count(tmp_path: Path) -> None:
    (tmp_path / "simd.c").write_text(CALL * 250)
    result = scan(tmp_path, display="", limits=Limits(max_findings_per_rule=100))
    found = _rule_findings(result)
    assert found[:100] == [(line, "blocker", None) for line in range(1, 101)]
    assert found[100:] == [(None, "blocker", None)]
    more = next(f for f in result.findings if f.location.line is None)
    assert more.location.path == "simd.c" and more.status is PortStatus.UNPORTED
    assert more.message == (f"150 more matches of {RULE} in this file not listed (the first 100 are; the next is "
                            "on line 101).")
    assert len(result.findings_at_or_above(Severity.HIGH)) == 101  # the gate still counts the file


def test_a_file_under_the_cap_has_no_count(tmp_path: Path) -> None:
    (tmp_path / "simd.c").write_text(CALL * 3)
    assert _rule_findings(scan(tmp_path, display="", limits=Limits(max_findings_per_rule=3))) == [
        (1, "blocker", None), (2, "blocker", None), (3, "blocker", None)]


def test_the_count_takes_the_worst_severity_among_the_unlisted(tmp_path: Path) -> None:
    guarded = "#ifdef __SSE2__\n" + CALL * 3 + "#endif\n"
    (tmp_path / "late.c").write_text(guarded + CALL)  # guarded ones listed, the unguarded one counted
    (tmp_path / "early.c").write_text(CALL + guarded)  # the reverse
    result = scan(tmp_path, display="", limits=Limits(max_findings_per_rule=2))
    by_file = {path: sorted(((f.location.line, f.severity.value) for f in result.findings
                             if f.rule_id == RULE and f.location.path == path), key=lambda f: (f[0] is None, f[0] or 0))
               for path in ("late.c", "early.c")}
    assert by_file["late.c"] == [(2, "low"), (3, "low"), (None, "blocker")]
    assert by_file["early.c"] == [(1, "blocker"), (3, "low"), (None, "low")]


def test_inline_ignores_past_the_cap_are_honoured(tmp_path: Path) -> None:
    ignored = f"    r = _mm_add_ps(a, b);  // armscan: ignore[{RULE}] vetted\n"
    (tmp_path / "all.c").write_text(CALL * 2 + ignored * 3)
    (tmp_path / "some.c").write_text(CALL * 2 + ignored * 2 + "\n" + CALL)  # a mark covers its line and the next
    result = scan(tmp_path, display="", limits=Limits(max_findings_per_rule=2))
    counts = {f.location.path: f for f in result.findings if f.location.line is None}
    assert counts["all.c"].suppressed == "inline: all 3 marked armscan: ignore"
    assert counts["some.c"].suppressed is None
    assert counts["some.c"].message.endswith("; 2 of them are marked armscan: ignore.")
    assert counts["some.c"].severity is Severity.BLOCKER


def test_counting_in_bulk_matches_counting_one_by_one() -> None:
    import random

    from armscan.analyzers.counterparts import Siblings
    from armscan.analyzers.source import SourceFile, analyze_text
    from armscan.rules_engine.loader import load_rules

    rules = load_rules().for_file("a.c")
    pieces = [CALL, "/* _mm_add_ps(a) */\n", "/* open\n", "close */ __m128 x;\n", 's = "_mm_mul_ps";\n',
              "#ifdef __SSE2__\n", "#endif\n", "int y; __m256 z; _mm256_add_ps(a, b);\n", "// _mm_load_ps(p)\n", "\n"]
    rng = random.Random(7)
    for _ in range(40):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 300)))
        # "armscan:" anywhere in a file makes every match past the cap be looked at one by one
        results = [sorted((f.rule_id, f.severity.value, f.message) for f in analyze_text(
            SourceFile("a.c", "a.c", "a.c", body, Siblings("")), rules, 5) if f.location.line is None)
            for body in (text, text + "// armscan: nothing to ignore\n")]
        assert results[0] == results[1]


def test_archive_members_are_capped_each(tmp_path: Path) -> None:
    import zipfile

    with zipfile.ZipFile(tmp_path / "src.zip", "w") as archive:
        for i in range(3):
            archive.writestr(f"m{i}.c", CALL * 5)
    result = scan(tmp_path, display="", limits=Limits(max_findings_per_rule=2))
    counts = [f.message for f in result.findings if f.location.line is None]
    assert len(counts) == 3 and all(m.startswith(f"3 more matches of {RULE}") for m in counts)
    assert len(result.findings) == 9


@pytest.mark.parametrize("text", [
    "/* " * 20_000 + "\n" + CALL,  # an unclosed comment runs to the end: nothing after it is code
    "x = '\\" + "'\\" * 20_000 + "\n/*\n" + CALL,
])
def test_unclosed_comments_and_literals(tmp_path: Path, text: str) -> None:
    (tmp_path / "a.c").write_text(text)
    assert _rule_findings(scan(tmp_path, display="")) == []


def test_code_after_an_unclosed_string_on_the_next_line_is_code(tmp_path: Path) -> None:
    (tmp_path / "a.c").write_text('s = "\\"\\"\\" ' + "_mm_add_ps(a, b);\n" + CALL + "c = '\"'; _mm_add_ps(a, b);\n")
    assert [line for line, _, _ in _rule_findings(scan(tmp_path, display=""))] == [2, 3]


def test_inline_asm_after_unclosed_statements(tmp_path: Path) -> None:
    msvc = "__asm mov eax, 1 __asm int3\n" + "__asm a " * 3 + "\n"  # two statements on a line: one hit
    (tmp_path / "a.c").write_text("asm(\n" * 5000 + "int x;\n" * 5000 + 'asm volatile("cpuid" ::: "memory");\n' + msvc)
    found = [(f.location.line, f.message.split("(")[1].split(")")[0]) for f in scan(tmp_path, display="").findings
             if f.rule_id == "ARM-C-INLINE-ASM"]
    assert found == [(10_001, "cpuid"), (10_002, "eax")]


def test_conditionals_nested_deeply_and_many() -> None:
    text = "#ifdef __SSE2__\n" * 3000 + CALL + "#endif\n" * 3000 + CALL + ("#if defined(__AVX2__)\n#else\n#endif\n")
    lines = LineIndex(text)
    conditionals = Conditionals(text, lines)
    assert conditionals.state_of(3001) is PortStatus.FALLBACK
    assert len(conditionals.enclosing(3001)) == 3000
    assert conditionals.state_of(6002) is PortStatus.UNPORTED
    assert conditionals.state_of(6004) is PortStatus.UNPORTED  # an #else body: not taken on x86 grounds
    last = "#if A\n#ifdef __aarch64__"  # a chain opened on the last line holds no line
    assert Conditionals(last, LineIndex(last)).enclosing(2) == []


def test_cmake_processor_and_dockerfile_download_rules_still_match(tmp_path: Path) -> None:
    (tmp_path / "CMakeLists.txt").write_text(
        "if(" + " CMAKE_SYSTEM_PROCESSOR" * 50 + ")\nendif()\nif(CMAKE_SYSTEM_PROCESSOR STREQUAL x86_64)\n")
    (tmp_path / "Dockerfile").write_text(
        "FROM scratch\nRUN curl -O http://http://x/arm64 && curl -o t URL=https://e.com/t-linux-amd64.tgz\n")
    result = scan(tmp_path, display="")
    assert _rule_findings(result, "ARM-BUILD-CMAKE-X86-PROCESSOR") == [(3, "info", None)]  # judged where used
    download = [f for f in result.findings if f.rule_id == "ARM-DOCKER-ARCH-URL"]
    assert [(f.location.line, f.location.match) for f in download] == [(2, "https://e.com/t-linux-amd64.tgz")]


def test_dockerfile_lines_past_twenty_thousand_are_read(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        "FROM scratch\n" + "ENV A=1\n" * 20_000 + "ENV ARCH=amd64\nENV URL=https://e.com/$ARCH.tgz\n"
        "RUN wget $URL\n")
    found = [(f.rule_id, f.location.line) for f in scan(tmp_path, display="").findings]
    assert ("ARM-DOCKER-ARG-ARCH", 20_004) in found


@pytest.mark.parametrize("layout", [
    {"default_flow_style": True}, {"indent": 4}, {"default_style": '"'}, {"json": True},
    {"anchors": True},
], ids=["flow", "indent-4", "quoted", "json", "anchors"])
def test_pnpm_lock_in_any_yaml_layout(layout: dict[str, object]) -> None:
    data = json.loads(json.dumps(PNPM_DATA))
    data["packages"]["dep@1.0.0"] = {"resolution": {"integrity": "sha512-y"}}
    data["snapshots"]["bcrypt@5.0.1"] = {"dependencies": {"dep": "1.0.0"}}
    if layout.pop("json", False):
        text = json.dumps(data, indent=1)
    elif layout.pop("anchors", False):
        text = yaml.safe_dump(data).replace("  bcrypt@5.0.1: {}", "  bcrypt@5.0.1: &b {}")
        text = text.replace("    dependencies:\n      dep: 1.0.0\n", "    dependencies: &d\n      dep: 1.0.0\n")
    else:
        text = yaml.safe_dump(data, **layout)  # type: ignore[call-overload]
    lock = read_lock("pnpm-lock.yaml", text)
    block = read_lock("pnpm-lock.yaml", yaml.safe_dump(data))
    assert [(p.name, p.version, p.requires) for p in lock.packages] == [
        ("bcrypt", "5.0.1", ("dep",)), ("dep", "1.0.0", ())]
    assert [(p.name, p.version, p.requires) for p in block.packages] == [
        (p.name, p.version, p.requires) for p in lock.packages]
    assert lock.roots == block.roots == ("bcrypt",)
    assert lock.chain("dep") == ("bcrypt", "dep")
    assert all(p.line > 0 for p in lock.packages)


def test_pom_properties_that_multiply_are_not_resolved() -> None:
    from armscan.analyzers.java import _pom_dependencies

    pom = ("<project><properties><v>1.5</v><a>" + "x" * 100 + "</a><b>" + "${a}" * 50 + "</b></properties>"
           "<dependencies><dependency><groupId>g</groupId><artifactId>ok</artifactId><version>${v}</version>"
           "</dependency><dependency><groupId>g</groupId><artifactId>bomb</artifactId><version>" + "${b}" * 50
           + "</version></dependency></dependencies></project>")
    assert _pom_dependencies(pom) == [("g", "ok", "1.5", ""), ("g", "bomb", None, "")]


def test_a_build_file_over_the_text_limit_is_skipped(tmp_path: Path) -> None:
    with open(tmp_path / "pom.xml", "wb") as fh:
        fh.write(b"<project>")
        fh.truncate(2000)
    result = scan(tmp_path, display="", limits=Limits(max_text_size=1000))
    assert [(s.path, s.reason, s.detail) for s in result.skipped] == [
        ("pom.xml", SkipReason.TOO_LARGE, "2000 bytes is over the 1000-byte limit")]
    assert not result.complete


@pytest.mark.parametrize(("data", "text"), [
    (b"a\0b", "a\0b"),
    ("\ufeffint x;".encode("utf-8"), "int x;"),
    ("int x; é".encode("utf-16"), "int x; é"),
    ("int x; é".encode("utf-16-le"), "int x; é"),
    ("int x; é".encode("utf-16-be"), "int x; é"),
    ("int x; é".encode("utf-32"), "int x; é"),
    (b"\xff not utf-8", "\ufffd not utf-8"),
])
def test_decode_text(data: bytes, text: str) -> None:
    assert decode_text(data) == text


@pytest.mark.parametrize(("name", "data"), [
    ("nul.c", b"int x;\0\n" + CALL.encode()),
    ("wide.c", ("int x;\n" + CALL).encode("utf-16")),
    ("wide-no-bom.c", ("int x;\n" + CALL).encode("utf-16-le")),
    ("A.C", ("int x;\n" + CALL).encode()),
    ("B.HPP", ("int x;\n" + CALL).encode()),
])
def test_source_files_that_were_read_as_nothing(tmp_path: Path, name: str, data: bytes) -> None:
    (tmp_path / name).write_bytes(data)
    assert [(f.rule_id, f.location.path, f.location.line) for f in scan(tmp_path, display="").findings] == [
        (RULE, name, 2)]


def test_names_for_rules(ruleset: RuleSet) -> None:
    assert [ruleset.name_for_rules(n) for n in ("A.C", "b.H", "C.CPP", "FOO.S", "foo.s", "MAIN.GO", "POM.XML",
                                                "X.ASM", "Makefile")] == [
        "A.c", "b.h", "C.cpp", "FOO.S", "foo.s", "MAIN.GO", "POM.XML", "X.asm", "Makefile"]
    assert {r.languages for r in ruleset.for_file("FOO.S")} == {("asm",)}  # not Go's plain .s


@pytest.mark.parametrize(("name", "text", "detail"), [
    ("poetry.lock", '[[package]]\nname = 1\nversion = "1.0"\n',
     "lock file not in the expected form: a package name is 1, not a name"),
    ("pylock.toml", '[[packages]]\nname = "a"\nversion = ["1"]\n',
     "lock file not in the expected form: a: the version or marker is not a string"),
    ("uv.lock", '[[package]]\nname = "a"\nversion = "1"\n[[package.wheels]]\nhash = 5\nurl = "x"\n',
     "lock file not in the expected form: a: a hash is not a string"),
    ("poetry.lock", NESTED, "lock file unreadable: nested too deeply"),
    ("pyproject.toml", NESTED, "pyproject.toml unreadable: nested too deeply"),
])
def test_broken_python_files_are_skipped_and_the_scan_goes_on(tmp_path: Path, name: str, text: str,
                                                              detail: str) -> None:
    (tmp_path / name).write_text(text)
    (tmp_path / "simd.c").write_text(CALL)
    code, doc = cli_json("scan", str(tmp_path), "--offline")
    assert code == 3
    assert [(s["path"].rsplit("/", 1)[-1], s["reason"], s["detail"]) for s in doc["skipped"]] == [
        (name, "malformed", detail)]
    assert [(f["rule_id"], f["location"]["line"]) for f in doc["findings"]] == [(RULE, 1)]


def test_a_settings_file_nested_too_deeply_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / ".armscan.toml").write_text(NESTED)
    with pytest.raises(ConfigError, match="not valid TOML: nested too deeply"):
        load_config(None, [tmp_path])
    proc = run_cli("scan", str(tmp_path), "--offline")
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / '.armscan.toml'}: not valid TOML: nested too deeply"]


def _walked(root: Path) -> list[str]:
    return sorted(e.display for e in walk(str(root), "") if isinstance(e, FileEntry))


def test_ignore_files_deep_and_many(tmp_path: Path) -> None:
    folder = tmp_path
    (folder / ".gitignore").write_text("*.log\nbuild/\n/top-only.txt\n")
    for depth in range(40):
        folder = folder / f"d{depth}"
        folder.mkdir()
        for name in ("a.log", "keep.log", "top-only.txt", "x.txt"):
            (folder / name).write_text("")
        (folder / "build").mkdir()
        (folder / "build" / "in-build.txt").write_text("")
        if depth == 20:
            (folder / ".gitignore").write_text("!keep.log\n")
    walked = _walked(tmp_path)
    prefix = "/".join(f"d{i}" for i in range(21))
    assert f"{prefix}/keep.log" in walked and f"{prefix}/d21/keep.log" in walked
    assert "d0/keep.log" not in walked and not any(p.endswith(("a.log", "in-build.txt")) for p in walked)
    assert "d0/top-only.txt" in walked  # anchored to its own folder: the root's top-only.txt alone
    assert len([p for p in walked if p.endswith("x.txt")]) == 40


def test_ignore_patterns_with_slashes_match_below_their_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / ".gitignore").write_text("gen/*.c\n**/tmp\n")
    for rel in ("sub/gen/a.c", "sub/gen/b.h", "sub/x/tmp/c.c", "gen/a.c"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert _walked(tmp_path) == ["gen/a.c", "sub/.gitignore", "sub/gen/b.h"]
