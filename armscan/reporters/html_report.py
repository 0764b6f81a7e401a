"""The self-contained HTML report, rendered with Jinja from reports/templates."""

from __future__ import annotations

import dataclasses

import jinja2

from armscan.model import ScanResult, Severity
from armscan.reporters.summary import summarize
from armscan.resources import templates_dir


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(result: ScanResult, threshold: Severity | None) -> str:
    findings = sorted(result.findings,
                      key=lambda f: (-f.severity.rank, f.location.path, f.location.line or 0, f.rule_id))
    context = {field.name: getattr(result, field.name) for field in dataclasses.fields(result)}
    context.update(
        findings=findings,
        summary=summarize(result),
        threshold=threshold.value if threshold is not None else "none",
        failing=len(result.findings_at_or_above(threshold)) if threshold is not None else 0,
    )
    return _environment().get_template("report.html.j2").render(**context)
