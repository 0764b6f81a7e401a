"""The real-repository benchmark's scoring, on a tiny corpus made here (the real corpus is never needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("real_repos", REPO / "benchmarks" / "real_repos.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["real_repos"] = module
    spec.loader.exec_module(module)
    return module


rr = _load()

DATA = """
projects:
  - name: portable
    url: https://example.invalid/portable
    commit: "0000000000000000000000000000000000000000"
    kind: test
    verdict: ready
    truth: every file compiles for aarch64
  - name: x86only
    url: https://example.invalid/x86only
    commit: "1111111111111111111111111111111111111111"
    kind: test
    verdict: not-ready
    truth: src/sse.c fails for aarch64
    places:
      - src/sse.c
      - {path: include/compat.h, lines: [3]}
    not_product: [tools/gen]
"""


def _finding(path: str, line: int, severity: str = "blocker", suppressed: Any = None) -> dict[str, Any]:
    return {"rule_id": "ARM-X", "severity": severity, "suppressed": suppressed,
            "location": {"path": path, "line": line}}


def test_the_shipped_data_loads() -> None:
    projects = rr.load_projects(rr.DEFAULT_DATA)
    assert len(projects) >= 12
    assert {p.verdict for p in projects} == {"ready", "not-ready"}
    assert all(p.places for p in projects if p.verdict == "not-ready")
    assert all(len(p.commit) == 40 for p in projects)


def test_problems_in_the_data_are_reported_together(tmp_path: Path) -> None:
    data = tmp_path / "bad.yaml"
    data.write_text("projects:\n  - {name: a}\n  - {name: b, url: u, commit: c, kind: k, verdict: maybe, truth: t}\n"
                    "  - {name: c, url: u, commit: c, kind: k, verdict: ready, truth: t, places: [x.c]}\n")
    with pytest.raises(rr.DataError) as err:
        rr.load_projects(data)
    message = str(err.value)
    assert "missing url, commit, kind, verdict, truth" in message
    assert "verdict must be one of" in message
    assert "a ready project has no true places" in message


def test_scope_of_code_that_does_not_ship(tmp_path: Path) -> None:
    data = tmp_path / "d.yaml"
    data.write_text(DATA)
    project = rr.load_projects(data)[1]
    assert rr.is_product("src/sse.c", project)
    assert rr.is_product("lib/x86/crc.c", project)
    assert rr.is_product("src/latest.c", project)
    for path in ("tests/a.c", "lib/bench/b.c", "fuzz/f.c", "examples/e.c", ".github/workflows/ci.yml",
                 "programs/Tests/t.c", ".travis.yml", "tools/gen/g.c", "example.c", "lib/crc_test.cc",
                 "src/test_utf8.c", "bench_main.c", "src/contest_bench.h"):
        assert not rr.is_product(path, project), path


def test_scoring_counts_true_and_false_places_per_file_and_line(tmp_path: Path) -> None:
    data = tmp_path / "d.yaml"
    data.write_text(DATA)
    project = rr.load_projects(data)[1]
    root = tmp_path / "x86only"
    result = {
        "complete": True,
        "findings": [
            _finding(str(root / "src" / "sse.c"), 10),  # true: the whole file is a place
            _finding(str(root / "src" / "sse.c"), 11, "high"),  # true
            _finding(str(root / "include" / "compat.h"), 3),  # true: on the listed line
            _finding(str(root / "include" / "compat.h"), 9),  # false: not the listed line
            _finding(str(root / "src" / "generic.c"), 1),  # false
            _finding(str(root / "src" / "generic.c"), 2, "medium"),  # not counted: below high
            _finding(str(root / "src" / "other.c"), 2, suppressed={"by": "baseline"}),  # not counted
            _finding(str(root / "tests" / "t.c"), 4),  # not product
        ],
        "plan": {"verdict": "ready-after-work", "items": [{"days": 1.25}, {"days": 2}]},
    }
    s = rr.score(project, result, root, 0.5)
    assert (s.product, s.true_positives, s.places, s.places_found, s.not_product) == (5, 3, 2, 2, 1)
    assert s.precision == pytest.approx(0.6)
    assert s.recall == 1.0
    assert s.false_places == ("include/compat.h", "src/generic.c")
    assert s.verdict_ok and not s.met
    assert s.days == 3.2  # 3.25 rounded to one place

    nothing = rr.score(project, {"complete": True, "findings": [], "plan": {"verdict": "ready"}}, root, 0.1)
    assert not nothing.verdict_ok and nothing.recall == 0.0 and nothing.precision is None
    lines = rr.table([s, nothing])
    assert lines[-1].split()[:3] == ["overall", "1/2", "verdicts"]
    assert "60%" in lines[-1]


def test_end_to_end_on_a_tiny_corpus(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus"
    (corpus / "portable" / "src").mkdir(parents=True)
    (corpus / "portable" / "src" / "add.c").write_text("int add(int a, int b) { return a + b; }\n")
    (corpus / "x86only" / "src").mkdir(parents=True)
    (corpus / "x86only" / "include").mkdir(parents=True)
    (corpus / "x86only" / "include" / "compat.h").write_text("#pragma once\n\n#include <stdint.h>\n")
    (corpus / "x86only" / "src" / "sse.c").write_text(
        "#include <emmintrin.h>\n"
        "__m128i add4(__m128i a, __m128i b) { return _mm_add_epi32(a, b); }\n")
    data = tmp_path / "d.yaml"
    data.write_text(DATA)
    code = rr.main([str(corpus), "--data", str(data)])
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.split()}
    assert rows["portable"][1:3] == ["ready", "ready"]
    assert rows["x86only"][1] == "not-ready" and rows["x86only"][2] != "ready"
    assert [cell for cell in rows["x86only"] if "/" in cell] == ["1/2"]  # sse.c found; compat.h:3 is not x86
    assert "peer not installed" in out or "peer " in out
    assert code == 1  # one true place was not found


def test_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert rr.main([str(tmp_path / "nowhere")]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("nothing: here\n")
    assert rr.main([str(tmp_path), "--data", str(bad)]) == 2
    assert "no 'projects' list" in capsys.readouterr().err


def test_peer_issues_are_read_with_their_places(tmp_path: Path) -> None:
    root = tmp_path / "x86only"
    report = {"issues": [
        f"IntrinsicIssue: {root}/src/sse.c:2 (add4): architecture-specific intrinsic: _mm_add_epi32",
        f"AsmSourceIssue: {root}/tests/t.S: architecture-specific assembly source file",
        "garbage",
    ]}
    found = rr.peer_findings(report, root)
    assert [(f.path, f.line, f.rule_id) for f in found] == [
        ("src/sse.c", 2, "IntrinsicIssue"), ("tests/t.S", None, "AsmSourceIssue")]
    data = tmp_path / "d.yaml"
    data.write_text(DATA)
    s = rr.tally(rr.load_projects(data)[1], found, "not-ready", 0.0, 0.2)
    assert (s.product, s.true_positives, s.places_found, s.not_product) == (1, 1, 1, 1)
