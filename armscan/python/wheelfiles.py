"""Wheel files kept in a tree (a wheelhouse, vendored downloads): which ones aarch64 cannot install.

A platform wheel is one unit of work, so it gets one finding, and the findings for the binaries inside it
are dropped. With an index, the finding says what the target can install instead: the same release's
aarch64 wheel, a later release, or a build from source.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass, replace

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag
from packaging.utils import canonicalize_name, parse_wheel_filename

from armscan.analyzers.source import Hit, to_finding
from armscan.model import Finding, Location, PortStatus, Skipped, SkipReason
from armscan.python.requirements import TopRequirement
from armscan.python.target import PythonTarget, is_pure
from armscan.python.verdict import Verdict
from armscan.rules_engine.loader import RuleSet

_ARM_PLATFORM_SUFFIXES = ("_aarch64", "_arm64")


@dataclass(frozen=True)
class WheelFile:
    display: str
    name: str  # canonical
    version: str
    tags: frozenset[Tag]

    @property
    def filename(self) -> str:
        return self.display.rsplit("/", 1)[-1]

    @property
    def platforms(self) -> tuple[str, ...]:
        return tuple(sorted({t.platform for t in self.tags}))

    @property
    def for_arm(self) -> bool:
        return any(p.endswith(_ARM_PLATFORM_SUFFIXES) for p in self.platforms)

    def python_version(self) -> tuple[int, int] | None:
        for tag in sorted(self.tags, key=str):
            if tag.interpreter.startswith("cp3") and tag.abi != "abi3" and tag.interpreter[3:].isdigit():
                return 3, int(tag.interpreter[3:])
        return None

    def origin(self) -> TopRequirement | None:
        try:
            return TopRequirement(Requirement(f"{self.name}=={self.version}"), self.display, 0)
        except InvalidRequirement:
            return None


def read_wheel_names(displays: list[str]) -> tuple[list[WheelFile], list[Skipped]]:
    wheels, skipped = [], []
    for display in displays:
        try:
            name, version, _build, tags = parse_wheel_filename(display.rsplit("/", 1)[-1])
        except ValueError as e:  # InvalidWheelFilename, or a version number int() refuses (thousands of digits)
            skipped.append(Skipped(display, SkipReason.MALFORMED, f"not a valid wheel file name: {e}"))
            continue
        wheels.append(WheelFile(display, str(canonicalize_name(name)), str(version), frozenset(tags)))
    return wheels, skipped


def needing_work(wheels: list[WheelFile]) -> tuple[list[WheelFile], set[str]]:
    """Platform wheels with no aarch64 sibling (same release) in the tree; and those that have one."""
    arm_releases = {(w.name, w.version) for w in wheels if w.for_arm}
    todo, ported = [], set()
    for wheel in wheels:
        if is_pure(wheel.tags) or wheel.for_arm:
            continue
        if (wheel.name, wheel.version) in arm_releases:
            ported.add(wheel.display)
        else:
            todo.append(wheel)
    return todo, ported


def target_for(wheel: WheelFile, python_version: tuple[int, int] | None, libc: str,
               libc_version: tuple[int, int]) -> PythonTarget:
    version = python_version or wheel.python_version() or (sys.version_info[0], sys.version_info[1])
    return PythonTarget(version, libc, libc_version)


def _platform_of(filename: str | None, target: PythonTarget) -> str:
    try:
        tags = parse_wheel_filename(filename or "")[3]
    except ValueError:  # InvalidWheelFilename, or a version number of thousands of digits
        return target.platforms[0]
    accepted = sorted(t.platform for t in tags if t in target.supported_tags)
    return accepted[0] if accepted else target.platforms[0]


def _what_to_do(wheel: WheelFile, verdict: Verdict | None, target: PythonTarget) -> str:
    pin = f"{wheel.name}=={wheel.version}"
    built = f"{wheel.filename} is built for {', '.join(wheel.platforms)} only"
    build = f"pip wheel --no-deps {shlex.quote(pin)}"
    if verdict is None:
        return (f"{built}, and no aarch64 wheel of {wheel.name} {wheel.version} is in the tree: download one, "
                f"or build it on an aarch64 machine ({build}).")
    if verdict.status in ("ready", "pure"):
        major, minor = target.python_version
        return (f"{built}; the index has {verdict.wheel} for {target.describe()}: put it beside this one "
                f"(pip download --no-deps --only-binary=:all: --platform {_platform_of(verdict.wheel, target)} "
                f"--python-version {major}.{minor} {shlex.quote(pin)}).")
    if verdict.status == "upgrade":
        return (f"{built}, and no release before {verdict.upgrade_to} has an aarch64 wheel for "
                f"{target.describe()}: upgrade to {wheel.name}>={verdict.upgrade_to}, or build {wheel.version} "
                f"on an aarch64 machine ({build}).")
    if verdict.status == "glibc":
        return (f"{built}; its aarch64 wheels need glibc {verdict.needs_glibc}, newer than the target's: build it "
                f"on the target ({build}) or target a newer OS.")
    if verdict.status == "sdist":
        return f"{built}, and no release has an aarch64 wheel: build one from the sdist on aarch64 ({build})."
    if verdict.status == "none":
        return f"{built}, and nothing on the index installs on aarch64: replace {wheel.name} or ask its vendor."
    return f"{built}; {verdict.detail or 'the index does not have it'}: build it on an aarch64 machine ({build})."


def finding(wheel: WheelFile, ruleset: RuleSet, verdict: Verdict | None, target: PythonTarget,
            ported: bool = False) -> Finding | None:
    rule = ruleset.variant("python", "wheel-file")
    if rule is None:
        return None
    if ported:
        message = f"{wheel.filename} is built for {', '.join(wheel.platforms)}"
    else:
        message = _what_to_do(wheel, verdict, target)
    state = PortStatus.PORTED if ported else PortStatus.UNPORTED
    hit = Hit(line=0, column=0, end_column=None, snippet=wheel.filename, match=", ".join(wheel.platforms),
              state=state, detail=message)
    result = to_finding(rule, hit, wheel.display)
    return replace(result, location=Location(path=wheel.display, snippet=wheel.filename, match=hit.match))
