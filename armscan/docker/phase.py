"""The Dockerfile part of a tree scan: parsed checks, and each stage's base image asked on its registry."""

from __future__ import annotations

import fnmatch
import logging
import os
from dataclasses import dataclass, field, replace

from armscan.analyzers.source import Hit, to_finding
from armscan.docker.checks import BaseImage, analyze
from armscan.model import Finding, Location, Skipped, SkipReason
from armscan.rules_engine.loader import RuleSet
from armscan.sources.confined import open_confined
from armscan.sources.tree import FileEntry

logger = logging.getLogger(__name__)

PATTERNS = ("Dockerfile", "Dockerfile.*", "*.Dockerfile", "*.dockerfile", "Containerfile", "Containerfile.*")
MAX_DOCKERFILE = 1024 * 1024


@dataclass
class DockerResult:
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # base images the registry did not answer for: incomplete


def is_dockerfile(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in PATTERNS)


def run(entries: list[FileEntry], ruleset: RuleSet, registry: object | None) -> DockerResult:
    """`registry` is a RegistrySettings, or None to leave base images unchecked (offline)."""
    result = DockerResult()
    bases: list[tuple[str, BaseImage]] = []
    for entry in entries:
        if not is_dockerfile(os.path.basename(entry.path)):
            continue
        try:
            with open_confined(entry.path, entry.root) as fh:
                data = fh.read(MAX_DOCKERFILE + 1)
        except OSError:
            continue  # the file analysis already recorded why it could not be read
        if len(data) > MAX_DOCKERFILE:
            result.skipped.append(Skipped(entry.display, SkipReason.TOO_LARGE,
                                          f"Dockerfile over {MAX_DOCKERFILE} bytes: its instructions not checked"))
            continue
        text = data.decode("utf-8", "replace")
        findings, found_bases = analyze(text, entry.display, ruleset)
        result.findings.extend(findings)
        bases.extend((entry.display, base) for base in found_bases)
    if bases:
        _check_bases(bases, ruleset, registry, result)
    return result


def _check_bases(bases: list[tuple[str, BaseImage]], ruleset: RuleSet, registry: object | None,
                 result: DockerResult) -> None:
    rule = ruleset.variant("image", "base-no-arm64")
    if rule is None:
        return
    if registry is None:
        for display, base in bases:
            result.skipped.append(Skipped(f"{display}:{base.line}", SkipReason.NOT_FOUND,
                                          f"base image {base.reference} not checked for linux/arm64 (offline)"))
        return
    from armscan.image.open import RegistrySettings, registry_opener
    from armscan.image.platforms import platforms_of

    assert isinstance(registry, RegistrySettings)
    opener = registry_opener(registry)
    answers: dict[str, tuple[list[str], str | None] | Exception] = {}
    for display, base in bases:
        if base.reference not in answers:
            try:
                answers[base.reference] = platforms_of(base.reference, opener)
            except Exception as e:  # registry down, image missing, bad name: unknown, not ready
                logger.debug("base image %s not checked", base.reference, exc_info=True)
                answers[base.reference] = e
        answer = answers[base.reference]
        where = f"{display}:{base.line}"
        if isinstance(answer, Exception):
            reason = f"base image {base.reference} could not be checked: {answer}"
            result.skipped.append(Skipped(where, SkipReason.INDEX_ERROR, reason))
            if reason not in result.errors:
                result.errors.append(reason)
            continue
        platforms, suggestion = answer
        if "linux/arm64" in platforms:
            continue
        detail = f"FROM {base.reference}: published for {', '.join(platforms)} only, not linux/arm64."
        if suggestion:
            detail += f" The nearest tag with linux/arm64 is {suggestion}."
        hit = Hit(line=base.line, column=1, end_column=None, snippet=f"FROM {base.written}", match=base.reference,
                  detail=detail)
        finding = to_finding(rule, hit, display)
        result.findings.append(replace(finding, location=Location(path=display, line=base.line, column=1,
                                                                  snippet=f"FROM {base.written}",
                                                                  match=base.reference)))
