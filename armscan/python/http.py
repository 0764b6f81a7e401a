"""A small HTTP getter for package indexes: credentials kept out of messages, retries, an on-disk cache."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import logging
import netrc
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from armscan import __version__

logger = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class FetchError(Exception):
    """The index could not answer; the message never contains credentials."""


class NotFound(FetchError):
    """The index answered 404."""


@dataclass(frozen=True)
class Response:
    url: str
    content_type: str
    body: bytes


def redact(url: str) -> str:
    """A URL with any user:password removed, for messages and cache keys."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _authorization(url: str) -> tuple[str, str | None]:
    """The URL without credentials, and the Authorization header: from the URL, else from ~/.netrc as pip does."""
    parts = urllib.parse.urlsplit(url)
    if parts.username is None:
        found = _netrc_login(parts.hostname or "")
        return url, (_basic(*found) if found else None)
    user = urllib.parse.unquote(parts.username)
    password = urllib.parse.unquote(parts.password or "")
    return redact(url), _basic(user, password)


@functools.lru_cache(maxsize=256)
def _netrc_login(host: str) -> tuple[str, str] | None:
    path = os.environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")
    try:
        entry = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None
    if entry is None or not entry[0]:
        return None
    return entry[0], entry[2] or ""


class SafeRedirectHandler(urllib.request.HTTPRedirectHandler):
    """Follow redirects, but never carry credentials to another host (a CDN, say)."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and _origin(newurl) != _origin(req.full_url):
            new.remove_header("Authorization")
        return new


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


_OPENER = urllib.request.build_opener(SafeRedirectHandler)


def _read_local(url: str, max_bytes: int) -> Response:
    """A file:// index, as pip reads one: a folder stands for its index.html."""
    path = Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))
    if path.is_dir():
        path = path / "index.html"
    try:
        with path.open("rb") as fh:
            body = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise NotFound(f"{url}: not found") from None
    except OSError as e:
        raise FetchError(f"{url}: {e.strerror or e}") from None
    if len(body) > max_bytes:
        raise FetchError(f"{url}: larger than {max_bytes} bytes")
    content_type = "text/html" if path.suffix in (".html", ".htm") else "application/octet-stream"
    return Response(url=url, content_type=content_type, body=body)


class Cache:
    """Responses on disk, keyed by the redacted URL and Accept header."""

    def __init__(self, root: Path, ttl_seconds: float) -> None:
        self.root = root
        self.ttl = ttl_seconds

    def _paths(self, url: str, accept: str) -> tuple[Path, Path]:
        key = hashlib.sha256(f"{redact(url)}\n{accept}".encode()).hexdigest()
        folder = self.root / key[:2]
        return folder / f"{key}.json", folder / f"{key}.body"

    def get(self, url: str, accept: str, *, any_age: bool) -> Response | None:
        meta_path, body_path = self._paths(url, accept)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if not any_age and time.time() - float(meta["fetched_at"]) > self.ttl:
                return None
            return Response(url=str(meta["url"]), content_type=str(meta["content_type"]), body=body_path.read_bytes())
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, url: str, accept: str, response: Response) -> None:
        meta_path, body_path = self._paths(url, accept)
        try:
            meta_path.parent.mkdir(parents=True, exist_ok=True)
            body_path.write_bytes(response.body)
            meta = {"url": redact(response.url), "content_type": response.content_type, "fetched_at": time.time()}
            meta_path.write_text(json.dumps(meta), encoding="utf-8")
        except OSError as e:
            logger.debug("cache write failed: %s", e)


@dataclass
class Fetcher:
    timeout: float = 15.0
    retries: int = 2
    backoff: float = 0.5
    max_bytes: int = 64 * 1024 * 1024
    cache: Cache | None = None
    offline: bool = False

    def get(self, url: str, accept: str = "*/*") -> Response:
        if self.cache is not None:
            cached = self.cache.get(url, accept, any_age=self.offline)
            if cached is not None:
                return cached
        if self.offline:
            raise FetchError(f"offline and not in the cache: {redact(url)}")
        response = self._fetch(url, accept)
        if self.cache is not None:
            self.cache.put(url, accept, response)
        return response

    def _fetch(self, url: str, accept: str) -> Response:
        if url.startswith("file:"):
            return _read_local(url, self.max_bytes)
        clean, auth = _authorization(url)
        headers = {"Accept": accept, "User-Agent": f"armscan/{__version__}"}
        if auth:
            headers["Authorization"] = auth
        last_error = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(clean, headers=headers)
            try:
                with _OPENER.open(request, timeout=self.timeout) as reply:
                    body = reply.read(self.max_bytes + 1)
                    if len(body) > self.max_bytes:
                        raise FetchError(f"{clean}: response larger than {self.max_bytes} bytes")
                    return Response(url=redact(reply.geturl()), content_type=reply.headers.get("Content-Type", ""),
                                    body=body)
            except urllib.error.HTTPError as e:
                if e.code == 404:
                    raise NotFound(f"{clean}: not found (404)") from None
                if e.code in (401, 403):
                    raise FetchError(f"{clean}: access denied ({e.code}); check the index credentials") from None
                last_error = f"HTTP {e.code}"
                if e.code not in RETRY_STATUSES:
                    break
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                reason = getattr(e, "reason", e)
                last_error = f"{type(reason).__name__}: {reason}"
        raise FetchError(f"{clean}: {last_error} after {self.retries + 1} attempts")
