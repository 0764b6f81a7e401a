"""Lock files (poetry.lock, uv.lock, Pipfile.lock, pylock.toml) as pinned requirements.

Where a lock records the dependency graph (Poetry, uv), only its roots become top-level requirements and every
other entry pins a version as a constraint, so findings carry the chain from the root that pulls a package in.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import tomllib
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from armscan.model import Skipped, SkipReason
from armscan.python.requirements import RequirementSet, TopRequirement

LOCK_NAMES = frozenset({"poetry.lock", "uv.lock", "pipfile.lock", "pylock.toml"})
MAX_SIZE = 32 * 1024 * 1024


def is_lockfile(name: str) -> bool:
    lowered = name.lower()
    return lowered in LOCK_NAMES or (lowered.startswith("pylock.") and lowered.endswith(".toml"))


def read_lockfile(path: Path, display: str) -> RequirementSet:
    result = RequirementSet()
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_SIZE:
            result.skipped.append(Skipped(display, SkipReason.TOO_LARGE, f"lock file over {MAX_SIZE} bytes"))
            return result
        text = raw.decode("utf-8", "replace")
        data = json.loads(text) if path.name.lower() == "pipfile.lock" else tomllib.loads(text)
    except (OSError, ValueError, tomllib.TOMLDecodeError) as e:
        result.skipped.append(Skipped(display, SkipReason.MALFORMED, f"lock file unreadable: {e}"))
        return result
    try:
        entries = _entries(path.name.lower(), data)
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        result.skipped.append(Skipped(display, SkipReason.MALFORMED, f"lock file not in the expected form: {e}"))
        return result
    lines = text.splitlines()
    depended = {dep for _, _, deps, _, _ in entries for dep in deps}
    has_graph = any(deps for _, _, deps, _, _ in entries)
    for name, version, _deps, marker, hashes in entries:
        canonical = str(canonicalize_name(name))
        if not version:
            result.skipped.append(Skipped(display, SkipReason.NOT_FOUND,
                                          f"{name} has no version in the lock (path, VCS or URL source)"))
            continue
        try:
            result.constraints[canonical] = SpecifierSet(f"=={version}")
        except InvalidSpecifier:
            result.skipped.append(Skipped(display, SkipReason.MALFORMED,
                                          f"{name}: version {version!r} in the lock is not a valid version"))
            continue
        if has_graph and canonical in depended:
            continue
        text_req = f"{name}=={version}" + (f"; {marker}" if marker else "")
        try:
            requirement = Requirement(text_req)
        except InvalidRequirement as e:
            result.skipped.append(Skipped(display, SkipReason.MALFORMED, f"{name}: {e}"))
            continue
        result.requirements.append(TopRequirement(requirement, display, _line_of(lines, name), tuple(hashes)))
    return result


Entry = tuple[str, str | None, set[str], str | None, list[str]]


def _entries(kind: str, data: dict[str, Any]) -> list[Entry]:
    if kind == "pipfile.lock":
        found: list[Entry] = []
        for section in ("default", "develop"):
            for name, info in (data.get(section) or {}).items():
                version = str(info.get("version", "")).lstrip("=") or None
                found.append((name, version, set(), info.get("markers"), list(info.get("hashes", []))))
        return found
    if kind in {"poetry.lock", "uv.lock"}:
        found = []
        for package in data.get("package", []):
            deps_raw = package.get("dependencies", {})
            deps = ({str(canonicalize_name(d)) for d in deps_raw} if isinstance(deps_raw, dict)
                    else {str(canonicalize_name(d["name"])) for d in deps_raw})
            if kind == "uv.lock" and isinstance(package.get("source"), dict) and (
                    "editable" in package["source"] or "virtual" in package["source"]):
                continue  # the project itself
            hashes = [w["hash"] for w in package.get("wheels", []) if "hash" in w]
            if isinstance(package.get("sdist"), dict) and "hash" in package["sdist"]:
                hashes.append(package["sdist"]["hash"])
            found.append((package["name"], package.get("version"), deps, None, hashes))
        return found
    found = []
    for package in data.get("packages", []):  # pylock.toml (PEP 751)
        hashes = [f"{algo}:{value}" for wheel in package.get("wheels", [])
                  for algo, value in (wheel.get("hashes") or {}).items()]
        sdist = package.get("sdist") or {}
        hashes += [f"{algo}:{value}" for algo, value in (sdist.get("hashes") or {}).items()]
        found.append((package["name"], package.get("version"), set(), package.get("marker"), hashes))
    return found


def _line_of(lines: list[str], name: str) -> int:
    pattern = re.compile(rf'^\s*(?:name\s*=\s*)?"{re.escape(name)}"', re.IGNORECASE)
    for number, line in enumerate(lines, start=1):
        if pattern.search(line):
            return number
    return 1
