"""Wheels, JARs and zips are opened in memory with limits; bombs and broken archives are skipped."""

from __future__ import annotations

import io
import os
import tracemalloc
import zipfile
from pathlib import Path

import pytest

from armscan.limits import Limits, MiB
from armscan.model import SkipReason
from armscan.sources import zipdir
from fixtures.hostile.binaries import LAUNCH_SCRIPT, many_entry_zip, nested_42, write_nested_stored_jar, zip_bytes
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


def test_jar_behind_a_launch_script_is_opened(tmp_path: Path) -> None:
    """Spring Boot's executable JAR: a shell script, then the zip. Found by the end record, not the magic."""
    jar = zip_bytes({"BOOT-INF/lib/native/linux-x86_64/libmix.so": SO_X86})
    (tmp_path / "app.jar").write_bytes(LAUNCH_SCRIPT + jar)
    (tmp_path / "notes.jar").write_bytes(LAUNCH_SCRIPT)  # a script named .jar with no zip after it: nothing
    result = scan(tmp_path, display="")
    assert [(a.path, a.machines) for a in result.artifacts] == [
        ("app.jar!BOOT-INF/lib/native/linux-x86_64/libmix.so", ("x86_64",))]
    assert [(f.location.path, f.status.value) for f in result.findings] == [
        ("app.jar!BOOT-INF/lib/native/linux-x86_64/libmix.so", "unported")]
    assert not result.skipped and result.complete


def test_entries_are_counted_before_the_central_directory_is_parsed(tmp_path: Path) -> None:
    many_entry_zip(tmp_path / "big.jar", 200_001)
    tracemalloc.start()
    result = scan(tmp_path, display="")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [(s.path, s.reason, s.detail) for s in result.skipped] == [
        ("big.jar", SkipReason.ARCHIVE_LIMIT, "200001 members is over the limit of 100000")]
    assert not result.complete
    assert peak < 64 * MiB  # zipfile would have made 200,001 ZipInfo objects (some 80 MB)


def test_an_end_record_that_understates_the_entries_does_not_let_them_through(tmp_path: Path) -> None:
    data = bytearray(zip_bytes({f"f{i}.txt": b"x" for i in range(30)}))
    end = data.rfind(b"PK\x05\x06")
    data[end + 8:end + 12] = (1).to_bytes(2, "little") * 2  # "1 entry" on this disk and in all
    (tmp_path / "lying.zip").write_bytes(bytes(data))
    with open(tmp_path / "lying.zip", "rb") as fh:
        assert zipdir.too_many_entries(fh, len(data), 20) == "more than 20 members (the end record says 1)"
        assert zipdir.too_many_entries(fh, len(data), 30) is None


def test_byte_limit_holds_across_the_whole_nesting(tmp_path: Path) -> None:
    """42.zip in the small: 64 members of 1 MiB (each at the ratio threshold) four archives deep; the limit
    is for everything inside one top-level file, not for each archive."""
    (tmp_path / "42.jar").write_bytes(nested_42(levels=3, width=4))
    result = scan(tmp_path, display="", limits=Limits(max_archive_total=8 * MiB))
    assert [(s.path, s.reason, s.detail) for s in result.skipped] == [
        ("42.jar", SkipReason.ARCHIVE_LIMIT, "more than 8388608 bytes uncompressed in it and the archives inside "
         "it; level1-0.jar!level0-1.jar!zeros-3.bin and what follows it were not checked")]
    assert not result.complete
    # each archive alone is well under the limit: the old per-archive total let all of it through
    assert scan(tmp_path, display="", limits=Limits(max_archive_total=5 * MiB)).skipped[0].detail.startswith(
        "more than 5242880 bytes")


def test_archives_too_deep_are_not_read_and_said_once(tmp_path: Path) -> None:
    (tmp_path / "42.jar").write_bytes(nested_42(levels=6, width=3))
    result = scan(tmp_path, display="")
    assert [(s.path, s.reason) for s in result.skipped] == [
        ("42.jar!level4-0.jar!level3-0.jar!level2-0.jar!level1-0.jar", SkipReason.ARCHIVE_LIMIT)]
    assert result.skipped[0].detail == ("archive nested deeper than 4 levels (this one and any others in the same "
                                        "file were not opened)")


def test_binaries_past_the_limit_are_classified_from_their_headers(tmp_path: Path) -> None:
    (tmp_path / "libs.jar").write_bytes(zip_bytes({f"lib/x{i}.so": SO_X86 + bytes([i]) for i in range(5)}))
    result = scan(tmp_path, display="", limits=Limits(max_archive_binaries=2))
    assert [(a.path, a.machines, a.elf is not None, a.notes) for a in result.artifacts] == [
        (f"libs.jar!lib/x{i}.so", ("x86_64",), i < 2,
         () if i < 2 else ("over 2 binaries in the archive: classified from its header only",)) for i in range(5)]
    assert [f.location.path for f in result.findings] == [f"libs.jar!lib/x{i}.so" for i in range(5)]
    assert [(s.path, s.reason, s.detail) for s in result.skipped] == [
        ("libs.jar", SkipReason.ARCHIVE_LIMIT, "more than 2 binaries inside: from lib/x2.so on, they are classified "
         "from their headers only (no instruction-set, glibc or page-size checks)")]


def test_a_binary_repeated_in_nested_archives_is_parsed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from armscan.analyzers import binaries

    calls = []
    inspect = binaries.inspect
    monkeypatch.setattr(binaries, "inspect", lambda *a: calls.append(a[3]) or inspect(*a))
    inner = zip_bytes({"native/libmix.so": SO_X86})
    (tmp_path / "app.jar").write_bytes(zip_bytes({"a.jar": inner, "b.jar": inner, "native/libmix.so": SO_X86}))
    result = scan(tmp_path, display="")
    assert calls == ["app.jar!a.jar!native/libmix.so"]
    assert [(a.path, a.elf == result.artifacts[0].elf) for a in result.artifacts] == [
        ("app.jar!a.jar!native/libmix.so", True), ("app.jar!b.jar!native/libmix.so", True),
        ("app.jar!native/libmix.so", True)]
    assert len(result.findings) == 3


def test_stored_nested_jars_are_read_through_windows_not_copies(tmp_path: Path) -> None:
    write_nested_stored_jar(tmp_path / "app.jar", depth=3, padding=48 * MiB)
    tracemalloc.start()
    result = scan(tmp_path, display="")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [(a.path, a.machines) for a in result.artifacts] == [
        ("app.jar!inner2.jar!inner1.jar!lib/x86_64/libmix.so", ("x86_64",))]
    assert peak < 16 * MiB  # three levels of a 48 MiB JAR held whole would be 144 MiB


def test_a_compressed_nested_member_is_spooled_to_disk_past_16_mib(tmp_path: Path) -> None:
    data = zip_bytes({"big.jar": zip_bytes({"pad.bin": os.urandom(20 * MiB)}, zipfile.ZIP_STORED)})
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("big.jar")
        with archive.open(info) as stream:
            head = stream.read(4096)
            whole = zipdir.member_stream(archive, info, head, stream)  # type: ignore[arg-type]
        assert whole.read() == archive.read(info) and getattr(whole, "_rolled", False)


def test_an_entry_with_an_empty_name_is_a_malformed_member_not_a_crash(tmp_path: Path) -> None:
    data = bytearray(zip_bytes({"a": b"x"}))
    central = data.rfind(b"PK\x01\x02")
    data[central + 28:central + 30] = b"\0\0"  # name length 0: the name's byte becomes part of the extra field
    data[central + 30:central + 32] = b"\1\0"
    (tmp_path / "empty-name.zip").write_bytes(bytes(data))
    result = scan(tmp_path, display="")
    assert [(s.path, s.reason) for s in result.skipped] == [("empty-name.zip!", SkipReason.MALFORMED)]


def _jar(path: Path, members: dict[str, str]) -> None:
    with zipfile.ZipFile(path, "w") as jar:
        jar.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        for name, binary in members.items():
            jar.write(BIN / binary, name)


def test_a_jar_with_its_linux_aarch64_native_needs_nothing_for_its_other_builds(tmp_path: Path) -> None:
    _jar(tmp_path / "rocksdbjni-8.0.jar", {  # rocksdb's flat names: linux64 is the x86-64 build
        "librocksdbjni-linux64.so": "libmix-x86_64.so", "librocksdbjni-linux-aarch64.so": "libmix-aarch64.so",
        "librocksdbjni-linux32.so": "libmix-x86_64.so", "librocksdbjni-win64.dll": "libmix-x86_64.so"})
    _jar(tmp_path / "sqlite-jdbc.jar", {
        "org/sqlite/native/Linux/x86_64/libsqlitejdbc.so": "libmix-x86_64.so",
        "org/sqlite/native/Windows/x86/sqlitejdbc.dll": "libmix-x86_64.so",
        "org/sqlite/native/Mac/x86_64/libsqlitejdbc.jnilib": "libmix-x86_64.so",
        "org/sqlite/native/Linux/aarch64/libsqlitejdbc.so": "libmix-aarch64.so"})
    _jar(tmp_path / "x86only.jar", {"native/linux-x86-64/libfast.so": "libmix-x86_64.so",
                                    "native/win32-x86/fast.dll": "libmix-x86_64.so"})
    found = sorted((f.location.path, f.severity.value) for f in scan(tmp_path, display="").findings
                   if f.rule_id.startswith("ARM-BIN-"))
    assert found == [
        ("rocksdbjni-8.0.jar!librocksdbjni-linux64.so", "info"),
        ("sqlite-jdbc.jar!org/sqlite/native/Linux/x86_64/libsqlitejdbc.so", "info"),
        # without an aarch64 build in the JAR, its linux x86 build stays a blocker (win32-x86/ is never loaded)
        ("x86only.jar!native/linux-x86-64/libfast.so", "blocker"),
    ]
