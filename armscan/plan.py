"""Turn findings into a work plan: items grouped by the kind of work, each with steps, evidence and effort;
totals per kind; and a verdict for the target. How to group and what to do is data, in
rules/knowledge/work-plan.yaml.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from armscan.model import Confidence, Effort, Finding, PortStatus, ScanResult, Severity, WorkKind
from armscan.resources import load_yaml, rules_dir

MAX_EVIDENCE = 25
_CONFIDENCE_RANK = {Confidence.HIGH: 3, Confidence.MEDIUM: 2, Confidence.LOW: 1}
_EFFORT_RANK = {Effort.TRIVIAL: 1, Effort.SMALL: 2, Effort.MEDIUM: 3, Effort.LARGE: 4}


@dataclass(frozen=True)
class WorkItem:
    kind: WorkKind
    subject: str
    title: str
    steps: tuple[str, ...]
    evidence: tuple[str, ...]
    severity: Severity
    confidence: Confidence
    effort: Effort
    days: float
    rules: tuple[str, ...]
    findings: int


@dataclass(frozen=True)
class KindTotal:
    kind: WorkKind
    label: str
    items: int
    findings: int
    days: float


@dataclass(frozen=True)
class TargetVerdict:
    target: str  # a CPU profile id, e.g. a1, graviton2
    name: str
    verdict: str
    reason: str


@dataclass(frozen=True)
class Plan:
    verdict: str  # ready | ready-after-work | blocked
    reason: str
    items: tuple[WorkItem, ...]
    totals: tuple[KindTotal, ...]
    days: float
    targets: tuple[TargetVerdict, ...] = ()


@lru_cache(maxsize=1)
def _knowledge() -> dict[str, Any]:
    data: dict[str, Any] = load_yaml((rules_dir() / "knowledge" / "work-plan.yaml").read_text(encoding="utf-8"))
    return data


def _kind(finding: Finding) -> WorkKind:
    return WorkKind.VERIFY if finding.status is PortStatus.PORTED else finding.work


_ECOSYSTEMS = {"ARM-PY-": "python", "ARM-NODE-": "node", "ARM-JAVA-": "java"}
# Dependency work is about a package, wherever it is declared: one item for it across lock and build files
_PACKAGE_WORK = frozenset({WorkKind.UPGRADE_DEPENDENCY, WorkKind.BUILD_FROM_SOURCE, WorkKind.REPLACE_DEPENDENCY})
_FILE_SUBJECT_RULES = frozenset({"ARM-PY-WHEEL-FILE-X86", "ARM-NODE-LOCK-X64-ONLY"})


def _ecosystem(rule_id: str) -> str | None:
    return next((name for prefix, name in _ECOSYSTEMS.items() if rule_id.startswith(prefix)), None)


def _subject(finding: Finding, kind: WorkKind) -> str:
    path = finding.location.path
    if kind is WorkKind.REBUILD_IMAGE:
        return path.split("!", 1)[0]
    by_package = finding.rule_id.startswith("ARM-PY-") or (kind in _PACKAGE_WORK and _ecosystem(finding.rule_id))
    if by_package and finding.rule_id not in _FILE_SUBJECT_RULES and finding.location.match:
        return finding.location.match
    return path


def _steps(spec: dict[str, Any], findings: list[Finding]) -> tuple[str, ...]:
    """The kind's steps, or those for the ecosystem (node, java) all of the item's findings belong to."""
    ecosystems = {_ecosystem(f.rule_id) for f in findings}
    by_ecosystem = spec.get("steps-for") or {}
    steps = by_ecosystem.get(next(iter(ecosystems))) if len(ecosystems) == 1 else None
    return tuple(str(s) for s in (steps or spec["steps"]))


def _evidence(finding: Finding) -> str:
    where = finding.location.path + (f":{finding.location.line}" if finding.location.line else "")
    return f"{where}: {finding.message}"


def build_plan(result: ScanResult) -> Plan:
    knowledge = _knowledge()
    days_of = {Effort(k): float(v) for k, v in knowledge["effort-days"].items()}
    share = float(knowledge["additional-finding-share"])
    groups: dict[tuple[WorkKind, str], list[Finding]] = defaultdict(list)
    for finding in result.findings:
        if (finding.suppressed or "").startswith("inline"):
            continue  # judged not to need work, with a reason in the source
        kind = _kind(finding)
        groups[(kind, _subject(finding, kind))].append(finding)
    items = []
    for (kind, subject), findings in groups.items():
        spec = knowledge["kinds"][kind.value]
        findings.sort(key=lambda f: (-f.severity.rank, f.location.path, f.location.line or 0))
        # a ported place needs a check on the target, not the porting work its rule describes
        efforts = sorted((days_of[Effort.SMALL if kind is WorkKind.VERIFY else f.effort] for f in findings),
                         reverse=True)
        days = efforts[0] + share * sum(efforts[1:])
        items.append(WorkItem(
            kind=kind, subject=subject, title=str(spec["title"]).format(subject=subject),
            steps=_steps(spec, findings),
            evidence=tuple(_evidence(f) for f in findings[:MAX_EVIDENCE])
            + ((f"... and {len(findings) - MAX_EVIDENCE} more",) if len(findings) > MAX_EVIDENCE else ()),
            severity=max((f.severity for f in findings), key=lambda s: s.rank),
            confidence=min((f.confidence for f in findings), key=lambda c: _CONFIDENCE_RANK[c]),
            effort=max((f.effort for f in findings), key=lambda e: _EFFORT_RANK[e]),
            days=round(days, 2), rules=tuple(sorted({f.rule_id for f in findings})), findings=len(findings)))
    order = {kind: int(spec["order"]) for kind, spec in knowledge["kinds"].items()}
    items.sort(key=lambda i: (order[i.kind.value], -i.severity.rank, i.subject))
    totals = []
    for kind_name, spec in sorted(knowledge["kinds"].items(), key=lambda kv: int(kv[1]["order"])):
        of_kind = [i for i in items if i.kind.value == kind_name]
        if of_kind:
            totals.append(KindTotal(WorkKind(kind_name), str(spec["label"]), len(of_kind),
                                    sum(i.findings for i in of_kind), round(sum(i.days for i in of_kind), 2)))
    verdict, reason = _verdict(result, items)
    per_target = tuple(_target_verdict(result, target_id, name) for target_id, name in result.cpu_targets)
    return Plan(verdict, reason, tuple(items), tuple(totals), round(sum(i.days for i in items), 2), per_target)


def _target_verdict(result: ScanResult, target_id: str, name: str) -> TargetVerdict:
    """The plan as seen by one CPU: instruction-set findings about other CPUs left out."""
    from dataclasses import replace

    own = tuple(f for f in result.findings if f.rule_id != "ARM-TARGET-ISA" or f.location.match == target_id)
    plan = build_plan(replace(result, findings=own, cpu_targets=()))
    isa = sum(1 for f in own if f.rule_id == "ARM-TARGET-ISA" and f.suppressed is None)
    reason = plan.reason + (f"; {isa} binar{'ies' if isa != 1 else 'y'} with instructions it lacks" if isa else "")
    return TargetVerdict(target_id, name, plan.verdict, reason)


# A package the index does not have, or has no matching release of, was not judged: its readiness is unknown
_UNJUDGED_RULES = frozenset({"ARM-PY-NOT-ON-INDEX", "ARM-PY-NO-MATCHING-RELEASE"})


def _verdict(result: ScanResult, items: list[WorkItem]) -> tuple[str, str]:
    blocking = [i for i in items if i.kind is WorkKind.REPLACE_DEPENDENCY and i.severity is Severity.BLOCKER]
    if blocking:
        names = ", ".join(i.subject for i in blocking[:5])
        return "blocked", f"nothing installable on aarch64 for {names}: each needs a replacement before the move"
    work = [i for i in items if i.kind is not WorkKind.VERIFY and i.severity.at_least(Severity.LOW)]
    unknown = len(result.skipped)
    unjudged = sorted({f.location.match or f.location.path for f in result.findings
                       if f.rule_id in _UNJUDGED_RULES and f.suppressed is None})
    if work or unknown or unjudged or not result.complete:
        parts = []
        if work:
            parts.append(f"{len(work)} work item{'s' if len(work) != 1 else ''}")
        if unknown:
            parts.append(f"{unknown} thing{'s' if unknown != 1 else ''} not checked")
        if unjudged:
            parts.append(f"{len(unjudged)} package{'s' if len(unjudged) != 1 else ''} the index had no release of "
                         f"to judge ({', '.join(unjudged[:5])}{', ...' if len(unjudged) > 5 else ''})")
        if not result.complete:
            parts.append("an incomplete scan")
        return "ready-after-work", "; ".join(parts)
    return "ready", "nothing to change; verify the ported paths on the target" if items else "nothing to change"
