"""`pip install .` (not editable) ships the rules and templates: build the wheel, install it in a fresh venv, scan."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import DEMO, REPO


def test_built_wheel_carries_data_and_scans_in_a_fresh_venv(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(REPO)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("armscan-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "armscan/_data/rules/pack.yaml" in names
    assert "armscan/_data/rules/c/x86-intrinsics.yaml" in names
    assert "armscan/_data/templates/report.html.j2" in names
    assert "armscan/schemas/result.schema.json" in names

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    pip = venv / "bin" / "pip"
    subprocess.run([str(pip), "install", "-q", str(wheel)], check=True, capture_output=True, timeout=600)
    out = tmp_path / "r.json"
    proc = subprocess.run([str(venv / "bin" / "armscan"), "scan", str(DEMO), "--json", str(out), "--quiet",
                           "--offline", "--no-index", "--html", str(tmp_path / "r.html")],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["rule_packs"][0]["rules"] >= 20
    assert {f["rule_id"] for f in doc["findings"]} >= {"ARM-C-INTRIN-CALL", "ARM-BIN-ELF-X86", "ARM-ASM-X86-FILE"}
    # The installed copy must read its own data, not the checkout's.
    located = subprocess.run([str(venv / "bin" / "python"), "-c",
                              "from armscan.resources import rules_dir; print(rules_dir())"],
                             capture_output=True, text=True, check=True, cwd=tmp_path).stdout.strip()
    assert located.startswith(str(venv)) and located.endswith("_data/rules")
