"""Walk a dependency tree on a package index as an aarch64 target would install it, and judge every package."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from packaging.markers import InvalidMarker, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, canonicalize_name
from packaging.version import InvalidVersion, Version

from armscan.python.audit import Auditor, audit_upgrade, release_note
from armscan.python.deadline import expire_all
from armscan.python.http import FetchError
from armscan.python.index import DistFile, IndexClient, IndexError_, ProjectPage
from armscan.python.requirements import RequirementSet, TopRequirement
from armscan.python.target import PythonTarget
from armscan.python.verdict import Verdict, accepted, judge

logger = logging.getLogger(__name__)

MAX_PACKAGES = 2000
_T = TypeVar("_T")
_R = TypeVar("_R")


@dataclass(frozen=True)
class Release:
    version: Version
    files: tuple[DistFile, ...]


def releases(page_files: tuple[DistFile, ...], name: str) -> dict[Version, Release]:
    from packaging.utils import parse_sdist_filename, parse_wheel_filename

    grouped: dict[Version, list[DistFile]] = defaultdict(list)
    for dist in page_files:
        try:
            if dist.filename.endswith(".whl"):
                project, version, _build, _tags = parse_wheel_filename(dist.filename)
            elif dist.filename.endswith((".tar.gz", ".zip", ".tgz")):
                project, version = parse_sdist_filename(dist.filename.replace(".tgz", ".tar.gz"))
            else:
                continue
        except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
            continue
        if canonicalize_name(project) == name:
            grouped[version].append(dist)
    return {v: Release(v, tuple(files)) for v, files in grouped.items()}


@dataclass(frozen=True)
class Pin:
    """A release already chosen, e.g. installed: `origin` pins it, `ancestors` say what pulled it in."""

    origin: TopRequirement
    ancestors: tuple[str, ...] = ()


@dataclass
class _Node:
    name: str
    requirement: Requirement
    ancestors: tuple[str, ...]  # "name version" of each package above, top-level first
    origin: TopRequirement


@dataclass
class Resolution:
    verdicts: list[Verdict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Resolver:
    def __init__(self, indexes: list[IndexClient], target: PythonTarget, workers: int = 8,
                 auditor: Auditor | None = None) -> None:
        self.indexes = indexes
        self.target = target
        self.workers = workers
        self.auditor = auditor
        self._pages: dict[str, list[ProjectPage] | Exception] = {}

    def _fetch_pages(self, names: set[str]) -> None:
        todo = [n for n in names if n not in self._pages]
        if not todo:
            return
        for name, pages in zip(todo, _in_threads(self.workers, self._fetch_one, todo), strict=True):
            self._pages[name] = pages

    def _fetch_one(self, name: str) -> list[ProjectPage] | Exception:
        pages = []
        for index in self.indexes:
            try:
                page = index.project(name)
            except (FetchError, IndexError_) as e:
                return e
            if page is not None:
                pages.append(page)
        return pages

    def resolve(self, requirement_set: RequirementSet) -> Resolution:
        resolution = Resolution()
        env = self.target.marker_environment()
        specs: dict[str, list[tuple[str, SpecifierSet]]] = defaultdict(list)
        seen: set[str] = set()
        level = []
        for top in requirement_set.requirements:
            if top.requirement.marker is not None and not _marker_true(top.requirement, env, ""):
                continue
            level.append(_Node(top.name, top.requirement, (), top))
        while level and len(seen) < MAX_PACKAGES:
            self._fetch_pages({node.name for node in level if node.name not in seen})
            next_level: list[_Node] = []
            for node in level:
                parent = node.ancestors[-1] if node.ancestors else f"{node.origin.source}:{node.origin.line}"
                specs[node.name].append((parent, node.requirement.specifier))
                if node.name in seen:
                    continue
                seen.add(node.name)
                verdict, metadata_file = self._judge(node, requirement_set, specs)
                resolution.verdicts.append(verdict)
                if verdict.status == "unknown" and verdict.detail not in resolution.errors:
                    resolution.errors.append(verdict.detail)
                # What a package that cannot be installed at all would pull in is moot: not reported.
                if metadata_file is not None and verdict.version is not None and verdict.status != "none":
                    next_level.extend(self._children(node, verdict, metadata_file, env))
            level = next_level
        self._audit(resolution)
        _note_caps(resolution.verdicts, specs)
        resolution.verdicts = [self._with_parent_fixes(v) for v in resolution.verdicts]
        return resolution

    def judge_pinned(self, pins: list[Pin], specs: dict[str, list[tuple[str, SpecifierSet]]]) -> Resolution:
        """Judge releases that are already chosen (an installed environment): no dependency walk."""
        resolution = Resolution()
        self._fetch_pages({pin.origin.name for pin in pins})
        for pin in pins:
            node = _Node(pin.origin.name, pin.origin.requirement, pin.ancestors, pin.origin)
            verdict, _ = self._judge(node, RequirementSet(), specs)
            resolution.verdicts.append(verdict)
            if verdict.status == "unknown" and verdict.detail not in resolution.errors:
                resolution.errors.append(verdict.detail)
        self._audit(resolution)
        _note_caps(resolution.verdicts, specs)
        resolution.verdicts = [self._with_parent_fixes(v) for v in resolution.verdicts]
        return resolution

    def _audit(self, resolution: Resolution) -> None:
        auditor = self.auditor
        if auditor is None:
            return
        verdicts = resolution.verdicts
        targets = [i for i, v in enumerate(verdicts) if v.upgrade_to is not None]
        audited = _in_threads(self.workers, lambda i: audit_upgrade(verdicts[i], lambda after: self.later_releases(
            verdicts[i].name, after), auditor), targets)
        for i, verdict in zip(targets, audited, strict=True):
            verdicts[i] = verdict

    def later_releases(self, name: str, after: Version) -> list[Version]:
        """Final releases after `after` that have a wheel the target accepts, oldest first."""
        pages = self._pages.get(name)
        if not isinstance(pages, list):
            return []
        found = releases(tuple(f for page in pages for f in page.files), name)
        return [v for v in sorted(found) if v > after and not v.is_prerelease
                and not all(f.yanked for f in found[v].files) and accepted(found[v], self.target)]

    def _with_parent_fixes(self, verdict: Verdict) -> Verdict:
        """For each package that caps an upgrade, the first newer release of it that allows the upgrade."""
        if not verdict.blockers or verdict.upgrade_to is None:
            return verdict
        upgrade = Version(verdict.upgrade_to)
        fixes = []
        parents = [(name, version) for name, _, version in (b.partition(" ") for b in verdict.blockers) if version]
        self._fetch_pages({str(canonicalize_name(name)) for name, _ in parents})
        for name, version in parents:
            canonical = str(canonicalize_name(name))
            if not isinstance(self._pages.get(canonical), list):
                fixes.append(f"{name}: unknown, the index could not be read")
                continue
            fix = self._parent_release_allowing(canonical, Version(version), verdict.name, upgrade)
            fixes.append(f"{name} {fix}" if fix else f"no release of {name} allows it")
        return replace(verdict, parent_fixes=tuple(fixes)) if fixes else verdict

    def _parent_release_allowing(self, parent: str, current: Version, child: str, upgrade: Version,
                                 limit: int = 10) -> str | None:
        pages = self._pages.get(parent)
        if not isinstance(pages, list):
            return None
        files = tuple(f for page in pages for f in page.files)
        newer = sorted(v for v in releases(files, parent) if v > current and not v.is_prerelease)[:limit]
        all_releases = releases(files, parent)
        flagged = None  # the first release that allows it but has known vulnerabilities
        for version in newer:
            dist = _metadata_source(all_releases[version], self.target)
            index = next((i for i in self.indexes if dist is not None and i.label == dist.index), None)
            if dist is None or index is None:
                continue
            try:
                metadata = index.metadata(dist)
            except (FetchError, IndexError_):
                continue
            if metadata is None:
                continue
            allows = True
            for raw in requires_dist(metadata):
                try:
                    requirement = Requirement(raw)
                except InvalidRequirement:
                    continue
                if canonicalize_name(requirement.name) == child and not requirement.specifier.contains(upgrade):
                    allows = False
            if allows:
                note = release_note(self.auditor, parent, version) if self.auditor else ""
                if not note:
                    return str(version)
                flagged = flagged or f"{version} ({note})"
        return flagged

    def _judge(self, node: _Node, requirement_set: RequirementSet,
               specs: dict[str, list[tuple[str, SpecifierSet]]]) -> tuple[Verdict, tuple[IndexClient, DistFile] | None]:
        pages = self._pages.get(node.name)
        if isinstance(pages, Exception) or pages is None:
            return Verdict.unknown(node.name, (*node.ancestors, node.requirement.name), node.origin, str(pages)), None
        if not pages:
            chain = (*node.ancestors, node.requirement.name)
            return Verdict.missing(node.name, chain, node.origin, [i.label for i in self.indexes]), None
        files = tuple(f for page in pages for f in page.files)
        all_releases = releases(files, node.name)
        spec = node.requirement.specifier & requirement_set.constraints.get(node.name, SpecifierSet())
        verdict, chosen = judge(node.name, node.requirement.name, node.ancestors, node.origin, all_releases, spec,
                                self.target, [i.label for i in self.indexes])
        if chosen is None:
            return verdict, None
        dist = _metadata_source(chosen, self.target)
        if dist is None:
            return verdict, None
        index = next((i for i in self.indexes if i.label == dist.index), self.indexes[0])
        return verdict, (index, dist)

    def _children(self, node: _Node, verdict: Verdict, source: tuple[IndexClient, DistFile],
                  env: dict[str, str]) -> list[_Node]:
        index, dist = source
        try:
            metadata = index.metadata(dist)
        except (FetchError, IndexError_) as e:
            logger.info("dependencies of %s %s unknown: %s", node.name, verdict.version, e)
            return []
        if not metadata:
            return []
        children = []
        extras = node.requirement.extras or {""}
        for raw in requires_dist(metadata):
            try:
                child = Requirement(raw)
            except InvalidRequirement:
                continue
            if child.marker is not None and not any(_marker_true(child, env, e) for e in extras):
                continue
            children.append(_Node(str(canonicalize_name(child.name)), child, verdict.chain, node.origin))
        return children


def _in_threads(workers: int, function: Callable[[_T], _R], items: list[_T]) -> list[_R]:
    """`function` over `items` in threads; an interrupt drops what has not started and ends the requests of
    what has, instead of waiting for every queued request to run."""
    pool = cf.ThreadPoolExecutor(max_workers=workers)
    try:
        results = list(pool.map(function, items))
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        expire_all()
        raise
    pool.shutdown()
    return results


_REQUIRES_DIST = re.compile(r"^Requires-Dist:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.MULTILINE | re.IGNORECASE)


def requires_dist(metadata: str) -> list[str]:
    """The Requires-Dist values of core metadata (RFC 822 headers, folded lines joined); the body is not read."""
    headers = re.split(r"\r?\n\r?\n", metadata, maxsplit=1)[0]
    return [" ".join(value.split()) for value in _REQUIRES_DIST.findall(headers)]


def _marker_true(requirement: Requirement, env: dict[str, str], extra: str) -> bool:
    if requirement.marker is None:
        return True
    try:
        return bool(requirement.marker.evaluate({**env, "extra": extra}))
    except (InvalidMarker, UndefinedEnvironmentName):
        return True


def _metadata_source(release: Release, target: PythonTarget) -> DistFile | None:
    """Read dependencies from the file aarch64 would install, else any wheel, else the sdist."""
    from packaging.utils import parse_wheel_filename

    wheels = [f for f in release.files if f.filename.endswith(".whl")]
    for dist in wheels:
        try:
            if target.accepts(parse_wheel_filename(dist.filename)[3]):
                return dist
        except InvalidWheelFilename:
            continue
    if wheels:
        return wheels[0]
    return release.files[0] if release.files else None


def _note_caps(verdicts: list[Verdict], specs: dict[str, list[tuple[str, SpecifierSet]]]) -> None:
    for i, verdict in enumerate(verdicts):
        if verdict.upgrade_to is None:
            continue
        upgrade = Version(verdict.upgrade_to)
        blockers = tuple(sorted({parent for parent, spec in specs.get(verdict.name, [])
                                 if not spec.contains(upgrade, prereleases=True)}))
        if blockers:
            verdicts[i] = verdict.with_blockers(blockers)
