"""The versioned JSON result; armscan/schemas/result.schema.json describes it.

Rule metadata (title, advice per port status, references) is written once in `rules`; each finding carries
what is specific to it. Results of hundreds of thousands of findings stay a manageable size.
"""

from __future__ import annotations

import dataclasses
import enum
import json
from typing import Any

from armscan.model import Artifact, Finding, ScanResult
from armscan.plan import build_plan
from armscan.reporters.summary import summarize

SCHEMA_VERSION = "1.6"


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _finding(f: Finding) -> dict[str, Any]:
    loc = f.location
    doc: dict[str, Any] = {
        "rule_id": f.rule_id,
        "severity": f.severity.value,
        "confidence": f.confidence.value,
        "effort": f.effort.value,
        "work": f.work.value,
        "status": f.status.value,
        "suppressed": f.suppressed,
        "scope": f.scope,
        "message": f.message,
        "location": {"path": loc.path, "line": loc.line, "column": loc.column, "end_column": loc.end_column,
                     "snippet": loc.snippet, "match": loc.match},
    }
    if f.places != 1:
        doc["places"] = f.places
    return doc


def _artifact(a: Artifact) -> dict[str, Any]:
    doc: dict[str, Any] = _plain(a)
    return doc


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
        "rules": {
            r.id: {
                "title": r.title,
                "severity": r.severity.value,
                "confidence": r.confidence.value,
                "effort": r.effort.value,
                "work": r.work.value,
                "advice": {status.value: text for status, text in r.advice},
                "references": list(r.references),
            }
            for r in result.rules
        },
        "findings": [_finding(f) for f in result.findings],
        "artifacts": [_artifact(a) for a in result.artifacts],
        "packages": _plain(result.packages),
        "targets": list(result.targets),
        "images": _plain(result.images),
        "plan": _plain(build_plan(result)),
        "cpu_targets": [list(t) for t in result.cpu_targets],
        "compile": _plain(result.compile),
        "skipped": _plain(result.skipped),
    }


def render(result: ScanResult) -> str:
    """Compact JSON: the C encoder only runs without indentation, and results can be large. Use jq to read."""
    return json.dumps(to_document(result), ensure_ascii=False, separators=(",", ":")) + "\n"
