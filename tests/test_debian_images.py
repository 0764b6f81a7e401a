"""Images made from Debian's own packages: a bookworm root file system built by mmdebstrap (cached between
runs), turned into OCI images by umoci, with a hand-copied binary planted in a layer of its own.

Debian 12 is usr-merged: dpkg's file lists say `/bin/bash`, the layer holds `usr/bin/bash` behind `bin -> usr/bin`.
Every binary dpkg owns is the OS's; only the planted one was added by hand.
"""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.registry import ensure_tools

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "armscan-tests"
ROOTFS = CACHE / "debian-bookworm-minbase.tar"


@pytest.fixture(scope="module")
def debian_rootfs() -> Path:
    ensure_tools("mmdebstrap", "umoci", "fakechroot", "fakeroot",
                 packages=("mmdebstrap", "umoci", "fakechroot", "fakeroot", "gpgv", "debian-archive-keyring"))
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / "rootfs.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # workers build it once between them
        if not ROOTFS.is_file():
            partial = ROOTFS.with_suffix(".partial")
            done = subprocess.run(["mmdebstrap", "--variant=minbase", "--mode=fakechroot", "--format=tar",
                                   "bookworm", str(partial)], capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                raise RuntimeError(f"mmdebstrap failed: {done.stderr[-800:]}")
            partial.rename(ROOTFS)
    return ROOTFS


def _planted_layer(rootfs: Path, target: Path) -> None:
    """A layer that copies one of the rootfs's x86 programs to /usr/local/bin by hand."""
    with tarfile.open(rootfs) as source:
        data = source.extractfile("./usr/bin/true")
        assert data is not None
        body = data.read()
    with tarfile.open(target, "w") as layer:
        info = tarfile.TarInfo("usr/local/bin/vendor-tool")
        info.size, info.mode = len(body), 0o755
        layer.addfile(info, io.BytesIO(body))


def _image(tmp_path: Path, rootfs: Path, *, planted: bool) -> str:
    layout = tmp_path / "layout"
    shutil.rmtree(layout, ignore_errors=True)
    steps = [["umoci", "init", "--layout", str(layout)], ["umoci", "new", "--image", f"{layout}:12"],
             ["umoci", "raw", "add-layer", "--image", f"{layout}:12", str(rootfs)]]
    if planted:
        _planted_layer(rootfs, tmp_path / "planted.tar")
        steps.append(["umoci", "raw", "add-layer", "--image", f"{layout}:12", str(tmp_path / "planted.tar")])
    steps.append(["umoci", "config", "--image", f"{layout}:12", "--os", "linux", "--architecture", "amd64"])
    for step in steps:
        subprocess.run(step, check=True, capture_output=True)
    return f"oci:{layout}:12"


def _findings(reference: str) -> list[tuple[str, str, str]]:
    done = run_cli("image", reference, "--offline", "--no-index", "-q", "--json", "-")
    assert done.returncode == 1, done.stderr
    doc = json.loads(done.stdout)
    assert doc["complete"] is True, doc["errors"]
    return sorted((f["rule_id"], f["severity"], f["message"]) for f in doc["findings"])


def test_a_plain_debian_image_has_no_binary_added_by_hand(tmp_path: Path, debian_rootfs: Path) -> None:
    found = _findings(_image(tmp_path, debian_rootfs, planted=False))
    assert [(rule, severity) for rule, severity, _ in found] == [
        ("ARM-IMG-NO-ARM64", "high"), ("ARM-IMG-OS-PACKAGES-X86", "info")]
    packages = next(message for rule, _, message in found if rule == "ARM-IMG-OS-PACKAGES-X86")
    assert re.search(r": \d{3,} x86 binaries come from \d{2,} OS packages \(apt 2\.6\.\d+ \(amd64\), ", packages)
    assert "bash 5.2" in packages and "coreutils 9.1" in packages and "dpkg 1.21" in packages


def test_only_the_planted_binary_is_added_by_hand(tmp_path: Path, debian_rootfs: Path) -> None:
    found = _findings(_image(tmp_path, debian_rootfs, planted=True))
    added = [message for rule, _, message in found if rule == "ARM-IMG-BINARY-ADDED"]
    assert len(added) == 1 and added[0].startswith("/usr/local/bin/vendor-tool: x86 ELF"), added
    assert [(rule, severity) for rule, severity, _ in found] == [
        ("ARM-IMG-BINARY-ADDED", "blocker"), ("ARM-IMG-NO-ARM64", "high"), ("ARM-IMG-OS-PACKAGES-X86", "info")]


@pytest.mark.parametrize(("path", "expected"), [
    ("bin/bash", "usr/bin/bash"),  # bin -> usr/bin
    ("lib64/ld-linux-x86-64.so.2", "usr/lib64/ld-linux-x86-64.so.2"),  # lib64 -> /usr/lib64 (absolute)
    ("lib/x86_64-linux-gnu/libc.so.6", "usr/lib/x86_64-linux-gnu/libc.so.6"),
    ("opt/app/lib/x.so", "srv/app-1.2/lib/x.so"),  # opt/app -> ../srv/current -> app-1.2: links through links
    ("bin", "bin"),  # the last name is not followed
    ("loop/a/x", "loop/a/x"),  # a loop ends after a bounded number of hops
    ("usr/bin/bash", "usr/bin/bash"),
])
def test_folders_resolve_through_the_images_own_links(path: str, expected: str) -> None:
    from armscan.image.inventory import resolve_folders

    links = {"bin": "usr/bin", "lib64": "/usr/lib64", "lib": "usr/lib", "opt/app": "../srv/current",
             "srv/current": "app-1.2", "loop/a": "b", "loop/b": "a"}
    assert resolve_folders(path, links) == expected


ARC4RANDOM = "#include <stdlib.h>\nint main(void) { return (int)(arc4random() & 1); }\n"  # GLIBC_2.36


@pytest.mark.parametrize(("os_release", "expected"), [
    (b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n', []),
    (b'NAME="Amazon Linux"\nVERSION_ID="2023"\nID="amzn"\nPRETTY_NAME="Amazon Linux 2023"\n',
     ["needs GLIBC_2.36 symbols, and the image's Amazon Linux 2023 (glibc 2.34) has glibc 2.34"]),
])
def test_an_images_binaries_are_judged_by_its_own_c_library(tmp_path: Path, os_release: bytes,
                                                              expected: list[str]) -> None:
    from fixtures.images.build import Layout, tar_bytes

    ensure_tools("aarch64-linux-gnu-gcc", packages=("gcc-aarch64-linux-gnu",))
    (tmp_path / "app.c").write_text(ARC4RANDOM)
    subprocess.run(["aarch64-linux-gnu-gcc", "-O2", "-o", str(tmp_path / "app"), str(tmp_path / "app.c")],
                   check=True, capture_output=True)
    layout = Layout(tmp_path / "layout")
    image = layout.image("arm64", [tar_bytes({"etc/os-release": os_release,
                                              "usr/local/bin/app": (tmp_path / "app").read_bytes()})])
    layout.tag(image, "1")
    layout.write_index()
    # the host the image runs on is Amazon Linux 2023 (glibc 2.34); the binary loads the image's own glibc
    done = run_cli("image", f"oci:{tmp_path / 'layout'}:1", "--os", "al2023", "--target", "graviton2",
                   "--offline", "--no-index", "-q", "--json", "-")
    doc = json.loads(done.stdout)
    glibc = [f["message"] for f in doc["findings"] if f["rule_id"] == "ARM-TARGET-GLIBC"]
    assert [m.split(": it fails")[0].replace(f"oci:{tmp_path / 'layout'}:1!", "") for m in glibc] == expected


def _hard_link_layer(binary: bytes, *, delete_target_above: bool) -> list[bytes]:
    lower = io.BytesIO()
    with tarfile.open(fileobj=lower, mode="w") as layer:
        info = tarfile.TarInfo("app/build/Release/addon.node")
        info.size, info.mode = len(binary), 0o755
        layer.addfile(info, io.BytesIO(binary))
        link = tarfile.TarInfo("app/lib/binding/addon.node")
        link.type, link.linkname = tarfile.LNKTYPE, "app/build/Release/addon.node"
        layer.addfile(link)
    upper = io.BytesIO()
    with tarfile.open(fileobj=upper, mode="w") as layer:
        if delete_target_above:
            layer.addfile(tarfile.TarInfo("app/build/Release/.wh.addon.node"))
    return [lower.getvalue(), upper.getvalue()]


@pytest.mark.parametrize("delete_target_above", [False, True])
def test_a_hard_link_is_the_file_it_names(tmp_path: Path, delete_target_above: bool) -> None:
    from fixtures.images.build import Layout

    ensure_tools("aarch64-linux-gnu-gcc", packages=("gcc-aarch64-linux-gnu",))
    (tmp_path / "addon.c").write_text("int addon(void) { return 1; }\n")
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / "addon.node"), str(tmp_path / "addon.c")],
                   check=True, capture_output=True)
    layout = Layout(tmp_path / "layout")
    image = layout.image("amd64", _hard_link_layer((tmp_path / "addon.node").read_bytes(),
                                                   delete_target_above=delete_target_above))
    layout.tag(image, "1")
    layout.write_index()
    done = run_cli("image", f"oci:{tmp_path / 'layout'}:1", "--offline", "--no-index", "-q", "--json", "-")
    doc = json.loads(done.stdout)
    paths = sorted(a["path"].split("!/", 1)[1] for a in doc["artifacts"])
    skipped = [(s["path"].split("!/", 1)[-1], s["reason"]) for s in doc["skipped"] if "!/" in s["path"]]
    if delete_target_above:  # the link keeps the deleted file's content, which this stream did not read
        assert (paths, skipped, doc["complete"], done.returncode) == (
            [], [("app/lib/binding/addon.node", "unreadable")], False, 3)
    else:
        assert paths == ["app/build/Release/addon.node", "app/lib/binding/addon.node"] and doc["complete"]


def test_an_x86_only_jar_in_an_arm64_image_is_a_finding(tmp_path: Path) -> None:
    from fixtures.images.build import BIN, Layout, tar_bytes

    layout = Layout(tmp_path / "layout")
    files = {"usr/bin/hello": (BIN / "hello-aarch64").read_bytes(),
             "app/lib/native-x86only.jar": (BIN / "native-x86only.jar").read_bytes()}
    image = layout.image("arm64", [tar_bytes(files)])
    layout.tag(image, "1")
    layout.write_index()
    done = run_cli("image", f"oci:{tmp_path / 'layout'}:1", "--offline", "--no-index", "-q", "--json", "-")
    doc = json.loads(done.stdout)
    assert done.returncode == 1 and doc["images"][0]["arm64"] == "yes"
    assert sorted((f["rule_id"], f["severity"]) for f in doc["findings"]) == [("ARM-BIN-ELF-X86", "blocker")]


def test_node_gyp_intermediates_are_not_native_modules(tmp_path: Path) -> None:
    from fixtures.images.build import Layout, tar_bytes

    (tmp_path / "addon.c").write_text("int addon(void) { return 1; }\n")
    for args, out in ((["-c"], "addon.o"), (["-shared", "-fPIC"], "addon.node")):
        subprocess.run(["gcc", *args, "-o", str(tmp_path / out), str(tmp_path / "addon.c")], check=True)
    subprocess.run(["ar", "rcs", str(tmp_path / "libaddon.a"), str(tmp_path / "addon.o")], check=True)
    build = "app/node_modules/addon/build/Release"
    files = {f"{build}/addon.node": (tmp_path / "addon.node").read_bytes(),
             f"{build}/obj.target/addon/src/addon.o": (tmp_path / "addon.o").read_bytes(),
             f"{build}/libaddon.a": (tmp_path / "libaddon.a").read_bytes()}
    layout = Layout(tmp_path / "layout")
    layout.tag(layout.image("amd64", [tar_bytes(files)], base=None), "1")
    layout.write_index()
    done = run_cli("image", f"oci:{tmp_path / 'layout'}:1", "--offline", "--no-index", "-q", "--json", "-")
    native = [f["location"]["path"].split("!/", 1)[1] for f in json.loads(done.stdout)["findings"]
              if f["rule_id"] == "ARM-IMG-NODE-NATIVE"]
    assert native == [f"{build}/addon.node"]


def test_the_debian_image_reads_the_same_through_every_transport(tmp_path: Path, debian_rootfs: Path) -> None:
    from tests.registry import Registry

    reference = _image(tmp_path, debian_rootfs, planted=True)
    layout = reference.removeprefix("oci:")
    archive = tmp_path / "debian.tar"
    subprocess.run(["skopeo", "copy", "-q", f"oci:{layout}", f"docker-archive:{archive}:team/debian:12"],
                   check=True, capture_output=True, timeout=300)
    by_transport = {"oci": _findings(reference), "docker-archive": _findings(f"docker-archive:{archive}")}
    with Registry(tmp_path / "registry", auth=False) as registry:
        pushed = registry.push(reference, "team/debian:12", all_platforms=False)
        done = run_cli("image", pushed, "--insecure-registry", registry.host, "--offline", "--no-index", "-q",
                       "--json", "-")
        doc = json.loads(done.stdout)
        by_transport["registry"] = sorted((f["rule_id"], f["severity"], f["message"]) for f in doc["findings"])

    def comparable(found: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        # image-wide messages start with the reference, which differs by transport; the rest must not
        return [(rule, severity, message.split(" ", 1)[1] if rule != "ARM-IMG-BINARY-ADDED" else message)
                for rule, severity, message in found]

    assert comparable(by_transport["oci"]) == comparable(by_transport["docker-archive"]) == comparable(
        by_transport["registry"])
    assert [rule for rule, _, _ in by_transport["registry"]] == [
        "ARM-IMG-BINARY-ADDED", "ARM-IMG-NO-ARM64", "ARM-IMG-OS-PACKAGES-X86"]


def test_a_file_dpkg_diverted_is_still_its_packages(tmp_path: Path) -> None:
    from fixtures.images.build import BIN, Layout, tar_bytes

    elf = (BIN / "hello-x86_64").read_bytes()
    files = {"var/lib/dpkg/status": b"Package: hello\nStatus: install ok installed\nVersion: 2.10\n"
                                    b"Architecture: amd64\n\nPackage: hello-wrapper\nStatus: install ok installed\n"
                                    b"Version: 1.0\nArchitecture: amd64\n",
             "var/lib/dpkg/info/hello.list": b"/usr/bin/hello\n",
             "var/lib/dpkg/info/hello-wrapper.list": b"/usr/bin/hello\n",
             "var/lib/dpkg/diversions": b"/usr/bin/hello\n/usr/bin/hello.real\nhello-wrapper\n",
             "usr/bin/hello": elf, "usr/bin/hello.real": elf}
    layout = Layout(tmp_path / "layout")
    layout.tag(layout.image("amd64", [tar_bytes(files)], base=None), "1")
    layout.write_index()
    done = run_cli("image", f"oci:{tmp_path / 'layout'}:1", "--offline", "--no-index", "-q", "--json", "-")
    rules = sorted(f["rule_id"] for f in json.loads(done.stdout)["findings"])
    assert rules == ["ARM-IMG-NO-ARM64", "ARM-IMG-OS-PACKAGES-X86"]
