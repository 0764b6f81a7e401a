"""Analyze one container image: the platforms it offers, and what inside it will not run on linux/arm64.

An image with a linux/arm64 variant has that variant checked: its config and its binaries must really be
arm64. An image without one has its amd64 (or only) variant checked for what a rebuild for arm64 involves:
binaries added by hand, Node native modules, pip-installed packages (judged like any Python environment, for
the image's own Python and C library), and OS packages, which the rebuild replaces.
"""

from __future__ import annotations

import hashlib
import logging
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from time import monotonic

from armscan import __version__
from armscan.analyzers import nodenative
from armscan.analyzers.counterparts import linux_arm64_counterpart, never_loaded_on_linux_arm64
from armscan.analyzers.java import classifier_jar_findings
from armscan.analyzers.source import Hit, to_finding
from armscan.image import inventory
from armscan.image.collect import Collected, collect
from armscan.image.manifest import (
    Descriptor,
    ImageConfig,
    Manifest,
    ManifestError,
    Platform,
    index_entries,
    is_index,
    load_document,
)
from armscan.image.platforms import ImageSource, PlatformCheck, SourceOpener, suggest_tag
from armscan.limits import Limits
from armscan.model import (
    X86_MACHINES,
    Artifact,
    Finding,
    ImageRecord,
    Location,
    PackageRecord,
    ScanResult,
    Skipped,
    SkipReason,
    Stats,
)
from armscan.python.analyze import PythonOptions
from armscan.rules_engine.loader import RuleSet
from armscan.targets import Targets
from armscan.targets import check as check_targets

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageOptions:
    limits: Limits = field(default_factory=Limits)
    python: PythonOptions | None = None  # None: pip-installed packages are not checked against an index
    offline: bool = False  # registries are not asked about base images or other tags
    targets: Targets | None = None


@dataclass
class _Outcome:
    findings: list[Finding] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    packages: list[PackageRecord] = field(default_factory=list)
    targets: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)


def _finding(ruleset: RuleSet, variant: str, path: str, detail: str, snippet: str = "") -> list[Finding]:
    rule = ruleset.variant("image", variant)
    if rule is None:
        return []
    hit = Hit(line=0, column=0, end_column=None, snippet=snippet, match=snippet, detail=detail)
    found = to_finding(rule, hit, path)
    return [replace(found, location=Location(path=path, snippet=snippet or None))]


def _choose(source: ImageSource, root: bytes, media_type: str) -> tuple[Manifest, list[Platform], Descriptor | None]:
    data = load_document(root)
    if not is_index(data, media_type):
        return Manifest.of(data), [], None
    entries = [d for d in index_entries(data) if not d.is_attestation and d.platform is not None]
    if not entries:
        raise ManifestError("the image index lists no platform")
    platforms = [d.platform for d in entries if d.platform is not None]
    chosen = (next((d for d in entries if d.platform and d.platform.is_arm64), None)
              or next((d for d in entries if d.platform and d.platform.architecture == "amd64"), None) or entries[0])
    child = load_document(source.document(chosen))
    if is_index(child, chosen.media_type):
        raise ManifestError("an index inside an index is not supported")
    return Manifest.of(child), platforms, chosen


def analyze_image(label: str, source: ImageSource, opener: SourceOpener | None, ruleset: RuleSet,
                  options: ImageOptions) -> ScanResult:
    """Analyze the image `source` gives; `opener` reaches registries for base images and tags (None: offline)."""
    started = datetime.now(timezone.utc)
    clock = monotonic()
    outcome = _Outcome()
    record = ImageRecord(reference=label)
    collected = Collected()
    try:
        root, media_type = source.root()
        manifest, platforms, chosen = _choose(source, root, media_type)
        config = ImageConfig.of(load_document(source.document(manifest.config)))
        analyzed = chosen.platform if chosen is not None and chosen.platform else config.platform
        names = tuple(str(p) for p in platforms) or (str(config.platform),)
        arm64 = "yes" if analyzed.is_arm64 else "no"
        record = replace(record, digest="sha256:" + hashlib.sha256(root).hexdigest(), platforms=names,
                         analyzed_platform=str(analyzed),
                         config_platform=str(config.platform), arm64=arm64, base=config.base_name)
        collected = collect(source, manifest.layers, label, ruleset, options.limits)
        outcome.errors.extend(collected.errors)
        outcome.skipped.extend(collected.skipped)
        os_info = inventory.os_info(collected.files, collected.paths)
        record = replace(record, os=os_info.describe(), layers=collected.layers,
                         compressed_bytes=collected.compressed_bytes)
        artifacts = _python_packages(label, collected, os_info, config.env, ruleset, options, outcome)
        record = _content_findings(label, record, config, artifacts, collected, ruleset, outcome)
        if options.targets is not None and record.arm64 == "yes":
            own = options.targets.with_own_libc(f"the image's {os_info.describe()}", os_info.libc,
                                                os_info.libc_version)
            outcome.findings.extend(check_targets(artifacts, ruleset, own))
            outcome.targets.update(options.targets.describe())
        check = (suggest_tag(source, _tag_of(source)) if record.arm64 == "no" and not options.offline
                 else None)
        record = _platform_findings(label, record, check, ruleset, outcome)
        record = _base_findings(label, record, opener, options.offline, ruleset, outcome)
    except ManifestError as e:
        outcome.errors.append(f"{label}: {e}")
        artifacts = collected.artifacts
    except Exception as e:  # the source failed (registry down, file missing): what exists is still reported
        logger.debug("image analysis failed", exc_info=True)
        outcome.errors.append(str(e) if str(e).startswith(label) else f"{label}: {e}")
        artifacts = collected.artifacts
    stats = Stats(files_seen=len(collected.paths), files_analyzed=len(collected.paths),
                  bytes_read=collected.compressed_bytes, duration_seconds=round(monotonic() - clock, 3))
    rule_ids = {f.rule_id for f in outcome.findings}
    return ScanResult(
        tool_version=__version__, inputs=(label,), started_at=started.isoformat(timespec="seconds"),
        rule_packs=(ruleset.pack,), artifacts=tuple(sorted(artifacts, key=lambda a: a.path)),
        findings=tuple(sorted(outcome.findings, key=lambda f: (f.location.path, f.rule_id))),
        skipped=tuple(sorted(outcome.skipped, key=lambda s: s.path)), stats=stats, complete=not outcome.errors,
        errors=tuple(outcome.errors), rules=tuple(r.info() for r in ruleset.rules if r.id in rule_ids),
        packages=tuple(outcome.packages), targets=tuple(sorted(outcome.targets)), images=(record,),
        cpu_targets=tuple((c.id, c.name) for c in options.targets.cpus) if options.targets else ())


def _tag_of(source: ImageSource) -> str | None:
    ref = getattr(source, "ref", None)
    return getattr(ref, "tag", None) or getattr(source, "tag", None)


def _python_packages(label: str, collected: Collected, os_info: inventory.OsInfo, env: tuple[str, ...],
                     ruleset: RuleSet, options: ImageOptions, outcome: _Outcome) -> list[Artifact]:
    """Judge pip-installed packages for the image's Python and libc; name each binary's Python owner."""
    from armscan.python.environment import MemoryReader, read_environment
    from armscan.python.phase import attribute

    sites: dict[str, list[str]] = defaultdict(list)
    for path in collected.files:
        if path.endswith(("/METADATA", "/PKG-INFO")) and path.count("/") >= 2:
            site, info, name = path.rsplit("/", 2)
            if info.endswith((".dist-info", ".egg-info")):
                sites[site].append(f"{info}/{name}")
    envs = [read_environment(MemoryReader(collected.files, site), f"{label}!/{site}", sorted(files))
            for site, files in sorted(sites.items())]
    artifacts, _ = attribute(envs, ruleset, collected.artifacts, [], verdicts_replace_binaries=True)
    if options.python is None:
        outcome.skipped.extend(s for env in envs for s in env.skipped)
        return artifacts
    libc_version = os_info.libc_version or options.python.libc_version
    # the image's own pip settings, or what the user gave; never the scanning machine's pip.conf
    python = replace(options.python, libc=os_info.libc, libc_version=libc_version, use_pip_config=False)
    if python.index_url is None and not python.extra_index_urls and not python.no_index:
        index, extras = inventory.pip_index(collected.files, env)
        python = replace(python, index_url=index, extra_index_urls=tuple(extras))
    from armscan.python.analyze import PythonAnalyzer

    result = PythonAnalyzer(ruleset, python).analyze_environments(envs)
    outcome.findings.extend(result.findings)
    outcome.skipped.extend(result.skipped)
    outcome.packages.extend(result.packages)
    outcome.targets.update(result.targets)
    outcome.errors.extend(f"package index: {e}" for e in result.errors)
    return artifacts


def _not_arm(artifact: Artifact) -> bool:
    machines = set(artifact.machines)
    return bool(machines) and not machines & {"aarch64", "any"}


def _unused_on_arm64(inside: str, folders: dict[str, list[str]]) -> bool:
    """Another platform's prebuilt binary (prebuilds/darwin-x64/), or a linux x86 one whose linux-arm64
    counterpart the image holds too: the package loads that one on arm64."""
    return never_loaded_on_linux_arm64(inside) or linux_arm64_counterpart(inside, lambda f: folders.get(f, ()))


def _folders(paths: set[str]) -> dict[str, list[str]]:
    by_folder: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        folder, _, name = path.rpartition("/")
        by_folder[folder].append(name)
    return by_folder


def _content_findings(label: str, record: ImageRecord, config: ImageConfig, artifacts: list[Artifact],
                      collected: Collected, ruleset: RuleSet, outcome: _Outcome) -> ImageRecord:
    owners = inventory.package_owners(collected.files, collected.paths, collected.links)
    # a counterpart is an arm64 binary the image holds, not any file of that name
    folders = _folders({a.path.split("!/", 1)[-1] for a in artifacts if "aarch64" in a.machines})
    foreign = sorted((a for a in artifacts if _not_arm(a) and "!" not in a.path.split("!/", 1)[-1]
                      and not _unused_on_arm64(a.path.split("!/", 1)[-1], folders)), key=lambda a: a.path)
    if record.arm64 == "yes":
        problems = []
        if not config.platform.is_arm64:
            problems.append(f"its config says {config.platform}")
        if foreign:
            shown = ", ".join(f"/{a.path.split('!/', 1)[-1]} ({', '.join(a.machines)})" for a in foreign[:8])
            more = f" and {len(foreign) - 8} more" if len(foreign) > 8 else ""
            problems.append(f"{len(foreign)} binaries are not arm64: {shown}{more}")
        if problems:
            outcome.findings.extend(_finding(ruleset, "mislabeled", label,
                                             f"{label}: the linux/arm64 image is not what it says: "
                                             f"{'; '.join(problems)}.", str(record.analyzed_platform)))
            _packaged_findings(label, collected, ruleset, outcome)
            return replace(record, arm64="mislabeled")
        _packaged_findings(label, collected, ruleset, outcome)
        return record
    if record.config_platform and Platform.of({"os": "linux", "architecture": "arm64"}) == config.platform:
        _packaged_findings(label, collected, ruleset, outcome)
        return record
    by_package: dict[str, list[str]] = defaultdict(list)
    for i, artifact in enumerate(artifacts):
        owner = owners.get(artifact.path.split("!/", 1)[-1])
        if owner is not None and artifact.owner is None:
            artifacts[i] = replace(artifact, owner=owner)
    for artifact in foreign:
        inside = artifact.path.split("!/", 1)[-1]
        if artifact.owner is not None:
            continue  # a pip-installed package's binary: its package verdict says what to do
        package = owners.get(inside)
        machines = ", ".join(artifact.machines)
        if package is not None:
            by_package[package].append(inside)
        elif "/node_modules/" in f"/{inside}" and _build_leftover(inside, artifact):
            continue  # node-gyp's objects and archives: what it linked the .node from, never loaded
        elif "/node_modules/" in f"/{inside}" or inside.endswith(".node"):
            outcome.findings.extend(_finding(ruleset, "node-native", artifact.path,
                                             f"/{inside}: a Node.js native module for {machines}; "
                                             "node_modules must be installed in the arm64 build. "
                                             + nodenative.module_note(inside), machines))
        else:
            x86 = set(artifact.machines) <= X86_MACHINES
            what = "x86" if x86 else machines
            outcome.findings.extend(_finding(ruleset, "added-binary", artifact.path,
                                             f"/{inside}: {what} {artifact.format.upper()} {artifact.kind}, owned by "
                                             "no OS or Python package (copied in or downloaded); the arm64 image "
                                             "needs its arm64 build.", machines))
    if by_package:
        count = sum(len(v) for v in by_package.values())
        names = sorted(name.split(":", 1)[1] for name in by_package)
        shown = ", ".join(names[:10]) + (f" and {len(names) - 10} more" if len(names) > 10 else "")
        outcome.findings.extend(_finding(ruleset, "os-packages", label,
                                         f"{label}: {count} x86 binaries come from {len(names)} OS packages "
                                         f"({shown}); an arm64 rebuild installs their arm64 builds.",
                                         f"{len(names)} packages"))
    _packaged_findings(label, collected, ruleset, outcome)
    return record


_LEFTOVER_SUFFIXES = (".o", ".a", ".obj", ".lo", ".lib")


def _build_leftover(inside: str, artifact: Artifact) -> bool:
    """An intermediate of a native module's build (build/Release/obj.target/x/src/a.o, a static .a)."""
    return inside.endswith(_LEFTOVER_SUFFIXES) or "/obj.target/" in inside or artifact.kind == "relocatable"


def _packaged_findings(label: str, collected: Collected, ruleset: RuleSet, outcome: _Outcome) -> None:
    """What JARs, wheels and node_modules hold: the same whatever the image's own platform (an x86-only JAR in
    a linux/arm64 image is as much a problem as in an amd64 one)."""
    outcome.findings.extend(collected.archive_findings)
    node_found, node_unknown = nodenative.installed_findings(
        {p: data for p, data in collected.files.items() if p.endswith("/package.json")}, label, ruleset)
    outcome.findings.extend(node_found)
    outcome.skipped.extend(node_unknown)
    outcome.findings.extend(classifier_jar_findings([f"{label}!/{p}" for p in sorted(collected.paths)], ruleset))


def _platform_findings(label: str, record: ImageRecord, check: PlatformCheck | None, ruleset: RuleSet,
                       outcome: _Outcome) -> ImageRecord:
    if record.arm64 != "no":
        return record
    detail = f"{label} is published for {', '.join(record.platforms)} only, not linux/arm64."
    if check is not None and check.suggested:
        detail += f" The nearest tag with linux/arm64 is {check.suggested}."
        record = replace(record, suggested_tag=check.suggested)
    elif check is not None and check.note:
        detail += f" {check.note}"
    outcome.findings.extend(_finding(ruleset, "no-arm64", label, detail, ", ".join(record.platforms)))
    return record


def _base_findings(label: str, record: ImageRecord, opener: SourceOpener | None, offline: bool, ruleset: RuleSet,
                   outcome: _Outcome) -> ImageRecord:
    if not record.base:
        return record
    if offline or opener is None:
        outcome.skipped.append(Skipped(label, SkipReason.NOT_FOUND,
                                       f"base image {record.base} not checked for linux/arm64 (offline)"))
        return record
    from armscan.image.platforms import platforms_of

    try:
        platforms, suggestion = platforms_of(record.base, opener)
    except Exception as e:
        outcome.skipped.append(Skipped(label, SkipReason.INDEX_ERROR,
                                       f"base image {record.base} could not be checked: {e}"))
        return record
    record = replace(record, base_platforms=tuple(platforms))
    if "linux/arm64" not in platforms:
        detail = f"{label}: its base image {record.base} is published for {', '.join(platforms)} only."
        if suggestion:
            detail += f" The nearest tag with linux/arm64 is {suggestion}."
        outcome.findings.extend(_finding(ruleset, "base-no-arm64", label, detail, record.base or ""))
    return record
