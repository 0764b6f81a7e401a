"""Maven and Gradle build files: Java libraries with native code whose pinned release has no aarch64 build.

pom.xml is read with its properties and dependencyManagement; Gradle files (Groovy and Kotlin) for
`group:artifact:version` coordinates, with versions from variables in the same file or gradle.properties.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from armscan.analyzers.source import Hit, to_finding
from armscan.model import Finding, Location, Skipped, SkipReason
from armscan.resources import load_yaml, rules_dir
from armscan.rules_engine.loader import RuleSet
from armscan.sources.confined import read_confined

BUILD_FILES = ("pom.xml", "build.gradle", "build.gradle.kts")
_PROPERTY = re.compile(r"\$\{([\w.-]+)\}")
_MAX_RESOLVED = 4096  # a coordinate or version resolved from properties; longer is no coordinate
_GRADLE_COORDINATE = re.compile(r"""["']([\w.-]+):([\w.-]+):([^"'@:\s]+)(?::([\w.-]+))?["']""")
_X86_CLASSIFIER = re.compile(r"(?:linux|osx|windows)[-_](?:x86[-_]64|amd64)")
# A name starts only where no word character precedes it (`def x`, `ext.x`: the `ext.` is dropped later), so no
# attempt starts inside a long word and rescans it.
_GRADLE_VARIABLE = re.compile(r"""(?<![\w.])([A-Za-z_][\w.]*)\s*=\s*["']([^"'$]+)["']""")


@lru_cache(maxsize=1)
def _knowledge() -> dict[tuple[str, str], dict[str, Any]]:
    data = load_yaml((rules_dir() / "knowledge" / "java-libraries.yaml").read_text(encoding="utf-8"))
    return {(str(e["group"]), str(e["artifact"])): e for e in data["libraries"]}


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d{1,9}", text.split("-", maxsplit=1)[0])[:4])


def _line_of(text: str, needle: str) -> int:
    at = text.find(needle)
    return text.count("\n", 0, at) + 1 if at >= 0 else 1


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _pom_dependencies(text: str) -> list[tuple[str, str, str | None, str]]:
    if "<!DOCTYPE" in text or "<!ENTITY" in text:
        raise ValueError("DTDs and entities are not read")
    root = ET.fromstring(text)
    properties: dict[str, str] = {}
    for element in root.iter():
        if _local(element.tag) == "properties":
            properties.update({_local(child.tag): (child.text or "").strip() for child in element})
    for field in ("version", "groupId"):
        child = next((c for c in root if _local(c.tag) == field), None)
        if child is not None and child.text:
            properties[f"project.{field}"] = child.text.strip()

    def resolve(value: str | None) -> str | None:
        for _ in range(5):
            if value is None or "${" not in value:
                break
            if len(value) > _MAX_RESOLVED:  # properties that nest copies of each other grow a thousandfold a round
                return None
            value = _PROPERTY.sub(lambda m: properties.get(m.group(1), m.group(0)), value)
        return value if value is None or len(value) <= _MAX_RESOLVED else None

    found: list[tuple[str, str, str | None, str]] = []
    managed: dict[tuple[str, str], str | None] = {}
    for element in root.iter():
        if _local(element.tag) != "dependency":
            continue
        fields = {_local(c.tag): (c.text or "").strip() for c in element}
        key = (resolve(fields.get("groupId")) or "", resolve(fields.get("artifactId")) or "")
        version = resolve(fields.get("version"))
        found.append((key[0], key[1], version, resolve(fields.get("classifier")) or ""))
        if version:
            managed.setdefault(key, version)
    return [(g, a, v or managed.get((g, a)), c) for g, a, v, c in found]


def _gradle_properties(folder: Path | None, root: str | None) -> str:
    """gradle.properties beside the build file, when it is a file of the scanned tree."""
    if folder is None or not (folder / "gradle.properties").exists():
        return ""
    try:
        return read_confined(folder / "gradle.properties", root, 1 << 20).decode("utf-8", "replace")
    except OSError:
        return ""


def _gradle_dependencies(text: str, folder: Path | None, root: str | None) -> list[tuple[str, str, str | None, str]]:
    variables = {m.group(1).removeprefix("ext."): m.group(2) for m in _GRADLE_VARIABLE.finditer(text)}
    for line in _gradle_properties(folder, root).splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.strip().startswith("#"):
            variables.setdefault(key.strip(), value.strip())
    found = []
    for match in _GRADLE_COORDINATE.finditer(text):
        version = re.sub(r"\$\{?([\w.]+)\}?", lambda m: variables.get(m.group(1), m.group(0)), match.group(3))
        found.append((match.group(1), match.group(2), version if "$" not in version else None,
                      match.group(4) or ""))
    return found


def analyze(name: str, display: str, text: str, folder: Path | None, ruleset: RuleSet, *,
            root: str | None = None) -> tuple[list[Finding], list[Skipped]]:
    """`folder` holds the build file on disk (None inside an archive); nothing outside `root` is read."""
    try:
        dependencies = (_pom_dependencies(text) if name == "pom.xml"
                        else _gradle_dependencies(text, folder, root))
    except (ET.ParseError, ValueError) as e:
        return [], [Skipped(display, SkipReason.MALFORMED, f"build file not read: {e}")]
    findings = _classifier_findings(dependencies, display, text, ruleset)
    seen: set[tuple[str, str]] = set()
    for group, artifact, version, _classifier in dependencies:
        entry = _knowledge().get((group, artifact))
        if entry is None or (group, artifact) in seen:
            continue
        seen.add((group, artifact))
        first = str(entry["first-arm64"])
        line = _line_of(text, artifact)
        coordinate = f"{group}:{artifact}" + (f":{version}" if version else "")
        if first == "none":
            rule = ruleset.variant("java", "no-arm64")
            detail = (f"{coordinate} ships native code with no aarch64 build in any release."
                      + (f" Instead: {entry['instead']}." if entry.get("instead") else ""))
        elif version is None or _version_key(version) < _version_key(first):
            rule = ruleset.variant("java", "upgrade")
            pinned = f"{version} has" if version else "the version could not be resolved; releases before it have"
            detail = (f"{coordinate}: {pinned} no aarch64 native library; {first} is the first release with one. "
                      f"Upgrade to {artifact} {first} or later.")
        else:
            continue
        if rule is None:
            continue
        hit = Hit(line=line, column=1, end_column=None, snippet=coordinate, match=artifact, detail=detail)
        findings.append(to_finding(rule, hit, display))
    return findings, []


def _classifier_findings(dependencies: list[tuple[str, str, str | None, str]], display: str, text: str,
                         ruleset: RuleSet) -> list[Finding]:
    """A native artifact pinned by an x86-64 classifier (netty's linux-x86_64) with no aarch64 one beside it."""
    rule = ruleset.variant("java", "classifier")
    if rule is None:
        return []
    by_artifact: dict[tuple[str, str], set[str]] = {}
    for group, artifact, _version, classifier in dependencies:
        by_artifact.setdefault((group, artifact), set()).add(classifier.lower())
    findings = []
    for (group, artifact), classifiers in sorted(by_artifact.items()):
        x86 = sorted(c for c in classifiers if _X86_CLASSIFIER.search(c))
        arm = [c for c in classifiers if "aarch" in c or "arm64" in c]
        if x86 and not arm:
            coordinate = f"{group}:{artifact}:{x86[0]}"
            detail = (f"{coordinate} pins the linux x86-64 build of a native library and no aarch64 classifier "
                      f"(e.g. {x86[0].replace('x86_64', 'aarch_64').replace('x86-64', 'aarch_64')}) is declared "
                      "beside it: on aarch64 the library does not load.")
            hit = Hit(line=_line_of(text, x86[0]), column=1, end_column=None, snippet=coordinate, match=x86[0],
                      detail=detail)
            findings.append(to_finding(rule, hit, display))
    return findings


_CLASSIFIER_JAR = re.compile(r"^(?P<base>.+)-(?P<os>linux|osx|windows)-(?P<arch>x86[_-]64|amd64|aarch[_-]?64|arm64)"
                             r"\.jar$", re.IGNORECASE)


def classifier_jar_findings(paths: list[str], ruleset: RuleSet) -> list[Finding]:
    """JAR files named for one platform (netty-transport-native-epoll-4.1.94.Final-linux-x86_64.jar) in a
    folder, a fat JAR's lib folder or an image, with no aarch64 one of the same artifact beside them."""
    rule = ruleset.variant("java", "classifier")
    if rule is None:
        return []
    groups: dict[tuple[str, str, str], dict[str, str]] = {}
    for path in paths:
        folder, _, name = path.rpartition("/")
        match = _CLASSIFIER_JAR.match(name)
        if match:
            arch = "x86" if match.group("arch").lower() in ("x86_64", "x86-64", "amd64") else "arm"
            groups.setdefault((folder, match.group("base"), match.group("os").lower()), {})[arch] = path
    findings = []
    for (_folder, base, os_name), arches in sorted(groups.items()):
        if "x86" in arches and "arm" not in arches:
            path = arches["x86"]
            name = path.rpartition("/")[2]
            detail = (f"{name} is the {os_name} x86-64 build of {base} and no aarch64 one "
                      f"({base}-{os_name}-aarch_64.jar) sits beside it: on aarch64 its native library does not load.")
            hit = Hit(line=0, column=0, end_column=None, snippet=name, match=name, detail=detail)
            finding = to_finding(rule, hit, path)
            findings.append(replace(finding, location=Location(path=path, snippet=name, match=name)))
    return findings
