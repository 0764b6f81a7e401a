"""The CI gate's memory: baselines of accepted findings, and inline `armscan: ignore[RULE-ID] reason` comments.

A finding is known by its rule, its path relative to the scanned input, and the text it matched, never by
its line, so that a baseline survives code moving around it. Suppressed findings stay in every output,
marked; the gate does not count them.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from armscan.model import Finding, ScanResult
from armscan.sources.confined import open_confined, read_confined

BASELINE_VERSION = 1
_INLINE = re.compile(r"armscan:\s*ignore\[([A-Za-z0-9_*,\s-]+)\]\s*(.*?)\s*(?:\*/|-->)?\s*$")
MAX_BASELINE = 256 * 1024 * 1024
MAX_SOURCE = 16 * 1024 * 1024


class BaselineError(Exception):
    """A baseline file that cannot be read."""


def relative_path(path: str, inputs: tuple[str, ...]) -> str:
    for root in sorted(inputs, key=len, reverse=True):
        base = root.rstrip("/")
        if path == base:
            return path.rsplit("/", 1)[-1]
        if path.startswith(base + "/") or path.startswith(base + "!"):
            return path[len(base) + 1:]
    return path


def fingerprint(finding: Finding, inputs: tuple[str, ...]) -> str:
    key = "\0".join((finding.rule_id, relative_path(finding.location.path, inputs),
                     finding.location.match or finding.location.snippet or ""))
    return hashlib.sha256(key.encode("utf-8", "replace")).hexdigest()[:32]


def create_baseline(result: ScanResult) -> str:
    entries = [{"fingerprint": fingerprint(f, result.inputs), "rule_id": f.rule_id,
                "path": relative_path(f.location.path, result.inputs), "message": f.message[:300]}
               for f in result.findings if not (f.suppressed or "").startswith("inline")]
    document = {"armscan_baseline": BASELINE_VERSION, "tool_version": result.tool_version,
                "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "findings": sorted(entries, key=lambda e: (e["path"], e["rule_id"], e["fingerprint"]))}
    return json.dumps(document, indent=1, ensure_ascii=False) + "\n"


def load_baseline(path: Path) -> Counter[str]:
    try:
        data: Any = json.loads(read_confined(path, None, MAX_BASELINE))
    except OSError as e:
        raise BaselineError(f"baseline {path}: {e.strerror or e}") from e
    except ValueError as e:
        raise BaselineError(f"baseline {path}: not JSON ({e})") from e
    if not isinstance(data, dict) or data.get("armscan_baseline") != BASELINE_VERSION:
        raise BaselineError(f"baseline {path}: not an armscan baseline (version {BASELINE_VERSION})")
    try:
        return Counter(str(e["fingerprint"]) for e in data["findings"])
    except (KeyError, TypeError) as e:
        raise BaselineError(f"baseline {path}: malformed entry ({e})") from e


def apply_baseline(result: ScanResult, known: Counter[str]) -> ScanResult:
    """Mark findings the baseline lists (as many times as it lists each); the rest are new."""
    remaining = Counter(known)
    findings = []
    for finding in result.findings:
        key = fingerprint(finding, result.inputs)
        if finding.suppressed is None and remaining[key] > 0:
            remaining[key] -= 1
            findings.append(replace(finding, suppressed="baseline"))
        else:
            findings.append(finding)
    return replace(result, findings=tuple(findings))


def inline_suppression(lines: list[str], line: int, rule_id: str) -> str | None:
    """The reason given by an `armscan: ignore[...]` comment on the finding's line or the line above."""
    for number in (line, line - 1):
        if 1 <= number <= len(lines):
            match = _INLINE.search(lines[number - 1])
            if match:
                ids = {i.strip().upper() for i in match.group(1).split(",")}
                if rule_id.upper() in ids or "*" in ids:
                    return match.group(2).strip() or "no reason given"
    return None


def apply_inline(findings: list[Finding], files: dict[str, tuple[str, str]]) -> list[Finding]:
    """`files` maps a finding's display path to the file on disk to read the comments from, and its tree."""
    cache: dict[str, list[str]] = {}
    marked = []
    for finding in findings:
        source, root = files.get(finding.location.path, ("", ""))
        line = finding.location.line or 0
        if source and line > 0:
            if source not in cache:
                try:
                    with open_confined(source, root) as fh:
                        cache[source] = fh.read(MAX_SOURCE).decode("utf-8", "replace").splitlines()
                except OSError:
                    cache[source] = []
            reason = inline_suppression(cache[source], line, finding.rule_id)
            if reason is not None:
                marked.append(replace(finding, suppressed=f"inline: {reason}"))
                continue
        marked.append(finding)
    return marked
