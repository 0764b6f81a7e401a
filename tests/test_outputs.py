"""SARIF, Markdown, CSV and the work plan, from the installed command on the demo project and crafted trees."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema

from armscan.model import Severity
from armscan.plan import build_plan
from armscan.reporters import markdown
from tests.conftest import DEMO, run_cli, scan

SARIF_SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())


def demo_outputs(tmp_path: Path) -> dict[str, str]:
    names = {"json": "r.json", "sarif": "r.sarif", "markdown": "r.md", "csv": "r.csv"}
    args = [a for kind, name in names.items() for a in (f"--{kind}", str(tmp_path / name))]
    done = run_cli("scan", "demo", "--offline", "--no-index", "-q", *args, cwd=DEMO.parent)
    assert done.returncode == 1, done.stderr
    return {kind: (tmp_path / name).read_text() for kind, name in names.items()}


def test_sarif_is_valid_and_matches_the_json(tmp_path: Path) -> None:
    out = demo_outputs(tmp_path)
    sarif, doc = json.loads(out["sarif"]), json.loads(out["json"])
    jsonschema.Draft202012Validator(SARIF_SCHEMA, format_checker=jsonschema.FormatChecker()).validate(sarif)
    run = sarif["runs"][0]
    assert len(run["results"]) == len(doc["findings"]) == 23
    assert {r["properties"]["scope"] for r in run["results"]} == {"product", "bench"}
    assert {r["id"] for r in run["tool"]["driver"]["rules"]} == set(doc["rules"])
    mixer = [r for r in run["results"] if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
             == "demo/src/mixer.c"]
    assert [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in mixer] == [
        ("ARM-C-INTRIN-HEADER", "error", 3), ("ARM-C-INTRIN-CALL", "error", 9), ("ARM-C-INTRIN-CALL", "error", 10),
        ("ARM-C-INTRIN-CALL", "error", 11), ("ARM-C-INLINE-ASM", "error", 18)]
    ported = [r for r in run["results"] if r["properties"]["status"] == "ported"]
    assert ported and all(r["level"] == "note" for r in ported)
    rule = next(r for r in run["tool"]["driver"]["rules"] if r["id"] == "ARM-C-INTRIN-CALL")
    assert "NEON" in rule["help"]["text"] and rule["helpUri"].startswith("https://")
    assert all(len(r["partialFingerprints"]["armscanFinding/v1"]) == 32 for r in run["results"])


def test_markdown_summary_and_csv(tmp_path: Path) -> None:
    out = demo_outputs(tmp_path)
    text = out["markdown"]
    assert text.startswith("## armscan: Ready after work\n")
    assert "Gate: 15 finding(s) at or above `high`: **fail**." in text
    assert "| 10 | 6 | 1 | 0 | 6 |" in text and "<details><summary>Findings</summary>" in text
    assert "| Benchmarks | 1 | 1 | 2 |" in text  # not part of the product: its own table, not in the gate
    assert "http" not in text.split("<details>")[0]  # no links in the summary a comment shows
    rows = list(csv.DictReader(io.StringIO(out["csv"])))
    assert len(rows) == 23 and rows[0].keys() == {"rule_id", "severity", "confidence", "effort", "work", "status",
                                                  "path", "line", "column", "message", "snippet", "scope"}
    assert {r["path"]: r["scope"] for r in rows}["demo/bench/mix_bench.c"] == "bench"
    assert ("ARM-C-INLINE-ASM", "demo/src/mixer.c", "18") in {(r["rule_id"], r["path"], r["line"]) for r in rows}


def test_markdown_is_capped_with_a_note_of_what_was_cut(tmp_path: Path) -> None:
    for i in range(300):
        (tmp_path / f"f{i:03}.c").write_text("#include <immintrin.h>\n__m128 a = _mm_setzero_ps();\n")
    result = scan(tmp_path, display="t")
    text = markdown.render(result, Severity.HIGH, max_chars=6000)
    assert len(text) < 6500
    assert "_Left out to fit a comment: " in text and "more finding(s)" in text


def test_csv_cells_never_start_a_formula(tmp_path: Path) -> None:
    evil = tmp_path / "=HYPERLINK(1)"
    evil.mkdir()
    (evil / "x.c").write_text("#include <immintrin.h>\n")
    done = run_cli("scan", "=HYPERLINK(1)", "--csv", "-", "-q", "--offline", "--no-index", cwd=tmp_path)
    rows = list(csv.reader(io.StringIO(done.stdout)))
    assert rows[1][6] == "'=HYPERLINK(1)/x.c"


def test_plan_groups_work_and_gives_a_verdict() -> None:
    plan = build_plan(scan(DEMO, display="demo"))
    assert plan.verdict == "ready-after-work"
    assert [(t.kind.value, t.items, t.findings) for t in plan.totals] == [
        ("port-source", 5, 9), ("fix-build", 1, 2), ("upgrade-dependency", 2, 2), ("build-from-source", 1, 1),
        ("rebuild-image", 1, 2), ("verify", 3, 6)]
    mixer = next(i for i in plan.items if i.subject == "demo/src/mixer.c")
    assert mixer.title == "Port the x86-specific code in demo/src/mixer.c" and mixer.findings == 5
    assert mixer.evidence[0].startswith("demo/src/mixer.c:3: ") and mixer.severity is Severity.BLOCKER
    assert any("sse2neon" in step for step in mixer.steps)
    bcrypt = next(i for i in plan.items if i.subject == "bcrypt")  # Node dependency work is per package
    assert bcrypt.title == "Upgrade bcrypt" and "npm ci" in bcrypt.steps[1]
    image = next(i for i in plan.items if i.kind.value == "rebuild-image")
    assert "docker buildx build --platform linux/amd64,linux/arm64" in " ".join(image.steps)
