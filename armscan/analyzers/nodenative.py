"""npm packages with native code whose pinned release has no linux-arm64 build (rules/knowledge/node-packages.yaml).

Lock files give the exact versions, transitive ones included, with the chain that pulls each in. A package.json
with no lock beside it gives ranges: a range that admits no release from the first arm64 one on is a finding.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import semantic_version

from armscan.analyzers.nodelockfile import Lock
from armscan.analyzers.source import Hit, to_finding
from armscan.model import Finding, Location, Skipped, SkipReason
from armscan.resources import rules_dir
from armscan.rules_engine.loader import Rule, RuleSet, load_validated

MANIFEST_FIELDS = ("dependencies", "devDependencies", "optionalDependencies")
_INSTALLED = re.compile(r"(?:^|/)node_modules/((?:@[^/]+/)?[^/@][^/]*)/package\.json$")
_MODULE = re.compile(r"(?:^|/)node_modules/((?:@[^/!]+/)?[^/!@][^/!]*)/")
_BUILD_NEEDS = "python3, make and a C++ compiler"


@dataclass(frozen=True)
class NativePackage:
    name: str
    first_arm64: semantic_version.Version | None
    builds_without: bool  # True: an install without a prebuilt compiles it; False: it fails
    note: str
    instead: str


@lru_cache(maxsize=1)
def knowledge() -> dict[str, NativePackage]:
    path = rules_dir() / "knowledge" / "node-packages.yaml"
    data = load_validated({"knowledge/node-packages.yaml": path}, "node-packages.schema.json",
                          "Node package knowledge")["knowledge/node-packages.yaml"]
    found = {}
    for entry in data["packages"]:
        first = str(entry["first-arm64"])
        found[entry["name"]] = NativePackage(
            name=entry["name"], first_arm64=None if first == "none" else semantic_version.Version(first),
            builds_without=entry["without"] == "build", note=" ".join(str(entry.get("note", "")).split()),
            instead=" ".join(str(entry.get("instead", "")).split()))
    return found


def _version(text: str) -> semantic_version.Version | None:
    try:
        return semantic_version.Version.coerce(text.strip().lstrip("v="))
    except ValueError:
        return None


def _spec(text: str) -> semantic_version.NpmSpec | None:
    try:
        return semantic_version.NpmSpec(text.strip())
    except (ValueError, AttributeError):  # some malformed ranges ("a - e^e=") fail inside semantic_version
        return None


def _admits_arm64(spec: semantic_version.NpmSpec, first: semantic_version.Version, text: str) -> bool:
    """Whether a range admits any release from `first` on: `first` itself, or a version the range names at
    or above it (or just after it, for an exclusive bound)."""
    probes = [first]
    for literal in re.findall(r"\d+(?:\.\d+){0,2}", text):
        version = _version(literal)
        if version is not None and version >= first:
            probes += [version, version.next_patch(), version.next_minor(), version.next_major()]
    return any(spec.match(v) for v in probes)


def _before(version: str, first: semantic_version.Version) -> bool:
    """A locked version below the first arm64 release; one the lock does not record counts, one that does
    not parse does not (a git or file dependency is not the registry's release)."""
    if not version:
        return True
    parsed = _version(version)
    return parsed is not None and parsed < first


def _outcome(package: NativePackage) -> str:
    if package.builds_without:
        return (f"on arm64 npm install compiles it with node-gyp, which needs {_BUILD_NEEDS} in the build image "
                "(slim and Alpine Node images have none)")
    return "on arm64 its install or its first require() fails"


def _sentence(text: str) -> str:
    return f" {text.rstrip('.')}." if text else ""


def _detail(package: NativePackage, pinned: str, chain: tuple[str, ...]) -> tuple[str, str]:
    """(rule variant, message) for one package at the versions described by `pinned`."""
    pulled = f" Pulled in by {' > '.join(chain[:-1])}." if len(chain) > 1 else ""
    if package.first_arm64 is None:
        variant = "source-build" if package.builds_without else "no-arm64"
        instead = f" Instead: {package.instead}." if package.instead else ""
        return variant, (f"{package.name} {pinned}: no release has a linux-arm64 build; {_outcome(package)}."
                         f"{_sentence(package.note)}{instead}{pulled}")
    return "upgrade", (f"{package.name} {pinned} has no linux-arm64 build; {package.first_arm64} is the first release "
                       f"with one. Upgrade to {package.first_arm64} or later: until then {_outcome(package)}."
                       f"{_sentence(package.note)}{pulled}")


def _finding(rule: Rule | None, display: str, line: int | None, name: str, detail: str) -> list[Finding]:
    """A finding at a line of a file, or (line None) at a file inside an image."""
    if rule is None:
        return []
    hit = Hit(line=line or 1, column=1, end_column=None, snippet=name, match=name, detail=detail)
    finding = to_finding(rule, hit, display)
    if line is None:
        finding = replace(finding, location=Location(path=display, snippet=name, match=name))
    return [finding]


def lock_findings(lock: Lock, display: str, ruleset: RuleSet) -> list[Finding]:
    known = knowledge()
    versions: dict[str, dict[str, int]] = {}
    for locked in lock.packages:
        if locked.name in known:
            versions.setdefault(locked.name, {}).setdefault(locked.version or "", locked.line)
    findings = []
    for name, locked_versions in sorted(versions.items()):
        package = known[name]
        first = package.first_arm64
        pinned = {v: line for v, line in locked_versions.items() if first is None or _before(v, first)}
        if not pinned:
            continue
        shown = " and ".join(sorted(v for v in pinned if v)) or "(version not recorded)"
        variant, detail = _detail(package, f"{shown} (locked)", lock.chain(name))
        findings += _finding(ruleset.variant("node", variant), display, min(pinned.values()) or 1, name, detail)
    return findings


def _line_of_key(text: str, name: str) -> int:
    match = re.search(rf'"{re.escape(name)}"\s*:', text)
    return text.count("\n", 0, match.start()) + 1 if match else 1


def _alias(raw: str) -> tuple[str, str]:
    """`npm:@scope/name@^5` -> (`@scope/name`, `^5`); `npm:name` -> (`name`, `*`)."""
    target = raw[4:]
    at = target.find("@", 1)
    return (target[:at], target[at + 1:]) if at > 0 else (target, "*")


def manifest_findings(text: str, display: str, ruleset: RuleSet) -> tuple[list[Finding], list[Skipped]]:
    """A package.json read for its ranges; the caller skips it when a lock file beside it says more."""
    try:
        data: Any = json.loads(text)
    except RecursionError:
        return [], [Skipped(display, SkipReason.MALFORMED, "package.json not read: JSON nested too deeply")]
    except ValueError as e:
        return [], [Skipped(display, SkipReason.MALFORMED, f"package.json not read: {e}")]
    if not isinstance(data, dict):
        return [], [Skipped(display, SkipReason.MALFORMED, "package.json not read: the top level is not an object")]
    known = knowledge()
    findings = []
    for field in MANIFEST_FIELDS:
        dependencies = data.get(field)
        if not isinstance(dependencies, dict):
            continue
        for name, raw in dependencies.items():
            if not isinstance(raw, str):
                continue
            real, wanted = _alias(raw) if raw.startswith("npm:") else (name, raw)
            package = known.get(real)
            if package is None:
                continue
            if package.first_arm64 is not None:  # with no arm64 release at all, whatever is asked for lacks it
                spec = _spec(wanted)
                if spec is None or _admits_arm64(spec, package.first_arm64, wanted):
                    continue  # a tag, URL, path or malformed range is not compared
            variant, detail = _detail(package, f"{wanted} (in {field})", ())
            findings += _finding(ruleset.variant("node", variant), display, _line_of_key(text, name), name, detail)
    return findings, []


def installed_package(path: str) -> str | None:
    """The name of a known native package whose node_modules/NAME/package.json this path is."""
    match = _INSTALLED.search(path)
    return match.group(1) if match and match.group(1) in knowledge() else None


def installed_findings(manifests: dict[str, bytes], label: str,
                       ruleset: RuleSet) -> tuple[list[Finding], list[Skipped]]:
    """Known native packages installed in an image (path -> package.json), for its arm64 rebuild; one whose
    version cannot be read is unknown, not ready."""
    known = knowledge()
    findings: list[Finding] = []
    skipped: list[Skipped] = []
    for path, raw in sorted(manifests.items()):
        name = installed_package(path)
        if name is None:
            continue
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            data = None
        version = data.get("version") if isinstance(data, dict) else None
        display = f"{label}!/{path}"
        if not isinstance(version, str):
            skipped.append(Skipped(display, SkipReason.MALFORMED,
                                   f"{name}: its package.json gives no version to check for a linux-arm64 build"))
            continue
        package = known[name]
        if package.first_arm64 is not None and not _before(version, package.first_arm64):
            continue
        where = "/" + path.removesuffix("/package.json")
        variant, detail = _detail(package, f"{version} (installed at {where})", ())
        findings += _finding(ruleset.variant("node", variant), display, None, name, detail)
    return findings, skipped


def module_note(path: str) -> str:
    """For a native binary under node_modules/NAME/ of a known package, what the knowledge base says of it."""
    found = _MODULE.findall(path.replace("!", "/"))
    package = knowledge().get(found[-1]) if found else None
    if package is None:
        return ""
    if package.first_arm64 is None:
        instead = f"; instead: {package.instead}" if package.instead else ""
        return f"It belongs to {package.name}, which has no linux-arm64 build in any release{instead}."
    return (f"It belongs to {package.name}, whose releases from {package.first_arm64} on carry a linux-arm64 "
            "build: upgrade it and install on arm64.")
