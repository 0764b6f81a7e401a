"""Images on disk: an OCI image layout folder (`oci:DIR[:TAG]`) and a `docker save` archive (`docker-archive:`).

Both give the same things a registry gives: a top document (index or manifest), documents by digest, and
blobs as streams. Documents are checked against their digests; layers are checked while they stream.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from armscan.image.manifest import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    OCI_MANIFEST,
    Descriptor,
    ManifestError,
    index_entries,
    is_index,
    load_document,
)

TAG_ANNOTATION = "org.opencontainers.image.ref.name"
MAX_ARCHIVE_MEMBERS = 10_000  # `docker save` writes a handful per layer, and an image has at most 127 layers


class SourceError(Exception):
    """The image cannot be read at all (missing, not an image, unreachable)."""


def open_regular_file(path: str, inside: str | None = None) -> BinaryIO:
    """Open a regular file for reading: never a FIFO or device (which would block or never end) and, with
    `inside`, never a file a link leads to outside that folder. Checked on the open file (fstat)."""
    real = os.path.realpath(path)
    if inside is not None:
        root = os.path.realpath(inside)
        if os.path.commonpath([root, real]) != root:
            raise OSError(f"links out of the {os.path.basename(root) or root} folder")
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(real, flags)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
                    else "a folder" if stat.S_ISDIR(mode) else "a socket" if stat.S_ISSOCK(mode) else "special")
            raise OSError(f"not a regular file: {kind}")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _check_digest(body: bytes, digest: str) -> bytes:
    algorithm, _, expected = digest.partition(":")
    if algorithm not in ("sha256", "sha512"):
        raise ManifestError(f"unsupported digest algorithm in {digest[:40]}")
    if hashlib.new(algorithm, body).hexdigest() != expected:
        raise ManifestError(f"document {digest[:19]}... does not match its digest")
    return body


class OciLayout:
    """An OCI image layout folder; with a tag, the index entry annotated with that ref name."""

    def __init__(self, folder: str, tag: str | None, label: str) -> None:
        self.folder = Path(folder)
        self.tag = tag
        self.label = label
        if not (self.folder / "index.json").is_file():
            raise SourceError(f"{folder}: not an OCI image layout (no index.json)")

    def _open(self, relative: Path) -> BinaryIO:
        return open_regular_file(str(self.folder / relative), str(self.folder))

    def _read(self, relative: Path, limit: int) -> bytes:
        try:
            with self._open(relative) as fh:
                data = fh.read(limit + 1)
        except OSError as e:
            raise SourceError(f"{self.label}: cannot read {relative}: {e.strerror or e}") from e
        if len(data) > limit:
            raise ManifestError(f"{relative} is over {limit} bytes")
        return data

    def root(self) -> tuple[bytes, str]:
        body = self._read(Path("index.json"), 4 * 1024 * 1024)
        if self.tag is None:
            return body, OCI_INDEX
        data = load_document(body)
        matches = [d for d in index_entries(data) if d.annotations.get(TAG_ANNOTATION) == self.tag]
        if not matches:
            raise SourceError(f"{self.label}: no image tagged {self.tag!r} in the layout")
        return self.document(matches[0]), matches[0].media_type

    def document(self, descriptor: Descriptor) -> bytes:
        algorithm, _, hexdigest = descriptor.digest.partition(":")
        return _check_digest(self._read(Path("blobs") / algorithm / hexdigest, 4 * 1024 * 1024), descriptor.digest)

    @contextmanager
    def blob(self, descriptor: Descriptor) -> Iterator[BinaryIO]:
        algorithm, _, hexdigest = descriptor.digest.partition(":")
        try:
            fh = self._open(Path("blobs") / algorithm / hexdigest)
        except OSError as e:
            what = "missing" if isinstance(e, FileNotFoundError) else "unreadable"
            raise SourceError(f"{self.label}: layer {descriptor.digest[:19]}... {what}: {e.strerror or e}") from e
        with fh:
            yield fh

    def with_tag(self, tag: str) -> OciLayout:
        return OciLayout(str(self.folder), tag, f"oci:{self.folder}:{tag}")

    def tags(self) -> list[str]:
        data = load_document(self._read(Path("index.json"), 4 * 1024 * 1024))
        return sorted({d.annotations[TAG_ANNOTATION] for d in index_entries(data) if TAG_ANNOTATION in d.annotations})


class DockerArchive:
    """`docker save` output: manifest.json naming a config and layer tars (classic or OCI-in-tar layout)."""

    def __init__(self, path: str, label: str, fileobj: BinaryIO | None = None) -> None:
        self.label = label
        try:
            if fileobj is None:
                fileobj = open_regular_file(path)  # a FIFO would block the open, /dev/zero never end
            self.tar = tarfile.open(None, "r:*", fileobj=fileobj)  # noqa: SIM115
            members = []
            for member in self.tar:  # one at a time: getmembers() would hold millions before they are counted
                members.append(member)
                if len(members) > MAX_ARCHIVE_MEMBERS:
                    raise SourceError(f"{path}: over {MAX_ARCHIVE_MEMBERS} members; not a docker save archive")
        except (OSError, tarfile.TarError, EOFError) as e:
            raise SourceError(f"{path}: not a readable docker-archive: {getattr(e, 'strerror', None) or e}") from e
        self.members = {m.name.lstrip("./"): m for m in members if m.isfile()}
        try:
            manifest = json.loads(self._member("manifest.json", 4 * 1024 * 1024))
            entry = manifest[0]
            self.config_path = str(entry["Config"])
            self.layer_paths = [str(p) for p in entry["Layers"]]
            self.repo_tags = [str(t) for t in entry.get("RepoTags") or []]
        except (ValueError, KeyError, IndexError, TypeError, RecursionError, ManifestError) as e:
            raise SourceError(f"{path}: manifest.json is not a docker save manifest: {e}") from e

    def _member(self, name: str, limit: int) -> bytes:
        member = self.members.get(name.lstrip("./"))
        if member is None:
            raise SourceError(f"{self.label}: {name} is missing from the archive")
        if member.size > limit:
            raise ManifestError(f"{name} is over {limit} bytes")
        extracted = self.tar.extractfile(member)
        if extracted is None:
            raise SourceError(f"{self.label}: {name} is not a file")
        return extracted.read()

    def _digest_of(self, path: str, diff_ids: list[str], index: int) -> str:
        parts = path.split("/")
        if len(parts) == 3 and parts[0] == "blobs":
            return f"{parts[1]}:{parts[2]}"
        return diff_ids[index] if index < len(diff_ids) else ""

    def root(self) -> tuple[bytes, str]:
        config = self._member(self.config_path, 4 * 1024 * 1024)
        config_data = load_document(config)
        diff_ids = [str(d) for d in (config_data.get("rootfs") or {}).get("diff_ids") or []]
        self._config = config
        layers = []
        for i, path in enumerate(self.layer_paths):
            member = self.members.get(path.lstrip("./"))
            digest = self._digest_of(path, diff_ids, i)
            if member is None or not digest:
                raise SourceError(f"{self.label}: layer {path} is missing or has no digest")
            layers.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest,
                           "size": member.size, "annotations": {"path": path}})
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        manifest = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
                    "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                               "digest": config_digest, "size": len(config)},
                    "layers": layers}
        return json.dumps(manifest).encode(), OCI_MANIFEST

    def document(self, descriptor: Descriptor) -> bytes:
        return self._config

    @contextmanager
    def blob(self, descriptor: Descriptor) -> Iterator[BinaryIO]:
        path = descriptor.annotations.get("path", "")
        member = self.members.get(path.lstrip("./"))
        extracted = self.tar.extractfile(member) if member is not None else None
        if extracted is None:
            raise SourceError(f"{self.label}: layer {path} is missing")
        yield extracted  # type: ignore[misc]

    def tags(self) -> list[str]:
        return []  # one image per archive: no other tags to look through

    def with_tag(self, tag: str) -> DockerArchive:
        raise SourceError(f"{self.label}: a docker-archive holds one image")


def open_daemon_image(name: str, label: str) -> DockerArchive:
    """Ask the local Docker engine for `docker save` of an image; spooled to an unnamed temporary file."""
    import http.client
    import socket
    import tempfile
    import urllib.parse

    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        raise SourceError(f"DOCKER_HOST {host!r}: only a unix socket engine is supported")
    socket_path = host[len("unix://"):]

    class _UnixConnection(http.client.HTTPConnection):
        def connect(self) -> None:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(60)
            self.sock.connect(socket_path)

    connection = _UnixConnection("localhost")
    try:
        connection.request("GET", f"/images/{urllib.parse.quote(name, safe='')}/get")
        response = connection.getresponse()
    except OSError as e:
        raise SourceError(f"no Docker engine reachable at {socket_path}: {e.strerror or e}") from e
    if response.status != 200:
        raise SourceError(f"the Docker engine has no image {name!r} (HTTP {response.status})")
    spool = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the archive reader
    while chunk := response.read(1 << 20):
        spool.write(chunk)
    spool.seek(0)
    return DockerArchive(name, label, fileobj=spool)


def is_index_document(body: bytes, media_type: str) -> bool:
    return is_index(load_document(body), media_type)
