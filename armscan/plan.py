"""Turn findings into a work plan: items grouped by the kind of work, each with steps, evidence and effort;
totals per kind; and a verdict for the target. How to group and what to do is data, in
rules/knowledge/work-plan.yaml.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from armscan.model import PRODUCT, Confidence, Effort, Finding, PortStatus, ScanResult, Severity, WorkKind
from armscan.resources import load_yaml, rules_dir
from armscan.scopes import label as scope_label

MAX_EVIDENCE = 25
MAX_CONSTRUCTS = 5
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
    scope: str = PRODUCT
    places: int = 0  # the places its findings stand for (a record past the per-file cap stands for many)
    distinct: int = 0  # distinct constructs (intrinsics, flags, instructions...): what the work grows with
    constructs: tuple[str, ...] = ()  # the most frequent of them, at most MAX_CONSTRUCTS


@dataclass(frozen=True)
class KindTotal:
    kind: WorkKind
    label: str
    items: int
    findings: int
    days: float
    places: int = 0
    distinct: int = 0
    unit: str = "items"  # what the items are: files, packages, binaries, images


@dataclass(frozen=True)
class ScopeTotal:
    """The work in one kind of code that does not ship (tests, benchmarks, CI...)."""

    scope: str
    label: str
    items: int
    findings: int
    places: int
    days: float


@dataclass(frozen=True)
class TargetVerdict:
    target: str  # a CPU profile id, e.g. a1, graviton2
    name: str
    verdict: str
    reason: str


@dataclass(frozen=True)
class Plan:
    verdict: str  # ready | ready-after-work | unknown (nothing to do in what was checked, not all was) | blocked
    reason: str
    items: tuple[WorkItem, ...]
    totals: tuple[KindTotal, ...]
    days: float
    targets: tuple[TargetVerdict, ...] = ()
    # code that does not ship: its own items and totals, not in the verdict, `totals` or `days`
    other_items: tuple[WorkItem, ...] = ()
    other: tuple[ScopeTotal, ...] = ()
    other_days: float = 0.0
    optional_days: float = 0.0  # the product's optional items (x86 fast paths aarch64 skips), not in `days`


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


def _effort(knowledge: dict[str, Any], kind: WorkKind, findings: list[Finding]) -> tuple[Effort, float, Counter[str]]:
    """The item's effort level, its days, and its distinct constructs with the places of each: a base for the
    first construct and a little for each further one, capped; repeats of a construct add nothing."""
    constructs: Counter[str] = Counter()
    for f in findings:
        if f.location.match:  # a record past the per-file cap names no construct: more of those listed
            constructs[f.location.match] += f.places
    worst = max((f.effort for f in findings), key=lambda e: _EFFORT_RANK[e])
    level = Effort(knowledge["verify-effort"]) if kind is WorkKind.VERIFY else worst
    base = float(knowledge["effort-days"][level.value])
    more = float(knowledge["distinct-construct-days"][level.value]) * max(0, len(constructs) - 1)
    return worst, min(float(knowledge["item-cap-days"]), base + more), constructs


def _item(knowledge: dict[str, Any], kind: WorkKind, subject: str, scope: str, findings: list[Finding]) -> WorkItem:
    spec = knowledge["kinds"][kind.value]
    findings.sort(key=lambda f: (-f.severity.rank, f.location.path, f.location.line or 0))
    effort, days, constructs = _effort(knowledge, kind, findings)
    return WorkItem(
        kind=kind, subject=subject, title=str(spec["title"]).format(subject=subject),
        steps=_steps(spec, findings),
        evidence=tuple(_evidence(f) for f in findings[:MAX_EVIDENCE])
        + ((f"... and {len(findings) - MAX_EVIDENCE} more",) if len(findings) > MAX_EVIDENCE else ()),
        severity=max((f.severity for f in findings), key=lambda s: s.rank),
        confidence=min((f.confidence for f in findings), key=lambda c: _CONFIDENCE_RANK[c]),
        effort=effort, days=round(days, 2), rules=tuple(sorted({f.rule_id for f in findings})),
        findings=len(findings), scope=scope, places=sum(f.places for f in findings), distinct=len(constructs),
        constructs=tuple(c for c, _ in sorted(constructs.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CONSTRUCTS]))


def _unit(spec: dict[str, Any], count: int) -> str:
    return str(spec["units"][0 if count == 1 else 1])


def describe(item: WorkItem) -> str:
    """What an item covers, in words: '512 places, 3 distinct: _mm_add_epi32, _mm_loadu_si128, ...'."""
    text = f"{item.places} place{'s' if item.places != 1 else ''}"
    if item.distinct:
        more = ", ..." if item.distinct > len(item.constructs) else ""
        text += f", {item.distinct} distinct: {', '.join(item.constructs)}{more}"
    return text


def describe_total(total: KindTotal) -> str:
    """'3 files, about 1540 places, 12 distinct constructs'."""
    return (f"{total.items} {total.unit}, about {total.places} place{'s' if total.places != 1 else ''}, "
            f"{total.distinct} distinct construct{'s' if total.distinct != 1 else ''}")


def build_plan(result: ScanResult) -> Plan:
    knowledge = _knowledge()
    groups: dict[tuple[str, WorkKind, str], list[Finding]] = defaultdict(list)
    for finding in result.findings:
        if (finding.suppressed or "").startswith("inline"):
            continue  # judged not to need work, with a reason in the source
        kind = _kind(finding)
        groups[(finding.scope, kind, _subject(finding, kind))].append(finding)
    order = {kind: int(spec["order"]) for kind, spec in knowledge["kinds"].items()}
    everything = sorted((_item(knowledge, kind, subject, scope, findings)
                         for (scope, kind, subject), findings in groups.items()),
                        key=lambda i: (order[i.kind.value], -i.severity.rank, i.subject))
    items = [i for i in everything if i.scope == PRODUCT]
    others = [i for i in everything if i.scope != PRODUCT]
    totals = []
    for kind_name, spec in sorted(knowledge["kinds"].items(), key=lambda kv: int(kv[1]["order"])):
        of_kind = [i for i in items if i.kind.value == kind_name]
        if of_kind:
            totals.append(KindTotal(WorkKind(kind_name), str(spec["label"]), len(of_kind),
                                    sum(i.findings for i in of_kind), round(sum(i.days for i in of_kind), 2),
                                    sum(i.places for i in of_kind), sum(i.distinct for i in of_kind),
                                    _unit(spec, len(of_kind))))
    by_scope: dict[str, list[WorkItem]] = defaultdict(list)
    for item in others:
        by_scope[item.scope].append(item)
    other = tuple(ScopeTotal(scope, scope_label(scope), len(of), sum(i.findings for i in of),
                             sum(i.places for i in of), round(sum(i.days for i in of), 2))
                  for scope, of in sorted(by_scope.items()))
    verdict, reason = _verdict(result, items, other)
    per_target = tuple(_target_verdict(result, target_id, name) for target_id, name in result.cpu_targets)
    optional = sum(i.days for i in items if _optional(i))
    return Plan(verdict, reason, tuple(items), tuple(totals), round(sum(i.days for i in items) - optional, 2),
                per_target, tuple(others), other, round(sum(i.days for i in others), 2), round(optional, 2))


def _optional(item: WorkItem) -> bool:
    """x86 fast paths that aarch64 builds skip for a generic branch: worth porting for speed, not needed."""
    return item.kind is not WorkKind.VERIFY and item.severity is Severity.LOW


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


def _verdict(result: ScanResult, items: list[WorkItem], other: tuple[ScopeTotal, ...]) -> tuple[str, str]:
    verdict, reason = _product_verdict(result, items)
    if other:
        count = sum(t.items for t in other)
        reason += (f"; not part of the product, not counted: {count} item{'s' if count != 1 else ''} in "
                   f"{', '.join(t.label.lower() for t in other)}")
    return verdict, reason


def _product_verdict(result: ScanResult, items: list[WorkItem]) -> tuple[str, str]:
    blocking = [i for i in items if i.kind is WorkKind.REPLACE_DEPENDENCY and i.severity is Severity.BLOCKER]
    if blocking:
        names = ", ".join(i.subject for i in blocking[:5])
        return "blocked", f"nothing installable on aarch64 for {names}: each needs a replacement before the move"
    # Low items are x86 fast paths that aarch64 builds skip for a generic branch: worth porting for speed, but
    # nothing stops the move, so they leave the verdict "ready"
    work = [i for i in items if i.kind is not WorkKind.VERIFY and i.severity.at_least(Severity.MEDIUM)]
    optional = [i for i in items if _optional(i)]
    unknown = sum(1 for s in result.skipped if s.scope == PRODUCT)
    unjudged = sorted({f.location.match or f.location.path for f in result.findings
                       if f.rule_id in _UNJUDGED_RULES and f.suppressed is None and f.scope == PRODUCT})
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
        return "ready-after-work" if work else "unknown", "; ".join(parts)
    if optional:
        return "ready", (f"nothing stops the move; {len(optional)} optional item{'s' if len(optional) != 1 else ''}:"
                         " x86 fast paths the aarch64 build skips for a generic one (port them for speed)")
    return "ready", "nothing to change; verify the ported paths on the target" if items else "nothing to change"
