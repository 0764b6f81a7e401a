"""Read Node lock files into one shape: the packages they pin (name, version, line) and who requires whom.

package-lock.json / npm-shrinkwrap.json (lockfileVersion 1, 2 and 3), yarn.lock (classic v1 and Berry) and
pnpm-lock.yaml (v5 to v9). Lines are found with incremental searches of the text, so a lock of tens of
thousands of packages costs one pass.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

LOCK_NAMES = frozenset({"package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml"})
_DEPENDENCY_FIELDS = ("dependencies", "optionalDependencies", "devDependencies")


class LockError(ValueError):
    """The lock file is not in a shape this reader knows."""


@dataclass(frozen=True)
class LockedPackage:
    name: str
    version: str | None
    line: int
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lock:
    packages: tuple[LockedPackage, ...]
    # The project's own dependencies; empty when the format does not say (package-lock v1)
    roots: tuple[str, ...] = ()
    _parents: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    def chain(self, name: str) -> tuple[str, ...]:
        """The shortest path from one of the project's own dependencies down to `name` (both ends included)."""
        if not self._parents:
            self._parents.update(_parents(self))
        if name not in self._parents:
            return ()
        path = [name]
        while self._parents[path[-1]] != "" and len(path) < 64:
            path.append(self._parents[path[-1]])
        return tuple(reversed(path))


def _parents(lock: Lock) -> dict[str, str]:
    requires: dict[str, set[str]] = {}
    required: set[str] = set()
    for package in lock.packages:
        requires.setdefault(package.name, set()).update(package.requires)
        required.update(package.requires)
    roots = lock.roots or tuple(sorted(n for n in requires if n not in required))
    parents = dict.fromkeys(roots, "")
    queue = deque(roots)
    while queue:
        current = queue.popleft()
        for child in sorted(requires.get(current, ())):
            if child not in parents:
                parents[child] = current
                queue.append(child)
    return parents


class _Lines:
    """Line numbers of needles that appear in file order, searching on from the last hit."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.at = 0
        self.line = 1

    def of(self, needle: str) -> int:
        found = self.text.find(needle, self.at)
        if found < 0:
            found = self.text.find(needle)
            if found < 0:
                return 0
            return self.text.count("\n", 0, found) + 1
        self.line += self.text.count("\n", self.at, found)
        self.at = found
        return self.line


def read_lock(name: str, text: str) -> Lock:
    if name in ("package-lock.json", "npm-shrinkwrap.json"):
        return _npm(text)
    if name == "yarn.lock":
        return _yarn(text)
    if name == "pnpm-lock.yaml":
        return _pnpm(text)
    raise LockError(f"{name} is not a lock file name")


def _names(value: Any) -> tuple[str, ...]:
    return tuple(str(k) for k in value) if isinstance(value, dict) else ()


def _requires(entry: dict[str, Any], *fields: str) -> tuple[str, ...]:
    return tuple(name for f in fields for name in _names(entry.get(f)))


def _npm(text: str) -> Lock:
    try:
        data = json.loads(text)
    except RecursionError as e:
        raise LockError("not a lock file: JSON nested too deeply") from e
    except ValueError as e:
        raise LockError(f"not JSON: {e}") from e
    if not isinstance(data, dict):
        raise LockError("the top level is not an object")
    lines = _Lines(text)
    packages = data.get("packages")
    if isinstance(packages, dict):  # lockfileVersion 2 and 3
        found: list[LockedPackage] = []
        roots: list[str] = []
        for key, entry in packages.items():
            if not isinstance(entry, dict):
                continue
            deps = _requires(entry, "dependencies", "optionalDependencies", "peerDependencies")
            if "node_modules/" not in key:  # the project itself, or one of its workspaces
                roots.extend(_requires(entry, *_DEPENDENCY_FIELDS))
                continue
            if entry.get("link"):
                continue
            name = str(entry.get("name") or key.rsplit("node_modules/", 1)[-1])
            version = entry.get("version")
            found.append(LockedPackage(name, str(version) if version else None, lines.of(f'"{key}"'), deps))
        return Lock(tuple(found), tuple(dict.fromkeys(roots)))
    dependencies = data.get("dependencies")
    if isinstance(dependencies, dict):  # lockfileVersion 1: nested trees of dependencies
        return Lock(tuple(_npm_v1(dependencies, lines)))
    return Lock(())


def _npm_v1(dependencies: dict[str, Any], lines: _Lines, depth: int = 0) -> Iterator[LockedPackage]:
    if depth > 64:
        return
    for name, entry in dependencies.items():
        if not isinstance(entry, dict):
            continue
        version = entry.get("version")
        line = lines.of(f'"{name}": {{')
        yield LockedPackage(str(name), str(version) if version else None, line, _names(entry.get("requires")))
        nested = entry.get("dependencies")
        if isinstance(nested, dict):
            yield from _npm_v1(nested, lines, depth + 1)


_YARN_SPEC = re.compile(r"^(?:@[\w.~-]+/)?[\w.~-]+@.*$")
_YARN_DEPENDENCY = re.compile(r'^\s{4}"?(@?[^\s":@]+(?:/[^\s":@]+)?)"?:?\s')


def _spec_name(spec: str) -> str:
    spec = spec.strip().strip('"').strip("'")
    at = spec.find("@", 1)
    return spec[:at] if at > 0 else spec


def _yarn(text: str) -> Lock:
    found: list[LockedPackage] = []
    roots: list[str] = []
    name: str | None = None
    version: str | None = None
    line = 0
    requires: list[str] = []
    in_dependencies = False
    workspace = False

    def flush() -> None:
        if name is None:
            return
        if workspace:
            roots.extend(requires)
        else:
            found.append(LockedPackage(name, version, line, tuple(requires)))

    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        if not raw[0].isspace():
            flush()
            key = raw.rstrip().rstrip(":")
            first = key.split(",")[0].strip().strip('"')
            name, version, line, requires, in_dependencies = _spec_name(first), None, number, [], False
            workspace = "@workspace:" in key
            if name == "__metadata":
                name = None
            elif not _YARN_SPEC.match(first):
                raise LockError(f"line {number} is not a yarn.lock entry")
            continue
        stripped = raw.strip()
        if raw.startswith("    ") and in_dependencies:
            match = _YARN_DEPENDENCY.match(raw)
            if match:
                requires.append(match.group(1))
            continue
        in_dependencies = stripped.rstrip(":") in ("dependencies", "optionalDependencies")
        if stripped.startswith("version"):
            version = stripped[len("version"):].lstrip(":").strip().strip('"')
    flush()
    if not found and text.strip() and not text.lstrip().startswith("#"):
        raise LockError("no package entries")
    return Lock(tuple(found), tuple(dict.fromkeys(roots)))


_PNPM_V5_KEY = re.compile(r"^(?P<name>(?:@[^/@]+/)?[^/@]+)/(?P<version>\d[^_/(]*)")


def _pnpm_key(key: str) -> tuple[str, str | None]:
    """`/name/1.2.3_peer@1` (v5), `/name@1.2.3(peer@1)` (v6), `name@1.2.3(peer@1)` (v9) -> (name, version)."""
    key = key.lstrip("/")
    v5 = _PNPM_V5_KEY.match(key)
    if v5:
        return v5.group("name"), v5.group("version")
    key = key.split("(", 1)[0]
    at = key.rfind("@")
    return (key[:at], key[at + 1:] or None) if at > 0 else (key, None)


_YAML_KEY = re.compile(r"""^(?:'(?P<single>[^']*)'|"(?P<double>[^"]*)"|(?P<plain>.*?)):(?:\s|$)""")


def _yaml_entry(body: str) -> tuple[str, str] | None:
    """The key of a `key: value` line, and its value with any comment dropped."""
    match = _YAML_KEY.match(body)
    if match is None:
        return None
    key = next(g for g in (match.group("single"), match.group("double"), match.group("plain")) if g is not None)
    return key, body[match.end():].split(" #", 1)[0].strip()


_PNPM_SECTIONS = frozenset({"packages", "snapshots", "importers", *_DEPENDENCY_FIELDS})
_FLOW_OR_NODE = ("{", "[", "-", "?", "&", "*", "!", "|", ">", "%")


def _pnpm(text: str) -> Lock:
    """pnpm writes its lock in one fixed block layout (two spaces a level), read here line by line: a YAML
    parser takes ten times as long on a large lock. The same data in any other valid YAML layout (flow style,
    other indentation, JSON) is read by a YAML parser."""
    lock = _pnpm_lines(text)
    return lock if lock is not None else _pnpm_yaml(text)


def _pnpm_lines(text: str) -> Lock | None:
    """The lock read line by line, or None when its layout is not the one pnpm writes."""
    if not re.search(r"^lockfileVersion:", text, re.MULTILINE):
        return None
    found: dict[tuple[str, str | None], tuple[int, list[str]]] = {}
    roots: list[str] = []
    section: str | None = None
    current: tuple[str, str | None] | None = None
    sub: str | None = None
    previous = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        body = raw.strip()
        if not body or body.startswith("#") or body == "---":
            continue
        indent = len(raw) - len(raw.lstrip(" "))
        entry = _yaml_entry(body)
        if entry is None or body.startswith(_FLOW_OR_NODE) or indent % 2 or indent > previous + 2 or "\t" in raw:
            return None
        key, value = entry
        if value.startswith(("&", "*", "!")):
            return None  # anchors, aliases and tags: only a YAML parser knows what they stand for
        previous = indent
        if indent == 0:
            section, current, sub = key, None, None
            if key in _PNPM_SECTIONS and value not in ("", "{}"):
                return None  # a section written as a flow mapping
        elif section in ("packages", "snapshots"):
            if indent == 2:
                if value not in ("", "{}"):
                    return None
                current, sub = _pnpm_key(key), None
                if section == "packages":
                    found.setdefault(current, (number, []))
            elif indent == 4:
                sub = key
                if sub in _DEPENDENCY_FIELDS and value not in ("", "{}"):
                    return None
            elif indent == 6 and sub in ("dependencies", "optionalDependencies") and current in found:
                found[current][1].append(key)
        elif section == "importers":  # v6 and later: one block a workspace project
            if indent == 4:
                sub = key
                if sub in _DEPENDENCY_FIELDS and value not in ("", "{}"):
                    return None
            elif indent == 6 and sub in _DEPENDENCY_FIELDS:
                roots.append(key)
        elif section in _DEPENDENCY_FIELDS and indent == 2:  # v5 and v6 without workspaces
            roots.append(key)
    packages = tuple(LockedPackage(name, version, line, tuple(dict.fromkeys(requires)))
                     for (name, version), (line, requires) in found.items())
    return Lock(packages, tuple(dict.fromkeys(roots)))


def _pnpm_yaml(text: str) -> Lock:
    import yaml

    from armscan.resources import load_yaml

    try:
        data = load_yaml(text)
    except RecursionError as e:
        raise LockError("not a lock file: YAML nested too deeply") from e
    except yaml.YAMLError as e:
        raise LockError(f"not YAML: {' '.join(str(e).split())[:200]}") from e
    if not isinstance(data, dict) or "lockfileVersion" not in data:
        raise LockError("no lockfileVersion: not a pnpm lock file")
    lines = _Lines(text)
    found: dict[tuple[str, str | None], tuple[int, list[str]]] = {}
    for section in ("packages", "snapshots"):
        entries = data.get(section)
        for key, entry in entries.items() if isinstance(entries, dict) else ():
            name_version = _pnpm_key(str(key))
            if section == "packages":
                found.setdefault(name_version, (lines.of(str(key)) or 1, []))
            if name_version in found and isinstance(entry, dict):
                found[name_version][1].extend(_requires(entry, "dependencies", "optionalDependencies"))
    roots: list[str] = []
    importers = data.get("importers")
    projects = list(importers.values()) if isinstance(importers, dict) else [data]
    for project in projects:
        if isinstance(project, dict):
            roots.extend(_requires(project, *_DEPENDENCY_FIELDS))
    packages = tuple(LockedPackage(name, version, line, tuple(dict.fromkeys(requires)))
                     for (name, version), (line, requires) in found.items())
    return Lock(packages, tuple(dict.fromkeys(roots)))
