"""The pre-commit hook and the GitHub Action, as shipped: their commands run against real files."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import yaml

from tests.conftest import REPO, armscan_exe


def test_pre_commit_hook_command_blocks_x86_files_and_passes_clean_ones(tmp_path: Path) -> None:
    hooks = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    hook = next(h for h in hooks if h["id"] == "armscan")
    assert hook["pass_filenames"] is True and hook["language"] == "python"
    entry = shlex.split(hook["entry"])
    assert entry[0] == "armscan"
    command = [armscan_exe(), *entry[1:]]
    (tmp_path / "fast.c").write_text("#include <immintrin.h>\n__m256 v;\n")
    (tmp_path / "plain.c").write_text("int add(int a, int b) { return a + b; }\n")
    (tmp_path / "Makefile").write_text("CFLAGS += -O2\n")
    staged = subprocess.run([*command, "fast.c", "plain.c"], cwd=tmp_path, capture_output=True, text=True)
    assert staged.returncode == 1 and staged.stdout == ""
    clean = subprocess.run([*command, "plain.c", "Makefile"], cwd=tmp_path, capture_output=True, text=True)
    assert clean.returncode == 0 and clean.stdout == "" and clean.stderr == ""


def test_action_scan_step_runs_as_written(tmp_path: Path) -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text())
    step = next(s for s in action["runs"]["steps"] if s.get("id") == "scan")
    for name in ("path", "fail-on", "baseline", "args", "sarif"):
        assert name in action["inputs"]
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "x.c").write_text("#include <immintrin.h>\n")
    output = tmp_path / "github_output"
    env = {**os.environ, "ARMSCAN_PATH": "src", "ARMSCAN_FAIL_ON": "high", "ARMSCAN_BASELINE": "",
           "ARMSCAN_SARIF": "out.sarif", "ARMSCAN_ARGS": "--offline --no-index", "GITHUB_OUTPUT": str(output),
           "PATH": f"{Path(armscan_exe()).parent}{os.pathsep}{os.environ['PATH']}"}
    subprocess.run(["bash", "-c", step["run"]], cwd=tmp_path, env=env, check=True, capture_output=True)
    assert output.read_text() == "exit-code=1\n"
    assert (tmp_path / "out.sarif").is_file() and (tmp_path / "armscan-summary.md").read_text().startswith("## armscan")
