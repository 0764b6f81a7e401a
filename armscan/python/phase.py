"""The Python part of a tree scan: requirement and lock files, installed environments, and wheel files.

Installed environments change how the files inside them are reported: their source is third-party code (not
the user's to port), and a binary that a platform wheel installed is replaced by installing that package's
aarch64 wheel, so the package's verdict stands for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

from armscan.model import Artifact, Finding, PackageRecord, Skipped
from armscan.python.analyze import PythonAnalyzer, PythonOptions, is_python_input
from armscan.python.environment import Environment, is_metadata_file, read_environment, site_packages_of
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
    groups: dict[str, tuple[Path, list[Path]]] = {}
    for entry in entries:
        if is_metadata_file(entry.display):
            display = site_packages_of(entry.display)
            folder = Path(entry.path).parent.parent
            groups.setdefault(display, (folder, []))[1].append(Path(entry.path))
    return [read_environment(folder, display, sorted(files)) for display, (folder, files) in sorted(groups.items())]


def run(entries: list[FileEntry], ruleset: RuleSet, options: PythonOptions | None, artifacts: list[Artifact],
        findings: list[Finding]) -> PhaseResult:
    """Analyze the Python inputs among `entries`; returns the file findings and artifacts as adjusted for them."""
    envs = environments_in(entries)
    artifacts, findings = attribute(envs, ruleset, artifacts, findings, verdicts_replace_binaries=options is not None)
    result = PhaseResult(artifacts, findings)
    if options is None:
        result.skipped.extend(skip for env in envs for skip in env.skipped)
        return result
    inputs = [(Path(e.path), e.display) for e in entries if is_python_input(os.path.basename(e.path))
              and not _inside(e.display, envs)]
    analyzer = PythonAnalyzer(ruleset, options)
    for outcome in (analyzer.analyze(inputs), analyzer.analyze_environments(envs)):
        result.findings.extend(outcome.findings)
        result.skipped.extend(outcome.skipped)
        result.packages.extend(outcome.packages)
        result.targets.update(outcome.targets)
        result.errors.extend(outcome.errors)
    return result


def _inside(display: str, envs: list[Environment]) -> bool:
    return any(display.startswith(env.display + "/") for env in envs)


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
        owner = owners.get(artifact.path.split("!", 1)[0])
        owned_artifacts.append(replace(artifact, owner=f"pypi:{owner.label}") if owner else artifact)
    kept = []
    for finding in findings:
        path = finding.location.path
        if not _inside(path, envs):
            kept.append(finding)
            continue
        if finding.rule_id not in binary_rules:
            continue  # third-party source inside an installed package is not the user's to port
        owner = owners.get(path.split("!", 1)[0])
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
