"""Hostile images: layers that expand without end or hide files, layouts whose blobs are not files, and
docker-archives that are FIFOs or carry monstrous manifests. Exact records, not just "no crash"."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest

from armscan.image import layers
from armscan.image.analyze import ImageOptions, analyze_image
from armscan.image.layers import Hidden, LayerError, LayerStats, clean_path, read_layer
from armscan.image.local import DockerArchive, OciLayout, SourceError
from armscan.model import UNCHECKED, ScanResult, SkipReason
from armscan.rules_engine.loader import RuleSet
from fixtures.hostile.binaries import (
    BIN,
    LAUNCH_SCRIPT,
    _zstd_zero_frame,
    docker_archive,
    gzip_members_layer,
    simple_image,
    tar_bytes,
    zip_bytes,
)

X86 = (BIN / "hello-x86_64").read_bytes()


def analyze(root: Path, ruleset: RuleSet) -> ScanResult:
    label = f"oci:{root}"
    return analyze_image(label, OciLayout(str(root), None, label), None, ruleset, ImageOptions(offline=True))


def test_a_backslash_is_part_of_a_name_not_a_whiteout(tmp_path: Path, ruleset: RuleSet) -> None:
    assert clean_path("usr\\local\\.wh.bin") == "usr\\local\\.wh.bin"
    assert clean_path("..\\..\\etc\\passwd") == "..\\..\\etc\\passwd"  # one odd name, inside the image
    assert clean_path("usr/local/.wh.bin") == "usr/local/.wh.bin"
    lower = tar_bytes({"usr/local/bin/tool": X86})
    simple_image(tmp_path, "arm64", [lower, tar_bytes({"usr\\local\\.wh.bin": b""})])
    result = analyze(tmp_path, ruleset)
    assert result.images[0].arm64 == "mislabeled"
    assert [(f.rule_id, f.location.path) for f in result.findings] == [("ARM-IMG-ARM64-X86-CONTENT", f"oci:{tmp_path}")]
    assert "/usr/local/bin/tool (x86_64)" in result.findings[0].message
    # a real whiteout still hides it
    simple_image(tmp_path / "real", "arm64", [lower, tar_bytes({"usr/local/.wh.bin": b""})])
    assert analyze(tmp_path / "real", ruleset).images[0].arm64 == "yes"


def test_gzip_members_ending_at_the_output_limit_are_read_once() -> None:
    """A member whose end meets the 1 MiB output slice left a stale copy of what follows it, read twice."""
    first, second = bytes(2 << 20), b"the second member" * 1000
    inflate = layers._Inflate(io.BytesIO(gzip.compress(first, 1) + gzip.compress(second)))
    assert inflate.read() == first + second


def test_a_multi_member_gzip_layer_with_a_large_member_is_read(tmp_path: Path) -> None:
    diff_id = gzip_members_layer(tmp_path / "layer.gz", member_size=8 << 20)
    stats = LayerStats()
    with open(tmp_path / "layer.gz", "rb") as fh:
        files = [(f.path, f.size) for f in read_layer(fh, None, None, Hidden(), stats)]
    assert files == [("usr/local/bin/tool", len(X86)), ("var/lib/data.bin", 16 << 20)]
    assert diff_id.startswith("sha256:")


def test_a_zstd_layer_expanding_past_the_ratio_is_a_bomb(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import zstandard

    monkeypatch.setattr(layers, "RATIO_CHECKED_AFTER", 8 << 20)
    info = tarfile.TarInfo("data/zeros.bin")
    info.size = 1 << 40
    blob = zstandard.ZstdCompressor().compress(info.tobuf(format=tarfile.GNU_FORMAT)) + _zstd_zero_frame(64 << 20)
    with pytest.raises(LayerError, match=r"decompression bomb: \d+ bytes out of \d+ compressed \(over 1000:1\)"):
        for _ in read_layer(io.BytesIO(blob), None, None, Hidden(), LayerStats()):
            pass


def test_gzip_of_nothing_but_zeros_is_a_bomb_and_ordinary_content_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(layers, "RATIO_CHECKED_AFTER", 8 << 20)
    zeros = gzip.compress(tar_bytes({"zeros.bin": bytes(32 << 20)}), 9)
    with pytest.raises(LayerError, match="decompression bomb"):
        list(read_layer(io.BytesIO(zeros), None, None, Hidden(), LayerStats()))
    text = b"".join(b"line %d of a log file that repeats a lot\n" % (i % 1000) for i in range(400_000))
    ordinary = gzip.compress(tar_bytes({"log.txt": text, "zeros.bin": bytes(4 << 20)}), 9)
    assert [f.path for f in read_layer(io.BytesIO(ordinary), None, None, Hidden(), LayerStats())] == [
        "log.txt", "zeros.bin"]


def _layer_blob(root: Path) -> Path:
    return next(p for p in (root / "blobs" / "sha256").iterdir() if p.read_bytes()[:2] == b"\x1f\x8b")


@pytest.mark.parametrize(("make", "detail"), [
    ("dev-zero", "links out of the"),
    ("outside", "links out of the"),
    ("fifo", "not a regular file: a FIFO"),
])
def test_oci_blobs_must_be_regular_files_inside_the_layout(tmp_path: Path, ruleset: RuleSet, make: str,
                                                           detail: str) -> None:
    root = tmp_path / "layout"
    simple_image(root, "arm64", [tar_bytes({"etc/hostname": b"x\n"})])
    blob = _layer_blob(root)
    data = blob.read_bytes()
    blob.unlink()
    if make == "dev-zero":
        blob.symlink_to("/dev/zero")
    elif make == "outside":
        (tmp_path / "planted.gz").write_bytes(data)
        blob.symlink_to(tmp_path / "planted.gz")
    else:
        os.mkfifo(blob)
    result = analyze(root, ruleset)
    assert not result.complete
    assert [(s.path, s.reason) for s in result.skipped] == [(f"oci:{root}!layer1", SkipReason.UNREADABLE)]
    assert detail in result.skipped[0].detail


def test_a_link_inside_the_layout_is_followed(tmp_path: Path, ruleset: RuleSet) -> None:
    root = tmp_path / "layout"
    simple_image(root, "arm64", [tar_bytes({"usr/bin/tool": X86})])
    blob = _layer_blob(root)
    (root / "store").mkdir()
    blob.rename(root / "store" / "layer")
    blob.symlink_to(root / "store" / "layer")
    result = analyze(root, ruleset)
    assert result.complete and result.images[0].arm64 == "mislabeled"


def test_a_docker_archive_that_is_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "image.tar")
    with pytest.raises(SourceError, match=r"not a readable docker-archive: not a regular file: a FIFO$"):
        DockerArchive(str(tmp_path / "image.tar"), "docker-archive:image.tar")


@pytest.mark.parametrize(("manifest", "why"), [
    (b'[{"Config": "c.json", "Layers": []' + b" " * (5 << 20) + b"}]", "manifest.json is over 4194304 bytes"),
    (b"[" * 100_000 + b"]" * 100_000, "maximum recursion depth exceeded"),
])
def test_a_monstrous_manifest_is_a_docker_archive_error(tmp_path: Path, manifest: bytes, why: str) -> None:
    docker_archive(tmp_path / "image.tar", manifest)
    with pytest.raises(SourceError, match="manifest.json is not a docker save manifest: " + why):
        DockerArchive(str(tmp_path / "image.tar"), "docker-archive:image.tar")


def test_docker_archive_members_are_counted_as_they_are_read(tmp_path: Path) -> None:
    info = tarfile.TarInfo("x")
    with (tmp_path / "image.tar").open("wb") as fh:
        fh.write(info.tobuf(format=tarfile.USTAR_FORMAT) * 10_001 + bytes(1024))
    with pytest.raises(SourceError, match="over 10000 members; not a docker save archive"):
        DockerArchive(str(tmp_path / "image.tar"), "docker-archive:image.tar")


def test_a_jar_behind_a_launch_script_in_a_layer_is_opened(tmp_path: Path, ruleset: RuleSet) -> None:
    so = (BIN / "libmix-x86_64.so").read_bytes()
    jar = LAUNCH_SCRIPT + zip_bytes({"BOOT-INF/lib/native/linux-x86_64/libmix.so": so})
    simple_image(tmp_path, "amd64", [tar_bytes({"app/app.jar": jar, "app/run.jar": LAUNCH_SCRIPT})])
    result = analyze(tmp_path, ruleset)
    inside = f"oci:{tmp_path}!/app/app.jar!BOOT-INF/lib/native/linux-x86_64/libmix.so"
    assert [(a.path, a.machines) for a in result.artifacts] == [(inside, ("x86_64",))]
    assert inside in [f.location.path for f in result.findings]
    assert result.complete and not result.skipped


def test_a_member_that_could_not_be_checked_makes_the_image_result_incomplete(tmp_path: Path,
                                                                              ruleset: RuleSet) -> None:
    bomb = zip_bytes({"zeros.bin": bytes(16 << 20)})
    simple_image(tmp_path, "arm64", [tar_bytes({"app/bomb.jar": bomb})])
    result = analyze(tmp_path, ruleset)
    assert [(s.path, s.reason) for s in result.skipped] == [
        (f"oci:{tmp_path}!/app/bomb.jar!zeros.bin", SkipReason.ZIP_BOMB)]
    assert not result.complete and result.errors == (UNCHECKED,)
