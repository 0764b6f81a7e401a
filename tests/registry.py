"""A real OCI registry (Debian's docker-registry) on loopback, with images pushed by skopeo.

The packages are installed with apt-get when missing (CI runs as root). The registry asks for basic
credentials (fixtures/registry/htpasswd: tester / reg-s3cret) so that authentication is exercised too.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HTPASSWD = REPO / "fixtures" / "registry" / "htpasswd"
USER, PASSWORD = "tester", "reg-s3cret"


def ensure_tools(*commands: str, packages: tuple[str, ...] = ("docker-registry", "skopeo"),
                 files: tuple[str, ...] = ()) -> None:
    """Install the Debian packages the tests need, once, if a command (or file) is missing."""
    def present() -> bool:
        return all(shutil.which(c) for c in commands) and all(os.path.exists(f) for f in files)

    if present():
        return
    with open(os.path.join(tempfile.gettempdir(), "armscan-tests-apt.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # test workers run in parallel; apt-get takes one at a time
        if not present():
            _apt_install(packages)
    missing = [c for c in commands if not shutil.which(c)]
    if missing:
        raise RuntimeError(f"{', '.join(missing)} still missing after installing {' '.join(packages)}")


def _apt_install(packages: tuple[str, ...]) -> None:
    env = {"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
        done = subprocess.run(install, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"cannot install {' '.join(packages)}: {done.stderr[-500:]}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TokenServer:
    """A bearer-token service as Docker Hub runs one: anonymous pulls of public repositories, everything else
    only with tester's credentials. Tokens are JWTs signed (RS256, by openssl) with a throw-away key whose
    certificate the registry trusts."""

    def __init__(self, root: Path, service: str, issuer: str) -> None:
        self.key, self.cert = root / "token.key", root / "token.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                        "-out", str(self.cert), "-days", "2", "-subj", "/CN=armscan-test-tokens"],
                       check=True, capture_output=True)
        der = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self.x5c = base64.b64encode(der).decode()
        self.service, self.issuer = service, issuer
        self.requests: list[tuple[str, bool]] = []  # (scope, with credentials)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
                given = self.headers.get("Authorization")
                if given is not None and given != expected:
                    self.send_response(401)
                    self.end_headers()
                    return
                scopes = [s for value in query.get("scope", []) for s in value.split(" ")]
                server.requests.append((" ".join(scopes), given is not None))
                body = json.dumps({"token": server.token(scopes, given is not None)}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.realm = f"http://127.0.0.1:{self.http.server_address[1]}/token"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def token(self, scopes: list[str], authenticated: bool) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = actions.split(",")
            granted = wanted if authenticated else [a for a in wanted if a == "pull" and name.startswith("public/")]
            if kind == "repository" and granted:
                access.append({"type": "repository", "name": name, "actions": granted})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.x5c]}
        claims = {"iss": self.issuer, "sub": USER if authenticated else "", "aud": self.service, "exp": now + 600,
                  "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()), "access": access}

        def part(data: dict[str, object]) -> str:
            return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

        signing_input = f"{part(header)}.{part(claims)}"
        signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                                   input=signing_input.encode(), check=True, capture_output=True).stdout
        return f"{signing_input}.{base64.urlsafe_b64encode(signature).rstrip(b'=').decode()}"

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


class Registry:
    def __init__(self, root: Path, auth: bool | str = True) -> None:
        """auth: True for basic credentials (htpasswd), "token" for bearer tokens, False for none."""
        ensure_tools("docker-registry", "skopeo")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.auth = auth
        config = root / "config.yml"
        lines = ["version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
                 f"    rootdirectory: {root / 'data'}", "http:", f"  addr: {self.host}"]
        self.tokens: TokenServer | None = None
        if auth == "token":
            self.tokens = TokenServer(root, "armscan-test-registry", "armscan-test-issuer")
            lines += ["auth:", "  token:", f"    realm: {self.tokens.realm}", "    service: armscan-test-registry",
                      "    issuer: armscan-test-issuer", f"    rootcertbundle: {self.tokens.cert}"]
        elif auth:
            lines += ["auth:", "  htpasswd:", "    realm: armscan-tests", f"    path: {HTPASSWD}"]
        config.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=(root / "registry.log").open("wb"))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1)
                break
            except urllib.error.HTTPError:
                break  # 401: up, and asking for credentials
            except OSError:
                time.sleep(0.1)
        else:
            self.stop()
            raise RuntimeError(f"the registry did not start: {(root / 'registry.log').read_text()[-500:]}")

    def push(self, source: str, repository: str, *, all_platforms: bool = True, creds: bool | None = None) -> str:
        """Copy an image (skopeo transport syntax) into the registry; returns its reference."""
        target = f"{self.host}/{repository}"
        command = ["skopeo", "copy", "-q", "--dest-tls-verify=false"]
        if self.auth if creds is None else creds:
            command += ["--dest-creds", f"{USER}:{PASSWORD}"]
        if all_platforms:
            command += ["--multi-arch", "all"]
        command += [source, f"docker://{target}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"skopeo copy failed: {done.stderr[-500:]}")
        return target

    def stop(self) -> None:
        if self.tokens is not None:
            self.tokens.stop()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
