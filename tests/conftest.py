from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from armscan.limits import Limits
from armscan.model import ScanResult
from armscan.rules_engine.loader import RuleSet, load_rules
from armscan.scan import ScanOptions, scan_paths

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "fixtures"
BIN = FIXTURES / "bin"
DEMO = FIXTURES / "demo"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("ARMSCAN_ONLINE") == "1":
        return
    skip = pytest.mark.skip(reason="needs the internet; set ARMSCAN_ONLINE=1 to run")
    for item in items:
        if "online" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def ruleset() -> RuleSet:
    return load_rules()


def scan(path: Path | str, ruleset: RuleSet | None = None, display: str | None = None, **options: Any) -> ScanResult:
    rules = ruleset or load_rules()
    limits = options.pop("limits", Limits())
    opts = ScanOptions(limits=limits, jobs=options.pop("jobs", 1), **options)
    return scan_paths([(str(path), display if display is not None else str(path))], rules, opts)


def armscan_exe() -> str:
    found = shutil.which("armscan", path=os.path.dirname(sys.executable)) or shutil.which("armscan")
    assert found, "the armscan command is not installed"
    return found


def run_cli(*args: str, cwd: Path | None = None, **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run([armscan_exe(), *args], capture_output=True, text=True, cwd=cwd, timeout=300, **kw)


def cli_json(*args: str, cwd: Path | None = None) -> tuple[int, dict[str, Any]]:
    proc = run_cli(*args, "--json", "-", "--quiet", cwd=cwd)
    return proc.returncode, json.loads(proc.stdout)
