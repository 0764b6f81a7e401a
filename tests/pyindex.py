"""A real package index over HTTP on loopback, serving fixtures/pyindex/files (PEP 503 HTML and PEP 691 JSON).

Paths select behaviours, so one server covers the hostile cases:
  /simple/          JSON or HTML by the Accept header, core metadata (PEP 658) advertised and served
  /html/simple/     HTML only, no core metadata (clients must read METADATA from the wheel)
  /mirror/simple/   a mirror that lacks every aarch64 wheel
  /auth/simple/     requires HTTP basic auth user:s3cret
  /garbage/simple/  200 with bytes that are neither JSON nor HTML
  /error/simple/    500 every time
  /hang/simple/     answers after 5 seconds
  /flat/            one HTML page linking every file (a pip --find-links page)
  /redirect/simple/       302 to the same path under /simple/ on host "localhost" (another origin)
  /redirect-same/simple/  302 to the same path under /auth/simple/ on the same origin
  POST /osv/v1/query       an OSV query API with the vulnerabilities in OSV_RECORDS
  POST /osv-down/v1/query  500 every time
"""

from __future__ import annotations

import base64
import html
import io
import json
import threading
import time
import zipfile
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename

FILES = Path(__file__).resolve().parent.parent / "fixtures" / "pyindex" / "files"


def _project_of(filename: str) -> str:
    if filename.endswith(".whl"):
        return str(canonicalize_name(parse_wheel_filename(filename)[0]))
    return str(canonicalize_name(parse_sdist_filename(filename)[0]))


# What the test OSV API knows: (package, version) -> vulnerability IDs.
OSV_RECORDS = {("oldnative", "2.0"): ("GHSA-test-0001-0001",), ("capper", "1.1"): ("PYSEC-2099-1",)}


def _osv_record(vid: str, package: str) -> dict[str, object]:
    return {"id": vid, "summary": "test vulnerability", "modified": "2026-01-01T00:00:00Z",
            "affected": [{"package": {"name": package, "ecosystem": "PyPI"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]}


class IndexServer:
    def __init__(self, root: Path = FILES) -> None:
        self.root = root
        self.requests: list[str] = []
        self.authorizations: list[tuple[str, str | None]] = []  # (Host header, Authorization header)
        projects: dict[str, list[Path]] = defaultdict(list)
        for path in sorted(root.iterdir()):
            projects[_project_of(path.name)].append(path)
        self.projects = dict(projects)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> IndexServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                server.authorizations.append((self.headers.get("Host", ""), self.headers.get("Authorization")))
                mode, _, rest = self.path.lstrip("/").partition("/")
                if mode in ("redirect", "redirect-same"):
                    host = "localhost" if mode == "redirect" else "127.0.0.1"
                    target = "" if mode == "redirect" else "auth/"
                    self.send_response(302)
                    self.send_header("Location", f"http://{host}:{server.server.server_address[1]}/{target}{rest}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return None
                if mode == "simple":
                    mode, rest = "", "simple/" + rest
                if mode == "files":
                    return self._file(rest)
                if mode == "flat":  # a pip --find-links page: every file of every project on one page
                    links = "".join(f'<a href="/files/{p.name}">{p.name}</a><br>\n'
                                    for files in server.projects.values() for p in files)
                    return self._send(200, "text/html", f"<html><body>{links}</body></html>".encode())
                if mode == "auth" and self.headers.get("Authorization") != "Basic " + base64.b64encode(
                        b"user:s3cret").decode():
                    return self._send(401, "text/plain", b"authentication required")
                if mode == "garbage":
                    return self._send(200, "application/octet-stream", b"\x00\xff\x13garbage")
                if mode == "error":
                    return self._send(500, "text/plain", b"internal error")
                if mode == "hang":
                    time.sleep(5)
                if not rest.startswith("simple/"):
                    return self._send(404, "text/plain", b"no")
                project = str(canonicalize_name(rest[len("simple/"):].strip("/")))
                if not project:  # the index root lists every project (PEP 503)
                    links = "".join(f'<a href="{name}/">{name}</a>\n' for name in server.projects)
                    return self._send(200, "text/html", f"<html><body>{links}</body></html>".encode())
                files = server.projects.get(project)
                if files is None:
                    return self._send(404, "text/plain", b"no such project")
                if mode == "mirror":
                    files = [f for f in files if "aarch64" not in f.name]
                metadata = mode in ("", "mirror", "auth")
                wants_json = "json" in self.headers.get("Accept", "") and mode != "html"
                return self._page(project, files, metadata, wants_json)

            def do_POST(self) -> None:
                """An OSV query API (/osv/v1/query) knowing the vulnerabilities in OSV_RECORDS; /osv-down fails."""
                server.requests.append(self.path)
                length = min(int(self.headers.get("Content-Length") or 0), 65536)
                body = self.rfile.read(length)
                if self.path != "/osv/v1/query":
                    return self._send(500, "text/plain", b"vulnerability service unavailable")
                query = json.loads(body)
                key = (query["package"]["name"], query["version"])
                vulns = [_osv_record(vid, key[0]) for vid in OSV_RECORDS.get(key, ())]
                return self._send(200, "application/json", json.dumps({"vulns": vulns} if vulns else {}).encode())

            def _page(self, project: str, files: list[Path], metadata: bool, wants_json: bool) -> None:
                entries = []
                for path in files:
                    digest = __import__("hashlib").sha256(path.read_bytes()).hexdigest()
                    entries.append({
                        "filename": path.name, "url": f"/files/{path.name}", "hashes": {"sha256": digest},
                        "requires-python": ">=3.8", "core-metadata": metadata and path.name.endswith(".whl"),
                    })
                if wants_json:
                    body = json.dumps({"meta": {"api-version": "1.1"}, "name": project, "files": entries})
                    return self._send(200, "application/vnd.pypi.simple.v1+json", body.encode())
                links = []
                for e in entries:
                    meta = ' data-core-metadata="true"' if e["core-metadata"] else ""
                    links.append(f'<a href="{e["url"]}#sha256={e["hashes"]["sha256"]}" '
                                 f'data-requires-python="{html.escape(">=3.8")}"{meta}>{e["filename"]}</a><br>')
                page = f"<!DOCTYPE html><html><body><h1>Links for {project}</h1>{''.join(links)}</body></html>"
                return self._send(200, "text/html", page.encode())

            def _file(self, name: str) -> None:
                if name.endswith(".metadata"):
                    path = server.root / name[: -len(".metadata")]
                    if not path.is_file():
                        return self._send(404, "text/plain", b"no")
                    with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as zf:
                        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
                        return self._send(200, "text/plain", zf.read(meta))
                path = server.root / name
                if "/" in name or not path.is_file():
                    return self._send(404, "text/plain", b"no")
                return self._send(200, "application/octet-stream", path.read_bytes())

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
