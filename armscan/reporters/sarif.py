"""SARIF 2.1.0 for code-scanning dashboards: every rule that fired with its help text and references, every
finding as a result with a precise location. Archive members and image files are located at the archive or
image file, with the member as a logical location.
"""

from __future__ import annotations

import hashlib
import json
import urllib.parse
from typing import Any

from armscan.model import Finding, ScanResult, Severity

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.BLOCKER: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note",
          Severity.INFO: "note"}
_SECURITY_SEVERITY = {Severity.BLOCKER: "9.0", Severity.HIGH: "7.0", Severity.MEDIUM: "5.0", Severity.LOW: "3.0",
                      Severity.INFO: "1.0"}


def _uri(path: str) -> str:
    path = path[2:] if path.startswith("./") else path
    return urllib.parse.quote(path, safe="/:@")


def fingerprint(finding: Finding) -> str:
    """Stable across runs and line moves: the rule, the file and the matched text."""
    key = "\0".join((finding.rule_id, finding.location.path, finding.location.match or finding.location.snippet or ""))
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]


def _location(finding: Finding) -> dict[str, Any]:
    outer, _, member = finding.location.path.partition("!")
    physical: dict[str, Any] = {"artifactLocation": {"uri": _uri(outer), "uriBaseId": "%SRCROOT%"}}
    line = finding.location.line
    if line and line > 0:
        region: dict[str, Any] = {"startLine": line}
        if finding.location.column and finding.location.column > 0:
            region["startColumn"] = finding.location.column
            if finding.location.end_column and finding.location.end_column > finding.location.column:
                region["endColumn"] = finding.location.end_column
        if finding.location.snippet:
            region["snippet"] = {"text": finding.location.snippet}
        physical["region"] = region
    location: dict[str, Any] = {"physicalLocation": physical}
    if member:
        location["logicalLocations"] = [{"fullyQualifiedName": member, "kind": "member"}]
    return location


def _suppression(reason: str) -> dict[str, Any]:
    if reason == "baseline":
        return {"kind": "external", "justification": "listed in the armscan baseline"}
    return {"kind": "inSource", "justification": reason.removeprefix("inline: ")}


def to_document(result: ScanResult) -> dict[str, Any]:
    rule_ids = sorted({f.rule_id for f in result.findings})
    infos = {r.id: r for r in result.rules}
    rules = []
    for rule_id in rule_ids:
        info = infos.get(rule_id)
        if info is None:
            rules.append({"id": rule_id})
            continue
        advice = dict(info.advice)
        help_text = next(iter(advice.values()), info.title)
        references = list(info.references)
        listed = "\n".join(f"- <{r}>" for r in references)
        descriptor: dict[str, Any] = {
            "id": info.id, "name": info.id.title().replace("-", ""),
            "shortDescription": {"text": info.title},
            "fullDescription": {"text": help_text},
            "help": {"text": help_text + ("\n\nReferences:\n" + "\n".join(references) if references else ""),
                     "markdown": help_text + (f"\n\n{listed}" if references else "")},
            **({"helpUri": references[0]} if references else {}),
            "defaultConfiguration": {"level": _LEVEL[info.severity]},
            "properties": {"tags": ["arm64", "portability", info.work.value], "precision": info.confidence.value,
                           "security-severity": _SECURITY_SEVERITY[info.severity], "effort": info.effort.value},
        }
        rules.append(descriptor)
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    results = []
    for finding in result.findings:
        results.append({
            "ruleId": finding.rule_id, "ruleIndex": index[finding.rule_id], "level": _LEVEL[finding.severity],
            "message": {"text": finding.message},
            "locations": [_location(finding)],
            "partialFingerprints": {"armscanFinding/v1": fingerprint(finding)},
            **({"suppressions": [_suppression(finding.suppressed)]} if finding.suppressed else {}),
            "properties": {"severity": finding.severity.value, "confidence": finding.confidence.value,
                           "effort": finding.effort.value, "work": finding.work.value,
                           "status": finding.status.value, "scope": finding.scope},
        })
    notifications = [{"level": "error", "message": {"text": e}} for e in result.errors]
    notifications += [{"level": "warning", "message": {"text": f"not checked: {s.path}: {s.reason.value}: {s.detail}"}}
                      for s in result.skipped[:1000]]
    return {
        "$schema": SCHEMA_URI, "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "armscan", "version": result.tool_version,
                                "semanticVersion": result.tool_version, "rules": rules}},
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "The folder armscan was run in."}}},
            "invocations": [{"executionSuccessful": result.complete, "toolExecutionNotifications": notifications}],
            "results": results,
        }],
    }


def render(result: ScanResult) -> str:
    return json.dumps(to_document(result), ensure_ascii=False, indent=1) + "\n"
