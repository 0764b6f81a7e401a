"""A small OCI distribution-spec client: manifests, blobs as streams, tags; anonymous, bearer-token and basic auth.

Credentials come from `--creds`, else Docker's config (`auths`, `credHelpers`, `credsStore`); they are sent
only to the registry (and its token service), never to a host a blob download redirects to, and never
appear in messages.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO

from armscan import __version__
from armscan.image.manifest import ACCEPT, MAX_DOCUMENT, Descriptor, ManifestError
from armscan.image.reference import DOCKER_HUB, RegistryRef
from armscan.python import deadline
from armscan.python.http import NETWORK_ERRORS, SafeRedirectHandler, is_protocol_error

logger = logging.getLogger(__name__)

_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
_RETRY = frozenset({429, 500, 502, 503, 504})
MAX_TAGS = 10_000


class RegistryError(Exception):
    """The registry could not give what was asked; the message carries no credentials."""


class NotFoundError(RegistryError):
    pass


def docker_config_credentials(registry: str) -> tuple[str, str] | None:
    """Credentials Docker would use for this registry: config.json auths, credHelpers or credsStore."""
    folder = Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(config, dict):
        return None
    keys = [registry, f"https://{registry}", f"http://{registry}"]
    if registry == DOCKER_HUB:
        keys = ["https://index.docker.io/v1/", "index.docker.io", "docker.io", *keys]
    helper = next((config.get("credHelpers", {}).get(k) for k in keys if k in config.get("credHelpers", {})),
                  config.get("credsStore"))
    for key in keys:
        entry = (config.get("auths") or {}).get(key)
        if isinstance(entry, dict) and entry.get("auth"):
            try:
                user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                continue
            return user, password
    if isinstance(helper, str) and re.fullmatch(r"[\w.-]+", helper):
        return _from_helper(helper, keys[0])
    return None


def _from_helper(helper: str, server: str) -> tuple[str, str] | None:
    try:
        done = subprocess.run([f"docker-credential-{helper}", "get"], input=server, capture_output=True, text=True,
                              timeout=30)
        data = json.loads(done.stdout) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if isinstance(data, dict) and data.get("Username") is not None:
        return str(data["Username"]), str(data.get("Secret", ""))
    return None


class RegistryClient:
    def __init__(self, ref: RegistryRef, *, creds: tuple[str, str] | None = None, insecure: bool = False,
                 timeout: float = 30.0, retries: int = 2) -> None:
        self.ref = ref
        self.label = str(ref)
        self.scheme = "http" if insecure else "https"
        self.timeout = timeout
        self.retries = retries
        self.creds = creds if creds is not None else docker_config_credentials(ref.registry)
        self._auth: str | None = None  # Authorization header that worked last

    def with_tag(self, tag: str) -> RegistryClient:
        other = RegistryClient(self.ref.with_tag(tag), creds=self.creds, insecure=self.scheme == "http",
                               timeout=self.timeout, retries=self.retries)
        other._auth = self._auth
        return other

    def _url(self, path: str, repository: str | None = None) -> str:
        return f"{self.scheme}://{self.ref.registry}/v2/{repository or self.ref.repository}/{path}"

    @contextmanager
    def _request(self, url: str, accept: str, *, each_read: bool = False) -> Iterator[Any]:
        """The open response to a GET, all of it (connect, headers, body) within the timeout; with `each_read`,
        the headers within it and then each read (a layer download takes long, but no read may stall)."""
        reply, limit = self._open(url, accept)
        try:
            yield _Bounded(reply, limit, self.label, self.ref.registry, restart=each_read)
        finally:
            reply.close()
            limit.stop()

    def _open(self, url: str, accept: str) -> tuple[Any, deadline.Deadline]:
        """GET with retries and one round of authentication: the open response, and the deadline it is under.

        Each attempt has the whole timeout; one that ran out of it is not tried again."""
        last = "no attempt"
        authenticated = False
        for attempt in range(self.retries + 2):
            headers = {"Accept": accept, "User-Agent": f"armscan/{__version__}"}
            if self._auth:
                headers["Authorization"] = self._auth
            limit = deadline.Deadline(self.timeout).__enter__()
            opener = deadline.opener(limit, SafeRedirectHandler())
            try:
                return opener.open(urllib.request.Request(url, headers=headers), timeout=self.timeout), limit
            except urllib.error.HTTPError as e:
                limit.stop()
                if e.code == 401 and not authenticated:
                    authenticated = True
                    self._auth = self._authenticate(e.headers.get("WWW-Authenticate", ""))
                    if self._auth is not None:
                        continue
                if e.code in (401, 403):
                    hint = "" if self.creds else "; give credentials with --creds or docker login"
                    raise RegistryError(f"{self.label}: access denied (HTTP {e.code}){hint}") from None
                if e.code == 404:
                    raise NotFoundError(f"{self.label}: not found (HTTP 404)") from None
                last = f"HTTP {e.code}"
                if e.code not in _RETRY:
                    break
            except NETWORK_ERRORS as e:
                limit.stop()
                if limit.expired or isinstance(e, TimeoutError):
                    raise _timed_out(self.label, self.ref.registry, self.timeout) from None
                reason = getattr(e, "reason", e)
                last = f"{type(reason).__name__}: {_short(str(reason))}"
                if url.startswith("https:") and "WRONG_VERSION_NUMBER" in str(reason):
                    raise RegistryError(f"{self.label}: registry {self.ref.registry} answers in plain HTTP, not "
                                        f"HTTPS: if you trust it, give --insecure-registry {self.ref.registry}") \
                        from None
                if is_protocol_error(e):
                    break
            if attempt < self.retries:
                time.sleep(0.5 * 2 ** attempt)
        raise RegistryError(f"{self.label}: registry {self.ref.registry} unreachable or failing ({last})")

    def _authenticate(self, challenge: str) -> str | None:
        scheme, _, params_text = challenge.strip().partition(" ")
        params = dict(_CHALLENGE.findall(params_text))
        basic = None
        if self.creds:
            basic = "Basic " + base64.b64encode(f"{self.creds[0]}:{self.creds[1]}".encode()).decode()
        if scheme.lower() == "basic":
            return basic
        if scheme.lower() != "bearer" or "realm" not in params:
            return None
        query = {k: v for k, v in params.items() if k in ("service", "scope")}
        query.setdefault("scope", f"repository:{self.ref.repository}:pull")
        realm = params["realm"]
        if urllib.parse.urlsplit(realm).scheme not in ("http", "https"):
            return None
        headers = {"User-Agent": f"armscan/{__version__}"}
        if basic:
            headers["Authorization"] = basic
        request = urllib.request.Request(f"{realm}?{urllib.parse.urlencode(query)}", headers=headers)
        try:
            with deadline.Deadline(self.timeout) as limit, deadline.opener(limit, SafeRedirectHandler()).open(
                    request, timeout=self.timeout) as reply:
                data = json.loads(reply.read(1024 * 1024))
        except (*NETWORK_ERRORS, RecursionError) as e:
            code = getattr(e, "code", None)
            raise RegistryError(f"{self.label}: the token service refused access"
                                + (f" (HTTP {code})" if code else "")) from None
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        return f"Bearer {token}" if token else None

    def _document(self, reference: str) -> tuple[bytes, str]:
        with self._request(self._url(f"manifests/{reference}"), ACCEPT) as reply:
            body = reply.read(MAX_DOCUMENT + 1)
            media_type = reply.headers.get("Content-Type", "").split(";")[0].strip()
        if len(body) > MAX_DOCUMENT:
            raise ManifestError(f"manifest over {MAX_DOCUMENT} bytes")
        if reference.startswith("sha256:") and "sha256:" + hashlib.sha256(body).hexdigest() != reference:
            raise ManifestError(f"manifest {reference[:19]}... does not match its digest")
        return body, media_type

    def root(self) -> tuple[bytes, str]:
        return self._document(self.ref.reference)

    def document(self, descriptor: Descriptor) -> bytes:
        if descriptor.media_type and "manifest" not in descriptor.media_type and "index" not in descriptor.media_type:
            return self._blob_bytes(descriptor)
        return self._document(descriptor.digest)[0]

    def _blob_bytes(self, descriptor: Descriptor) -> bytes:
        with self.blob(descriptor) as stream:
            body = stream.read(MAX_DOCUMENT + 1)
        if len(body) > MAX_DOCUMENT:
            raise ManifestError(f"config over {MAX_DOCUMENT} bytes")
        algorithm, _, expected = descriptor.digest.partition(":")
        if algorithm != "sha256" or hashlib.sha256(body).hexdigest() != expected:
            raise ManifestError(f"config {descriptor.digest[:19]}... does not match its digest")
        return body

    @contextmanager
    def blob(self, descriptor: Descriptor) -> Iterator[BinaryIO]:
        with self._request(self._url(f"blobs/{descriptor.digest}"), "*/*", each_read=True) as reply:
            yield reply

    def tags(self) -> list[str]:
        found: list[str] = []
        url: str | None = self._url("tags/list?n=1000")
        while url and len(found) < MAX_TAGS:
            with self._request(url, "application/json") as reply:
                try:
                    data = json.loads(reply.read(MAX_DOCUMENT))
                except (ValueError, RecursionError) as e:
                    raise RegistryError(f"{self.label}: the tag list is not JSON") from e
                link = reply.headers.get("Link", "")
            if not isinstance(data, dict) or not isinstance(data.get("tags") or [], list):
                raise RegistryError(f"{self.label}: the tag list is not a JSON object with a list of tags")
            found.extend(str(t) for t in (data.get("tags") or []) if isinstance(t, str))
            match = re.search(r"<([^>]+)>", link)
            url = urllib.parse.urljoin(url, match.group(1)) if match else None
        return found


class _Bounded:
    """A response whose reads end with a RegistryError when the deadline passes; with `restart`, each read gets
    the whole timeout again (a layer download takes long, but no single read may stall)."""

    def __init__(self, reply: Any, limit: deadline.Deadline, label: str, registry: str, *, restart: bool) -> None:
        self._registry = registry
        self._reply = reply
        self._limit = limit
        self._label = label
        self._restart = restart
        self.headers = reply.headers

    def read(self, size: int = -1) -> bytes:
        if self._restart:
            self._limit.restart()
        try:
            data: bytes = self._reply.read(size)
        except NETWORK_ERRORS as e:
            if self._limit.expired or isinstance(e, TimeoutError):
                raise _timed_out(self._label, self._registry, self._limit.seconds) from None
            raise RegistryError(f"{self._label}: the download failed ({type(e).__name__})") from None
        if self._limit.expired:
            raise _timed_out(self._label, self._registry, self._limit.seconds)
        return data

    def close(self) -> None:
        self._reply.close()


def _timed_out(label: str, registry: str, seconds: float) -> RegistryError:
    return RegistryError(f"{label}: registry {registry} unreachable or failing (no complete answer within "
                         f"{seconds:g} s)")


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:117] + "..."
