"""The CI gate: baselines, inline suppressions, configuration files, and re-rendering or merging saved results."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from armscan.resources import schema_path
from tests.conftest import run_cli

INTRINSICS = "#include <immintrin.h>\n__m128 a = _mm_setzero_ps();\n"
SCHEMA = json.loads(schema_path("result.schema.json").read_text())


def project(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    (root / "src").mkdir(parents=True)
    (root / "src" / "old.c").write_text(INTRINSICS)
    return root


def scan_json(*args: str, cwd: Path) -> tuple[int, dict]:
    done = run_cli("scan", *args, "--offline", "--no-index", "--json", "-", "-q", cwd=cwd)
    assert done.stdout, done.stderr
    doc = json.loads(done.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    return done.returncode, doc


def test_baseline_lets_only_new_findings_fail(tmp_path: Path) -> None:
    root = project(tmp_path)
    done = run_cli("baseline", "create", ".", "-o", "armscan-baseline.json", "--offline", "--no-index", cwd=root)
    assert done.returncode == 0 and "wrote armscan-baseline.json: 2 findings" in done.stderr
    code, doc = scan_json(".", "--baseline", "armscan-baseline.json", cwd=root)
    assert code == 0 and {f["suppressed"] for f in doc["findings"]} == {"baseline"}
    # the same findings, scanned under another path and with the code moved down a line, stay known
    (root / "src" / "old.c").write_text("\n" + INTRINSICS)
    code, _ = scan_json(str(root), "--baseline", str(root / "armscan-baseline.json"), cwd=tmp_path)
    assert code == 0
    (root / "src" / "new.c").write_text("#include <emmintrin.h>\n")
    code, doc = scan_json(".", "--baseline", "armscan-baseline.json", cwd=root)
    assert code == 1
    assert [(f["location"]["path"], f["suppressed"]) for f in doc["findings"]] == [
        ("src/new.c", None), ("src/old.c", "baseline"), ("src/old.c", "baseline")]
    sarif = json.loads(run_cli("scan", ".", "--offline", "--no-index", "--baseline", "armscan-baseline.json",
                               "--sarif", "-", "-q", cwd=root).stdout)
    assert [r.get("suppressions", [{}])[0].get("kind") for r in sarif["runs"][0]["results"]] == [
        None, "external", "external"]


def test_inline_suppression_needs_the_rule_and_keeps_the_reason(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "src" / "old.c").write_text(
        "// armscan: ignore[ARM-C-INTRIN-HEADER] the x86 build only, guarded in CMake\n"
        "#include <immintrin.h>\n"
        "__m128 a = _mm_setzero_ps(); /* armscan: ignore[ARM-C-ARCH-ERROR] wrong rule */\n")
    code, doc = scan_json(".", cwd=root)
    got = {(f["rule_id"], f["suppressed"]) for f in doc["findings"]}
    assert got == {("ARM-C-INTRIN-HEADER", "inline: the x86 build only, guarded in CMake"),
                   ("ARM-C-INTRIN-CALL", None)}
    assert code == 1


def test_configuration_file_and_flags_taking_precedence(tmp_path: Path) -> None:
    root = project(tmp_path)
    (root / "vendor").mkdir()
    (root / "vendor" / "x.c").write_text(INTRINSICS)
    (root / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.armscan]\nfail-on = "none"\n'
                                         'exclude = ["vendor/"]\ndisable = ["ARM-C-INTRIN-HEADER"]\n')
    code, doc = scan_json(".", cwd=root)
    assert code == 0 and [(f["rule_id"], f["location"]["path"]) for f in doc["findings"]] == [
        ("ARM-C-INTRIN-CALL", "src/old.c")]
    code, _ = scan_json(".", "--fail-on", "high", cwd=root)
    assert code == 1
    (root / ".armscan.toml").write_text('fail-on = "blocker"\nexlcude = ["vendor/"]\n')
    done = run_cli("scan", ".", "--offline", "--no-index", cwd=root)
    assert done.returncode == 2 and "unknown setting(s) exlcude" in done.stderr
    (root / ".armscan.toml").write_text('fail-on = "severe"\n')
    done = run_cli("scan", ".", cwd=root)
    assert done.returncode == 2 and "fail-on must be one of" in done.stderr


def test_report_rerenders_and_merges_saved_results(tmp_path: Path) -> None:
    first, second = project(tmp_path / "a"), project(tmp_path / "b")
    (second / "Makefile").write_text("CFLAGS += -mavx2\n")
    for root, name in ((first, "a.json"), (second, "b.json")):
        run_cli("scan", str(root), "--offline", "--no-index", "--json", str(tmp_path / name), "-q")
    done = run_cli("report", str(tmp_path / "a.json"), str(tmp_path / "b.json"), "--json", "-", "--html",
                   str(tmp_path / "all.html"), "-q")
    merged = json.loads(done.stdout)
    jsonschema.Draft202012Validator(SCHEMA).validate(merged)
    assert done.returncode == 1 and merged["inputs"] == [str(first), str(second)]
    assert len(merged["findings"]) == 5 and merged["plan"]["verdict"] == "ready-after-work"
    assert "ARM-BUILD-X86-ISA-FLAG" in (tmp_path / "all.html").read_text()
    single = json.loads(run_cli("report", str(tmp_path / "a.json"), "--json", "-", "-q").stdout)
    original = json.loads((tmp_path / "a.json").read_text())
    assert single["findings"] == original["findings"] and single["artifacts"] == original["artifacts"]
    (tmp_path / "bad.json").write_text('{"schema_version": "9.0"}')
    done = run_cli("report", str(tmp_path / "bad.json"))
    assert done.returncode == 2 and "not an armscan 1.x result" in done.stderr


def test_settings_file_applies_to_image_and_env_too(tmp_path: Path) -> None:
    layout = Path(__file__).resolve().parent.parent / "fixtures" / "images" / "layout"
    (tmp_path / ".armscan.toml").write_text('fail-on = "none"\noffline = true\nno-index = true\n')
    assert run_cli("image", f"oci:{layout}:app-amd64", "-q", cwd=tmp_path).returncode == 0
    assert run_cli("image", f"oci:{layout}:app-amd64", "-q", "--fail-on", "high", cwd=tmp_path).returncode == 1
    site = tmp_path / "site"
    site.mkdir()
    (tmp_path / ".armscan.toml").write_text('fail-on = "catastrophic"\n')
    done = run_cli("env", str(site), cwd=tmp_path)
    assert done.returncode == 2 and "fail-on must be one of" in done.stderr
