"""A summary sized for a pull-request comment: verdict, counts, the work plan, the worst findings in
collapsed sections, capped in length with a note of what was left out."""

from __future__ import annotations

from armscan.model import PRODUCT, ScanResult, Severity
from armscan.plan import build_plan, describe
from armscan.reporters.escape import markdown as _escape
from armscan.reporters.escape import markdown_code
from armscan.reporters.summary import describe_compile

MAX_CHARS = 60_000  # GitHub comments take 65,536
MAX_FINDINGS = 100
_VERDICT = {"ready": "Ready for aarch64", "ready-after-work": "Ready after work",
            "unknown": "Not fully checked", "blocked": "Blocked"}


def render(result: ScanResult, threshold: Severity | None, max_chars: int = MAX_CHARS, *,
           every_scope: bool = False) -> str:
    plan = build_plan(result)
    failing = len(result.findings_at_or_above(threshold, every_scope=every_scope)) if threshold else 0
    gate = (f"{failing} finding(s) at or above `{threshold.value}`: **fail**" if failing and threshold
            else f"nothing at or above `{threshold.value}`: pass" if threshold else "no gate")
    lines = [f"## armscan: {_VERDICT[plan.verdict]}", "",
             f"{_escape(plan.reason)}. Gate: {gate}. Estimated work: {plan.days:g} day(s)"
             f"{f' (plus {plan.optional_days:g} optional)' if plan.optional_days else ''}.", ""]
    if not result.complete:
        lines += ["> **Incomplete scan**: " + _escape("; ".join(result.errors)), ""]
    if result.compile is not None:
        lines += [f"Compile proof: {describe_compile(result.compile)}.", ""]  # our words and numbers only
    lines += ["| blocker | high | medium | low | info |", "| --- | --- | --- | --- | --- |",
              "| " + " | ".join(str(sum(1 for f in result.findings if f.severity is s)) for s in Severity) + " |", ""]
    if len(plan.targets) > 1:
        lines += ["| Target | Verdict |", "| --- | --- |"]
        lines += [f"| {t.name} | {_VERDICT[t.verdict]}: {_escape(t.reason)} |" for t in plan.targets]
        lines.append("")
    if plan.totals:
        lines += ["| Work | Items | Places | Distinct | Days |", "| --- | --- | --- | --- | --- |"]
        lines += [f"| {t.label} | {t.items} {t.unit} | {t.places} | {t.distinct} | {t.days:g} |"
                  for t in plan.totals]
        lines.append("")
    if plan.other:
        counted = "counted by the gate (`--scope all`)" if every_scope else "not counted by the verdict or the gate"
        lines += [f"Not part of the product ({counted}):", "",
                  "| Scope | Items | Findings | Days |", "| --- | --- | --- | --- |"]
        lines += [f"| {_escape(t.label)} | {t.items} | {t.findings} | {t.days:g} |" for t in plan.other]
        lines.append("")
    head = "\n".join(lines)
    sections: list[str] = []
    for title, items in (("Work plan", plan.items), ("Work outside the product", plan.other_items)):
        if items:
            body = [f"<details><summary>{title}</summary>", ""]
            for item in items:
                scope = "" if item.scope == PRODUCT else f"{_escape(item.scope)}, "
                body.append(f"- **{_escape(item.title)}** ({scope}{item.severity.value}, {item.days:g} d, "
                            f"{_escape(describe(item))})")
            sections.append("\n".join([*body, "", "</details>", ""]))
    findings = sorted(result.findings, key=lambda f: (-f.severity.rank, f.location.path, f.location.line or 0))
    budget = max_chars - len(head) - sum(len(x) for x in sections) - 1000
    rows: list[str] = []
    for f in findings[:MAX_FINDINGS]:
        where = f.location.path + (f":{f.location.line}" if f.location.line else "")
        scope = "" if f.scope == PRODUCT else f" ({_escape(f.scope)})"
        row = f"| {f.severity.value}{scope} | `{f.rule_id}` | {markdown_code(where)} | {_escape(f.message)} |"
        if sum(len(r) + 1 for r in rows) + len(row) > budget:
            break
        rows.append(row)
    if rows:
        body = ["<details><summary>Findings</summary>", "", "| Severity | Rule | Where | Message |",
                "| --- | --- | --- | --- |", *rows]
        sections.append("\n".join([*body, "", "</details>", ""]))
    if result.skipped:
        sections.append(f"{len(result.skipped)} thing(s) could not be checked: they count as unknown, not ready.\n")
    text = head
    cut = len(findings) - len(rows)
    for section in sections:
        if len(text) + len(section) > max_chars:
            cut_note = "the rest of the report"
            break
        text += "\n" + section
    else:
        cut_note = ""
    notes = []
    if cut:
        notes.append(f"{cut} more finding(s)")
    if cut_note:
        notes.append(cut_note)
    if notes:
        text += f"\n_Left out to fit a comment: {', '.join(notes)}; the JSON, SARIF or HTML output has everything._\n"
    return text
