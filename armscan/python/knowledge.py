"""The Python knowledge base in rules/python/packages.yaml: build needs and alternatives per package."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import yaml
from packaging.utils import canonicalize_name

from armscan.resources import load_yaml, rules_dir


@dataclass(frozen=True)
class PackageKnowledge:
    build: tuple[str, ...] = ()
    build_rpm: tuple[str, ...] = ()
    alternatives: tuple[str, ...] = ()


class KnowledgeError(Exception):
    pass


@lru_cache(maxsize=1)
def load() -> dict[str, PackageKnowledge]:
    path = rules_dir() / "knowledge" / "python-packages.yaml"
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))["packages"]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
        raise KnowledgeError(f"{path.name}: unreadable: {e}") from e
    known = {}
    for name, entry in data.items():
        if not isinstance(entry, dict) or not set(entry) <= {"build", "build_rpm", "alternatives"}:
            raise KnowledgeError(f"{path.name}: entry {name!r} must have only build, build_rpm, alternatives")
        known[str(canonicalize_name(name))] = PackageKnowledge(
            build=tuple(map(str, entry.get("build", []))),
            build_rpm=tuple(map(str, entry.get("build_rpm", []))),
            alternatives=tuple(map(str, entry.get("alternatives", []))),
        )
    return known


def about(name: str) -> PackageKnowledge:
    return load().get(str(canonicalize_name(name)), PackageKnowledge())
