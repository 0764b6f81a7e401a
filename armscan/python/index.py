"""Package index client: PEP 691 JSON with PEP 503 HTML fallback, and core metadata (PEP 658) or wheel METADATA."""

from __future__ import annotations

import io
import json
import logging
import os
import tarfile
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion

from armscan.python.http import Fetcher, FetchError, NotFound, link_allowed, redact

logger = logging.getLogger(__name__)

ACCEPT = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"


@dataclass(frozen=True)
class DistFile:
    filename: str
    url: str
    hashes: tuple[tuple[str, str], ...] = ()
    requires_python: str | None = None
    yanked: bool = False
    has_metadata: bool = False
    index: str = ""

    def hash_values(self) -> frozenset[str]:
        return frozenset(f"{name}:{value}" for name, value in self.hashes)


@dataclass(frozen=True)
class ProjectPage:
    name: str
    index: str
    files: tuple[DistFile, ...]


class IndexError_(Exception):
    """An index that answered garbage or not at all."""


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[dict[str, str | None], str]] = []
        self._current: dict[str, str | None] | None = None
        self._text: list[str] = []
        self.saw_html = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("html", "body", "head", "meta", "title"):
            self.saw_html = True
        if tag == "a":
            self._current = dict(attrs)
            self._text = []

    def handle_data(self, data: str) -> None:
        if self._current is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._current is not None:
            self.links.append((self._current, "".join(self._text).strip()))
            self._current = None


def _split_hash(url: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    base, _, fragment = url.partition("#")
    if "=" in fragment:
        name, _, value = fragment.partition("=")
        return base, ((name, value),)
    return base, ()


def parse_html(body: bytes, page_url: str, index: str, root: str | None = None) -> list[DistFile]:
    """The files a PEP 503 page links to; `root` is the index's URL (the page's by default)."""
    parser = _LinkParser()
    parser.feed(body.decode("utf-8", "replace"))
    if not parser.links and not parser.saw_html:
        raise IndexError_(f"{redact(page_url)}: the page is neither JSON nor HTML")
    files = []
    for attrs, text in parser.links:
        href = attrs.get("href")
        if not href:
            continue
        url, hashes = _split_hash(_follow(page_url, href, root or page_url))
        filename = text or urllib.parse.unquote(url.rsplit("/", 1)[-1])
        metadata = attrs.get("data-core-metadata") or attrs.get("data-dist-info-metadata")
        files.append(DistFile(
            filename=filename,
            url=url,
            hashes=hashes,
            requires_python=attrs.get("data-requires-python"),
            yanked="data-yanked" in attrs,
            has_metadata=metadata is not None and metadata != "false",
            index=index,
        ))
    return files


def parse_json(body: bytes, page_url: str, index: str, root: str | None = None) -> list[DistFile]:
    try:
        data = json.loads(body)
        raw_files = data["files"]
        if not isinstance(raw_files, list):
            raise TypeError("files is not a list")
        files = []
        for raw in raw_files:
            url, fragment_hashes = _split_hash(_follow(page_url, str(raw["url"]), root or page_url))
            hashes = tuple(sorted((str(k), str(v)) for k, v in (raw.get("hashes") or {}).items())) or fragment_hashes
            metadata = raw.get("core-metadata", raw.get("dist-info-metadata", False))
            files.append(DistFile(
                filename=str(raw["filename"]),
                url=url,
                hashes=hashes,
                requires_python=raw.get("requires-python") or None,
                yanked=bool(raw.get("yanked", False)),
                has_metadata=bool(metadata),
                index=index,
            ))
        return files
    except RecursionError:
        raise IndexError_(f"{redact(page_url)}: malformed JSON project page: nested too deeply") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise IndexError_(f"{redact(page_url)}: malformed JSON project page: {e}") from e


def _follow(page_url: str, href: str, root: str) -> str:
    """The absolute URL of a link on an index page; IndexError_ for one the page may not send armscan to."""
    url = urllib.parse.urljoin(page_url, href)
    if not link_allowed(url, root):
        scheme = urllib.parse.urlsplit(url).scheme or "relative"
        raise IndexError_(f"{redact(page_url)}: the page links to a {scheme}: URL outside the index "
                          f"({redact(url)[:200]}); not followed, the project is not checked")
    return url


class IndexClient:
    """One index (a PEP 503/691 "simple" root URL)."""

    def __init__(self, index_url: str, fetcher: Fetcher) -> None:
        self.index_url = index_url.rstrip("/") + "/"
        self.label = redact(self.index_url)
        self.fetcher = fetcher
        self._root_found: bool | None = None

    def project(self, name: str) -> ProjectPage | None:
        """The project's files; None when the index does not have the project. Raises FetchError, IndexError_."""
        page_url = urllib.parse.urljoin(self.index_url, f"{canonicalize_name(name)}/")
        try:
            response = self.fetcher.get(page_url, ACCEPT)
        except NotFound:
            self._check_root()
            return None
        content_type = response.content_type.split(";")[0].strip().lower()
        if content_type.endswith("json") or response.body.lstrip()[:1] == b"{":
            files = parse_json(response.body, page_url, self.label, self.index_url)
        else:
            files = parse_html(response.body, page_url, self.label, self.index_url)
        return ProjectPage(name=str(canonicalize_name(name)), index=self.label, files=tuple(files))

    def _check_root(self) -> None:
        """A project missing is a finding only when the index itself is there: a wrong index URL answers 404 for
        every project, which is an index problem (readiness unknown), not a list of missing packages."""
        if self._root_found is None and not self.fetcher.offline:
            try:
                self._root_found = self.fetcher.exists(self.index_url)
            except FetchError as e:  # a root that refuses listing (401, 403) is still an index
                logger.debug("index root of %s not checked: %s", self.label, e)
                self._root_found = True
        if self._root_found is False:
            raise FetchError(f"{self.label}: not found (404) for the index itself; check the index URL")

    def metadata(self, dist: DistFile) -> str | None:
        """Core metadata of a distribution file: the PEP 658 file, else read from the wheel or sdist."""
        if dist.has_metadata:
            try:
                return self.fetcher.get(dist.url + ".metadata").body.decode("utf-8", "replace")
            except FetchError as e:
                logger.debug("no .metadata for %s: %s", dist.filename, e)
        body = self.fetcher.get(dist.url).body
        return metadata_from_archive(dist.filename, body)


def metadata_from_archive(filename: str, body: bytes) -> str | None:
    try:
        if filename.endswith(".whl"):
            with zipfile.ZipFile(io.BytesIO(body)) as zf:
                for name in zf.namelist():
                    if name.count("/") == 1 and name.endswith(".dist-info/METADATA"):
                        return zf.read(name)[:4 * 1024 * 1024].decode("utf-8", "replace")
        elif filename.endswith((".tar.gz", ".tgz")):
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tf:
                for member in tf:
                    if member.isfile() and member.name.count("/") == 1 and member.name.endswith("/PKG-INFO"):
                        extracted = tf.extractfile(member)
                        return extracted.read(4 * 1024 * 1024).decode("utf-8", "replace") if extracted else None
        elif filename.endswith(".zip"):
            with zipfile.ZipFile(io.BytesIO(body)) as zf:
                for name in zf.namelist():
                    if name.count("/") == 1 and name.endswith("/PKG-INFO"):
                        return zf.read(name)[:4 * 1024 * 1024].decode("utf-8", "replace")
    except (zipfile.BadZipFile, tarfile.TarError, OSError, EOFError, ValueError) as e:
        logger.debug("metadata unreadable in %s: %s", filename, e)
    return None


class FindLinksClient(IndexClient):
    """A pip --find-links location: a folder of distribution files, or one HTML page linking to them all."""

    def __init__(self, location: str, fetcher: Fetcher) -> None:
        self.location = location
        self.label = redact(location)
        self.index_url = location
        self.fetcher = fetcher
        self._files: tuple[DistFile, ...] | None = None

    def _all_files(self) -> tuple[DistFile, ...]:
        if self._files is None:
            folder = self._local_folder()
            if folder is not None:
                self._files = self._list_folder(folder)
            else:
                response = self.fetcher.get(self.location, "text/html")
                self._files = tuple(parse_html(response.body, self.location, self.label))
        return self._files

    def _local_folder(self) -> Path | None:
        if self.location.startswith("file:"):
            path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(self.location).path))
        elif "://" in self.location:
            return None
        else:
            path = Path(self.location).expanduser()
        return path if path.is_dir() else None

    def _list_folder(self, folder: Path) -> tuple[DistFile, ...]:
        try:
            names = sorted(os.listdir(folder))
        except OSError as e:
            raise FetchError(f"{self.label}: {e.strerror or e}") from None
        return tuple(DistFile(filename=name, url=(folder / name).resolve().as_uri(), index=self.label)
                     for name in names if name.endswith((".whl", ".tar.gz", ".zip", ".tgz")))

    def project(self, name: str) -> ProjectPage | None:
        wanted = canonicalize_name(name)
        files = tuple(f for f in self._all_files() if _project_of(f.filename) == wanted)
        return ProjectPage(name=str(wanted), index=self.label, files=files) if files else None


def _project_of(filename: str) -> str | None:
    try:
        if filename.endswith(".whl"):
            return str(parse_wheel_filename(filename)[0])
        return str(parse_sdist_filename(filename.replace(".tgz", ".tar.gz"))[0])
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None
