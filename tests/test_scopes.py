"""Code that does not ship (tests, benchmarks, CI...) in its own scope, and work counted per file and distinct
construct, not per matched line: the plan, the gate and the outputs on small trees written here."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from armscan.model import PRODUCT
from armscan.plan import build_plan, describe, describe_total
from armscan.reporters import json_report, markdown
from armscan.reporters.load import from_document
from armscan.resources import schema_path
from armscan.scopes import classify
from tests.conftest import cli_json, run_cli, scan

SCHEMA = json.loads(schema_path("result.schema.json").read_text())
INTRINSICS = ("_mm_add_epi32", "_mm_loadu_si128", "_mm_storeu_si128")


def _x86(name: str) -> str:
    return f"#include <emmintrin.h>\nint {name}(__m128i a) {{ return _mm_cvtsi128_si32(a); }}\n"


def _product_and_tests(root: Path) -> None:
    """A product file with 500 calls of the same 3 intrinsics, a test and a benchmark with one each."""
    body = "".join(f"    v = {INTRINSICS[i % 3]}(v, v);\n" for i in range(500))
    (root / "src").mkdir(parents=True)
    (root / "src" / "codec.c").write_text("#include <emmintrin.h>\nvoid f(void) {\n" + body + "}\n")
    (root / "tests").mkdir()
    (root / "tests" / "check.c").write_text(_x86("check"))
    (root / "bench").mkdir()
    (root / "bench" / "speed.c").write_text(_x86("speed"))


def _only_tests(root: Path) -> None:
    """A portable product; x86 code only in tests, benchmarks, fuzzers and a CI image."""
    (root / "src").mkdir(parents=True)
    (root / "src" / "lib.c").write_text("int add(int a, int b) { return a + b; }\n")
    (root / "test").mkdir()
    (root / "test" / "simd.c").write_text(_x86("simd"))
    (root / "src" / "lib_bench.c").write_text(_x86("bench"))
    (root / "fuzz").mkdir()
    (root / "fuzz" / "target.c").write_text(_x86("fuzz"))
    (root / ".github" / "docker").mkdir(parents=True)
    (root / ".github" / "docker" / "Dockerfile").write_text("FROM --platform=linux/amd64 debian:12\n")


@pytest.mark.parametrize(("path", "scope"), [
    ("src/codec.c", PRODUCT), ("lib/x86/test_and_set.h", PRODUCT), ("programs/bench.c", PRODUCT),
    ("tests/check.c", "test"), ("Tests/Check.c", "test"), ("src/crc_test.cc", "test"), ("src/test_crc.c", "test"),
    ("pkg/util_test.go", "test"), ("bench/speed.c", "bench"), ("src/crc_bench.c", "bench"),
    ("fuzz/target.c", "fuzz"), ("src/zstd_fuzzer.c", "fuzz"), ("examples/demo.c", "example"),
    ("docs/snippet.c", "docs"), ("original/sse.c", "reference"), (".github/workflows/ci.yml", "ci"),
    ("docker/ci/Dockerfile", "ci"), ("appveyor.yml", "ci"), ("third_party/zlib/test/x.c", "vendor-test"),
    ("vendor/lz4/examples/e.c", "vendor-test"), ("third_party/zlib/inflate.c", PRODUCT),
    ("tests/fuzz/x.c", "test"), ("dist.tar.gz!pkg/tests/a.c", "test"),
])
def test_paths_are_classified_by_folders_and_file_names(path: str, scope: str) -> None:
    assert classify(path) == scope


def test_plan_counts_the_product_per_file_and_distinct_intrinsic(tmp_path: Path) -> None:
    _product_and_tests(tmp_path / "proj")
    result = scan(tmp_path / "proj", display="proj")
    assert {(f.location.path, f.scope) for f in result.findings} == {
        ("proj/src/codec.c", "product"), ("proj/tests/check.c", "test"), ("proj/bench/speed.c", "bench")}
    plan = build_plan(result)
    assert plan.verdict == "ready-after-work"
    assert plan.reason == "1 work item; not part of the product, not counted: 2 items in benchmarks, tests"
    [codec] = plan.items
    # 100 listed, 400 more in one record; the header and 3 intrinsics: 2 days + 3 x 0.1, not 500 x anything
    assert (codec.subject, codec.findings, codec.places, codec.distinct, codec.days) == (
        "proj/src/codec.c", 102, 501, 4, 2.3)
    assert describe(codec) == "501 places, 4 distinct: _mm_add_epi32, _mm_loadu_si128, _mm_storeu_si128, emmintrin.h"
    assert [describe_total(t) for t in plan.totals] == ["1 file, about 501 places, 4 distinct constructs"]
    assert plan.days == 2.3
    assert [(i.scope, i.subject, i.severity.value, i.days) for i in plan.other_items] == [
        ("bench", "proj/bench/speed.c", "blocker", 2.1), ("test", "proj/tests/check.c", "blocker", 2.1)]
    assert [(t.scope, t.label, t.items, t.findings, t.days) for t in plan.other] == [
        ("bench", "Benchmarks", 1, 2, 2.1), ("test", "Tests", 1, 2, 2.1)]
    assert plan.other_days == 4.2


def test_an_item_is_capped_however_many_intrinsics(tmp_path: Path) -> None:
    names = "".join(f"    v = _mm_op{i}_epi32(v, v);\n" for i in range(300))
    (tmp_path / "codec.c").write_text("#include <immintrin.h>\nvoid f(void) {\n" + names + "}\n")
    [item] = build_plan(scan(tmp_path)).items
    assert item.distinct == 101 and item.days == 10  # 100 listed intrinsics and the header; the cap


def test_a_portable_product_with_x86_tests_is_ready(tmp_path: Path) -> None:
    _only_tests(tmp_path)
    result = scan(tmp_path, display="proj")
    assert {(f.location.path, f.scope) for f in result.findings} == {
        ("proj/test/simd.c", "test"), ("proj/src/lib_bench.c", "bench"), ("proj/fuzz/target.c", "fuzz"),
        ("proj/.github/docker/Dockerfile", "ci")}
    plan = build_plan(result)
    assert (plan.verdict, plan.items, plan.days) == ("ready", (), 0)
    assert plan.reason == ("nothing to change; not part of the product, not counted: 4 items in benchmarks, "
                           "ci configuration and images, fuzzers, tests")
    assert [(t.scope, t.items) for t in plan.other] == [("bench", 1), ("ci", 1), ("fuzz", 1), ("test", 1)]


def test_gate_counts_the_product_unless_scope_all(tmp_path: Path) -> None:
    _only_tests(tmp_path)
    flags = ("--offline", "--no-index", "-q")
    assert run_cli("scan", str(tmp_path), *flags).returncode == 0
    assert run_cli("scan", str(tmp_path), *flags, "--scope", "all").returncode == 1
    assert run_cli("scan", str(tmp_path), *flags, "--scope", "everything").returncode == 2
    (tmp_path / ".armscan.toml").write_text('scope = "all"\n')
    assert run_cli("scan", str(tmp_path), *flags).returncode == 1
    assert run_cli("scan", str(tmp_path), *flags, "--scope", "product").returncode == 0
    (tmp_path / ".armscan.toml").write_text('scope = "tests"\n')
    done = run_cli("scan", str(tmp_path), *flags)
    assert done.returncode == 2 and "scope must be one of product, all" in done.stderr


def test_gate_with_product_findings_fails_either_way(tmp_path: Path) -> None:
    _product_and_tests(tmp_path)
    for extra in ((), ("--scope", "all")):
        assert run_cli("scan", str(tmp_path), "--offline", "--no-index", "-q", *extra).returncode == 1


def test_json_carries_every_scope_and_the_new_plan(tmp_path: Path) -> None:
    _product_and_tests(tmp_path / "proj")
    code, doc = cli_json("scan", "proj", "--offline", "--no-index", cwd=tmp_path)
    assert code == 1 and doc["schema_version"] == "1.6"
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    assert all("scope" in f for f in doc["findings"])
    assert {f["location"]["path"]: f["scope"] for f in doc["findings"]} == {
        "proj/src/codec.c": "product", "proj/tests/check.c": "test", "proj/bench/speed.c": "bench"}
    assert [f.get("places", 1) for f in doc["findings"] if f["location"]["line"] is None] == [400]
    plan = doc["plan"]
    assert [(i["subject"], i["places"], i["distinct"], i["days"]) for i in plan["items"]] == [
        ("proj/src/codec.c", 501, 4, 2.3)]
    assert [(i["scope"], i["subject"]) for i in plan["other_items"]] == [
        ("bench", "proj/bench/speed.c"), ("test", "proj/tests/check.c")]
    assert plan["other_days"] == 4.2 and plan["days"] == 2.3
    # read back, the scopes stay; a result of 1.4 (no scope) gets them from the paths
    assert [f.scope for f in from_document(doc).findings] == [f["scope"] for f in doc["findings"]]
    for finding in doc["findings"]:
        del finding["scope"]
    doc["schema_version"] = "1.4"
    assert {f.location.path: f.scope for f in from_document(doc).findings}["proj/tests/check.c"] == "test"


def test_markdown_and_terminal_show_the_other_scopes_apart(tmp_path: Path) -> None:
    _only_tests(tmp_path / "proj")
    result = scan(tmp_path / "proj", display="proj")
    text = markdown.render(result, None)
    assert text.startswith("## armscan: Ready for aarch64")
    assert "Not part of the product (not counted by the verdict or the gate):" in text
    assert "| Tests | 1 | 2 | 2.1 |" in text
    assert "<summary>Work outside the product</summary>" in text
    done = run_cli("scan", "proj", "--offline", "--no-index", "--fail-on", "high", cwd=tmp_path,
                   env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0
    assert "Not part of the product (tests, benchmarks, CI...)" in done.stdout
    assert "[test]" in done.stdout and "nothing at or above high: pass" in done.stdout
    assert json_report.to_document(result)["plan"]["verdict"] == "ready"


def test_scope_knowledge_is_validated_with_every_problem_named(tmp_path: Path) -> None:
    from armscan.rules_engine.loader import RuleError, load_validated

    bad = tmp_path / "scopes.yaml"
    bad.write_text("scopes:\n  product: {label: Ours, folders: [src], files: []}\n"
                   "  test: {label: Tests, folders: ['tests/*'], files: ['a/b']}\n"
                   "vendored: {folders: [vendor], scope: vendor-test, label: Vendored, applies-to: [test]}\n")
    with pytest.raises(RuleError) as error:
        load_validated({"scopes.yaml": bad}, "scopes.schema.json", "scope knowledge")
    message = str(error.value)
    assert "scopes.yaml: scopes: 'product'" in message  # a path matching no folder name is not the product
    assert "scopes.yaml: scopes/test/folders/0" in message and "scopes.yaml: scopes/test/files/0" in message


def test_report_applies_the_scope_to_saved_results(tmp_path: Path) -> None:
    _only_tests(tmp_path / "proj")
    saved = tmp_path / "result.json"
    assert run_cli("scan", "proj", "--offline", "--no-index", "-q", "--json", str(saved), cwd=tmp_path).returncode == 0
    assert run_cli("report", str(saved), "-q").returncode == 0
    assert run_cli("report", str(saved), "-q", "--scope", "all").returncode == 1


def test_classifying_a_hostile_path_stays_linear() -> None:
    import time

    started = time.monotonic()
    assert classify("a/" + "_tes" * 100_000 + "t.h") == PRODUCT  # near-misses of *_test.c* all the way
    assert classify("/".join(["d"] * 100_000) + "/x.c") == PRODUCT
    assert classify("/".join(["third_party"] * 50_000) + "/tests/x.c") == "vendor-test"
    assert time.monotonic() - started < 2
