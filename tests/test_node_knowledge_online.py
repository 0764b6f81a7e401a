"""The Node knowledge base checked against the live npm registry with the npm client (ARMSCAN_ONLINE=1).

For each package: the first-arm64 release carries a linux-arm64 build (packed files or a declared optional
package) and the release before it does not; for `none`, the latest release carries none either.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from armscan.analyzers.nodenative import knowledge
from armscan.resources import rules_dir

pytestmark = pytest.mark.online
_LINUX_ARM64 = re.compile(r"linux(?:glibc|musl)?[-_/](?:arm64|aarch64)|linux-arm64v8")
_BUILD = re.compile(r"\.(?:node|so)(?:\.|$)")  # a built addon or library, not a source folder named for arm64
ENTRIES = yaml.safe_load((rules_dir() / "knowledge" / "node-packages.yaml").read_text())["packages"]


def _npm(*args: str, cwd: Path | None = None) -> Any:
    proc = subprocess.run(["npm", *args, "--json"], capture_output=True, text=True, timeout=300, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout) if proc.stdout.strip() else None


def _releases(name: str) -> list[str]:
    stable = [v for v in _npm("view", name, "versions") if re.fullmatch(r"\d+\.\d+\.\d+", v)]
    return sorted(stable, key=lambda v: tuple(int(p) for p in v.split(".")))


def _ships_arm64(name: str, version: str, registry: dict[str, str], tmp_path: Path) -> bool:
    if registry["check"] == "script":
        folder = tmp_path / version
        folder.mkdir()
        _npm("pack", f"{name}@{version}", cwd=folder)
        with tarfile.open(next(folder.glob("*.tgz"))) as archive:
            member = archive.extractfile(f"package/{registry['file']}")
            return member is not None and registry["contains"] in member.read().decode("utf-8", "replace")
    optional = _npm("view", f"{name}@{version}", "optionalDependencies") or {}
    packed = _npm("pack", f"{name}@{version}", "--dry-run", cwd=tmp_path)[0]["files"]
    return any(_LINUX_ARM64.search(n) for n in optional) or any(
        _LINUX_ARM64.search(f["path"]) and _BUILD.search(f["path"]) for f in packed)


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs the npm client")
@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e["name"])
def test_first_arm64_release_matches_the_registry(entry: dict[str, Any], tmp_path: Path) -> None:
    name, first, registry = entry["name"], str(entry["first-arm64"]), entry["registry"]
    releases = _releases(name)
    assert name in knowledge()
    if first == "none":
        assert not _ships_arm64(name, releases[-1], registry, tmp_path), f"{name} {releases[-1]} has linux-arm64"
        return
    assert first in releases
    assert _ships_arm64(name, first, registry, tmp_path), f"{name} {first} has no linux-arm64 build"
    before = releases[releases.index(first) - 1]
    assert not _ships_arm64(name, before, registry, tmp_path), f"{name} {before} already has linux-arm64"
