"""What an image's operating system says about itself: os-release, its C library, and which package owns a file.

Owners come from dpkg (`/var/lib/dpkg/status` and `info/*.list`) and apk (`/lib/apk/db/installed`). RPM
databases are not read: files of RPM-based images count as not owned by a package.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from armscan.resources import load_yaml, rules_dir

OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
DPKG_STATUS = "var/lib/dpkg/status"
DPKG_DIVERSIONS = "var/lib/dpkg/diversions"
DPKG_INFO = "var/lib/dpkg/info/"
APK_INSTALLED = "lib/apk/db/installed"
_GLIBC_FILE = re.compile(r"(?:^|/)libc-(\d+)\.(\d+)\.so$")
_MUSL_LOADER = re.compile(r"(?:^|/)ld-musl-[\w]+\.so\.1$")


RPM_SQLITE = "var/lib/rpm/rpmdb.sqlite"
RPM_BDB = "var/lib/rpm/Packages"
_SYSTEM_DIRS = ("usr/bin/", "usr/sbin/", "bin/", "sbin/", "usr/lib/", "usr/lib64/", "lib/", "lib64/",
                "usr/libexec/")


PIP_CONFIGS = ("etc/pip.conf", "etc/xdg/pip/pip.conf")


def wanted(path: str) -> bool:
    """Files whose content the inventory needs (all small but the RPM database)."""
    return path in (*OS_RELEASE, DPKG_STATUS, DPKG_DIVERSIONS, APK_INSTALLED, RPM_SQLITE, *PIP_CONFIGS) or (
        path.startswith(DPKG_INFO) and path.endswith(".list"))


def pip_index(files: dict[str, bytes], env: tuple[str, ...]) -> tuple[str | None, list[str]]:
    """The image's own pip index settings: its pip.conf, then PIP_INDEX_URL / PIP_EXTRA_INDEX_URL in its
    environment (as pip inside the image would read them); never the scanning machine's."""
    from armscan.python.pipconfig import Settings, config_settings

    settings: Settings = (None, [], [])
    for name in PIP_CONFIGS:
        if name in files:
            settings = config_settings(files[name].decode("utf-8", "replace"), settings)
    index, extras, _ = settings
    variables = dict(entry.partition("=")[::2] for entry in env)
    index = variables.get("PIP_INDEX_URL", "").strip() or index
    extras = variables.get("PIP_EXTRA_INDEX_URL", "").split() or extras
    return index or None, extras


@dataclass(frozen=True)
class OsInfo:
    id: str = ""
    version_id: str = ""
    name: str = ""
    libc: str = "glibc"
    libc_version: tuple[int, int] | None = None

    def describe(self) -> str:
        libc = f"{self.libc} {self.libc_version[0]}.{self.libc_version[1]}" if self.libc_version else self.libc
        return f"{self.name or self.id or 'unknown OS'} ({libc})"


@lru_cache(maxsize=1)
def _systems() -> tuple[dict[str, Any], ...]:
    data = load_yaml((rules_dir() / "knowledge" / "operating-systems.yaml").read_text(encoding="utf-8"))
    return tuple(data["systems"])


def _pair(text: str) -> tuple[int, int] | None:
    match = re.match(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def os_info(files: dict[str, bytes], paths: set[str]) -> OsInfo:
    fields: dict[str, str] = {}
    for name in OS_RELEASE:
        if name in files:
            for line in files[name].decode("utf-8", "replace").splitlines():
                key, _, value = line.partition("=")
                fields.setdefault(key.strip(), value.strip().strip('"').strip("'"))
            break
    os_id, version = fields.get("ID", "").lower(), fields.get("VERSION_ID", "")
    name = fields.get("PRETTY_NAME", "") or os_id
    for system in _systems():
        if system["id"] == os_id and any(version.startswith(v) for v in system["versions"]):
            libc = str(system["libc"])
            return OsInfo(os_id, version, str(system["name"]), libc, _pair(str(system.get(libc, ""))))
    if any(_MUSL_LOADER.search(p) for p in paths):
        return OsInfo(os_id, version, name, "musl", (1, 2))
    glibc = next((m for m in (_GLIBC_FILE.search(p) for p in paths) if m), None)
    return OsInfo(os_id, version, name, "glibc", (int(glibc.group(1)), int(glibc.group(2))) if glibc else None)


def _stanzas(text: str) -> list[dict[str, str]]:
    found = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                continue  # continuation lines (descriptions, conffiles) are not needed
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        if fields:
            found.append(fields)
    return found


_MAX_HOPS = 40  # symbolic links followed for one path, as the kernel does


def resolve_folders(path: str, links: Mapping[str, str]) -> str:
    """The path with its folders resolved through the image's own symbolic links (`bin/bash` is `usr/bin/bash`
    where `bin -> usr/bin`, as on every usr-merged Debian and Ubuntu); the last name is left as it is."""
    if not links:
        return path
    parts = [p for p in path.split("/") if p not in ("", ".")]
    done: list[str] = []
    hops = 0
    while len(parts) > 1:
        head = parts.pop(0)
        candidate = "/".join((*done, head))
        target = links.get(candidate)
        if target is None or hops >= _MAX_HOPS:
            done.append(head)
            continue
        hops += 1
        base = [] if target.startswith("/") else done
        resolved: list[str] = list(base)
        for part in target.split("/"):
            if part == "..":
                if resolved:
                    resolved.pop()
            elif part not in ("", "."):
                resolved.append(part)
        done, parts = [], [*resolved, *parts]  # the target may itself go through links
    return "/".join((*done, *parts))


def package_owners(files: dict[str, bytes], paths: set[str] | None = None,
                   links: Mapping[str, str] | None = None) -> dict[str, str]:
    """Path inside the image (no leading slash) -> "deb:name version (arch)" (apk:, rpm:) of its package.

    The packages' file lists name paths as installed (`/bin/bash`); each is also recorded as it is stored once
    the image's folder links are followed (`usr/bin/bash`). An RPM Berkeley DB database is not read: files in
    system folders then count as the OS's, unnamed.
    """
    owners = _owners(files, paths)
    if links:
        for path, owner in list(owners.items()):
            owners.setdefault(resolve_folders(path, links), owner)
    return owners


def _owners(files: dict[str, bytes], paths: set[str] | None) -> dict[str, str]:
    owners: dict[str, str] = {}
    if RPM_SQLITE in files:
        from armscan.image.rpmdb import RpmDbError
        from armscan.image.rpmdb import owners as rpm_owners

        with contextlib.suppress(RpmDbError):  # unreadable: its files count as not owned, and are reported
            owners.update(rpm_owners(files[RPM_SQLITE]))
    elif paths and RPM_BDB in paths:
        owners.update((p, "rpm:package (Berkeley DB database, not read)") for p in paths
                      if p.startswith(_SYSTEM_DIRS))
    packages: dict[str, str] = {}
    if DPKG_STATUS in files:
        for stanza in _stanzas(files[DPKG_STATUS].decode("utf-8", "replace")):
            if "Package" in stanza and "installed" in stanza.get("Status", "installed"):
                label = f"deb:{stanza['Package']} {stanza.get('Version', '')} ({stanza.get('Architecture', '?')})"
                packages[stanza["Package"]] = label
                packages[f"{stanza['Package']}:{stanza.get('Architecture', '')}"] = label
    for path, data in files.items():
        if path.startswith(DPKG_INFO) and path.endswith(".list"):
            package = path[len(DPKG_INFO):-len(".list")]
            label = packages.get(package) or packages.get(package.split(":")[0]) or f"deb:{package}"
            for line in data.decode("utf-8", "replace").splitlines():
                entry = line.strip().lstrip("/")
                if entry:
                    owners[entry] = label
    if DPKG_DIVERSIONS in files:
        # dpkg-divert moved a package's file aside (/usr/bin/foo to /usr/bin/foo.distrib): three lines an entry,
        # the path as packaged, where it went, and the diverting package; the moved file is still its package's
        diversions = files[DPKG_DIVERSIONS].decode("utf-8", "replace").splitlines()
        for at in range(0, len(diversions) - 2, 3):
            original, diverted = diversions[at].strip().lstrip("/"), diversions[at + 1].strip().lstrip("/")
            if original in owners and diverted:
                owners.setdefault(diverted, owners[original])
    if APK_INSTALLED in files:
        for fields, lines in _apk_stanzas(files[APK_INSTALLED].decode("utf-8", "replace")):
            label = f"apk:{fields.get('P', '?')} {fields.get('V', '')} ({fields.get('A', '?')})"
            folder = ""
            for key, value in lines:
                if key == "F":
                    folder = value
                elif key == "R":
                    owners[f"{folder}/{value}" if folder else value] = label
    return owners


def _apk_stanzas(text: str) -> list[tuple[dict[str, str], list[tuple[str, str]]]]:
    """apk's installed database: one-letter keys; F (folder) and R (file) lines repeat, in order."""
    found = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        lines: list[tuple[str, str]] = []
        for line in block.splitlines():
            key, _, value = line.partition(":")
            if len(key) == 1:
                fields.setdefault(key, value)
                lines.append((key, value))
        if lines:
            found.append((fields, lines))
    return found
