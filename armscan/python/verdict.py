"""Judge one package release for the target: installable wheel, newer release, source build, or nothing."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TYPE_CHECKING

from packaging.specifiers import SpecifierSet
from packaging.utils import InvalidWheelFilename, parse_wheel_filename
from packaging.version import Version

from armscan.python.target import PythonTarget, is_pure

if TYPE_CHECKING:
    from armscan.python.index import DistFile
    from armscan.python.requirements import TopRequirement
    from armscan.python.resolve import Release

_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_(\w+)$")
_LEGACY = {"manylinux2014": (2, 17), "manylinux2010": (2, 12), "manylinux1": (2, 5)}


@dataclass(frozen=True)
class Verdict:
    """What an aarch64 target gets for one package.

    status: pure | ready | glibc | upgrade | sdist | none | missing | no-match | unknown
    """

    name: str
    version: str | None
    chain: tuple[str, ...]
    origin: TopRequirement
    status: str
    wheel: str | None = None
    upgrade_to: str | None = None
    blockers: tuple[str, ...] = ()
    parent_fixes: tuple[str, ...] = ()  # for each capping package, its first release that allows the upgrade
    needs_glibc: str | None = None
    has_sdist: bool = False
    detail: str = ""
    hashes_missing: tuple[str, ...] = ()
    mirror_gap: tuple[str, ...] = ()
    audit: str = ""  # what the vulnerability audit of upgrade_to found, when one ran
    first_with_wheel: str | None = None  # set when the audit moved upgrade_to past a vulnerable release

    @property
    def top_level(self) -> bool:
        return len(self.chain) == 1

    @classmethod
    def unknown(cls, name: str, chain: tuple[str, ...], origin: TopRequirement, reason: str) -> Verdict:
        return cls(name, None, chain, origin, "unknown", detail=reason)

    @classmethod
    def missing(cls, name: str, chain: tuple[str, ...], origin: TopRequirement, indexes: list[str]) -> Verdict:
        return cls(name, None, chain, origin, "missing", detail=f"not on {', '.join(indexes)}")

    def with_blockers(self, blockers: tuple[str, ...]) -> Verdict:
        return replace(self, blockers=blockers)


def wheel_tags(dist: DistFile) -> frozenset[object] | None:
    return _tags_of(dist.filename)


@lru_cache(maxsize=65536)
def _tags_of(filename: str) -> frozenset[object] | None:
    try:
        return frozenset(parse_wheel_filename(filename)[3])
    except InvalidWheelFilename:
        return None


def accepted(release: Release, target: PythonTarget) -> list[DistFile]:
    found = []
    for dist in release.files:
        if not dist.filename.endswith(".whl") or not target.allows_python(dist.requires_python):
            continue
        tags = wheel_tags(dist)
        if tags is not None and target.accepts(tags):  # type: ignore[arg-type]
            found.append(dist)
    return found


def _sdist(release: Release, target: PythonTarget) -> DistFile | None:
    return next((d for d in release.files if not d.filename.endswith(".whl")
                 and target.allows_python(d.requires_python)), None)


def _glibc_needed(release: Release, target: PythonTarget) -> tuple[int, int] | None:
    """The lowest glibc among this release's aarch64 manylinux wheels, when all need more than the target has."""
    needed: list[tuple[int, int]] = []
    for dist in release.files:
        tags = wheel_tags(dist) if dist.filename.endswith(".whl") else None
        for tag in tags or ():
            platform = getattr(tag, "platform", "")
            match = _MANYLINUX.match(platform)
            if match and match.group(3) == target.arch:
                needed.append((int(match.group(1)), int(match.group(2))))
            for legacy, version in _LEGACY.items():
                if platform == f"{legacy}_{target.arch}":
                    needed.append(version)
    if not needed or target.libc != "glibc":
        return None
    lowest = min(needed)
    return lowest if lowest > target.libc_version else None


def judge(name: str, display: str, ancestors: tuple[str, ...], origin: TopRequirement,
          releases: dict[Version, Release], spec: SpecifierSet, target: PythonTarget,
          indexes: list[str]) -> tuple[Verdict, Release | None]:
    pinned = origin.pinned if not ancestors and origin.name == name else None
    if pinned is None:
        pins = [s.version for s in spec if s.operator in ("==", "===") and "*" not in s.version]
        pinned = pins[0] if len(pins) == 1 else None
    candidates = sorted((r for v, r in releases.items() if spec.contains(v, prereleases=pinned is not None)
                         and (pinned is not None or not all(f.yanked for f in r.files))),
                        key=lambda r: r.version)
    if pinned is not None:
        candidates = [r for r in candidates if r.version == Version(pinned)]
    if not candidates:
        wanted = str(spec) or "any version"
        return Verdict(name, None, (*ancestors, display), origin, "no-match",
                       detail=f"no release matching {wanted} on {', '.join(indexes)}"), None
    installable = [r for r in candidates if accepted(r, target) or _sdist(r, target)]
    chosen = (installable or candidates)[-1]
    version = str(chosen.version)
    chain = (*ancestors, f"{display} {version}")
    usable = accepted(chosen, target)
    if usable:
        pure = [d for d in usable if is_pure(wheel_tags(d))]  # type: ignore[arg-type]
        native = [d for d in usable if d not in pure]
        best = (native or pure)[0]
        verdict = Verdict(name, version, chain, origin, "ready" if native else "pure", wheel=best.filename,
                          hashes_missing=_hashes_missing(origin, ancestors, usable),
                          mirror_gap=_mirror_gap(chosen, usable, indexes))
        return verdict, chosen
    upgrade = _first_upgrade(releases, chosen.version, target)
    sdist = _sdist(chosen, target)
    glibc = _glibc_needed(chosen, target)
    if glibc is not None:
        status = "glibc"
    elif upgrade is not None:
        status = "upgrade"
    elif sdist is not None:
        status = "sdist"
    else:
        status = "none"
    return Verdict(name, version, chain, origin, status, upgrade_to=str(upgrade) if upgrade else None,
                   needs_glibc=f"{glibc[0]}.{glibc[1]}" if glibc else None, has_sdist=sdist is not None), chosen


def _first_upgrade(releases: dict[Version, Release], current: Version, target: PythonTarget) -> Version | None:
    for version in sorted(v for v in releases if v > current):
        if version.is_prerelease and not current.is_prerelease:
            continue
        release = releases[version]
        if all(f.yanked for f in release.files):
            continue
        if accepted(release, target):
            return version
    return None


def _hashes_missing(origin: TopRequirement, ancestors: tuple[str, ...], accepted: list[DistFile]) -> tuple[str, ...]:
    """Files pip on aarch64 would need whose hashes the requirement does not list."""
    if ancestors or not origin.hashes:
        return ()
    allowed = set(origin.hashes)
    if any(dist.hash_values() & allowed for dist in accepted):
        return ()
    return tuple(dist.filename for dist in accepted)


def _mirror_gap(release: Release, accepted: list[DistFile], indexes: list[str]) -> tuple[str, ...]:
    if len(indexes) < 2:
        return ()
    with_release = {d.index for d in release.files}
    with_wheel = {d.index for d in accepted}
    return tuple(sorted(i for i in with_release if i not in with_wheel))
