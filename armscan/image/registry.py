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
from armscan.python.http import SafeRedirectHandler

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
        self._opener = urllib.request.build_opener(SafeRedirectHandler)

    def with_tag(self, tag: str) -> RegistryClient:
        other = RegistryClient(self.ref.with_tag(tag), creds=self.creds, insecure=self.scheme == "http",
                               timeout=self.timeout, retries=self.retries)
        other._auth = self._auth
        return other

    def _url(self, path: str, repository: str | None = None) -> str:
        return f"{self.scheme}://{self.ref.registry}/v2/{repository or self.ref.repository}/{path}"

    def _open(self, url: str, accept: str) -> Any:
        """GET with retries and one round of authentication; returns the open response."""
        last = "no attempt"
        authenticated = False
        for attempt in range(self.retries + 2):
            headers = {"Accept": accept, "User-Agent": f"armscan/{__version__}"}
            if self._auth:
                headers["Authorization"] = self._auth
            try:
                return self._opener.open(urllib.request.Request(url, headers=headers), timeout=self.timeout)
            except urllib.error.HTTPError as e:
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
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as e:
                reason = getattr(e, "reason", e)
                last = f"{type(reason).__name__}: {reason}"
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
            with self._opener.open(request, timeout=self.timeout) as reply:
                data = json.loads(reply.read(1024 * 1024))
        except (urllib.error.URLError, TimeoutError, OSError, ValueError) as e:
            code = getattr(e, "code", None)
            raise RegistryError(f"{self.label}: the token service refused access"
                                + (f" (HTTP {code})" if code else "")) from None
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        return f"Bearer {token}" if token else None

    def _document(self, reference: str) -> tuple[bytes, str]:
        with self._open(self._url(f"manifests/{reference}"), ACCEPT) as reply:
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
        with self._open(self._url(f"blobs/{descriptor.digest}"), "*/*") as reply:
            yield reply

    def tags(self) -> list[str]:
        found: list[str] = []
        url: str | None = self._url("tags/list?n=1000")
        while url and len(found) < MAX_TAGS:
            with self._open(url, "application/json") as reply:
                try:
                    data = json.loads(reply.read(MAX_DOCUMENT))
                except ValueError as e:
                    raise RegistryError(f"{self.label}: the tag list is not JSON") from e
                link = reply.headers.get("Link", "")
            found.extend(str(t) for t in (data.get("tags") or []) if isinstance(t, str))
            match = re.search(r"<([^>]+)>", link)
            url = urllib.parse.urljoin(url, match.group(1)) if match else None
        return found
