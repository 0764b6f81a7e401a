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
from armscan.sources.confined import RefusedFile, read_confined

LOCK_NAMES = frozenset({"poetry.lock", "uv.lock", "pipfile.lock", "pylock.toml"})
MAX_SIZE = 32 * 1024 * 1024


def is_lockfile(name: str) -> bool:
    lowered = name.lower()
    return lowered in LOCK_NAMES or (lowered.startswith("pylock.") and lowered.endswith(".toml"))


def read_lockfile(path: Path, display: str, root: str | None = None) -> RequirementSet:
    result = RequirementSet()
    try:
        raw = read_confined(path, root, MAX_SIZE)
        text = raw.decode("utf-8", "replace")
        data = json.loads(text) if path.name.lower() == "pipfile.lock" else tomllib.loads(text)
    except RefusedFile as e:
        result.skipped.append(Skipped(display, e.reason, f"lock file not read: {e.detail}"))
        return result
    except (OSError, ValueError, tomllib.TOMLDecodeError) as e:
        result.skipped.append(Skipped(display, SkipReason.MALFORMED, f"lock file unreadable: {e}"))
        return result
    except RecursionError:
        result.skipped.append(Skipped(display, SkipReason.MALFORMED, "lock file unreadable: nested too deeply"))
        return result
    try:
        entries = _typed(_entries(path.name.lower(), data))
    except (KeyError, TypeError, AttributeError, ValueError) as e:
        result.skipped.append(Skipped(display, SkipReason.MALFORMED, f"lock file not in the expected form: {e}"))
        return result
    lines = _name_lines(text)
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
        result.requirements.append(TopRequirement(requirement, display, lines.get(name.lower(), 1), tuple(hashes)))
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


def _typed(entries: list[Entry]) -> list[Entry]:
    """The entries, when every field has the type a lock gives it (`name = 1` is a malformed lock)."""
    for name, version, _deps, marker, hashes in entries:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a package name is {name!r}, not a name")
        if not isinstance(version, (str, type(None))) or not isinstance(marker, (str, type(None))):
            raise TypeError(f"{name}: the version or marker is not a string")
        if not all(isinstance(h, str) for h in hashes):
            raise TypeError(f"{name}: a hash is not a string")
    return entries


_NAME_LINE = re.compile(r'^[ \t]*(?:name[ \t]*=[ \t]*)?"([^"\n]+)"', re.MULTILINE)


def _name_lines(text: str) -> dict[str, int]:
    """The first line each package name is written on (`name = "x"`, or a Pipfile.lock key), lower-cased, found
    in one pass whatever the number of packages."""
    found: dict[str, int] = {}
    line, at = 1, 0
    for match in _NAME_LINE.finditer(text):
        line += text.count("\n", at, match.start())
        at = match.start()
        found.setdefault(match.group(1).lower(), line)
    return found
