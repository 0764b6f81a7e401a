"""Counts over a result, shared by every reporter so that they agree."""

from __future__ import annotations

from collections import Counter
from typing import Any

from armscan.model import ScanResult, Severity


def summarize(result: ScanResult) -> dict[str, Any]:
    by_severity = Counter(f.severity.value for f in result.findings)
    by_work = Counter(f.work.value for f in result.findings if f.severity is not Severity.INFO)
    by_machine: Counter[str] = Counter()
    for artifact in result.artifacts:
        for machine in artifact.machines or ("unknown",):
            by_machine[machine] += 1
    return {
        "findings": len(result.findings),
        "by_severity": {s.value: by_severity.get(s.value, 0) for s in Severity},
        "by_work": dict(sorted(by_work.items())),
        "ported": sum(1 for f in result.findings if f.ported),
        "artifacts": len(result.artifacts),
        "artifacts_by_machine": dict(sorted(by_machine.items())),
        "x86_only_artifacts": sum(1 for a in result.artifacts if a.is_x86_only),
        "skipped": len(result.skipped),
    }
