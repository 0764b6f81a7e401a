"""The rich summary printed on the terminal."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from armscan.model import PRODUCT, Finding, ScanResult, Severity
from armscan.plan import build_plan, describe_total
from armscan.reporters.escape import terminal
from armscan.reporters.summary import describe_compile, summarize

SEVERITY_STYLE = {
    Severity.BLOCKER: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _where(finding: Finding, images: tuple[str, ...] = ()) -> str:
    """Where the finding is; inside an image, the path in the image (the reference is in the summary)."""
    loc = finding.location
    path = loc.path
    for label in images:
        if path == label:
            path = "(the image)"
        elif path.startswith(f"{label}!/"):
            path = "/" + path[len(label) + 2:]
    return terminal(f"{path}:{loc.line}" if loc.line else path)


def _count(number: float, noun: str) -> str:
    return f"{number:g} {noun}{'' if number == 1 else 's'}"


def _list(console: Console, title: str, findings: list[Finding], verbose: bool, limit: int,
          images: tuple[str, ...] = ()) -> None:
    # In a CI log (not a terminal) nothing is wrapped: a wrapped name could start a line with a workflow command.
    soft = not console.is_terminal
    console.print(Text(title, style="bold underline"))
    for finding in findings[: None if verbose else limit]:
        line = Text("  ")
        line.append(f"{finding.severity.value:<8}", style=SEVERITY_STYLE[finding.severity])
        line.append(" ")
        line.append(_where(finding, images), style="bold")
        line.append(f"  {finding.rule_id}", style="dim")
        if finding.scope != PRODUCT:
            line.append(f"  [{finding.scope}]", style="dim")
        console.print(line, overflow="fold", soft_wrap=soft)
        console.print(Text(" " * 11 + terminal(finding.message)), soft_wrap=soft)
    if not verbose and len(findings) > limit:
        console.print(f"… and {len(findings) - limit} more (use --json for all, -v to list all here)")
    console.print()


def render(result: ScanResult, console: Console, *, threshold: Severity | None, verbose: bool,
           limit: int = 40, every_scope: bool = False) -> None:
    shown_floor = Severity.INFO if verbose else Severity.LOW
    findings = sorted(
        (f for f in result.findings if f.severity.at_least(shown_floor) and f.suppressed is None),
        key=lambda f: (-f.severity.rank, f.location.path, f.location.line or 0),
    )
    product = [f for f in findings if f.scope == PRODUCT]
    images = result.inputs if result.images else ()
    if product:
        _list(console, "Findings", product, verbose, limit, images)
    if len(product) < len(findings):
        _list(console, "Not part of the product (tests, benchmarks, CI...)",
              [f for f in findings if f.scope != PRODUCT], verbose, limit // 4, images)
    summary = summarize(result)
    table = Table(title="Summary", title_justify="left", show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    by_severity = summary["by_severity"]
    table.add_row("Findings", ", ".join(f"{by_severity[s.value]} {s.value}" for s in Severity))
    if summary["ported"]:
        table.add_row("Already ported", f"{summary['ported']} places with an aarch64 path (info)")
    for image in result.images:
        arm64 = {"yes": "linux/arm64 present and checked", "no": "no linux/arm64",
                 "mislabeled": "linux/arm64 present but not arm64 inside", "unknown": "unknown"}[image.arm64]
        text = f"{', '.join(image.platforms) or '?'}: {arm64}"
        if image.suggested_tag:
            text += f"; {image.suggested_tag} has linux/arm64"
        table.add_row("Image", Text(terminal(image.reference) + "\n" + terminal(text) + "\n"
                                    + terminal(f"{image.os or 'unknown OS'}, {image.layers} layers")))
    plan = build_plan(result)
    words = {"ready": "ready", "ready-after-work": "ready after work", "unknown": "not fully checked",
             "blocked": "blocked"}
    table.add_row("Verdict", Text(terminal(f"{words[plan.verdict]}: {plan.reason}")))
    if plan.totals:
        table.add_row("Work", "\n".join(f"{t.label}: {describe_total(t)}; {_count(t.days, 'day')}"
                                        for t in plan.totals) + f"\nin all about {_count(plan.days, 'day')}"
                                        + (f" (plus {plan.optional_days:g} optional)" if plan.optional_days else ""))
    if plan.other:
        table.add_row("Not the product", "\n".join(f"{t.label}: {_count(t.items, 'item')}, "
                                                    f"{_count(t.findings, 'finding')}, {_count(t.days, 'day')}"
                                                    for t in plan.other)
                      + ("" if every_scope else "\nnot counted by the verdict or the gate (--scope all counts "
                                                 "them for the gate)"))
    if len(result.cpu_targets) > 1:
        table.add_row("Targets", "\n".join(f"{t.name}: {words[t.verdict]}" for t in plan.targets))
    if result.packages:
        statuses: dict[str, int] = {}
        for package in result.packages:
            statuses[package.status] = statuses.get(package.status, 0) + 1
        table.add_row("Python packages", ", ".join(f"{n} {s}" for s, n in sorted(statuses.items())))
    machines = ", ".join(f"{n} {m}" for m, n in summary["artifacts_by_machine"].items()) or "none"
    table.add_row("Native binaries", f"{summary['artifacts']} ({machines})")
    table.add_row("Files", f"{result.stats.files_seen} seen, {result.stats.source_files_scanned} source files "
                           f"checked, {result.stats.duration_seconds:.2f} s")
    if result.compile is not None:
        table.add_row("Compile proof", describe_compile(result.compile))
    suppressed = [f for f in result.findings if f.suppressed is not None]
    if suppressed:
        baseline = sum(1 for f in suppressed if f.suppressed == "baseline")
        table.add_row("Suppressed", f"{len(suppressed)} not counted by the gate ({baseline} in the baseline, "
                                    f"{len(suppressed) - baseline} by armscan: ignore comments)")
    if result.skipped:
        table.add_row("Not checked", Text(f"{len(result.skipped)} (unknown: see the skipped list in --json)",
                                          style="yellow"))
    if not result.complete:
        table.add_row("Incomplete", Text(terminal("; ".join(result.errors)) or "the scan did not finish",
                                         style="bold red"))
    if threshold is not None:
        failing = len(result.findings_at_or_above(threshold, every_scope=every_scope))
        verdict = (Text(f"{failing} at or above {threshold.value}: fail", style="bold red") if failing
                   else Text(f"nothing at or above {threshold.value}: pass", style="green"))
        table.add_row("Gate", verdict)
    console.print(table)
