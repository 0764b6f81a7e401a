"""--audit: recommended releases checked for known vulnerabilities on an OSV API (the loopback test server)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.pyindex import IndexServer


@pytest.fixture(scope="module")
def index() -> IndexServer:
    with IndexServer() as server:
        yield server


def audit(index: IndexServer, tree: Path, cache: Path, *extra: str) -> tuple[int, dict]:
    done = run_cli("scan", str(tree), "--index-url", f"{index.url}/simple/", "--python-version", "3.11",
                   "--cache-dir", str(cache), "--audit", "--json", "-", "-q", *extra)
    return done.returncode, json.loads(done.stdout)


def upgrade_message(doc: dict) -> str:
    return next(f["message"] for f in doc["findings"] if f["rule_id"] == "ARM-PY-UPGRADE-FOR-WHEEL")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "requirements.txt").write_text("oldnative==1.0\n")
    return tmp_path / "src"


def test_a_vulnerable_upgrade_is_skipped_for_the_next_clean_one(index: IndexServer, tree: Path,
                                                                 tmp_path: Path) -> None:
    code, doc = audit(index, tree, tmp_path / "cache", "--osv-url", f"{index.url}/osv/v1/query")
    assert code == 1 and doc["complete"]
    message = upgrade_message(doc)
    assert ("2.0 is the first release with one. Known vulnerabilities (OSV): 2.0 (GHSA-test-0001-0001); 2.1 has "
            "an aarch64 wheel and none known. Upgrade to oldnative>=2.1.") in message
    assert next(p for p in doc["packages"] if p["name"] == "oldnative")["detail"] == "upgrade to 2.1"
    # answers are cached: offline, the same advice
    code, doc = audit(index, tree, tmp_path / "cache", "--osv-url", f"{index.url}/osv/v1/query", "--offline")
    assert upgrade_message(doc) == message and doc["complete"]


def test_audit_covers_dependencies_and_caps_follow_the_audited_release(index: IndexServer, tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("capper==1.0\n")  # capper 1.0 pulls in oldnative<2
    code, doc = audit(index, tmp_path, tmp_path / "cache", "--osv-url", f"{index.url}/osv/v1/query")
    assert code == 1
    assert upgrade_message(doc) == (
        "capper 1.0 -> oldnative 1.0: no wheel for CPython 3.11, Linux aarch64, glibc 2.34; 2.0 is the first "
        "release with one. Known vulnerabilities (OSV): 2.0 (GHSA-test-0001-0001); 2.1 has an aarch64 wheel and "
        "none known. Upgrade to oldnative>=2.1. Held back by: capper 1.0. Upgrade with it: capper 1.1 "
        "(known vulnerabilities: PYSEC-2099-1). Otherwise 1.0 builds from source.")


def test_an_unreachable_service_leaves_advice_unaudited_not_failed(index: IndexServer, tree: Path,
                                                                   tmp_path: Path) -> None:
    code, doc = audit(index, tree, tmp_path / "cache", "--osv-url", f"{index.url}/osv-down/v1/query")
    assert code == 1 and doc["complete"]
    assert ("2.0 was not audited for known vulnerabilities: OSV could not be asked (ServiceError). "
            "Upgrade to oldnative>=2.0.") in upgrade_message(doc)
    code, doc = audit(index, tree, tmp_path / "empty-cache", "--osv-url", f"{index.url}/osv/v1/query", "--offline")
    assert code == 3  # offline with an empty cache: the index itself could not be read


def test_without_audit_nothing_is_asked(index: IndexServer, tree: Path, tmp_path: Path) -> None:
    before = len([r for r in index.requests if "osv" in r])
    done = run_cli("scan", str(tree), "--index-url", f"{index.url}/simple/", "--python-version", "3.11",
                   "--cache-dir", str(tmp_path), "--json", "-", "-q")
    assert "OSV" not in upgrade_message(json.loads(done.stdout))
    assert len([r for r in index.requests if "osv" in r]) == before


def test_osv_url_needs_audit(tmp_path: Path) -> None:
    done = run_cli("scan", str(tmp_path), "--osv-url", "http://127.0.0.1:1/v1/query")
    assert done.returncode == 2 and "--osv-url only applies with --audit" in done.stderr
