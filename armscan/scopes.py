"""Which findings are about the product, and which about code that does not ship (tests, benchmarks, fuzzers,
examples, docs, reference copies, CI), by the path's folders and file name. The rules are data, in
rules/knowledge/scopes.yaml.

Only the path relative to the scanned folder is looked at, once, component by component: linear in its length.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from armscan.model import PRODUCT, Finding, Skipped
from armscan.resources import rules_dir
from armscan.rules_engine.loader import load_validated

_SEPARATORS = re.compile(r"[/!\\]")


@dataclass(frozen=True)
class ScopeRules:
    labels: dict[str, str]
    folders: dict[tuple[str, ...], str]  # lower-case folder names in a row -> scope
    longest: int  # the most folders one entry names
    files: tuple[tuple[re.Pattern[str], str], ...]
    vendored: frozenset[str]
    vendored_scope: str
    vendored_applies: frozenset[str]


@lru_cache(maxsize=1)
def rules() -> ScopeRules:
    data: dict[str, Any] = load_validated({"knowledge/scopes.yaml": rules_dir() / "knowledge" / "scopes.yaml"},
                                          "scopes.schema.json", "scope knowledge")["knowledge/scopes.yaml"]
    labels = {name: str(spec["label"]) for name, spec in data["scopes"].items()}
    vendored = data["vendored"]
    labels[vendored["scope"]] = str(vendored["label"])
    folders = {tuple(f.lower().split("/")): name for name, spec in data["scopes"].items() for f in spec["folders"]}
    files = tuple((re.compile("|".join(fnmatch.translate(p) for p in spec["files"])), name)
                  for name, spec in data["scopes"].items() if spec["files"])
    return ScopeRules(labels, folders, max(map(len, folders), default=1), files,
                      frozenset(f.lower() for f in vendored["folders"]), str(vendored["scope"]),
                      frozenset(vendored["applies-to"]))


def label(scope: str) -> str:
    return "Product" if scope == PRODUCT else rules().labels.get(scope, scope)


def classify(relative: str) -> str:
    """The scope of a path relative to the scanned folder (archive members separated by `!`)."""
    known = rules()
    parts = [p for p in _SEPARATORS.split(relative) if p and p != "."]
    if not parts:
        return PRODUCT
    folders = [p.lower() for p in parts[:-1]]
    scope = None
    for i in range(len(folders)):
        for width in range(1, min(known.longest, len(folders) - i) + 1):
            scope = known.folders.get(tuple(folders[i:i + width]))
            if scope is not None:
                break
        if scope is not None:
            break
    else:
        i = len(folders)
        name = parts[-1]
        scope = next((s for pattern, s in known.files if pattern.match(name)), None)
    if scope is None:
        return PRODUCT
    if scope in known.vendored_applies and any(f in known.vendored for f in folders[:i]):
        return known.vendored_scope
    return scope


def apply_scopes(findings: list[Finding], inputs: tuple[str, ...]) -> list[Finding]:
    """Each finding with the scope of its path below the scanned input it is in."""
    from armscan.gate import relative_path

    marked = []
    known: dict[str, str] = {}  # many findings share a path
    for finding in findings:
        path = finding.location.path
        if path not in known:
            known[path] = classify(relative_path(path, inputs))
        scope = known[path]
        marked.append(finding if scope == finding.scope else replace(finding, scope=scope))
    return marked


def apply_skipped_scopes(skipped: list[Skipped], inputs: tuple[str, ...]) -> list[Skipped]:
    """What was not checked, with its scope: outside the product it does not hold back the verdict."""
    from armscan.gate import relative_path

    marked = []
    for record in skipped:
        head, _, line = record.path.rpartition(":")  # "Dockerfile:3": a line of a file
        scope = classify(relative_path(head if head and line.isdigit() else record.path, inputs))
        marked.append(record if scope == record.scope else replace(record, scope=scope))
    return marked
