"""Python dependency readiness for the requirement files and pyproject.toml files found in a scan."""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.markers import InvalidMarker, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from armscan.analyzers.source import Hit, to_finding
from armscan.model import Finding, PackageRecord, Skipped, SkipReason
from armscan.python.advice import chain_text, describe, record
from armscan.python.audit import DEFAULT_OSV_URL, Auditor
from armscan.python.environment import Environment
from armscan.python.http import BadURL, Cache, Fetcher, check_url
from armscan.python.index import FindLinksClient, IndexClient
from armscan.python.lockfiles import is_lockfile, read_lockfile
from armscan.python.pipconfig import Sources, choose_sources
from armscan.python.requirements import RequirementSet, TopRequirement, read_pyproject, read_requirements_file
from armscan.python.resolve import Pin, Resolution, Resolver
from armscan.python.target import PythonTarget
from armscan.python.verdict import Verdict
from armscan.rules_engine.loader import RuleSet

logger = logging.getLogger(__name__)

_SUPPORTED_MINORS = range(8, 15)


@dataclass(frozen=True)
class PythonOptions:
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    no_index: bool = False  # only the find-links locations, as pip --no-index --find-links
    python_version: tuple[int, int] | None = None
    libc: str = "glibc"
    libc_version: tuple[int, int] = (2, 34)
    offline: bool = False
    cache_dir: Path | None = None
    cache_ttl: float = 6 * 3600
    timeout: float = 15.0
    retries: int = 2
    use_pip_config: bool = True
    audit: bool = False  # check recommended releases for known vulnerabilities (OSV)
    osv_url: str = DEFAULT_OSV_URL


@dataclass
class PythonResult:
    findings: list[Finding] = field(default_factory=list)
    packages: list[PackageRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    targets: set[str] = field(default_factory=set)


def is_python_input(name: str) -> bool:
    lowered = name.lower()
    return (lowered == "pyproject.toml" or is_lockfile(name)
            or (lowered.startswith("requirements") and lowered.endswith((".txt", ".in"))))


def _python_version(options: PythonOptions, requires_python: str | None) -> tuple[int, int]:
    if options.python_version:
        return options.python_version
    running = (sys.version_info[0], sys.version_info[1])
    if not requires_python:
        return running
    try:
        spec = SpecifierSet(requires_python)
    except InvalidSpecifier:
        return running
    if spec.contains(Version(f"{running[0]}.{running[1]}.0")):
        return running
    allowed = [(3, m) for m in _SUPPORTED_MINORS if spec.contains(Version(f"3.{m}.0"))]
    return allowed[0] if allowed else running


def _marker_applies(requirement: Requirement, env: dict[str, str]) -> bool:
    assert requirement.marker is not None
    try:
        return bool(requirement.marker.evaluate({**env, "extra": ""}))
    except (InvalidMarker, UndefinedEnvironmentName):
        return True


def _bad_index_option(requirements: RequirementSet) -> str | None:
    """Why an index option of a requirement file (-i, --extra-index-url, -f) cannot be used; the URL itself
    is never repeated, as it may hold a password."""
    urls = [("-i/--index-url", requirements.index_url)]
    urls += [("--extra-index-url", url) for url in requirements.extra_index_urls]
    urls += [("-f/--find-links", link) for link in requirements.find_links if "://" in link]
    for option, url in urls:
        if url is None:
            continue
        try:
            check_url(url)
        except BadURL as e:
            return f"its {option} URL is not usable: {e}"
    return None


class PythonAnalyzer:
    def __init__(self, ruleset: RuleSet, options: PythonOptions) -> None:
        self.ruleset = ruleset
        self.options = options
        cache = Cache(options.cache_dir, options.cache_ttl) if options.cache_dir else None
        self.fetcher = Fetcher(timeout=options.timeout, retries=options.retries, cache=cache, offline=options.offline)
        self._resolvers: dict[tuple[Sources, PythonTarget], Resolver] = {}
        self.auditor = None
        if options.audit:
            self.auditor = Auditor(options.osv_url, options.timeout, cache, options.offline,
                                   options.cache_dir / "pip-audit" if options.cache_dir else None)

    def _resolver(self, sources: Sources, target: PythonTarget) -> Resolver:
        key = (sources, target)
        if key not in self._resolvers:
            clients = [IndexClient(url, self.fetcher) for url in sources.indexes]
            clients += [FindLinksClient(location, self.fetcher) for location in sources.find_links]
            self._resolvers[key] = Resolver(clients, target, auditor=self.auditor)
        return self._resolvers[key]

    def _sources(self, requirements: RequirementSet | None = None) -> Sources:
        options = self.options
        file_settings = ((requirements.index_url, requirements.extra_index_urls, requirements.find_links,
                          requirements.no_index) if requirements else (None, [], [], False))
        sources = choose_sources(options.index_url, list(options.extra_index_urls), list(options.find_links),
                                 file_settings, options.use_pip_config)
        return Sources((), sources.find_links) if options.no_index else sources

    def analyze(self, inputs: list[tuple[Path, str, str]]) -> PythonResult:
        """Requirement, project and lock files: (path, display name, the scanned tree nothing is read outside)."""
        result = PythonResult()
        seen: set[tuple[str, str, int, str]] = set()
        locked = {path.parent for path, _, _ in inputs if is_lockfile(path.name)}
        for path, display, root in inputs:
            if path.name.lower() == "pyproject.toml" and path.parent in locked:
                continue  # the lock file beside it says exactly what is installed
            if is_lockfile(path.name):
                requirements = read_lockfile(path, display, root)
            elif path.name.lower() == "pyproject.toml":
                requirements = read_pyproject(path, display, root)
            else:
                requirements = read_requirements_file(path, display, root=root)
            result.skipped.extend(requirements.skipped)
            if not requirements.requirements:
                continue
            problem = _bad_index_option(requirements)
            if problem:
                reason = f"{problem}; its {len(requirements.requirements)} requirement(s) were not checked"
                result.skipped.append(Skipped(display, SkipReason.MALFORMED, reason))
                result.errors.append(f"{display}: {reason}")
                continue
            self._analyze_set(requirements, result, seen)
        return result

    def _analyze_set(self, requirements: RequirementSet, result: PythonResult,
                     seen: set[tuple[str, str, int, str]]) -> None:
        options = self.options
        target = PythonTarget(_python_version(options, requirements.requires_python), options.libc,
                              options.libc_version)
        result.targets.add(target.describe())
        resolution = self._resolver(self._sources(requirements), target).resolve(requirements)
        self._collect(resolution.verdicts, resolution.errors, target, result, seen)

    def judge_pinned(self, pins: list[Pin], target: PythonTarget) -> Resolution:
        """Judge exact releases (e.g. of wheel files) on the configured indexes."""
        return self._resolver(self._sources(), target).judge_pinned(pins, {})

    def analyze_environments(self, envs: list[Environment]) -> PythonResult:
        """Judge every distribution installed in each environment, at its installed version."""
        result = PythonResult()
        seen: set[tuple[str, str, int, str]] = set()
        for env in envs:
            result.skipped.extend(env.skipped)
            if env.dists:
                self._analyze_environment(env, result, seen)
        return result

    def _analyze_environment(self, env: Environment, result: PythonResult,
                             seen: set[tuple[str, str, int, str]]) -> None:
        options = self.options
        version = options.python_version or env.python_version or (sys.version_info[0], sys.version_info[1])
        target = PythonTarget(version, options.libc, options.libc_version)
        result.targets.add(target.describe())
        chains = env.chains()
        marker_env = target.marker_environment()
        specs: dict[str, list[tuple[str, SpecifierSet]]] = defaultdict(list)
        for dist in env.dists:
            for requirement in dist.requires:
                if requirement.marker is None or _marker_applies(requirement, marker_env):
                    specs[str(canonicalize_name(requirement.name))].append((dist.label, requirement.specifier))
        settled: list[Verdict] = []
        pins: list[Pin] = []
        notes: dict[str, str] = {}
        for dist in env.dists:
            try:
                origin = TopRequirement(Requirement(f"{dist.display_name}=={dist.version}"), dist.metadata_path, 1)
            except InvalidRequirement as e:
                result.skipped.append(Skipped(dist.metadata_path, SkipReason.MALFORMED, f"not checked: {e}"))
                continue
            chain = chains[dist.name]
            if dist.is_platform_wheel:
                notes[dist.name] = f"installed from a {', '.join(dist.wheel_platforms)} wheel"
            if dist.tags and target.accepts(dist.tags):
                status = "ready" if dist.is_platform_wheel else "pure"
                settled.append(Verdict(dist.name, dist.version, chain, origin, status,
                                       wheel=f"installed ({', '.join(dist.wheel_platforms)})"))
            else:
                pins.append(Pin(origin, chain[:-1]))
        errors: list[str] = []
        if pins:
            resolution = self._resolver(self._sources(), target).judge_pinned(pins, specs)
            settled.extend(resolution.verdicts)
            errors = resolution.errors
        self._collect(settled, errors, target, result, seen, notes)

    def _collect(self, verdicts: list[Verdict], errors: list[str], target: PythonTarget, result: PythonResult,
                 seen: set[tuple[str, str, int, str]], notes: dict[str, str] | None = None) -> None:
        result.errors.extend(e for e in errors if e not in result.errors)
        for verdict in verdicts:
            key = (verdict.name, verdict.origin.source, verdict.origin.line, verdict.status)
            if key in seen:
                continue
            seen.add(key)
            result.packages.append(record(verdict, (notes or {}).get(verdict.name, "")))
            if verdict.status == "unknown":
                result.skipped.append(Skipped(f"{verdict.origin.source}:{verdict.origin.line}",
                                              SkipReason.INDEX_ERROR,
                                              f"{' -> '.join(verdict.chain)}: {verdict.detail}"))
                continue
            result.findings.extend(self._findings(verdict, target))

    def _findings(self, verdict: Verdict, target: PythonTarget) -> list[Finding]:
        found = []
        variant = {"upgrade": "upgrade", "glibc": "glibc", "sdist": "sdist", "none": "none", "missing": "missing",
                   "no-match": "no-match"}.get(verdict.status)
        if variant is not None:
            found.append(self._finding(variant, verdict, describe(verdict, target)))
        if verdict.hashes_missing:
            text = (f"{chain_text(verdict)}: the requirement's --hash values match no file an aarch64 install can use; "
                    f"add the hashes of {', '.join(verdict.hashes_missing)}")
            found.append(self._finding("hashes", verdict, text))
        if verdict.mirror_gap:
            text = (f"{chain_text(verdict)}: {', '.join(verdict.mirror_gap)} has this release but not its aarch64 "
                    f"wheel {verdict.wheel}, which another configured index has")
            found.append(self._finding("mirror", verdict, text))
        return [f for f in found if f is not None]

    def _finding(self, variant: str, verdict: Verdict, message: str) -> Finding | None:
        rule = self.ruleset.variant("python", variant)
        if rule is None:
            return None
        origin = verdict.origin
        hit = Hit(line=origin.line, column=1, end_column=None, snippet=str(origin.requirement),
                  match=verdict.name, detail=message)
        finding = to_finding(rule, hit, origin.source)
        return replace(finding, message=message)
