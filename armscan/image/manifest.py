"""OCI and Docker v2 image indexes, manifests and configs: parsing, and platform names normalised."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})
MANIFEST_TYPES = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
ACCEPT = ", ".join([OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_MANIFEST])
MAX_DOCUMENT = 4 * 1024 * 1024

_ARCH_ALIASES = {"aarch64": "arm64", "x86_64": "amd64", "x86-64": "amd64", "i686": "386", "i386": "386",
                 "armhf": "arm", "armel": "arm"}


class ManifestError(Exception):
    """A manifest, index or config that is not what it claims to be."""


@dataclass(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> Platform:
        data = data or {}
        arch = _ARCH_ALIASES.get(str(data.get("architecture", "")).lower(), str(data.get("architecture", "")).lower())
        variant = str(data.get("variant", "") or "").lower()
        if arch == "arm64" and variant in ("v8", "8"):
            variant = ""  # arm64 and arm64/v8 are the same platform
        return cls(str(data.get("os", "")).lower(), arch, variant)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)

    @property
    def is_arm64(self) -> bool:
        return self.os == "linux" and self.architecture == "arm64"


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int | None
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict, hash=False)

    @classmethod
    def of(cls, data: dict[str, Any]) -> Descriptor:
        try:
            digest = str(data["digest"])
        except (KeyError, TypeError) as e:
            raise ManifestError("a descriptor has no digest") from e
        if ":" not in digest or "/" in digest or ".." in digest:
            raise ManifestError(f"invalid digest {digest[:80]!r}")
        size = data.get("size")
        annotations = data.get("annotations")
        return cls(str(data.get("mediaType", "")), digest, int(size) if isinstance(size, int) else None,
                   Platform.of(data["platform"]) if isinstance(data.get("platform"), dict) else None,
                   {str(k): str(v) for k, v in annotations.items()} if isinstance(annotations, dict) else {})

    @property
    def is_attestation(self) -> bool:
        return (self.annotations.get("vnd.docker.reference.type") == "attestation-manifest"
                or (self.platform is not None and self.platform.os == "unknown"))


def load_document(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_DOCUMENT:
        raise ManifestError(f"document over {MAX_DOCUMENT} bytes")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError) as e:
        raise ManifestError(f"not JSON: {e}") from e
    if not isinstance(data, dict):
        raise ManifestError("not a JSON object")
    return data


def is_index(data: dict[str, Any], media_type: str = "") -> bool:
    return media_type in INDEX_TYPES or data.get("mediaType") in INDEX_TYPES or (
        "manifests" in data and "layers" not in data)


def index_entries(data: dict[str, Any]) -> list[Descriptor]:
    entries = data.get("manifests")
    if not isinstance(entries, list):
        raise ManifestError("an index without a manifests list")
    return [Descriptor.of(e) for e in entries if isinstance(e, dict)]


@dataclass(frozen=True)
class Manifest:
    config: Descriptor
    layers: tuple[Descriptor, ...]

    @classmethod
    def of(cls, data: dict[str, Any]) -> Manifest:
        if data.get("schemaVersion") == 1:
            raise ManifestError("Docker schema 1 manifests are not supported")
        layers = data.get("layers")
        if not isinstance(data.get("config"), dict) or not isinstance(layers, list):
            raise ManifestError("a manifest without config or layers")
        return cls(Descriptor.of(data["config"]), tuple(Descriptor.of(d) for d in layers if isinstance(d, dict)))


@dataclass(frozen=True)
class ImageConfig:
    platform: Platform
    labels: dict[str, str]
    history: tuple[str, ...]  # created_by of each step
    diff_ids: tuple[str, ...]
    env: tuple[str, ...]

    @classmethod
    def of(cls, data: dict[str, Any]) -> ImageConfig:
        config = data.get("config") or {}
        labels = config.get("Labels") or {}
        history = tuple(str(h.get("created_by", "")) for h in data.get("history") or [] if isinstance(h, dict))
        rootfs = data.get("rootfs") or {}
        return cls(Platform.of(data), {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {},
                   history, tuple(str(d) for d in rootfs.get("diff_ids") or []),
                   tuple(str(e) for e in config.get("Env") or []))

    @property
    def base_name(self) -> str | None:
        return self.labels.get("org.opencontainers.image.base.name") or None
