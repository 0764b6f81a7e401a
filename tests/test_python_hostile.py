"""Broken and hostile Python inputs: each becomes a skipped record with a reason, never a crash or 'ready'."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from armscan.resources import schema_path
from tests.conftest import run_cli


def write(root: Path, relative: str, data: str | bytes) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode())


def test_broken_lockfiles_metadata_and_requirements(tmp_path: Path) -> None:
    write(tmp_path, "a/poetry.lock", 'package = "not a table"\n')
    write(tmp_path, "b/Pipfile.lock", "[1, 2, 3]")
    write(tmp_path, "c/uv.lock", '[[package]]\nversion = "1.0"\n')  # no name
    write(tmp_path, "d/requirements.txt", b"\xff\xfe\x00garbage\x00\n-r d/requirements.txt\n")
    write(tmp_path, "e/pyproject.toml", b"[project\n\x00")
    site = "venv/lib/python3.11/site-packages"
    write(tmp_path, f"{site}/huge-1.0.dist-info/METADATA", b"Name: huge\nVersion: 1.0\n" + b"x" * (5 * 1024 * 1024))
    write(tmp_path, f"{site}/badver-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: badver\nVersion: one\n")
    write(tmp_path, f"{site}/badreq-1.0.dist-info/METADATA",
          "Metadata-Version: 2.1\nName: badreq\nVersion: 1.0\nRequires-Dist: ???\n")
    write(tmp_path, f"{site}/badreq-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nTag: py3-none-any\nTag: not a tag\n")
    write(tmp_path, f"{site}/badreq-1.0.dist-info/RECORD", b'"unterminated,\n../../../etc/passwd,,\n\xff')
    done = run_cli("scan", str(tmp_path), "--no-ignore", "--index-url", "http://127.0.0.1:9/simple/", "--offline",
                   "--cache-dir", str(tmp_path / "cache"), "--json", "-", "-q")
    doc = json.loads(done.stdout)
    jsonschema.Draft202012Validator(json.loads(schema_path("result.schema.json").read_text())).validate(doc)
    skipped = {(s["path"].removeprefix(str(tmp_path) + "/"), s["reason"]) for s in doc["skipped"]}
    assert {("a/poetry.lock", "malformed"), ("b/Pipfile.lock", "malformed"), ("c/uv.lock", "malformed"),
            ("e/pyproject.toml", "malformed"), (f"{site}/huge-1.0.dist-info/METADATA", "unreadable"),
            (f"{site}/badver-1.0.dist-info/METADATA", "malformed"),
            (f"{site}/badreq-1.0.dist-info/METADATA", "malformed")} <= skipped
    # the pure distribution with a broken requirement is still judged, from its WHEEL tags, without the index
    assert [(p["name"], p["status"]) for p in doc["packages"]] == [("badreq", "pure")]
    assert done.returncode in (0, 3) and "Traceback" not in done.stderr
