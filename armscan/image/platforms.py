"""Which platforms an image offers, and, when linux/arm64 is not among them, the nearest tag that has it."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from packaging.version import InvalidVersion, Version

from armscan.image.manifest import Descriptor, ImageConfig, Manifest, index_entries, is_index, load_document

MAX_TAGS_CHECKED = 15
_VERSIONED = re.compile(r"^v?(\d+(?:\.\d+)*)(.*)$")


class ImageSource(Protocol):
    label: str

    def root(self) -> tuple[bytes, str]: ...

    def document(self, descriptor: Descriptor) -> bytes: ...

    def blob(self, descriptor: Descriptor) -> AbstractContextManager[BinaryIO]: ...

    def tags(self) -> list[str]: ...

    def with_tag(self, tag: str) -> ImageSource: ...


SourceOpener = Callable[[str], ImageSource]  # a registry reference -> its source


@dataclass(frozen=True)
class PlatformCheck:
    suggested: str | None = None  # a full reference
    note: str = ""


def platforms_from(source: ImageSource) -> list[str]:
    root, media_type = source.root()
    data = load_document(root)
    if is_index(data, media_type):
        return [str(d.platform) for d in index_entries(data) if d.platform is not None and not d.is_attestation]
    manifest = Manifest.of(data)
    return [str(ImageConfig.of(load_document(source.document(manifest.config))).platform)]


def nearest_tags(current: str, tags: list[str]) -> list[str]:
    """Later releases of the same line first: same suffix (`-alpine`, `-slim`), higher version, oldest first."""
    match = _VERSIONED.match(current)
    if match is None:
        return []
    try:
        version = Version(match.group(1))
    except InvalidVersion:
        return []
    suffix = match.group(2)
    later = []
    for tag in tags:
        other = _VERSIONED.match(tag)
        if other is None or other.group(2) != suffix:
            continue
        try:
            candidate = Version(other.group(1))
        except InvalidVersion:
            continue
        if candidate > version and len(candidate.release) == len(version.release):
            later.append((candidate, tag))
    return [tag for _, tag in sorted(later)]


def suggest_tag(source: ImageSource, current_tag: str | None) -> PlatformCheck:
    """Look through the source's other tags for the nearest later release that has linux/arm64."""
    if not current_tag:
        return PlatformCheck()
    try:
        candidates = nearest_tags(current_tag, source.tags())[:MAX_TAGS_CHECKED]
    except Exception as e:
        return PlatformCheck(note=f"Its other tags could not be listed ({e}).")
    for candidate in candidates:
        try:
            other = source.with_tag(candidate)
            if "linux/arm64" in platforms_from(other):
                return PlatformCheck(suggested=other.label)
        except Exception:  # one broken tag does not end the search
            continue
    if candidates:
        return PlatformCheck(note=f"None of the {len(candidates)} later tags checked has linux/arm64 either.")
    return PlatformCheck(note="No later tag of the same line was found.")


def platforms_of(reference: str, opener: SourceOpener) -> tuple[list[str], str | None]:
    source = opener(reference)
    platforms = platforms_from(source)
    if "linux/arm64" in platforms:
        return platforms, None
    return platforms, suggest_tag(source, getattr(getattr(source, "ref", None), "tag", None)).suggested
