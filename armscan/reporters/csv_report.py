"""One row per finding, for spreadsheets. Cells that a spreadsheet would run as a formula are defused."""

from __future__ import annotations

import csv
import io

from armscan.model import ScanResult

COLUMNS = ("rule_id", "severity", "confidence", "effort", "work", "status", "path", "line", "column", "message",
           "snippet", "scope")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def render(result: ScanResult) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for f in result.findings:
        writer.writerow([_cell(v) for v in (f.rule_id, f.severity.value, f.confidence.value, f.effort.value,
                                            f.work.value, f.status.value, f.location.path, f.location.line,
                                            f.location.column, f.message, f.location.snippet, f.scope)])
    return buffer.getvalue()
