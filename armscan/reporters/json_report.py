"""The versioned JSON result; armscan/schemas/result.schema.json describes it."""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from armscan.model import ScanResult
from armscan.reporters.summary import summarize

SCHEMA_VERSION = "1.0"


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def to_document(result: ScanResult) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "armscan", "version": result.tool_version},
        "rule_packs": _plain(result.rule_packs),
        "started_at": result.started_at,
        "inputs": list(result.inputs),
        "complete": result.complete,
        "errors": list(result.errors),
        "summary": summarize(result),
        "stats": _plain(result.stats),
        "findings": _plain(result.findings),
        "artifacts": _plain(result.artifacts),
        "skipped": _plain(result.skipped),
    }


def render(result: ScanResult) -> str:
    return json.dumps(to_document(result), indent=2, ensure_ascii=False) + "\n"
