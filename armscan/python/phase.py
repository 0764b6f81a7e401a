"""The Python part of a tree scan: requirement and lock files, installed environments, and wheel files.

Installed environments change how the files inside them are reported: their source is third-party code (not
the user's to port), and a binary that a platform wheel installed is replaced by installing that package's
aarch64 wheel, so the package's verdict stands for it.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from armscan.model import Artifact, Finding, PackageRecord, Skipped, SkipReason
from armscan.python import wheelfiles
from armscan.python.advice import record
from armscan.python.analyze import PythonAnalyzer, PythonOptions, is_python_input
from armscan.python.environment import (
    Environment,
    FolderReader,
    InstalledDist,
    is_metadata_file,
    read_environment,
    site_packages_of,
)
from armscan.python.resolve import Pin
from armscan.python.target import PythonTarget, is_pure
from armscan.python.verdict import Verdict
from armscan.python.wheelfiles import WheelFile
from armscan.rules_engine.loader import RuleSet
from armscan.sources.tree import FileEntry


@dataclass
class PhaseResult:
    artifacts: list[Artifact]
    findings: list[Finding]
    packages: list[PackageRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    targets: set[str] = field(default_factory=set)


def environments_in(entries: list[FileEntry]) -> list[Environment]:
    groups: dict[str, tuple[FolderReader, list[str]]] = {}
    for entry in entries:
        if is_metadata_file(entry.display):
            display = site_packages_of(entry.display)
            path = Path(entry.path)
            reader = FolderReader(path.parent.parent, entry.root)
            groups.setdefault(display, (reader, []))[1].append(f"{path.parent.name}/{path.name}")
    return [read_environment(reader, display, sorted(files)) for display, (reader, files) in sorted(groups.items())]


def run(entries: list[FileEntry], ruleset: RuleSet, options: PythonOptions | None, artifacts: list[Artifact],
        findings: list[Finding]) -> PhaseResult:
    """Analyze the Python inputs among `entries`; returns the file findings and artifacts as adjusted for them."""
    envs = environments_in(entries)
    artifacts, findings = attribute(envs, ruleset, artifacts, findings, verdicts_replace_binaries=options is not None)
    result = PhaseResult(artifacts, findings)
    analyzer = PythonAnalyzer(ruleset, options) if options is not None else None
    _wheel_files(entries, envs, ruleset, options, analyzer, result)
    if analyzer is None:
        result.skipped.extend(skip for env in envs for skip in env.skipped)
        return result
    inputs = [(Path(e.path), e.display, e.root) for e in entries if is_python_input(os.path.basename(e.path))
              and not _inside(e.display, envs)]
    for outcome in (analyzer.analyze(inputs), analyzer.analyze_environments(envs)):
        result.findings.extend(outcome.findings)
        result.skipped.extend(outcome.skipped)
        result.packages.extend(outcome.packages)
        result.targets.update(outcome.targets)
        result.errors.extend(outcome.errors)
    return result


def _inside(display: str, envs: list[Environment]) -> bool:
    return any(display.startswith(env.display + "/") for env in envs)


def _owner_of(path: str, owners: dict[str, InstalledDist]) -> InstalledDist | None:
    """The package that installed a file, or the archive (a wheel, a JAR) it is a member of."""
    return owners.get(path) or owners.get(path.rsplit("!", 1)[0])


def attribute(envs: list[Environment], ruleset: RuleSet, artifacts: list[Artifact], findings: list[Finding], *,
              verdicts_replace_binaries: bool) -> tuple[list[Artifact], list[Finding]]:
    """Name each installed binary's package; drop what installed packages' verdicts report instead."""
    if not envs:
        return artifacts, findings
    owners = {}
    for env in envs:
        owners.update(env.owners())
    binary_rules = {rule.id for rule in ruleset.rules if rule.check == "binary"}
    owned_artifacts = []
    for artifact in artifacts:
        owner = _owner_of(artifact.path, owners)
        owned_artifacts.append(replace(artifact, owner=f"pypi:{owner.label}") if owner else artifact)
    kept = []
    for finding in findings:
        path = finding.location.path
        if not _inside(path, envs):
            kept.append(finding)
            continue
        if finding.rule_id not in binary_rules:
            continue  # third-party source inside an installed package is not the user's to port
        owner = _owner_of(path, owners)
        if owner is None:
            note = "no installed package lists it in its RECORD: it was added by hand and needs an aarch64 build"
        elif owner.is_platform_wheel:
            if verdicts_replace_binaries:
                continue
            note = f"installed by {owner.label} from a {', '.join(owner.wheel_platforms)} wheel"
        else:
            note = f"shipped by {owner.label} in a wheel tagged for any platform, so pip installs it on aarch64 too"
        kept.append(replace(finding, message=f"{finding.message.rstrip('.')}; {note}."))
    return owned_artifacts, kept


def _wheel_files(entries: list[FileEntry], envs: list[Environment], ruleset: RuleSet, options: PythonOptions | None,
                 analyzer: PythonAnalyzer | None, result: PhaseResult) -> None:
    displays = [e.display for e in entries if e.display.lower().endswith(".whl") and not _inside(e.display, envs)]
    if not displays:
        return
    wheels, bad_names = wheelfiles.read_wheel_names(displays)
    result.skipped.extend(bad_names)
    platform_wheels = {w.display for w in wheels if not is_pure(w.tags)}
    binary_rules = {rule.id for rule in ruleset.rules if rule.check == "binary"}
    result.findings = [f for f in result.findings if not (
        f.rule_id in binary_rules and f.location.path.split("!", 1)[0] in platform_wheels)]
    todo, ported = wheelfiles.needing_work(wheels)
    python_version = options.python_version if options else None
    libc, libc_version = (options.libc, options.libc_version) if options else ("glibc", (2, 34))
    for wheel in wheels:
        if wheel.display in ported:
            target = wheelfiles.target_for(wheel, python_version, libc, libc_version)
            found = wheelfiles.finding(wheel, ruleset, None, target, ported=True)
            result.findings.extend([found] if found else [])
    by_target: dict[PythonTarget, list[WheelFile]] = defaultdict(list)
    for wheel in todo:
        by_target[wheelfiles.target_for(wheel, python_version, libc, libc_version)].append(wheel)
    for target, group in sorted(by_target.items(), key=lambda item: item[0].describe()):
        verdicts: dict[str, Verdict] = {}
        if analyzer is not None:
            result.targets.add(target.describe())
            pins = [Pin(origin) for origin in (w.origin() for w in group) if origin is not None]
            resolution = analyzer.judge_pinned(pins, target)
            result.errors.extend(e for e in resolution.errors if e not in result.errors)
            verdicts = {v.origin.source: v for v in resolution.verdicts}
        for wheel in group:
            verdict = verdicts.get(wheel.display)
            if verdict is not None and verdict.status == "unknown":
                result.skipped.append(Skipped(wheel.display, SkipReason.INDEX_ERROR, verdict.detail))
                verdict = None
            if verdict is not None:
                result.packages.append(record(verdict, f"for the wheel file {wheel.filename}"))
            found = wheelfiles.finding(wheel, ruleset, verdict, target)
            result.findings.extend([found] if found else [])
