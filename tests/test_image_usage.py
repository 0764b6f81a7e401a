"""`armscan image` usage: mistyped transports and missing files are usage errors (exit 2) that say what to
type; a plain-HTTP registry says to use --insecure-registry; the help shows all its text."""

from __future__ import annotations

import os
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from armscan.image.reference import LocalRef, RegistryRef, parse
from tests.conftest import run_cli

TRANSPORTS = "use one of docker://, oci:, docker-archive:, docker-daemon:, or a registry reference (host/repo:tag)"


@pytest.mark.parametrize("reference", ["oic:/images/app", "docker-archiv:/tmp/app.tar", "docker-archiv:app.tar",
                                       "oci-archive:./app.tar"])
def test_a_mistyped_transport_is_a_usage_error_that_lists_the_transports(reference: str) -> None:
    done = run_cli("image", reference, "--offline", "-q")
    scheme = reference.split(":", 1)[0]
    assert done.returncode == 2
    assert done.stderr.strip() == f"error: {reference!r}: {scheme}: is not a transport; {TRANSPORTS}"


@pytest.mark.parametrize(("reference", "expected"), [
    ("docker:dind", RegistryRef("registry-1.docker.io", "library/docker", "dind", None)),
    ("ubuntu:22.04", RegistryRef("registry-1.docker.io", "library/ubuntu", "22.04", None)),
    ("localhost:5000/app:1", RegistryRef("localhost:5000", "app", "1", None)),
    ("oci:/images/app:2", LocalRef("oci", "/images/app", "2")),
])
def test_references_that_look_alike_still_parse(reference: str, expected: object) -> None:
    assert parse(reference) == expected


@pytest.mark.parametrize(("reference", "what"), [("oci:{tmp}/nope:1", "folder"),
                                                 ("docker-archive:{tmp}/nope.tar", "file")])
def test_a_missing_layout_or_archive_is_a_usage_error(tmp_path: Path, reference: str, what: str) -> None:
    reference = reference.format(tmp=tmp_path)
    done = run_cli("image", reference, "--offline", "-q")
    path = reference.split(":", 1)[1].removesuffix(":1")
    assert (done.returncode, done.stderr.strip()) == (2, f"error: {reference}: {path}: no such {what}")


def test_a_plain_http_registry_says_to_use_insecure_registry(tmp_path: Path) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        host = f"127.0.0.1:{server.server_address[1]}"
        done = run_cli("image", f"{host}/app:1", "--offline", "-q", cwd=tmp_path)
    finally:
        server.shutdown()
    assert done.returncode == 3
    assert done.stderr.strip() == (f"error: {host}/app:1: registry {host} answers in plain HTTP, not HTTPS: if you "
                                   f"trust it, give --insecure-registry {host}")


def test_the_help_shows_all_its_text() -> None:
    done = run_cli("image", "--help", env={**os.environ, "COLUMNS": "200"})
    assert "pyproject.toml with [tool.armscan]); default:" in " ".join(done.stdout.split())


def test_the_terminal_lists_paths_inside_the_image_without_its_reference(tmp_path: Path) -> None:
    from fixtures.images.build import BIN, Layout, tar_bytes

    layout = Layout(tmp_path / "layout")
    layout.tag(layout.image("amd64", [tar_bytes({"usr/local/bin/tool": (BIN / "hello-x86_64").read_bytes()})],
                            base=None), "1")
    layout.write_index()
    done = run_cli("image", f"oci:{tmp_path / 'layout'}:1", "--offline", "--no-index",
                   env={**os.environ, "COLUMNS": "200"})
    listed = [line for line in done.stdout.splitlines() if line.startswith(("  blocker", "  high"))]
    assert listed == ["  blocker  /usr/local/bin/tool  ARM-IMG-BINARY-ADDED",
                      "  high     (the image)  ARM-IMG-NO-ARM64"]
