"""Bounds that keep hostile input from exhausting memory or time."""

from __future__ import annotations

from dataclasses import dataclass

MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_text_size: int = 16 * MiB
    max_member_size: int = 512 * MiB
    max_archive_total: int = 2048 * MiB
    max_archive_members: int = 100_000
    max_compression_ratio: int = 200
    max_archive_depth: int = 4
    max_findings_per_rule: int = 100  # in one file; the rest are counted in one finding that says how many
    max_archive_binaries: int = 256  # parsed whole per top-level file; more are classified from their headers


ARCHIVE_SUFFIXES = (".whl", ".jar", ".war", ".ear", ".zip", ".egg", ".aar", ".apk", ".nupkg")
# Compressed tar archives (source tarballs), read as streams; a plain .tar is left alone (container image exports)
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.bz2", ".tbz2", ".tbz", ".tar.zst", ".tzst")
