"""Node lock files (package-lock.json, yarn.lock, pnpm-lock.yaml): platform-specific packages pinned for
linux x64 with no linux arm64 sibling, e.g. `@esbuild/linux-x64` without `@esbuild/linux-arm64`. An install
on arm64 then finds no binary for its platform (npm skips the missing optional package, the tool fails).
"""

from __future__ import annotations

import re
from collections import defaultdict

from armscan.analyzers.nodelockfile import Lock
from armscan.analyzers.source import Hit, to_finding
from armscan.model import Finding
from armscan.rules_engine.loader import RuleSet

# "linux-x64", "linux-x64-gnu", "linux-x64-musl", "linux_x64", "linux-amd64"; and the arm64 equivalents
_PLATFORM = re.compile(r"(?P<os>linux|linuxmusl)[-_](?P<arch>x64|amd64|x86_64|arm64|aarch64)"
                       r"(?P<rest>(?:[-_](?:gnu|musl))?)$")
_X64 = {"x64", "amd64", "x86_64"}


def analyze(lock: Lock, display: str, ruleset: RuleSet) -> list[Finding]:
    rule = ruleset.variant("node", "lock-x64-only")
    if rule is None:
        return []
    families: dict[str, dict[str, list[tuple[str, int]]]] = defaultdict(lambda: defaultdict(list))
    lines: dict[str, int] = {}
    for locked in lock.packages:
        package = locked.name
        if package in lines:
            continue
        lines[package] = line = locked.line
        base = package.rsplit("/", 1)[-1]
        match = _PLATFORM.search(base)
        if match is None:
            continue
        prefix = package[: len(package) - len(base)] + base[: match.start()]
        family = f"{prefix}{match.group('os')}-*{match.group('rest')}"
        arch = "x64" if match.group("arch") in _X64 else "arm64"
        families[family][arch].append((package, line))
    findings = []
    for family, arches in sorted(families.items()):
        if "x64" in arches and "arm64" not in arches:
            package, line = arches["x64"][0]
            detail = (f"{package} is locked for linux x64 and no linux arm64 build "
                      f"({family.replace('*', 'arm64')}) is in the lock: on arm64 the install has no binary for "
                      "its platform.")
            hit = Hit(line=line or 1, column=1, end_column=None, snippet=package, match=package, detail=detail)
            findings.append(to_finding(rule, hit, display))
    return findings
