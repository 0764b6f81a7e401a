"""Python dependency readiness for the requirement files and pyproject.toml files found in a scan."""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import Version

from armscan.analyzers.source import Hit, to_finding
from armscan.model import Finding, PackageRecord, Skipped, SkipReason
from armscan.python import knowledge
from armscan.python.http import Cache, Fetcher
from armscan.python.index import IndexClient
from armscan.python.lockfiles import is_lockfile, read_lockfile
from armscan.python.pipconfig import choose_indexes
from armscan.python.requirements import RequirementSet, read_pyproject, read_requirements_file
from armscan.python.resolve import Resolver
from armscan.python.target import PythonTarget
from armscan.python.verdict import Verdict
from armscan.rules_engine.loader import RuleSet

logger = logging.getLogger(__name__)

_SUPPORTED_MINORS = range(8, 15)


@dataclass(frozen=True)
class PythonOptions:
    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    python_version: tuple[int, int] | None = None
    libc: str = "glibc"
    libc_version: tuple[int, int] = (2, 34)
    offline: bool = False
    cache_dir: Path | None = None
    cache_ttl: float = 6 * 3600
    timeout: float = 15.0
    retries: int = 2
    use_pip_config: bool = True


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


class PythonAnalyzer:
    def __init__(self, ruleset: RuleSet, options: PythonOptions) -> None:
        self.ruleset = ruleset
        self.options = options
        cache = Cache(options.cache_dir, options.cache_ttl) if options.cache_dir else None
        self.fetcher = Fetcher(timeout=options.timeout, retries=options.retries, cache=cache, offline=options.offline)
        self._resolvers: dict[tuple[tuple[str, ...], PythonTarget], Resolver] = {}

    def _resolver(self, indexes: list[str], target: PythonTarget) -> Resolver:
        key = (tuple(indexes), target)
        if key not in self._resolvers:
            self._resolvers[key] = Resolver([IndexClient(url, self.fetcher) for url in indexes], target)
        return self._resolvers[key]

    def analyze(self, inputs: list[tuple[Path, str]]) -> PythonResult:
        result = PythonResult()
        seen: set[tuple[str, str, int, str]] = set()
        locked = {path.parent for path, _ in inputs if is_lockfile(path.name)}
        for path, display in inputs:
            if path.name.lower() == "pyproject.toml" and path.parent in locked:
                continue  # the lock file beside it says exactly what is installed
            if is_lockfile(path.name):
                requirements = read_lockfile(path, display)
            elif path.name.lower() == "pyproject.toml":
                requirements = read_pyproject(path, display)
            else:
                requirements = read_requirements_file(path, display)
            result.skipped.extend(requirements.skipped)
            if not requirements.requirements:
                continue
            self._analyze_set(requirements, result, seen)
        return result

    def _analyze_set(self, requirements: RequirementSet, result: PythonResult,
                     seen: set[tuple[str, str, int, str]]) -> None:
        options = self.options
        target = PythonTarget(_python_version(options, requirements.requires_python), options.libc,
                              options.libc_version)
        result.targets.add(target.describe())
        indexes = choose_indexes(options.index_url, list(options.extra_index_urls), requirements.index_url,
                                 requirements.extra_index_urls, options.use_pip_config)
        resolution = self._resolver(indexes, target).resolve(requirements)
        result.errors.extend(e for e in resolution.errors if e not in result.errors)
        for verdict in resolution.verdicts:
            key = (verdict.name, verdict.origin.source, verdict.origin.line, verdict.status)
            if key in seen:
                continue
            seen.add(key)
            result.packages.append(_record(verdict))
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
            found.append(self._finding(variant, verdict, _describe(verdict, target)))
        if verdict.hashes_missing:
            text = (f"{_chain(verdict)}: the requirement's --hash values match no file an aarch64 install can use; "
                    f"add the hashes of {', '.join(verdict.hashes_missing)}")
            found.append(self._finding("hashes", verdict, text))
        if verdict.mirror_gap:
            text = (f"{_chain(verdict)}: {', '.join(verdict.mirror_gap)} has this release but not its aarch64 wheel "
                    f"{verdict.wheel}, which another configured index has")
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


def _chain(verdict: Verdict) -> str:
    return " -> ".join(verdict.chain)


def _describe(verdict: Verdict, target: PythonTarget) -> str:
    where = _chain(verdict)
    kb = knowledge.about(verdict.name)
    name, version = verdict.chain[-1].split(" ")[0], verdict.version
    if verdict.status == "upgrade":
        text = (f"{where}: no wheel for {target.describe()}; {verdict.upgrade_to} is the first release with one. "
                f"Upgrade to {name}>={verdict.upgrade_to}.")
        if verdict.blockers:
            text += f" Held back by: {', '.join(verdict.blockers)}."
        if verdict.parent_fixes:
            text += f" Upgrade with it: {', '.join(verdict.parent_fixes)}."
        if verdict.has_sdist:
            text += f" Otherwise {version} builds from source."
        return text
    if verdict.status == "glibc":
        text = (f"{where}: its aarch64 wheels need glibc {verdict.needs_glibc}, the target has "
                f"{target.libc_version[0]}.{target.libc_version[1]}.")
        if verdict.upgrade_to:
            text += f" {verdict.upgrade_to} has a wheel the target accepts."
        elif verdict.has_sdist:
            text += " It can be built from source on the target."
        return text
    if verdict.status == "sdist":
        needs = ", ".join(kb.build) if kb.build else "whatever its setup needs (not in the knowledge base)"
        rpm = f" (RPM: {', '.join(kb.build_rpm)})" if kb.build_rpm else ""
        text = (f"{where}: no aarch64 wheel in any release; pip builds {version} from source, which needs gcc, "
                f"python3-dev and {needs}{rpm}.")
        if kb.alternatives:
            text += f" Alternatives with wheels: {', '.join(kb.alternatives)}."
        return text
    if verdict.status == "none":
        text = f"{where}: no release has a wheel for {target.describe()}, and there is no sdist to build."
        if kb.alternatives:
            text += f" Alternatives: {', '.join(kb.alternatives)}."
        return text
    if verdict.status == "missing":
        return f"{where}: {verdict.detail}; it may be a private package. Its aarch64 readiness is unknown."
    return f"{where}: {verdict.detail}."


def _record(verdict: Verdict) -> PackageRecord:
    return PackageRecord(
        ecosystem="pypi",
        name=verdict.name,
        version=verdict.version,
        status=verdict.status,
        chain=verdict.chain,
        source=f"{verdict.origin.source}:{verdict.origin.line}",
        file=verdict.wheel,
        detail=verdict.detail or (f"upgrade to {verdict.upgrade_to}" if verdict.upgrade_to else ""),
    )
