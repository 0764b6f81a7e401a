"""Project configuration: `[tool.armscan]` in pyproject.toml, or a `.armscan.toml` of the same keys.

It is looked for in the scanned folder, then in the current folder; `--config FILE` names one. Command-line
flags win over it. Unknown keys and wrong types are errors, so that a typo never silently changes the gate.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomllib

from armscan.sources.confined import inside, read_confined, tree_root

MAX_SETTINGS = 1 << 20

FAIL_ON = ("blocker", "high", "medium", "low", "none")
_STRING_LISTS = ("exclude", "disable", "extra-index-url", "insecure-registry", "find-links", "targets")
SCOPES = ("product", "all")
_STRINGS = ("fail-on", "scope", "baseline", "index-url", "python-version", "glibc", "musl", "os")
_BOOLS = ("offline", "no-index", "no-ignore", "audit")
KEYS = frozenset((*_STRING_LISTS, *_STRINGS, *_BOOLS))


class ConfigError(Exception):
    """A configuration file that is unreadable or says something armscan does not understand."""


@dataclass(frozen=True)
class Config:
    source: str | None
    values: dict[str, Any]
    root: str | None = None  # a settings file found in a scanned folder names nothing outside that folder

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def path(self, key: str) -> str | None:
        """A path value, taken relative to the configuration file's folder."""
        value = self.values.get(key)
        if value is None or self.source is None:
            return value
        return str(Path(self.source).parent / value)


EMPTY = Config(None, {})


def _validate(data: Any, source: str, root: str | None = None) -> Config:
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the armscan settings must be a table")
    unknown = sorted(set(data) - KEYS)
    if unknown:
        raise ConfigError(f"{source}: unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(KEYS))}")
    for key, value in data.items():
        if key in _STRING_LISTS and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            raise ConfigError(f"{source}: {key} must be a list of strings")
        if key in _STRINGS and not isinstance(value, str):
            raise ConfigError(f"{source}: {key} must be a string")
        if key in _BOOLS and not isinstance(value, bool):
            raise ConfigError(f"{source}: {key} must be true or false")
    if "fail-on" in data and data["fail-on"] not in FAIL_ON:
        raise ConfigError(f"{source}: fail-on must be one of {', '.join(FAIL_ON)}, not {data['fail-on']!r}")
    if "scope" in data and data["scope"] not in SCOPES:
        raise ConfigError(f"{source}: scope must be one of {', '.join(SCOPES)}, not {data['scope']!r}")
    config = Config(source, dict(data), root)
    baseline = config.path("baseline")
    if root is not None and baseline is not None and not inside(os.path.realpath(baseline), root):
        raise ConfigError(f"{source}: baseline names a file outside the folder the settings file is in")
    return config


def _read(path: Path, root: str | None = None) -> Any:
    try:
        return tomllib.loads(read_confined(path, root, MAX_SETTINGS).decode("utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: unreadable: {e}") from e
    except ValueError as e:  # TOMLDecodeError, or ValueError for an integer of thousands of digits
        raise ConfigError(f"{path}: not valid TOML: {e}") from e
    except RecursionError as e:  # tomllib recurses once a nested array or table
        raise ConfigError(f"{path}: not valid TOML: nested too deeply") from e


def load(explicit: Path | None, folders: list[Path]) -> Config:
    if explicit is not None:
        data = _read(explicit)
        table = data.get("tool", {}).get("armscan") if explicit.name == "pyproject.toml" else data
        return _validate(table if table is not None else {}, str(explicit))
    for folder in [*folders, Path.cwd()]:
        root = tree_root(folder)
        dotfile = folder / ".armscan.toml"
        if dotfile.exists() or dotfile.is_symlink():
            return _validate(_read(dotfile, root), str(dotfile), root)
        pyproject = folder / "pyproject.toml"
        if pyproject.is_file():
            try:
                data = _read(pyproject, root)
            except ConfigError:
                continue  # a project's broken pyproject.toml is a finding of the scan, not our configuration
            tool = data.get("tool", {})
            if isinstance(tool, dict) and "armscan" in tool:
                return _validate(tool["armscan"], f"{pyproject} [tool.armscan]", root)
    return EMPTY
