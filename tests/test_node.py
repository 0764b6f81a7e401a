"""Node: lock files pinning linux-x64-only binary packages, and native modules in node_modules."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tests.conftest import BIN, scan

PACKAGE_LOCK = {
    "name": "app", "lockfileVersion": 3, "requires": True,
    "packages": {
        "": {"name": "app", "dependencies": {"esbuild": "^0.19.0", "sharp": "^0.33.0"}},
        "node_modules/esbuild": {"version": "0.19.12", "optionalDependencies": {"@esbuild/linux-x64": "0.19.12"}},
        "node_modules/@esbuild/linux-x64": {"version": "0.19.12", "cpu": ["x64"], "os": ["linux"], "optional": True},
        "node_modules/@img/sharp-linux-x64": {"version": "0.33.2", "cpu": ["x64"], "os": ["linux"], "optional": True},
        "node_modules/@img/sharp-linux-arm64": {"version": "0.33.2", "cpu": ["arm64"], "os": ["linux"],
                                                "optional": True},
    },
}


def test_package_lock_x64_only_platform_package(tmp_path: Path) -> None:
    text = json.dumps(PACKAGE_LOCK, indent=2)
    (tmp_path / "package-lock.json").write_text(text)
    result = scan(tmp_path, display="")
    line = next(n for n, row in enumerate(text.splitlines(), start=1) if '"node_modules/@esbuild/linux-x64"' in row)
    assert [(f.rule_id, f.location.path, f.location.line) for f in result.findings] == [
        ("ARM-NODE-LOCK-X64-ONLY", "package-lock.json", line)]
    assert result.findings[0].message.startswith("@esbuild/linux-x64 is locked for linux x64 and no linux arm64 "
                                                 "build (@esbuild/linux-arm64) is in the lock")


def test_native_module_in_node_modules_and_broken_lock(tmp_path: Path) -> None:
    module = tmp_path / "node_modules" / "fastthing" / "build" / "Release"
    module.mkdir(parents=True)
    shutil.copy(BIN / "libmix-x86_64.so", module / "fastthing.node")
    (tmp_path / "package-lock.json").write_text("{ not json")
    result = scan(tmp_path, display="", use_ignore_files=False)
    assert [(f.rule_id, f.location.path) for f in result.findings] == [
        ("ARM-BIN-ELF-X86", "node_modules/fastthing/build/Release/fastthing.node")]
