"""Installed Python environments: the distributions in a site-packages folder, read from their metadata.

Each `*.dist-info` folder gives a distribution's name and version (METADATA), the tags of the wheel it was
installed from (WHEEL), the files it installed (RECORD) and what it requires (Requires-Dist). Legacy
`*.egg-info` folders give name, version and requirements. Nothing here imports or runs installed code.
"""

from __future__ import annotations

import csv
import io
import os
import posixpath
import re
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from packaging.metadata import parse_email
from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag, parse_tag
from packaging.utils import canonicalize_name
from packaging.version import Version

from armscan.model import Skipped, SkipReason
from armscan.sources.confined import read_confined

MAX_METADATA_FILE = 4 * 1024 * 1024
MAX_RECORD_FILE = 16 * 1024 * 1024
_PYTHON_DIR = re.compile(r"^python(\d{1,3})\.(\d{1,3})t?$")
_CP_TAG = re.compile(r"^cp(\d)(\d{1,3})$")
_VENV_VERSION = re.compile(r"^[ \t]*version(?:_info)?[ \t]*=[ \t]*(\d{1,3})\.(\d{1,3})", re.MULTILINE)


@dataclass(frozen=True)
class InstalledDist:
    name: str  # canonical
    display_name: str
    version: str
    metadata_path: str  # display path of METADATA (or PKG-INFO)
    tags: frozenset[Tag] = frozenset()  # empty: not known (egg-info, or no WHEEL file)
    requires: tuple[Requirement, ...] = ()
    files: tuple[str, ...] = ()  # display paths of the files it installed

    @property
    def label(self) -> str:
        return f"{self.display_name} {self.version}"

    @property
    def is_platform_wheel(self) -> bool:
        return bool(self.tags) and not all(t.abi == "none" and t.platform == "any" for t in self.tags)

    @property
    def wheel_platforms(self) -> tuple[str, ...]:
        return tuple(sorted({t.platform for t in self.tags}))


@dataclass
class Environment:
    display: str  # display path of the site-packages folder
    python_version: tuple[int, int] | None = None
    dists: list[InstalledDist] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    def owners(self) -> dict[str, InstalledDist]:
        """Display path of each installed file -> the distribution whose RECORD lists it."""
        return {path: dist for dist in self.dists for path in dist.files}

    def chains(self) -> dict[str, tuple[str, ...]]:
        """For each distribution, the shortest path from a distribution nothing else requires."""
        by_name = {d.name: d for d in self.dists}
        children: dict[str, list[str]] = {d.name: [] for d in self.dists}
        required: set[str] = set()
        for dist in self.dists:
            for requirement in dist.requires:
                child = str(canonicalize_name(requirement.name))
                if child in by_name and child != dist.name:
                    children[dist.name].append(child)
                    required.add(child)
        roots = [d.name for d in self.dists if d.name not in required]
        chains: dict[str, tuple[str, ...]] = {}
        queue: deque[tuple[str, tuple[str, ...]]] = deque((name, (by_name[name].label,)) for name in sorted(roots))
        while queue:
            name, chain = queue.popleft()
            if name in chains:
                continue
            chains[name] = chain
            for child in sorted(children[name]):
                if child not in chains:
                    queue.append((child, (*chain, by_name[child].label)))
        for dist in self.dists:  # a cycle with no root above it
            chains.setdefault(dist.name, (dist.label,))
        return chains


def is_metadata_file(display: str) -> bool:
    """METADATA of a dist-info folder, or PKG-INFO of an egg-info folder."""
    parent, _, name = display.rpartition("/")
    folder = parent.rpartition("/")[2]
    return (name == "METADATA" and folder.endswith(".dist-info")) or (
        name == "PKG-INFO" and folder.endswith(".egg-info"))


def site_packages_of(display: str) -> str:
    """The folder holding the dist-info folder that holds this METADATA file."""
    return display.rsplit("/", 2)[0]


class FolderReader:
    """Files of a site-packages folder on disk, by path relative to it; nothing outside `root` (the scanned
    tree, by default the folder itself) is read, and only regular files are."""

    def __init__(self, folder: Path, root: str | None = None) -> None:
        self.folder = folder
        self.parts = folder.parts
        self.root = root if root is not None else os.path.realpath(folder)

    def read(self, relative: str, limit: int) -> bytes | None:
        try:
            return read_confined(self.folder / relative, self.root, limit)
        except OSError:
            return None


class MemoryReader:
    """Files collected elsewhere (from image layers), by path; `folder` is the site-packages path among them."""

    def __init__(self, files: dict[str, bytes], folder: str) -> None:
        self.files = files
        self.folder = folder
        self.parts = tuple(folder.split("/"))

    def read(self, relative: str, limit: int) -> bytes | None:
        data = self.files.get(posixpath.normpath(posixpath.join(self.folder, relative)))
        return data if data is not None and len(data) <= limit else None


Reader = FolderReader | MemoryReader


def read_environment(folder: Path | Reader, display: str, metadata_files: list[str] | None = None) -> Environment:
    """Read every distribution installed in a site-packages folder; metadata files are relative to it."""
    reader = FolderReader(folder) if isinstance(folder, Path) else folder
    env = Environment(display=display)
    if metadata_files is None and isinstance(folder, Path):
        metadata_files = sorted(p.relative_to(folder).as_posix() for p in
                                [*folder.glob("*.dist-info/METADATA"), *folder.glob("*.egg-info/PKG-INFO")])
    seen: set[str] = set()
    for metadata_file in metadata_files or []:
        dist = _read_dist(reader, metadata_file, display, env.skipped)
        if dist is None:
            continue
        if dist.name in seen:
            env.skipped.append(Skipped(dist.metadata_path, SkipReason.MALFORMED,
                                       f"{dist.display_name} is installed twice; this copy is ignored"))
            continue
        seen.add(dist.name)
        env.dists.append(dist)
    env.python_version = python_version_of(reader, env.dists)
    return env


def _read_dist(reader: Reader, metadata_file: str, display: str, skipped: list[Skipped]) -> InstalledDist | None:
    info_dir = metadata_file.rpartition("/")[0]
    metadata_display = f"{display}/{metadata_file}"
    data = reader.read(metadata_file, MAX_METADATA_FILE)
    if data is None:
        skipped.append(Skipped(metadata_display, SkipReason.UNREADABLE,
                               f"installed metadata unreadable or over {MAX_METADATA_FILE} bytes"))
        return None
    raw, _unparsed = parse_email(data)
    name, version = raw.get("name"), raw.get("version")
    if not name or not version:
        skipped.append(Skipped(metadata_display, SkipReason.MALFORMED,
                               "installed metadata has no Name or no Version; this distribution is not checked"))
        return None
    try:
        Version(version)
    except ValueError:  # InvalidVersion, or a number of thousands of digits that int() refuses
        skipped.append(Skipped(metadata_display, SkipReason.MALFORMED,
                               f"{name}: version {version!r} is not a valid version; not checked"))
        return None
    lines = raw.get("requires_dist") or []
    if not lines and info_dir.endswith(".egg-info"):
        lines = _egg_requires(reader.read(f"{info_dir}/requires.txt", MAX_METADATA_FILE))
    requires = _requirements(lines, metadata_display, skipped)
    tags: frozenset[Tag] = frozenset()
    files: tuple[str, ...] = ()
    if info_dir.endswith(".dist-info"):
        tags = _wheel_tags(reader.read(f"{info_dir}/WHEEL", MAX_METADATA_FILE))
        files = _record_files(reader.read(f"{info_dir}/RECORD", MAX_RECORD_FILE), display)
    return InstalledDist(str(canonicalize_name(name)), name, version, metadata_display, tags, requires, files)


def _requirements(lines: list[str], where: str, skipped: list[Skipped]) -> tuple[Requirement, ...]:
    found = []
    for line in lines:
        try:
            found.append(Requirement(line))
        except InvalidRequirement as e:
            skipped.append(Skipped(where, SkipReason.MALFORMED, f"Requires-Dist {line!r} ignored: {e}"))
    return tuple(found)


def _egg_requires(data: bytes | None) -> list[str]:
    """requires.txt: plain lines, then [extra] or [:marker] sections, which only apply conditionally."""
    if data is None:
        return []
    lines = []
    for raw in data.decode("utf-8", "replace").splitlines():
        line = raw.strip()
        if line.startswith("["):
            break
        if line and not line.startswith("#"):
            lines.append(line)
    return lines


def _wheel_tags(data: bytes | None) -> frozenset[Tag]:
    if data is None:
        return frozenset()
    found: set[Tag] = set()
    for line in data.decode("utf-8", "replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "tag" and value.strip():
            try:
                found.update(parse_tag(value.strip()))
            except ValueError:
                continue
    return frozenset(found)


def _record_files(data: bytes | None, display: str) -> tuple[str, ...]:
    if data is None:
        return ()
    files = []
    try:
        for row in csv.reader(io.StringIO(data.decode("utf-8", "replace"))):
            if not row or not row[0]:
                continue
            relative = posixpath.normpath(row[0].replace("\\", "/"))
            if relative.startswith(("/", "../")) or relative == "..":
                continue  # scripts and data outside site-packages are not scanned as part of it
            files.append(f"{display}/{relative}")
    except csv.Error:
        return tuple(files)
    return tuple(files)


def python_version_of(reader: Reader, dists: list[InstalledDist]) -> tuple[int, int] | None:
    """The environment's Python: lib/pythonX.Y in its path, its pyvenv.cfg, or the CPython tags it installed."""
    for part in reversed(reader.parts[-3:]):
        match = _PYTHON_DIR.match(part)
        if match:
            return int(match.group(1)), int(match.group(2))
    for candidate in ("../../pyvenv.cfg", "../../../pyvenv.cfg"):
        data = reader.read(candidate, 64 * 1024)
        if data is not None:
            match = _VENV_VERSION.search(data.decode("utf-8", "replace"))
            if match:
                return int(match.group(1)), int(match.group(2))
    counts: dict[tuple[int, int], int] = {}
    for dist in dists:
        for tag in dist.tags:
            match = _CP_TAG.match(tag.interpreter)
            if match and tag.abi != "abi3":
                key = (int(match.group(1)), int(match.group(2)))
                counts[key] = counts.get(key, 0) + 1
    return max(counts, key=lambda k: counts[k]) if counts else None

