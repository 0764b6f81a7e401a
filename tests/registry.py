"""A real OCI registry (Debian's docker-registry) on loopback, with images pushed by skopeo.

The packages are installed with apt-get when missing (CI runs as root). The registry asks for basic
credentials (fixtures/registry/htpasswd: tester / reg-s3cret) so that authentication is exercised too.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HTPASSWD = REPO / "fixtures" / "registry" / "htpasswd"
USER, PASSWORD = "tester", "reg-s3cret"


def ensure_tools(*commands: str, packages: tuple[str, ...] = ("docker-registry", "skopeo")) -> None:
    """Install the Debian packages the image tests need, once, if a command is missing."""
    if all(shutil.which(c) for c in commands):
        return
    with open(os.path.join(tempfile.gettempdir(), "armscan-tests-apt.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # test workers run in parallel; apt-get takes one at a time
        if not all(shutil.which(c) for c in commands):
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


class Registry:
    def __init__(self, root: Path, auth: bool = True) -> None:
        ensure_tools("docker-registry", "skopeo")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.auth = auth
        config = root / "config.yml"
        lines = ["version: 0.1", "log:", "  level: error", "storage:", "  filesystem:",
                 f"    rootdirectory: {root / 'data'}", "http:", f"  addr: {self.host}"]
        if auth:
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

    def push(self, source: str, repository: str, *, all_platforms: bool = True) -> str:
        """Copy an image (skopeo transport syntax) into the registry; returns its reference."""
        target = f"{self.host}/{repository}"
        command = ["skopeo", "copy", "-q", "--dest-tls-verify=false"]
        if self.auth:
            command += ["--dest-creds", f"{USER}:{PASSWORD}"]
        if all_platforms:
            command += ["--multi-arch", "all"]
        command += [source, f"docker://{target}"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise RuntimeError(f"skopeo copy failed: {done.stderr[-500:]}")
        return target

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
