"""The installed command: exit codes, outputs, and the JSON validated against its schema."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import jsonschema
import pytest

from armscan.resources import schema_path
from tests.conftest import BIN, DEMO, armscan_exe, cli_json, run_cli

SCHEMA = json.loads(schema_path("result.schema.json").read_text())


def validate(doc: dict) -> None:
    jsonschema.Draft202012Validator(SCHEMA, format_checker=jsonschema.FormatChecker()).validate(doc)


def make_tree(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_exit_0_when_clean_and_json_to_stdout(tmp_path: Path) -> None:
    make_tree(tmp_path, **{"main.c": "int main(void) { return 0; }\n"})
    code, doc = cli_json("scan", str(tmp_path))
    assert code == 0
    validate(doc)
    assert doc["findings"] == [] and doc["complete"] is True
    assert doc["stats"]["files_seen"] == 1 and doc["stats"]["source_files_scanned"] == 1


def test_fail_on_threshold_decides_exit_code(tmp_path: Path) -> None:
    make_tree(tmp_path, **{"m.c": "#if defined(__x86_64__)\n#define A 1\n#else\n#define A 0\n#endif\n"})
    # That chain falls back to generic code on aarch64: a low finding.
    assert cli_json("scan", str(tmp_path))[0] == 0
    assert cli_json("scan", str(tmp_path), "--fail-on", "low")[0] == 1
    assert cli_json("scan", str(tmp_path), "--fail-on", "medium")[0] == 0
    code, doc = cli_json("scan", str(tmp_path), "--fail-on", "none")
    assert code == 0 and [f["rule_id"] for f in doc["findings"]] == ["ARM-C-ARCH-FALLBACK"]


def test_usage_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    for args in (["scan", str(tmp_path / "missing")], ["scan", str(tmp_path), "--fail-on", "urgent"],
                 ["scan", str(tmp_path), "--json", str(tmp_path / "no" / "such" / "dir.json")],
                 ["scan", str(tmp_path), "--disable", "ARM-NOT-A-RULE"], ["scan"], ["frobnicate"]):
        proc = run_cli(*args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stderr


def test_missing_path_message() -> None:
    proc = run_cli("scan", "/nonexistent/armscan/input")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: /nonexistent/armscan/input: no such file or folder"


def test_disable_and_exclude(tmp_path: Path) -> None:
    make_tree(tmp_path, **{"a.c": "#include <immintrin.h>\n", "third/b.c": "#include <emmintrin.h>\n"})
    code, doc = cli_json("scan", str(tmp_path), "--exclude", "third/")
    assert code == 1 and [f["location"]["path"].rsplit("/", 1)[-1] for f in doc["findings"]] == ["a.c"]
    code, doc = cli_json("scan", str(tmp_path), "--disable", "ARM-C-INTRIN-HEADER")
    assert code == 0 and doc["findings"] == []


def test_json_file_and_html_written_with_terminal_summary(tmp_path: Path) -> None:
    out_json, out_html = tmp_path / "r.json", tmp_path / "r.html"
    proc = run_cli("scan", str(DEMO), "--json", str(out_json), "--html", str(out_html), "--offline", "--no-index")
    assert proc.returncode == 1
    assert "Summary" in proc.stdout and "ARM-C-INTRIN-HEADER" in proc.stdout
    doc = json.loads(out_json.read_text())
    validate(doc)
    html = out_html.read_text()
    assert html.startswith("<!DOCTYPE html>") and "ARM-BIN-ELF-X86" in html
    # self-contained: the data and one inline script allowed by hash, nothing fetched from anywhere
    assert re.findall(r"<script[^>]*>", html) == ['<script type="application/json" id="armscan-data">', "<script>"]
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert "script-src 'sha256-" in html
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.html", "r.json"]


def test_html_escapes_hostile_file_names(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "<script>alert(1)<!--.c").write_text("#include <immintrin.h>\n")
    out = tmp_path / "r.html"
    assert run_cli("scan", str(tree), "--html", str(out), "--quiet").returncode == 1
    html = out.read_text()
    assert "<script>alert(1)" not in html and "\\u003cscript\\u003ealert(1)\\u003c!--.c" in html


def test_parallel_and_serial_agree(tmp_path: Path) -> None:
    for i in range(400):
        (tmp_path / f"f{i}.c").write_text("#include <immintrin.h>\n" if i % 7 == 0 else "int x;\n")
    shutil.copy(BIN / "libmix-x86_64.so", tmp_path / "lib.so")
    _, serial = cli_json("scan", str(tmp_path), "--jobs", "1")
    _, parallel = cli_json("scan", str(tmp_path), "--jobs", "2")
    assert serial["findings"] == parallel["findings"] and serial["artifacts"] == parallel["artifacts"]
    assert len(serial["findings"]) == 58 + 1 and serial["stats"]["files_seen"] == 401


def _wait_until_reading(pid: int, folder: Path, timeout: float = 60.0) -> None:
    """Block until the process holds a file of `folder` open (the scan itself has started, not just imports),
    then a little longer so that some files are done."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            targets = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            targets = []
        if any(t.startswith(str(folder) + "/") for t in targets):
            time.sleep(0.5)
            return
        time.sleep(0.01)


def test_interrupt_exits_3_and_still_writes_partial_result(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    for i in range(3000):
        (tree / f"f{i}.c").write_text("#include <immintrin.h>\n" + "int x;\n" * 2000)
    out = tmp_path / "r.json"
    proc = subprocess.Popen([armscan_exe(), "scan", str(tree), "--json", str(out), "--jobs", "1", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _wait_until_reading(proc.pid, tree)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    if proc.returncode == 1:
        pytest.skip("the scan finished before the interrupt")
    assert proc.returncode == 3, stderr
    doc = json.loads(out.read_text())
    validate(doc)
    assert doc["complete"] is False and doc["errors"]
    assert 0 < doc["stats"]["files_analyzed"] < 3000


def test_rules_command_lists_every_rule() -> None:
    proc = run_cli("rules")
    assert proc.returncode == 0
    for rule_id in ("ARM-C-INTRIN-CALL", "ARM-BIN-ELF-X86", "ARM-DOCKER-ARCH-URL", "ARM-GO-AMD64-ONLY"):
        assert rule_id in proc.stdout


def test_version() -> None:
    proc = run_cli("--version")
    assert proc.returncode == 0 and proc.stdout.startswith("armscan ")


def test_no_network_no_writes_outside_outputs(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(DEMO, tree)
    before = {p: p.stat().st_mtime_ns for p in tree.rglob("*")}
    env = {**os.environ, "HOME": str(tmp_path / "home"), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = run_cli("scan", str(tree), "--quiet", "--offline", "--no-index", cwd=tmp_path, env=env)
    assert proc.returncode == 1
    assert {p: p.stat().st_mtime_ns for p in tree.rglob("*")} == before
    # the only write besides outputs: the marker that these rule files passed validation, in armscan's cache
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache", "tree"]
    written = {p.relative_to(tmp_path / "cache").parts[:2] for p in (tmp_path / "cache").rglob("*") if p.is_file()}
    assert written == {("armscan", "validated-rules")}


def test_a_broken_installation_exits_3_with_one_line() -> None:
    code = ("import sys; sys.modules['semantic_version'] = None; sys.argv = ['armscan', 'scan', '.']; "
            "from armscan.entry import main; main()")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 3
    assert proc.stderr.splitlines() == ["error: cannot start: ModuleNotFoundError: import of semantic_version "
                                        "halted; None in sys.modules (is the installation complete?)"]
