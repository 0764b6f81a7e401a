"""`armscan image` on real images: the fixture layout, a docker-archive, and a real registry fed by skopeo."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jsonschema
import pytest

from armscan.model import UNCHECKED
from armscan.resources import schema_path
from fixtures.images.build import GZIP_LAYER, OCI_CONFIG, OCI_MANIFEST, Layout, build_layout
from tests.conftest import run_cli
from tests.pyindex import IndexServer
from tests.registry import PASSWORD, USER, Registry

LAYOUT = Path(__file__).resolve().parent.parent / "fixtures" / "images" / "layout"
ARCHIVE = LAYOUT.parent / "app-amd64.docker.tar"
SCHEMA = json.loads(schema_path("result.schema.json").read_text())
AMD64_FINDINGS = [  # (rule, path inside the image) for app-amd64, without an index
    ("ARM-BIN-ELF-X86", "/app/lib/native-x86only.jar!META-INF/native/linux-x86_64/libmix.so"),
    ("ARM-IMG-NODE-NATIVE", "/app/node_modules/fastthing/build/Release/fastthing.node"),
    ("ARM-IMG-BINARY-ADDED", "/usr/local/bin/tool"),
    ("ARM-IMG-NO-ARM64", ""),
    ("ARM-IMG-OS-PACKAGES-X86", ""),
]


def image(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict, str]:
    done = run_cli("image", *args, "--json", "-", "-q", env=env)
    doc = json.loads(done.stdout) if done.stdout.strip() else {}
    if doc:
        jsonschema.Draft202012Validator(SCHEMA).validate(doc)
    return done.returncode, doc, done.stderr


def findings(doc: dict) -> list[tuple[str, str]]:
    label = doc["inputs"][0]
    return sorted((f["rule_id"], f["location"]["path"].removeprefix(label).removeprefix("!"))
                  for f in doc["findings"])


@pytest.fixture(scope="module")
def unlabeled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The fixture layout without base labels: tests that may ask registries must not reach the internet."""
    root = tmp_path_factory.mktemp("unlabeled") / "layout"
    build_layout(root, base=None)
    return root


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry(tmp_path_factory.mktemp("registry")) as running:
        layout = tmp_path_factory.mktemp("pushed") / "layout"
        build_layout(layout, base=f"{running.host}/team/app:1.2")  # a base in this registry, multi-arch
        for tag in ("1.0", "1.1", "1.2"):
            running.push(f"oci:{layout}:{tag}", f"team/app:{tag}")
        running.push(f"oci:{layout}:app-mislabeled", "team/app:mislabeled")
        yield running


def test_amd64_only_layout_exact_findings_and_what_is_not_reported() -> None:
    code, doc, _ = image(f"oci:{LAYOUT}:app-amd64", "--no-index", "--offline")
    assert code == 1
    assert findings(doc) == sorted(AMD64_FINDINGS)
    paths = {a["path"].split("!/", 1)[1] for a in doc["artifacts"]}
    assert "usr/local/bin/old-tool" not in paths  # deleted by a whiteout in a later layer
    assert "opt/cache/stale.so" not in paths  # hidden by an opaque folder in a later layer
    assert {"usr/bin/hello", "usr/local/bin/tool"} <= paths
    record = doc["images"][0]
    assert (record["platforms"], record["arm64"], record["os"], record["layers"]) == (
        ["linux/amd64"], "no", "Debian 12 (glibc 2.36)", 4)
    os_packages = next(f["message"] for f in doc["findings"] if f["rule_id"] == "ARM-IMG-OS-PACKAGES-X86")
    assert "2 x86 binaries come from 2 OS packages (hello 2.10-3 (amd64), libc6 2.36-9 (amd64))" in os_packages


def test_zstd_layers_and_docker_archive_give_the_same_findings() -> None:
    for reference in (f"oci:{LAYOUT}:app-zstd", f"docker-archive:{ARCHIVE}"):
        code, doc, _ = image(reference, "--no-index", "--offline")
        assert code == 1 and findings(doc) == sorted(AMD64_FINDINGS), reference


def test_multi_arch_index_checks_the_arm64_variant_and_ignores_attestations() -> None:
    code, doc, _ = image(f"oci:{LAYOUT}:app-multi", "--no-index", "--offline")
    assert code == 0 and findings(doc) == []
    record = doc["images"][0]
    assert record["platforms"] == ["linux/amd64", "linux/arm64"]  # arm64/v8 normalised, attestation left out
    assert (record["analyzed_platform"], record["arm64"]) == ("linux/arm64", "yes")
    assert {m for a in doc["artifacts"] for m in a["machines"]} == {"aarch64"}


def test_an_arm64_label_on_x86_content_is_caught() -> None:
    code, doc, _ = image(f"oci:{LAYOUT}:app-mislabeled", "--no-index", "--offline")
    # the x86-only JAR inside is a finding whatever the label says
    assert code == 1 and sorted(r for r, _ in findings(doc)) == ["ARM-BIN-ELF-X86", "ARM-IMG-ARM64-X86-CONTENT"]
    assert doc["images"][0]["arm64"] == "mislabeled"
    assert doc["findings"][0]["message"].endswith(
        "the linux/arm64 image is not what it says: 5 binaries are not arm64: "
        "/app/node_modules/fastthing/build/Release/fastthing.node (x86_64), /usr/bin/hello (x86_64), "
        "/usr/lib/x86_64-linux-gnu/libmix.so.1 (x86_64), /usr/local/bin/tool (x86_64), "
        "/usr/local/lib/python3.11/site-packages/oldnative/_native.abi3.so (x86_64).")


def test_nearest_tag_in_a_layout(unlabeled: Path) -> None:
    code, doc, _ = image(f"oci:{unlabeled}:1.0", "--no-index")
    assert code == 1 and doc["images"][0]["suggested_tag"] == f"oci:{unlabeled}:1.2"


def test_pip_installed_packages_judged_for_the_images_python_and_glibc(unlabeled: Path, tmp_path: Path) -> None:
    with IndexServer() as index:
        code, doc, _ = image(f"oci:{unlabeled}:app-amd64", "--index-url", f"{index.url}/simple/", "--cache-dir",
                             str(tmp_path))
    assert code == 1 and doc["complete"]
    assert {p["name"]: p["status"] for p in doc["packages"]} == {"oldnative": "upgrade", "purepkg": "pure"}
    assert doc["targets"] == ["CPython 3.11, Linux aarch64, glibc 2.36"]
    upgrade = next(f for f in doc["findings"] if f["rule_id"] == "ARM-PY-UPGRADE-FOR-WHEEL")
    assert upgrade["location"]["path"].endswith(
        "!/usr/local/lib/python3.11/site-packages/oldnative-1.0.dist-info/METADATA")
    # its x86 library is covered by the package's verdict; the header beside it is not scanned as source
    assert not any("oldnative/_native" in f["location"]["path"] or f["location"]["path"].endswith("simd.h")
                   for f in doc["findings"])
    owner = next(a["owner"] for a in doc["artifacts"] if a["path"].endswith("oldnative/_native.abi3.so"))
    assert owner == "pypi:oldnative 1.0"


def test_registry_with_credentials_and_nearest_tag(registry: Registry) -> None:
    reference = f"{registry.host}/team/app:1.0"
    code, doc, stderr = image(reference, "--insecure-registry", registry.host, "--creds", f"{USER}:{PASSWORD}",
                              "--no-index", "--offline")
    assert code == 1 and findings(doc) == sorted(AMD64_FINDINGS)
    code, doc, stderr = image(reference, "--insecure-registry", registry.host, "--creds", f"{USER}:{PASSWORD}",
                              "--no-index")
    assert code == 1 and doc["complete"] and not doc["skipped"]  # the base (in this registry) was checked too
    record = doc["images"][0]
    assert record["suggested_tag"] == f"{registry.host}/team/app:1.2"
    assert record["base_platforms"] == ["linux/amd64", "linux/arm64"]
    assert record["digest"].startswith("sha256:")
    message = next(f["message"] for f in doc["findings"] if f["rule_id"] == "ARM-IMG-NO-ARM64")
    assert message.endswith(f"The nearest tag with linux/arm64 is {registry.host}/team/app:1.2.")
    assert PASSWORD not in json.dumps(doc) + stderr
    code, doc, _ = image(f"{registry.host}/team/app:1.2", "--insecure-registry", registry.host, "--creds",
                         f"{USER}:{PASSWORD}", "--no-index", "--offline")
    assert code == 0 and doc["images"][0]["arm64"] == "yes"


def test_docker_config_credentials(registry: Registry, tmp_path: Path) -> None:
    import base64
    import os

    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    done = run_cli("image", f"{registry.host}/team/app:mislabeled", "--insecure-registry", registry.host,
                   "--no-index", "--offline", "--json", "-", "-q", env={**os.environ, "DOCKER_CONFIG": str(tmp_path)})
    assert sorted(f["rule_id"] for f in json.loads(done.stdout)["findings"]) == [
        "ARM-BIN-ELF-X86", "ARM-IMG-ARM64-X86-CONTENT"]


def test_registry_errors_are_one_line_and_exit_3(registry: Registry) -> None:
    base = ["--insecure-registry", registry.host, "--no-index", "--offline"]
    code, _, stderr = image(f"{registry.host}/team/app:1.0", *base)
    assert code == 3 and stderr.strip() == (
        f"error: {registry.host}/team/app:1.0: access denied (HTTP 401); give credentials with --creds or docker "
        "login")
    code, _, stderr = image(f"{registry.host}/team/app:1.0", *base, "--creds", f"{USER}:wrong-password")
    assert code == 3 and "access denied (HTTP 401)" in stderr and "wrong-password" not in stderr
    code, _, stderr = image(f"{registry.host}/team/nothing:1.0", *base, "--creds", f"{USER}:{PASSWORD}")
    assert code == 3 and "not found (HTTP 404)" in stderr
    assert image("UPPER/Case:tag")[0] == 2
    assert image("oci:")[0] == 2


class _BrokenRegistry:
    """Answers /v2/ like a registry but fails: 500s, or hangs on manifests."""

    def __init__(self, mode: str) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                if mode == "hang":
                    threading.Event().wait(5)
                self.send_response(500)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("mode", ["error", "hang"])
def test_failing_or_hanging_registry(mode: str) -> None:
    broken = _BrokenRegistry(mode)
    try:
        code, _, stderr = image(f"{broken.host}/app:1.0", "--insecure-registry", broken.host, "--no-index",
                                "--registry-timeout", "1")
    finally:
        broken.close()
    assert code == 3 and stderr.startswith(f"error: {broken.host}/app:1.0: registry {broken.host} unreachable")


def _hostile_layout(tmp_path: Path, members: list[tarfile.TarInfo | tuple[tarfile.TarInfo, bytes]]) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for member in members:
            if isinstance(member, tuple):
                tf.addfile(member[0], io.BytesIO(member[1]))
            else:
                tf.addfile(member)
    layer = buffer.getvalue()
    root = tmp_path / "hostile"
    layout = Layout(root)
    compressed = layout.put(gzip.compress(layer, mtime=0), GZIP_LAYER)
    config = layout.put(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(layer).hexdigest()}"]}}).encode(), OCI_CONFIG)
    manifest = layout.put(json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                                      "layers": [compressed]}).encode(), OCI_MANIFEST)
    layout.tag(manifest, "bad")
    layout.write_index()
    return root


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def test_hostile_tar_entries_are_never_followed_or_written(tmp_path: Path) -> None:
    x86 = (LAYOUT.parent.parent / "bin" / "hello-x86_64").read_bytes()
    link = tarfile.TarInfo("usr/bin/escape")
    link.type, link.linkname = tarfile.SYMTYPE, "../../../../etc/passwd"
    root = _hostile_layout(tmp_path, [_file("../../outside/evil", x86), _file("/abs/tool", x86), link,
                                      _file("./usr/local/bin/ok", x86)])
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, doc, _ = image(f"oci:{root}:bad", "--no-index", "--offline")
    assert code == 3 and doc["complete"] is False  # what the hostile entries would have held is unknown
    assert findings(doc) == [("ARM-IMG-BINARY-ADDED", "/abs/tool"), ("ARM-IMG-BINARY-ADDED", "/usr/local/bin/ok"),
                             ("ARM-IMG-NO-ARM64", "")]
    assert any("'../../outside/evil' points outside the image root" in s["detail"] for s in doc["skipped"])
    assert sorted(p.name for p in tmp_path.rglob("*")) == before
    assert not (tmp_path.parent / "outside").exists()


def test_corrupt_layers_are_detected_and_unknown(tmp_path: Path) -> None:
    layout = tmp_path / "layout"
    shutil.copytree(LAYOUT, layout)
    index = json.loads((layout / "index.json").read_text())
    amd64 = next(m for m in index["manifests"] if m["annotations"]["org.opencontainers.image.ref.name"] == "app-amd64")
    manifest = json.loads((layout / "blobs" / "sha256" / amd64["digest"].split(":")[1]).read_text())
    tools_layer = layout / "blobs" / "sha256" / manifest["layers"][1]["digest"].split(":")[1]
    data = bytearray(tools_layer.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped bit: gzip's CRC or the digest catches it
    tools_layer.write_bytes(bytes(data))
    code, doc, stderr = image(f"oci:{layout}:app-amd64", "--no-index", "--offline")
    assert code == 3 and doc["complete"] is False
    assert "layer 2 (sha256:" in stderr
    assert ("ARM-IMG-BINARY-ADDED", "/usr/local/bin/tool") not in findings(doc)  # its files are unknown, not ready
    assert any(s["path"].endswith("!layer2") for s in doc["skipped"])
    python_layer = layout / "blobs" / "sha256" / manifest["layers"][3]["digest"].split(":")[1]
    python_layer.write_bytes(python_layer.read_bytes()[:200])  # truncated
    code, doc, stderr = image(f"oci:{layout}:app-amd64", "--no-index", "--offline")
    assert code == 3 and "layer 4 (sha256:" in stderr


def test_huge_file_is_streamed_not_held(tmp_path: Path) -> None:
    big = tarfile.TarInfo("var/big.img")
    big.size = 64 * 1024 * 1024
    zeros = bytes(big.size)
    root = _hostile_layout(tmp_path, [(big, zeros)])
    code, doc, _ = image(f"oci:{root}:bad", "--no-index", "--offline")
    assert code == 1 and doc["complete"] and findings(doc) == [("ARM-IMG-NO-ARM64", "")]


def test_base_image_checked_on_the_registry(registry: Registry, tmp_path: Path) -> None:
    import base64
    import os

    layout = tmp_path / "layout"
    build_layout(layout, base=f"{registry.host}/team/app:1.1")
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    code, doc, _ = image(f"oci:{layout}:app-amd64", "--no-index", "--insecure-registry", registry.host,
                         env={**os.environ, "DOCKER_CONFIG": str(tmp_path)})
    assert code == 1
    base = next(f["message"] for f in doc["findings"] if f["rule_id"] == "ARM-IMG-BASE-NO-ARM64")
    assert base.endswith(f"is published for linux/amd64 only. The nearest tag with linux/arm64 is "
                         f"{registry.host}/team/app:1.2.")
    assert doc["images"][0]["base_platforms"] == ["linux/amd64"]


def test_dockerfile_base_images_checked_on_the_registry(registry: Registry, tmp_path: Path) -> None:
    import base64
    import os

    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (tmp_path / "docker").mkdir()
    (tmp_path / "docker" / "config.json").write_text(json.dumps({"auths": {registry.host: {"auth": token}}}))
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "Dockerfile").write_text(
        f"ARG BASE={registry.host}/team/app:1.0\n"
        "FROM ${BASE} AS build\n"
        "RUN make\n"
        f"FROM {registry.host}/team/app:1.2\n"
        "COPY --from=build /out /out\n"
        "FROM build AS again\n"
        "FROM scratch\n"
        f"FROM {registry.host}/team/missing:1.0\n")
    done = run_cli("scan", str(tmp_path / "src"), "--no-index", "--insecure-registry", registry.host, "--json", "-",
                   "-q", env={**os.environ, "DOCKER_CONFIG": str(tmp_path / "docker")})
    doc = json.loads(done.stdout)
    assert [(f["rule_id"], f["location"]["line"], f["message"]) for f in doc["findings"]] == [
        ("ARM-IMG-BASE-NO-ARM64", 2, f"FROM {registry.host}/team/app:1.0: published for linux/amd64 only, not "
                                     f"linux/arm64. The nearest tag with linux/arm64 is {registry.host}/team/app:1.2.")]
    assert [(s["path"].rsplit("/", 1)[-1], s["reason"]) for s in doc["skipped"]] == [("Dockerfile:8", "index-error")]
    assert done.returncode == 3 and doc["complete"] is False  # a base image not checked is not "ready"
    assert doc["errors"] == [f"base image {registry.host}/team/missing:1.0 could not be checked: "
                             f"{registry.host}/team/missing:1.0: not found (HTTP 404)", UNCHECKED]


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with Registry(tmp_path_factory.mktemp("token-registry"), auth="token") as running:
        running.push(f"oci:{LAYOUT}:1.0", "public/app:1.0", creds=True)
        running.push(f"oci:{LAYOUT}:app-mislabeled", "private/app:1.0", creds=True)
        yield running


def test_bearer_token_auth_anonymous_and_with_credentials(token_registry: Registry) -> None:
    tokens = token_registry.tokens
    assert tokens is not None
    base = ["--insecure-registry", token_registry.host, "--no-index", "--offline"]
    tokens.requests.clear()
    code, doc, _ = image(f"{token_registry.host}/public/app:1.0", *base)
    assert code == 1 and findings(doc) == sorted(AMD64_FINDINGS)
    assert ("repository:public/app:pull", False) in tokens.requests  # an anonymous token, as Docker Hub gives
    code, _, stderr = image(f"{token_registry.host}/private/app:1.0", *base)
    assert code == 3 and "access denied (HTTP 401)" in stderr
    code, doc, stderr = image(f"{token_registry.host}/private/app:1.0", *base, "--creds", f"{USER}:{PASSWORD}")
    assert code == 1 and sorted(r for r, _ in findings(doc)) == ["ARM-BIN-ELF-X86", "ARM-IMG-ARM64-X86-CONTENT"]
    assert ("repository:private/app:pull", True) in tokens.requests
    assert PASSWORD not in stderr + json.dumps(doc)


def test_docker_daemon_without_an_engine_is_a_clear_error(tmp_path: Path) -> None:
    import os

    env = {**os.environ, "DOCKER_HOST": f"unix://{tmp_path / 'docker.sock'}"}
    code, doc, stderr = image("docker-daemon:team/app:1.0", env=env)
    assert code == 3 and doc["complete"] is False and doc["findings"] == []  # the outputs are still written
    assert doc["errors"][0].startswith(f"no Docker engine reachable at {tmp_path / 'docker.sock'}")
    assert stderr.strip().startswith(f"error: no Docker engine reachable at {tmp_path / 'docker.sock'}")


def test_rpm_database_owns_os_binaries() -> None:
    code, doc, _ = image(f"oci:{LAYOUT}:app-rpm", "--no-index", "--offline")
    assert code == 1
    assert findings(doc) == [("ARM-IMG-BINARY-ADDED", "/usr/local/bin/tool"), ("ARM-IMG-NO-ARM64", ""),
                             ("ARM-IMG-OS-PACKAGES-X86", "")]
    assert doc["images"][0]["os"] == "Amazon Linux 2023 (glibc 2.34)"
    owners = {a["path"].split("!/", 1)[1]: a["owner"] for a in doc["artifacts"]}
    assert owners == {"usr/bin/hello": "rpm:hello 2.12-1.amzn2023 (x86_64)", "usr/local/bin/tool": None}


def test_sparse_member_of_4_gib_is_not_expanded(tmp_path: Path) -> None:
    import subprocess

    content = tmp_path / "content"
    (content / "var").mkdir(parents=True)
    with (content / "var" / "sparse.img").open("wb") as fh:
        fh.truncate(4 * 1024 ** 3)  # a 4 GiB hole
    layer = tmp_path / "layer.tar"
    subprocess.run(["tar", "--sparse", "--format=gnu", "-C", str(content), "-cf", str(layer), "var"], check=True)
    assert layer.stat().st_size < 1024 * 1024
    data = layer.read_bytes()
    root = tmp_path / "sparse"
    layout = Layout(root)
    blob = layout.put(gzip.compress(data, mtime=0), GZIP_LAYER)
    config = layout.put(json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {
        "type": "layers", "diff_ids": [f"sha256:{hashlib.sha256(data).hexdigest()}"]}}).encode(), OCI_CONFIG)
    layout.tag(layout.put(json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                                      "layers": [blob]}).encode(), OCI_MANIFEST), "sparse")
    layout.write_index()
    code, doc, _ = image(f"oci:{root}:sparse", "--no-index", "--offline")
    assert code == 1 and doc["complete"] and findings(doc) == [("ARM-IMG-NO-ARM64", "")]


def test_multi_member_gzip_layer_with_padding_reads_like_one(tmp_path: Path) -> None:
    x86 = (LAYOUT.parent.parent / "bin" / "hello-x86_64").read_bytes()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tf:
        for name in ("usr/local/bin/one", "usr/local/bin/two"):
            info = tarfile.TarInfo(name)
            info.size = len(x86)
            tf.addfile(info, io.BytesIO(x86))
    data = buffer.getvalue()
    half = len(data) // 2
    blob_bytes = gzip.compress(data[:half], mtime=0) + gzip.compress(data[half:], mtime=0) + bytes(512)
    root = tmp_path / "multi"
    layout = Layout(root)
    blob = layout.put(blob_bytes, GZIP_LAYER)
    config = layout.put(json.dumps({"architecture": "amd64", "os": "linux"}).encode(), OCI_CONFIG)
    layout.tag(layout.put(json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config,
                                      "layers": [blob]}).encode(), OCI_MANIFEST), "multi")
    layout.write_index()
    code, doc, _ = image(f"oci:{root}:multi", "--no-index", "--offline")
    assert code == 1 and doc["complete"] and findings(doc) == [("ARM-IMG-BINARY-ADDED", "/usr/local/bin/one"),
                                                 ("ARM-IMG-BINARY-ADDED", "/usr/local/bin/two"),
                                                 ("ARM-IMG-NO-ARM64", "")]


@pytest.mark.parametrize("where", ["pip.conf", "env"])
def test_packages_are_judged_against_the_images_pip_settings_not_this_machines(tmp_path: Path, where: str) -> None:
    import os

    from fixtures.images.build import layers_for, tar_bytes

    host_conf = tmp_path / "host-pip.conf"  # what the machine armscan runs on says: never used for an image
    host_conf.write_text(f"[global]\nindex-url = file://{tmp_path}/no-such-index/simple/\n")
    with IndexServer() as index:
        layout = Layout(tmp_path / "layout")
        extra = [tar_bytes({"etc/pip.conf": f"[global]\nindex-url = {index.url}/simple/\n".encode()})] \
            if where == "pip.conf" else []
        descriptor = layout.image("amd64", [*layers_for("amd64"), *extra], base=None)
        if where == "env":  # the image config's environment, as `ENV PIP_INDEX_URL=...` leaves it
            manifest = json.loads((layout.blobs / descriptor["digest"].split(":")[1]).read_bytes())
            config_path = layout.blobs / manifest["config"]["digest"].split(":")[1]
            config = json.loads(config_path.read_bytes())
            config["config"]["Env"].append(f"PIP_INDEX_URL={index.url}/simple/")
            manifest["config"] = layout.put(json.dumps(config).encode(), OCI_CONFIG)
            descriptor = layout.put(json.dumps(manifest).encode(), OCI_MANIFEST, platform={"architecture": "amd64",
                                                                                           "os": "linux"})
        layout.tag(descriptor, "1")
        layout.write_index()
        code, doc, _ = image(f"oci:{tmp_path / 'layout'}:1", "--cache-dir", str(tmp_path / "cache"),
                             env={**os.environ, "PIP_CONFIG_FILE": str(host_conf)})
    assert code == 1 and doc["complete"], doc.get("errors")
    assert {p["name"]: p["status"] for p in doc["packages"]} == {"oldnative": "upgrade", "purepkg": "pure"}
