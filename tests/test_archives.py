"""Wheels, JARs and zips are opened in memory with limits; bombs and broken archives are skipped."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from armscan.limits import Limits
from armscan.model import SkipReason
from tests.conftest import BIN, scan

SO_X86 = (BIN / "libmix-x86_64.so").read_bytes()
SO_ARM = (BIN / "libmix-aarch64.so").read_bytes()


def copy(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    target.write_bytes((BIN / name).read_bytes())
    return target


def test_wheel_member_is_classified_and_reported(tmp_path: Path) -> None:
    copy(tmp_path, "nativepkg-1.0-cp311-cp311-linux_x86_64.whl")
    result = scan(tmp_path, display="")
    member = "nativepkg-1.0-cp311-cp311-linux_x86_64.whl!nativepkg/_native.cpython-311-x86_64-linux-gnu.so"
    assert [(a.path, a.machines, a.kind) for a in result.artifacts] == [(member, ("x86_64",), "shared-object")]
    assert result.artifacts[0].elf is not None and result.artifacts[0].elf.soname == "libmix.so.1"
    # the wheel is the unit of work: one finding for it, none for the library inside
    assert [(f.rule_id, f.location.path) for f in result.findings] == [
        ("ARM-PY-WHEEL-FILE-X86", "nativepkg-1.0-cp311-cp311-linux_x86_64.whl")]


def test_x86_binary_in_a_wheel_tagged_for_any_platform_stays_a_finding(tmp_path: Path) -> None:
    source = zipfile.ZipFile(BIN / "nativepkg-1.0-cp311-cp311-linux_x86_64.whl")
    with zipfile.ZipFile(tmp_path / "sneaky-1.0-py3-none-any.whl", "w") as zf:
        for info in source.infolist():
            zf.writestr(info.filename.replace("nativepkg", "sneaky"), source.read(info))
    result = scan(tmp_path, display="")
    assert [(f.rule_id, f.location.path) for f in result.findings] == [
        ("ARM-BIN-ELF-X86", "sneaky-1.0-py3-none-any.whl!sneaky/_native.cpython-311-x86_64-linux-gnu.so")]


def test_nested_fat_jar_is_opened(tmp_path: Path) -> None:
    copy(tmp_path, "app-fat.jar")
    copy(tmp_path, "native-x86only.jar")
    result = scan(tmp_path, display="")
    assert sorted((a.path, a.machines) for a in result.artifacts) == [
        ("app-fat.jar!BOOT-INF/lib/native-both.jar!native/linux-aarch64/libmix.so", ("aarch64",)),
        ("app-fat.jar!BOOT-INF/lib/native-both.jar!native/linux-x86_64/libmix.so", ("x86_64",)),
        ("native-x86only.jar!META-INF/native/linux-x86_64/libmix.so", ("x86_64",)),
    ]
    assert not result.skipped


def test_zip_bomb_by_ratio_is_skipped(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "bomb.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros.bin", b"\0" * (16 * 1024 * 1024))
        zf.writestr("lib/libmix.so", SO_X86)
    result = scan(tmp_path, display="")
    assert [(s.path, s.reason) for s in result.skipped] == [("bomb.zip!zeros.bin", SkipReason.ZIP_BOMB)]
    # The rest of the archive is still checked.
    assert [a.path for a in result.artifacts] == ["bomb.zip!lib/libmix.so"]


def test_overlapping_entries_are_a_bomb(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("a.so", SO_X86)
        zf.writestr("b.so", SO_X86)
    data = bytearray(buffer.getvalue())
    # Point the second central-directory entry at the first local header: both names share one body.
    second = data.rfind(b"PK\x01\x02")
    data[second + 42 : second + 46] = (0).to_bytes(4, "little")
    (tmp_path / "overlap.zip").write_bytes(bytes(data))
    result = scan(tmp_path, display="")
    assert [(s.path, s.reason) for s in result.skipped] == [("overlap.zip", SkipReason.ZIP_BOMB)]


def test_member_count_and_depth_limits(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as zf:
        for i in range(30):
            zf.writestr(f"f{i}.txt", b"x")
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("libmix.so", SO_X86)
    level = inner.getvalue()
    for _ in range(3):
        wrapper = io.BytesIO()
        with zipfile.ZipFile(wrapper, "w") as zf:
            zf.writestr("inner.zip", level)
        level = wrapper.getvalue()
    (tmp_path / "deep.zip").write_bytes(level)
    result = scan(tmp_path, display="", limits=Limits(max_archive_members=20, max_archive_depth=2))
    assert sorted((s.path, s.reason) for s in result.skipped) == [
        ("deep.zip!inner.zip!inner.zip", SkipReason.ARCHIVE_LIMIT),
        ("many.zip", SkipReason.ARCHIVE_LIMIT),
    ]
    assert result.artifacts == ()


def test_truncated_and_corrupt_archives_are_skipped(tmp_path: Path) -> None:
    wheel = (BIN / "nativepkg-1.0-cp311-cp311-linux_x86_64.whl").read_bytes()
    (tmp_path / "cut.whl").write_bytes(wheel[: len(wheel) // 2])
    corrupt = bytearray(wheel)
    body = corrupt.find(b"nativepkg/_native") + 60
    corrupt[body : body + 200] = b"\xff" * 200
    (tmp_path / "flipped.whl").write_bytes(bytes(corrupt))
    result = scan(tmp_path, display="")
    reasons = {s.path: s.reason for s in result.skipped}
    assert reasons["cut.whl"] is SkipReason.MALFORMED
    assert any(path.startswith("flipped.whl") for path in reasons)
    assert all(r is SkipReason.MALFORMED for r in reasons.values())


def test_member_path_traversal_names_are_only_labels(tmp_path: Path) -> None:
    with zipfile.ZipFile(tmp_path / "evil.zip", "w") as zf:
        zf.writestr("../../escape.so", SO_X86)
        zf.writestr("/abs/path.so", SO_ARM)
    before = sorted(p.name for p in tmp_path.parent.iterdir())
    result = scan(tmp_path, display="")
    assert sorted(a.path for a in result.artifacts) == ["evil.zip!../../escape.so", "evil.zip!/abs/path.so"]
    assert sorted(p.name for p in tmp_path.parent.iterdir()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.zip"]


def test_jar_with_both_builds_is_ported_and_x86_only_jar_is_not(tmp_path: Path) -> None:
    copy(tmp_path, "app-fat.jar")
    copy(tmp_path, "native-x86only.jar")
    result = scan(tmp_path, display="")
    assert sorted((f.location.path, f.severity.value, f.status.value) for f in result.findings) == [
        ("app-fat.jar!BOOT-INF/lib/native-both.jar!native/linux-x86_64/libmix.so", "info", "ported"),
        ("native-x86only.jar!META-INF/native/linux-x86_64/libmix.so", "blocker", "unported")]
