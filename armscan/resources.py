"""Where the shipped data lives: inside the wheel, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_PACKAGE = Path(__file__).resolve().parent


def _data_dir(wheel_name: str, checkout_path: str) -> Path:
    installed = _PACKAGE / "_data" / wheel_name
    if installed.is_dir():
        return installed
    return _PACKAGE.parent / checkout_path


def rules_dir() -> Path:
    return _data_dir("rules", "rules")


def templates_dir() -> Path:
    return _data_dir("templates", "reports/templates")


def schema_path(name: str) -> Path:
    return _PACKAGE / "schemas" / name


def load_yaml(text: str) -> Any:
    """Safe YAML loading, with libyaml's C parser when PyYAML has it (ten times faster)."""
    return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
