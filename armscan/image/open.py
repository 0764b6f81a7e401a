"""Open an image reference as a source: a registry, an OCI layout, a docker-archive or the Docker daemon."""

from __future__ import annotations

from dataclasses import dataclass

from armscan.image.local import DockerArchive, OciLayout, open_daemon_image
from armscan.image.platforms import ImageSource, SourceOpener
from armscan.image.reference import LocalRef, RegistryRef, parse, parse_registry
from armscan.image.registry import RegistryClient


@dataclass(frozen=True)
class RegistrySettings:
    creds: tuple[str, str] | None = None  # for the registry of the image asked for, not for others
    creds_registry: str | None = None
    insecure: frozenset[str] = frozenset()  # registries spoken to over plain HTTP
    timeout: float = 30.0

    def client(self, ref: RegistryRef) -> RegistryClient:
        creds = self.creds if ref.registry == self.creds_registry else None
        return RegistryClient(ref, creds=creds, insecure=ref.registry in self.insecure, timeout=self.timeout)


def open_source(text: str, settings: RegistrySettings) -> tuple[ImageSource, RegistryRef | LocalRef]:
    ref = parse(text)
    if isinstance(ref, RegistryRef):
        return settings.client(ref), ref
    label = str(ref)
    if ref.transport == "oci":
        return OciLayout(ref.path, ref.tag, label), ref
    if ref.transport == "docker-archive":
        return DockerArchive(ref.path, label), ref
    return open_daemon_image(ref.path, label), ref


def registry_opener(settings: RegistrySettings) -> SourceOpener:
    def opener(text: str) -> ImageSource:
        return settings.client(parse_registry(text))

    return opener
