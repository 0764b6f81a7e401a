"""The self-contained HTML report, rendered with Jinja from reports/templates.

No external scripts, styles, fonts or images. Findings travel as JSON inside the page and are drawn by a
small script with textContent only, so that tens of thousands render and filter quickly and nothing from a
scanned file (a file named `<script>`) is ever parsed as HTML. The page's Content-Security-Policy allows
exactly that script, by hash.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from collections import defaultdict
from typing import Any

import jinja2

from armscan.model import PRODUCT, Artifact, ScanResult, Severity
from armscan.plan import Plan, build_plan, describe
from armscan.reporters.summary import describe_compile
from armscan.resources import templates_dir

_COLORS = {"blocker": "#b3261e", "high": "#e8837a", "medium": "#e9b949", "low": "#6aaee0", "info": "#a7b0bd"}
_BAR_WIDTH = 200


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _safe_json(value: Any) -> str:
    """JSON that cannot end the <script> element it sits in."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _bars(pairs: list[tuple[str, float, str, str]]) -> list[dict[str, Any]]:
    top = max((value for _, value, _, _ in pairs), default=0) or 1
    return [{"label": label, "width": round(_BAR_WIDTH * value / top) if value else 0, "text": text, "color": color}
            for label, value, text, color in pairs]


def _charts(result: ScanResult, plan: Plan) -> list[dict[str, Any]]:
    counts = {s.value: 0 for s in Severity}
    for finding in result.findings:
        counts[finding.severity.value] += 1
    charts = [{"title": "Findings by severity",
               "bars": _bars([(s, n, str(n), _COLORS[s]) for s, n in counts.items()])}]
    if plan.totals:
        charts.append({"title": "Work by kind (days)",
                       "bars": _bars([(t.label, t.days, f"{t.days:g} d · {t.items}", "#4f7cac") for t in plan.totals])})
    return charts


def _by_machine(artifacts: tuple[Artifact, ...]) -> list[tuple[str, list[Artifact]]]:
    groups: dict[str, list[Artifact]] = defaultdict(list)
    for artifact in artifacts:
        groups[", ".join(artifact.machines) or "unknown"].append(artifact)
    return sorted(groups.items(), key=lambda kv: (kv[0] != "aarch64", -len(kv[1]), kv[0]))


def render(result: ScanResult, threshold: Severity | None, *, every_scope: bool = False) -> str:
    findings = sorted(result.findings,
                      key=lambda f: (-f.severity.rank, f.location.path, f.location.line or 0, f.rule_id))
    plan = build_plan(result)
    data = {
        "findings": [[f.severity.value, f.rule_id, f.location.path, f.location.line, f.message, f.work.value,
                      f.status.value, f.suppressed, f.location.snippet, f.scope] for f in findings],
        "rules": {r.id: {"advice": {status.value: text for status, text in r.advice},
                         "references": list(r.references)} for r in result.rules},
    }
    script = (templates_dir() / "report.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode()
    context = {field.name: getattr(result, field.name) for field in dataclasses.fields(result)}
    context.update(
        findings=findings,
        plan=plan,
        charts=_charts(result, plan),
        kinds=sorted({f.work.value for f in findings}),
        scopes=sorted({f.scope for f in findings} - {PRODUCT}),
        describe=describe,
        describe_compile=describe_compile,
        every_scope=every_scope,
        artifacts_by_machine=_by_machine(result.artifacts),
        threshold=threshold.value if threshold is not None else "none",
        failing=len(result.findings_at_or_above(threshold, every_scope=every_scope)) if threshold is not None else 0,
        data_json=_safe_json(data),
        script=script,
        script_hash=f"sha256-{digest}",
    )
    return _environment().get_template("report.html.j2").render(**context)
