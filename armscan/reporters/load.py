"""Read saved JSON results back into the findings model, so that they can be rendered again or merged."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from armscan.gate import relative_path
from armscan.model import (
    PRODUCT,
    Artifact,
    CompileSummary,
    Confidence,
    Effort,
    ElfDetails,
    Finding,
    ImageRecord,
    IsaUse,
    Location,
    PackageRecord,
    PortStatus,
    RuleInfo,
    RulePackInfo,
    ScanResult,
    Severity,
    Skipped,
    SkipReason,
    Slice,
    Stats,
    WorkKind,
)
from armscan.scopes import classify


class ResultError(Exception):
    """A file that is not an armscan JSON result this version can read."""


# Read with defaults when absent (results of earlier 1.x versions), or computed again (summary, plan)
_OPTIONAL = frozenset({"summary", "plan", "packages", "targets", "images", "cpu_targets", "compile"})


@lru_cache(maxsize=1)
def _validator() -> jsonschema.protocols.Validator:
    from armscan.resources import schema_path

    schema = json.loads(schema_path("result.schema.json").read_text(encoding="utf-8"))
    schema["required"] = [key for key in schema["required"] if key not in _OPTIONAL]
    finding = schema["$defs"]["finding"]
    finding["required"] = [key for key in finding["required"] if key != "scope"]  # added in 1.5
    for key in ("summary", "plan"):
        schema["properties"][key] = {"type": "object"}
    return jsonschema.Draft202012Validator(schema)


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def check_document(doc: Any) -> None:
    """ResultError, in one line saying where and what, for a document that is not a result this version reads."""
    if not isinstance(doc, dict):
        raise ResultError(f"the top level is a JSON {type(doc).__name__.replace('str', 'string')}, not an object")
    version = doc.get("schema_version")
    if not (isinstance(version, str) and version.startswith("1.")):
        raise ResultError(f"schema version {_short(str(version)) if version else 'missing'}: not an armscan 1.x "
                          f"result")
    error = jsonschema.exceptions.best_match(_validator().iter_errors(doc))
    if error is not None:
        where = "/".join(str(part) for part in error.absolute_path) or "the top level"
        if error.validator == "type":
            what = f"must be of type {error.validator_value}"
        elif error.validator in ("enum", "const"):
            what = f"must be one of {_short(json.dumps(error.validator_value))}"
        else:
            what = _short(error.message, 160)
        raise ResultError(f"{_short(where)}: {what}")
    rules = doc["rules"]
    for number, finding in enumerate(doc["findings"]):
        if finding["rule_id"] not in rules:
            raise ResultError(f"findings/{number}: rule {finding['rule_id']} is not described under rules")


def _rule(rule_id: str, data: dict[str, Any]) -> RuleInfo:
    return RuleInfo(rule_id, str(data["title"]), Severity(data["severity"]), Confidence(data["confidence"]),
                    Effort(data["effort"]), WorkKind(data["work"]),
                    tuple((PortStatus(k), str(v)) for k, v in data["advice"].items()), tuple(data["references"]))


def _finding(data: dict[str, Any], rules: dict[str, RuleInfo], inputs: tuple[str, ...]) -> Finding:
    rule = rules[data["rule_id"]]
    status = PortStatus(data["status"])
    advice = dict(rule.advice)
    loc = data["location"]
    # results before schema 1.5 have no scope: the path tells it, as the scan would have
    scope = data.get("scope") or classify(relative_path(loc["path"], inputs))
    return Finding(rule.id, rule.title, Severity(data["severity"]), Confidence(data["confidence"]),
                   Effort(data["effort"]), WorkKind(data["work"]), str(data["message"]),
                   advice.get(status, advice.get(PortStatus.UNPORTED, "")),
                   Location(loc["path"], loc["line"], loc["column"], loc["end_column"], loc["snippet"], loc["match"]),
                   rule.references, status, data.get("suppressed"), scope, int(data.get("places", 1)))


def _artifact(data: dict[str, Any]) -> Artifact:
    elf = data.get("elf")
    details = ElfDetails(**{**elf, "needed": tuple(elf["needed"]),
                            "glibc_versions": tuple(elf["glibc_versions"])}) if elf else None
    return Artifact(data["path"], data["format"], tuple(data["machines"]), data["kind"], data["size"], data["bits"],
                    data["endianness"], details,
                    tuple(data["imports"]), tuple(Slice(**s) for s in data["slices"]), tuple(data["notes"]),
                    data.get("owner"), tuple(IsaUse(**u) for u in data.get("isa", [])), data.get("packed"))


def from_document(doc: dict[str, Any]) -> ScanResult:
    check_document(doc)
    rules = {rid: _rule(rid, data) for rid, data in doc["rules"].items()}
    images = tuple(ImageRecord(**{**i, "platforms": tuple(i["platforms"]),
                                  "base_platforms": tuple(i["base_platforms"])}) for i in doc.get("images", []))
    return ScanResult(
        tool_version=doc["tool"]["version"], inputs=tuple(doc["inputs"]), started_at=doc["started_at"],
        rule_packs=tuple(RulePackInfo(**p) for p in doc["rule_packs"]),
        artifacts=tuple(_artifact(a) for a in doc["artifacts"]),
        findings=tuple(_finding(f, rules, tuple(doc["inputs"])) for f in doc["findings"]),
        skipped=tuple(Skipped(s["path"], SkipReason(s["reason"]), s["detail"], s.get("scope", PRODUCT))
                      for s in doc["skipped"]),
        stats=Stats(**doc["stats"]), complete=bool(doc["complete"]), errors=tuple(doc["errors"]),
        rules=tuple(rules.values()),
        packages=tuple(PackageRecord(**{**p, "chain": tuple(p["chain"])}) for p in doc.get("packages", [])),
        targets=tuple(doc.get("targets", [])), images=images,
        cpu_targets=tuple((str(t[0]), str(t[1])) for t in doc.get("cpu_targets", [])),
        compile=CompileSummary(**{**doc["compile"], "builds": tuple(doc["compile"]["builds"])})
        if doc.get("compile") else None)


def load(path: Path) -> ScanResult:
    try:
        doc = json.loads(path.read_bytes())
    except OSError as e:
        raise ResultError(f"{path}: {e.strerror or e}") from e
    except RecursionError:
        raise ResultError(f"{path}: not an armscan JSON result (nested too deeply)") from None
    except ValueError as e:
        raise ResultError(f"{path}: not JSON ({_short(str(e))})") from None
    try:
        return from_document(doc)
    except ResultError as e:
        raise ResultError(f"{path}: not an armscan JSON result: {e}") from None
    except (ValueError, KeyError, TypeError) as e:  # what the schema cannot say, e.g. an invalid ELF detail
        raise ResultError(f"{path}: not an armscan JSON result ({type(e).__name__}: {_short(str(e))})") from None


def merge(results: list[ScanResult]) -> ScanResult:
    """Many results (one per repository or image) as one."""
    if len(results) == 1:
        return results[0]
    rules = {r.id: r for result in results for r in result.rules}
    packs = {(p.name, p.version): p for result in results for p in result.rule_packs}
    return ScanResult(
        tool_version=results[0].tool_version, inputs=tuple(i for r in results for i in r.inputs),
        started_at=min(r.started_at for r in results), rule_packs=tuple(packs.values()),
        artifacts=tuple(a for r in results for a in r.artifacts),
        findings=tuple(f for r in results for f in r.findings),
        skipped=tuple(s for r in results for s in r.skipped),
        stats=Stats(sum(r.stats.files_seen for r in results), sum(r.stats.files_analyzed for r in results),
                    sum(r.stats.source_files_scanned for r in results), sum(r.stats.bytes_read for r in results),
                    round(sum(r.stats.duration_seconds for r in results), 3)),
        complete=all(r.complete for r in results), errors=tuple(e for r in results for e in r.errors),
        rules=tuple(rules.values()), packages=tuple(p for r in results for p in r.packages),
        targets=tuple(sorted({t for r in results for t in r.targets})),
        images=tuple(i for r in results for i in r.images),
        cpu_targets=tuple(dict.fromkeys(t for r in results for t in r.cpu_targets)),
        compile=_merged_compile([r.compile for r in results if r.compile is not None]))


def _merged_compile(summaries: list[CompileSummary]) -> CompileSummary | None:
    if not summaries:
        return None
    return CompileSummary(sum(s.units for s in summaries), sum(s.failed for s in summaries),
                          sum(s.not_checked for s in summaries), sum(s.not_built for s in summaries),
                          tuple(b for s in summaries for b in s.builds))
