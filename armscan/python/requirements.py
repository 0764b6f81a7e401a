"""Read requirement files (pip's format, with includes) and pyproject.toml into top-level requirements."""

from __future__ import annotations

import os
import re
import shlex
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import tomllib
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from armscan.model import Skipped, SkipReason
from armscan.sources.confined import RefusedFile, inside, read_confined

MAX_INCLUDE_DEPTH = 20
MAX_SIZE = 8 * 1024 * 1024
_COMMENT = re.compile(r"(^|\s)#.*$")


@dataclass(frozen=True)
class TopRequirement:
    requirement: Requirement
    source: str  # display path of the file
    line: int
    hashes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return str(canonicalize_name(self.requirement.name))

    @property
    def pinned(self) -> str | None:
        specs = list(self.requirement.specifier)
        if len(specs) == 1 and specs[0].operator in ("==", "===") and "*" not in specs[0].version:
            return specs[0].version
        return None


@dataclass
class RequirementSet:
    requirements: list[TopRequirement] = field(default_factory=list)
    constraints: dict[str, SpecifierSet] = field(default_factory=dict)
    index_url: str | None = None
    extra_index_urls: list[str] = field(default_factory=list)
    find_links: list[str] = field(default_factory=list)
    no_index: bool = False
    require_hashes: bool = False
    skipped: list[Skipped] = field(default_factory=list)
    requires_python: str | None = None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    lines: list[tuple[int, str]] = []
    buffer, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not buffer:
            start = number
        if raw.endswith("\\"):
            buffer += raw[:-1] + " "
            continue
        lines.append((start, buffer + raw))
        buffer = ""
    if buffer:
        lines.append((start, buffer))
    return lines


def read_requirements_file(path: Path, display: str, result: RequirementSet | None = None, *,
                           constraint: bool = False, stack: tuple[str, ...] = (),
                           root: str | None = None) -> RequirementSet:
    """Parse a pip requirements or constraints file; includes are followed inside `root` (the scanned tree),
    loops and errors recorded."""
    result = result if result is not None else RequirementSet()
    if "\0" in str(path):  # from an include line: no file can have it, and the OS refuses it with ValueError
        result.skipped.append(Skipped(display, SkipReason.MALFORMED, "requirements include path holds a NUL byte"))
        return result
    real = os.path.realpath(path)
    if real in stack:
        result.skipped.append(Skipped(display, SkipReason.MALFORMED, "requirements include loop; not read again"))
        return result
    if len(stack) >= MAX_INCLUDE_DEPTH:
        result.skipped.append(Skipped(display, SkipReason.ARCHIVE_LIMIT, "requirements includes nested too deep"))
        return result
    try:
        text = read_confined(path, root, MAX_SIZE).decode("utf-8", "replace")
    except RefusedFile as e:
        result.skipped.append(Skipped(display, e.reason, f"requirements file: {e.detail}"))
        return result
    for number, raw_line in _logical_lines(text):
        line = _COMMENT.sub("", raw_line).strip()
        if not line:
            continue
        where = f"{display}:{number}"
        if line.startswith("-"):
            _option(line, path, display, where, result, constraint, (*stack, real), root)
            continue
        _requirement(line, display, number, where, result, constraint)
    return result


def _option(line: str, path: Path, display: str, where: str, result: RequirementSet, constraint: bool,
            stack: tuple[str, ...], root: str | None) -> None:
    try:
        words = shlex.split(line)
    except ValueError:
        words = line.split()
    flag, value = words[0], words[1] if len(words) > 1 else ""
    if "=" in flag and flag.startswith("--"):
        flag, _, value = flag.partition("=")
    if flag in ("-r", "--requirement", "-c", "--constraint"):
        target = path.parent / value
        shown = os.path.normpath(os.path.join(os.path.dirname(display), value))
        read_requirements_file(target, shown, result, constraint=constraint or flag in ("-c", "--constraint"),
                               stack=stack, root=root)
    elif flag in ("-i", "--index-url", "--extra-index-url", "-f", "--find-links"):
        location = _location(value, path, root)
        if location is None:
            result.skipped.append(Skipped(where, SkipReason.OUTSIDE_TREE,
                                          f"{flag} names a local folder or file: URL outside the scanned tree; "
                                          "not read"))
        elif flag in ("-i", "--index-url"):
            result.index_url = result.index_url or location
        elif flag == "--extra-index-url":
            result.extra_index_urls.append(location)
        else:
            result.find_links.append(location)
    elif flag == "--no-index":
        result.no_index = True
    elif flag == "--require-hashes":
        result.require_hashes = True
    elif flag in ("-e", "--editable"):
        result.skipped.append(Skipped(where, SkipReason.NOT_FOUND,
                                      f"editable requirement {value!r} is local source, not from an index"))
    # Other pip options (--no-binary, --pre, ...) do not change what armscan checks.


def _location(value: str, path: Path, root: str | None) -> str | None:
    """An index or find-links location named in a scanned file: remote URLs as they are, local ones (a path,
    taken relative to the file as pip does, or a file: URL) only inside the scanned tree."""
    if value.startswith(("http://", "https://")) or (root is None and "://" in value):
        return value
    if value.startswith("file:"):
        local = Path(urllib.request.url2pathname(urllib.parse.urlsplit(value).path))
    elif "://" in value:
        return value
    else:
        local = path.parent / value
    if root is not None and not inside(os.path.realpath(local), root):
        return None
    return value if value.startswith("file:") else str(local) if local.exists() else value


def _requirement(line: str, display: str, number: int, where: str, result: RequirementSet, constraint: bool) -> None:
    hashes = tuple(h for h in re.findall(r"--hash[=\s]+(\S+)", line))
    spec_text = re.split(r"\s--?[a-z]", " " + line)[0].strip() if " -" in line or " --" in line else line
    try:
        requirement = Requirement(spec_text)
    except InvalidRequirement as e:
        result.skipped.append(Skipped(where, SkipReason.MALFORMED, f"not a requirement: {e}"))
        return
    if requirement.url:
        result.skipped.append(Skipped(where, SkipReason.NOT_FOUND,
                                      f"{requirement.name} comes from a URL, not an index; check it by hand"))
        return
    if constraint:
        name = str(canonicalize_name(requirement.name))
        result.constraints[name] = result.constraints.get(name, SpecifierSet()) & requirement.specifier
        return
    result.requirements.append(TopRequirement(requirement, display, number, hashes))


def read_pyproject(path: Path, display: str, root: str | None = None) -> RequirementSet:
    """PEP 621 [project] dependencies, or Poetry's [tool.poetry.dependencies]."""
    result = RequirementSet()
    try:
        text = read_confined(path, root, MAX_SIZE).decode("utf-8", "replace")
        data = tomllib.loads(text)
    except (OSError, ValueError) as e:  # TOMLDecodeError, or ValueError for an integer of thousands of digits
        result.skipped.append(Skipped(display, SkipReason.MALFORMED, f"pyproject.toml unreadable: {e}"))
        return result
    except RecursionError:
        result.skipped.append(Skipped(display, SkipReason.MALFORMED, "pyproject.toml unreadable: nested too deeply"))
        return result
    lines = text.splitlines()
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    requires_python = project.get("requires-python") if isinstance(project, dict) else None
    result.requires_python = requires_python if isinstance(requires_python, str) else None
    dependencies = project.get("dependencies") if isinstance(project, dict) else None
    for raw in dependencies if isinstance(dependencies, list) else []:
        _requirement(str(raw), display, _line_of(lines, str(raw)), f"{display}", result, False)
    poetry = data.get("tool", {}).get("poetry", {}) if isinstance(data.get("tool"), dict) else {}
    deps = poetry.get("dependencies", {}) if isinstance(poetry, dict) else {}
    for name, spec in deps.items() if isinstance(deps, dict) else []:
        if name.lower() == "python":
            result.requires_python = result.requires_python or _poetry_spec(str(spec))
            continue
        text_spec = _poetry_requirement(name, spec)
        if text_spec is None:
            result.skipped.append(Skipped(display, SkipReason.NOT_FOUND,
                                          f"{name} comes from a path, URL or VCS, not an index; check it by hand"))
            continue
        _requirement(text_spec, display, _line_of(lines, name), display, result, False)
    return result


def _line_of(lines: list[str], needle: str) -> int:
    key = needle.split(";", maxsplit=1)[0].strip().strip('"')
    for number, line in enumerate(lines, start=1):
        if key and key in line:
            return number
    return 1


def _poetry_requirement(name: str, spec: object) -> str | None:
    marker = ""
    if isinstance(spec, list):
        spec = spec[0] if spec else "*"
    if isinstance(spec, dict):
        if any(k in spec for k in ("path", "git", "url")):
            return None
        extras = spec.get("extras")
        if spec.get("markers"):
            marker = f"; {spec['markers']}"
        name = f"{name}[{','.join(extras)}]" if extras else name
        spec = spec.get("version", "*")
    return f"{name}{_poetry_spec(str(spec))}{marker}"


def _poetry_spec(spec: str) -> str:
    """Poetry's ^ and ~ constraints as PEP 440 specifiers."""
    parts = []
    for item in (s.strip() for s in spec.split(",")):
        if item in ("", "*"):
            continue
        if item.startswith("^"):
            version = [int(x) for x in re.findall(r"\d+", item)[:3]] or [0]
            first = next((i for i, v in enumerate(version) if v != 0), len(version) - 1)
            upper = [*version[:first], version[first] + 1]
            parts.append(f">={item[1:]},<{'.'.join(map(str, upper))}")
        elif item.startswith("~") and not item.startswith("~="):
            version = [int(x) for x in re.findall(r"\d+", item)[:3]] or [0]
            upper = [version[0] + 1] if len(version) == 1 else [version[0], version[1] + 1]
            parts.append(f">={item[1:]},<{'.'.join(map(str, upper))}")
        elif item[0].isdigit():
            parts.append(f"=={item}")
        else:
            parts.append(item)
    return ",".join(parts)
