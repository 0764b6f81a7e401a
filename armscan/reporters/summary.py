"""Counts over a result, shared by every reporter so that they agree."""

from __future__ import annotations

from collections import Counter
from typing import Any

from armscan.model import CompileSummary, ScanResult, Severity


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


def describe_compile(summary: CompileSummary) -> str:
    """What --compile checked, in the words every reporter uses."""
    text = (f"{_count(summary.units, 'translation unit')} compiled for aarch64, {summary.failed} failed; "
            f"{_count(summary.not_checked, 'source file')} not compile-checked")
    unconfigured = summary.not_checked - summary.not_built
    if summary.not_built and unconfigured:
        return (f"{text} ({summary.not_built} not in the aarch64 build, {unconfigured} in a tree that could not be "
                "configured)")
    if summary.not_built:
        return f"{text} (not in the aarch64 build)"
    if unconfigured:
        return f"{text} (their build could not be configured)"
    return text


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
