"""A small HTTP getter for package indexes: credentials kept out of messages, retries, an on-disk cache."""

from __future__ import annotations

import base64
import functools
import hashlib
import http.client
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
from armscan.python import deadline

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


class BadURL(ValueError):
    """A URL that cannot be used; the message never holds what could be a credential."""


def redact(url: str) -> str:
    """A URL with any user:password removed, for messages and cache keys; only the scheme of a malformed one."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError:
        return f"{url.partition(':')[0][:10]}://(malformed)"
    if "@" not in parts.netloc and "@" in url.partition("://")[2]:
        return f"{parts.scheme[:10]}://(malformed)"  # a password's unencoded '/' ended the host early
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if port:
        host = f"{host}:{port}"
    return urllib.parse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def check_url(url: str, schemes: tuple[str, ...] = ("http", "https", "file")) -> str:
    """The URL if armscan can use it, else BadURL saying why without echoing it (it may hold a password)."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise BadURL("it holds spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(url)
        _ = parts.port
    except ValueError:
        raise BadURL("malformed host or port; a '/', '?', '#' or '@' in a user name or password must be "
                     "percent-encoded") from None
    if parts.scheme not in schemes:
        raise BadURL(f"it must start with {', '.join(s + ':' for s in schemes)} not {parts.scheme or 'no scheme'}")
    if parts.scheme != "file" and not parts.hostname:
        raise BadURL("it names no host")
    if "@" not in parts.netloc and "@" in url.partition("://")[2]:
        # 'http://user:12/secret@host/': a password with an unencoded '/', '?' or '#' ends the host early
        raise BadURL("an '@' after the host; a '/', '?' or '#' in a password must be percent-encoded")
    return url


def link_allowed(link: str, root_url: str) -> bool:
    """Whether a link on an index page may be followed: http(s) from a remote index, and from a file: index
    only files inside its folder (a mirror's folder, for REPO/simple/), so that an index can never make armscan
    read another file of this machine."""
    scheme = urllib.parse.urlsplit(link).scheme.lower()
    if scheme != "file" or urllib.parse.urlsplit(root_url).scheme.lower() != "file":
        return scheme in ("http", "https")
    root = _local_path(root_url)
    folder = root if root_url.endswith("/") or root.is_dir() else root.parent
    if folder.name == "simple":  # a mirror's files sit beside its simple/ pages (REPO/simple/, REPO/files/)
        folder = folder.parent
    try:
        return _local_path(link).resolve().is_relative_to(folder.resolve())
    except (OSError, RuntimeError):
        return False


def _local_path(url: str) -> Path:
    return Path(urllib.request.url2pathname(urllib.parse.urlsplit(url).path))


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

    def http_error_302(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                       headers: Any) -> Any:
        target = headers.get("location") or headers.get("uri") or ""
        if urllib.parse.urlsplit(urllib.parse.urljoin(req.full_url, target)).scheme not in ("http", "https"):
            raise urllib.error.HTTPError(req.full_url, code, "redirect to a non-HTTP URL refused", headers, fp)
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return parts.scheme, (parts.hostname or "").lower(), port


# What a broken or hostile server makes the HTTP stack raise: bad status lines, over 100 headers, resets
NETWORK_ERRORS = (urllib.error.URLError, http.client.HTTPException, OSError, ValueError)


def _read_local(url: str, max_bytes: int) -> Response:
    """A file:// index, as pip reads one: a folder stands for its index.html."""
    path = _local_path(url)
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
        if url.startswith("file:"):  # a local file is read, offline too, and never copied into the cache
            return _read_local(url, self.max_bytes)
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

    def exists(self, url: str) -> bool:
        """Whether the server has anything at this URL (the body is not read); raises FetchError."""
        if url.startswith("file:"):
            return _local_path(url).exists()
        try:
            self._fetch(url, "*/*", max_bytes=0)
        except NotFound:
            return False
        return True

    def _fetch(self, url: str, accept: str, max_bytes: int | None = None) -> Response:
        limit = self.max_bytes if max_bytes is None else max_bytes
        if url.startswith("file:"):
            return _read_local(url, limit)
        clean, auth = _authorization(url)
        headers = {"Accept": accept, "User-Agent": f"armscan/{__version__}"}
        if auth:
            headers["Authorization"] = auth
        last_error = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(clean, headers=headers)
            limit_timer = deadline.Deadline(self.timeout)
            try:
                with limit_timer, deadline.opener(limit_timer, SafeRedirectHandler()).open(
                        request, timeout=self.timeout) as reply:
                    body = reply.read(limit + 1) if limit else b""
                    if limit_timer.expired:
                        raise TimeoutError
                    if len(body) > limit:
                        raise FetchError(f"{clean}: response larger than {limit} bytes")
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
            except NETWORK_ERRORS as e:
                if limit_timer.expired or isinstance(e, TimeoutError):
                    # a server that drips its answer is not having a passing hiccup: no retry
                    raise FetchError(f"{clean}: no complete answer within {self.timeout:g} s") from None
                reason = getattr(e, "reason", e)
                last_error = f"{type(reason).__name__}: {_short(reason)}"
                if is_protocol_error(e):
                    raise FetchError(f"{clean}: not a valid HTTP answer ({last_error})") from None
        raise FetchError(f"{clean}: {last_error} after {self.retries + 1} attempts")


def is_protocol_error(error: BaseException) -> bool:
    """A server that breaks HTTP (a bad status line, over 100 headers) does so again: not worth a retry."""
    return isinstance(error, http.client.HTTPException) and not isinstance(error, ConnectionError)


def _short(reason: object) -> str:
    """An exception's text, cut short: http.client puts what the server sent into some of them."""
    text = " ".join(str(reason).split())
    return text if len(text) <= 120 else text[:117] + "..."
