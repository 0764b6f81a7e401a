"""Image references, in the spirit of skopeo's transports.

- `host/repo:tag`, `repo@sha256:...`, Docker Hub short names (`alpine`, `user/app:1`): a registry;
- `docker-archive:FILE` (`docker save` output), `oci:DIR[:TAG]` (an OCI image layout), `docker-daemon:NAME`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "registry-1.docker.io"
_HUB_NAMES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})
_NAME = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-fA-F0-9]{32,}$")


class ReferenceError_(ValueError):
    """Not an image reference armscan understands."""


@dataclass(frozen=True)
class RegistryRef:
    registry: str  # host[:port]
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What the manifest endpoint is asked for: the digest if given, else the tag."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        registry = "docker.io" if self.registry == DOCKER_HUB else self.registry
        text = f"{registry}/{self.repository}"
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text

    def with_tag(self, tag: str) -> RegistryRef:
        return RegistryRef(self.registry, self.repository, tag, None)


@dataclass(frozen=True)
class LocalRef:
    transport: str  # "oci", "docker-archive", "docker-daemon"
    path: str
    tag: str | None = None

    def __str__(self) -> str:
        return f"{self.transport}:{self.path}" + (f":{self.tag}" if self.tag else "")


TRANSPORTS = ("docker://", "oci:", "docker-archive:", "docker-daemon:")


def parse(text: str) -> RegistryRef | LocalRef:
    text = text.strip()
    _refuse_unknown_transport(text)
    if text.startswith("docker://"):
        text = text[len("docker://"):]
    if text.startswith("oci:"):
        rest = text[4:]
        path, tag = rest, None
        if ":" in rest.rsplit("/", 1)[-1]:
            path, _, tag = rest.rpartition(":")
        if not path:
            raise ReferenceError_(f"{text!r}: oci: needs a folder")
        return LocalRef("oci", path, tag or None)
    if text.startswith("docker-archive:"):
        path = text[len("docker-archive:"):]
        if not path:
            raise ReferenceError_(f"{text!r}: docker-archive: needs a file")
        return LocalRef("docker-archive", path)
    if text.startswith("docker-daemon:"):
        name = text[len("docker-daemon:"):]
        if not name:
            raise ReferenceError_(f"{text!r}: docker-daemon: needs an image name")
        return LocalRef("docker-daemon", name)
    return parse_registry(text)


def _refuse_unknown_transport(text: str) -> None:
    """`oic:/images/app` or `docker-archiv:app.tar` is a mistyped transport, not a registry named `oic:`."""
    import difflib

    scheme, colon, rest = text.partition(":")
    if not colon or not re.fullmatch(r"[a-z][a-z-]{1,30}", scheme) or f"{scheme}:" in TRANSPORTS \
            or (scheme == "docker" and not rest.startswith("/")) or rest[:1].isdigit():  # docker:dind, a tag
        return
    names = [t.rstrip(":/") for t in TRANSPORTS]
    if rest.startswith(("/", "./", "../", "~")) or difflib.get_close_matches(scheme, names, n=1, cutoff=0.7):
        raise ReferenceError_(f"{text!r}: {scheme}: is not a transport; use one of {', '.join(TRANSPORTS)}, or a "
                              "registry reference (host/repo:tag)")


def parse_registry(text: str) -> RegistryRef:
    name, digest = text, None
    if "@" in text:
        name, _, digest = text.partition("@")
        if not _DIGEST.match(digest):
            raise ReferenceError_(f"{text!r}: {digest!r} is not a digest")
    tag = None
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, _, tag = name.rpartition(":")
        if not _TAG.match(tag):
            raise ReferenceError_(f"{text!r}: {tag!r} is not a valid tag")
    first, _, rest = name.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, repository = first, rest
    else:
        registry, repository = DOCKER_HUB, name
    if registry in _HUB_NAMES:
        registry = DOCKER_HUB
    if registry == DOCKER_HUB and "/" not in repository:
        repository = f"library/{repository}"
    if not _NAME.match(repository):
        raise ReferenceError_(f"{text!r}: {repository!r} is not a valid repository name")
    if tag is None and digest is None:
        tag = "latest"
    return RegistryRef(registry, repository, tag, digest)
