"""Where the shipped data lives: inside the wheel, or at the top of a source checkout."""

from __future__ import annotations

from pathlib import Path

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
