"""Known vulnerabilities of the releases armscan recommends, from OSV through pip-audit's OSV service.

An upgrade advised for aarch64 must not point at a release with a known vulnerability. Answers are kept in
armscan's index cache, so `--offline` audits from earlier answers; when OSV cannot be asked, the advice
says the release was not audited instead of failing the scan.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from packaging.version import Version

from armscan.python.http import Cache, Response, redact
from armscan.python.verdict import Verdict

logger = logging.getLogger(__name__)

DEFAULT_OSV_URL = "https://api.osv.dev/v1/query"
_CACHE_ACCEPT = "armscan/osv-ids"


class AuditUnavailable(Exception):
    """The vulnerability service could not answer (down, offline, or an answer that makes no sense)."""


@dataclass
class Auditor:
    osv_url: str = DEFAULT_OSV_URL
    timeout: float = 15.0
    cache: Cache | None = None
    offline: bool = False
    http_cache_dir: Path | None = None  # pip-audit's own HTTP cache
    _answers: dict[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    _service: object | None = None

    def vulnerabilities(self, name: str, version: Version) -> tuple[str, ...]:
        """IDs of the known vulnerabilities of one release (empty: none known). Raises AuditUnavailable."""
        key = (name, str(version))
        if key in self._answers:
            return self._answers[key]
        cache_key = f"{redact(self.osv_url)}#{name}=={version}"
        cached = self.cache.get(cache_key, _CACHE_ACCEPT, any_age=self.offline) if self.cache else None
        if cached is not None:
            ids = tuple(json.loads(cached.body))
        elif self.offline:
            raise AuditUnavailable("offline, and OSV's answer for it is not in the cache")
        else:
            ids = self._query(name, version)
            if self.cache is not None:
                self.cache.put(cache_key, _CACHE_ACCEPT, Response(cache_key, "application/json",
                                                                  json.dumps(list(ids)).encode()))
        self._answers[key] = ids
        return ids

    def _query(self, name: str, version: Version) -> tuple[str, ...]:
        from pip_audit._service.interface import ResolvedDependency
        from pip_audit._service.osv import OsvService

        if self._service is None:
            self._service = OsvService(cache_dir=self.http_cache_dir, timeout=max(1, round(self.timeout)),
                                       osv_url=self.osv_url)
        service = self._service
        assert isinstance(service, OsvService)
        answer: list[Any] = []

        def ask() -> None:
            try:
                answer.append(service.query(ResolvedDependency(name=name, version=version))[1])
            except Exception as e:  # pip-audit raises its own errors, requests', and JSON errors alike
                answer.append(e)

        # requests' timeout bounds each read, not the answer: a server that drips it is given up on here (the
        # thread is left to end with its connection)
        asking = threading.Thread(target=ask, name="armscan-osv", daemon=True)
        asking.start()
        asking.join(self.timeout)
        if not answer:
            raise AuditUnavailable(f"OSV gave no complete answer within {self.timeout:g} s")
        if isinstance(answer[0], Exception):
            logger.info("OSV query for %s %s failed: %s", name, version, answer[0])
            raise AuditUnavailable(f"OSV could not be asked ({type(answer[0]).__name__})") from answer[0]
        return tuple(sorted(result.id for result in answer[0]))


def audit_upgrade(verdict: Verdict, later_releases: Callable[[Version], list[Version]], auditor: Auditor,
                  limit: int = 10) -> Verdict:
    """Check the recommended release; when it has known vulnerabilities, move to the first later one without."""
    if verdict.upgrade_to is None:
        return verdict
    first = Version(verdict.upgrade_to)
    flagged: list[str] = []
    for candidate in [first, *later_releases(first)[:limit]]:
        try:
            ids = auditor.vulnerabilities(verdict.name, candidate)
        except AuditUnavailable as e:
            note = f"{candidate} was not audited for known vulnerabilities: {e}."
            if flagged:
                note = f"Known vulnerabilities (OSV): {'; '.join(flagged)}. {note}"
            return replace(verdict, audit=note)
        if not ids:
            if candidate == first:
                return replace(verdict, audit=f"No known vulnerabilities in {first} (OSV).")
            return replace(verdict, upgrade_to=str(candidate), first_with_wheel=str(first),
                           audit=(f"Known vulnerabilities (OSV): {'; '.join(flagged)}; {candidate} has an aarch64 "
                                  f"wheel and none known."))
        flagged.append(f"{candidate} ({', '.join(ids)})")
    return replace(verdict, audit=(f"Known vulnerabilities (OSV): {'; '.join(flagged)}; no later release with an "
                                   f"aarch64 wheel that was checked is free of them."))


def release_note(auditor: Auditor, name: str, version: Version) -> str:
    """Empty when the release has no known vulnerability; otherwise what is known, or that it was not audited."""
    try:
        ids = auditor.vulnerabilities(name, version)
    except AuditUnavailable as e:
        return f"not audited: {e}"
    return f"known vulnerabilities: {', '.join(ids)}" if ids else ""
