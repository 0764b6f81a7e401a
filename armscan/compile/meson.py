"""Meson: set the project up for aarch64 with a cross file in a scratch build folder and read the
compile_commands.json that `meson setup` writes there."""

from __future__ import annotations

import shutil
from pathlib import Path

from armscan.compile.commands import CompileCommand, CompileSetupError, from_database, run_step, step_failed
from armscan.compile.toolchain import Toolchain

INSTALL = {"meson": "meson", "ninja": "ninja-build"}  # command: its Debian/Ubuntu package


def has_wraps(root: Path) -> bool:
    """Wraps are unpacked into the source tree's subprojects folder: such a project is set up from a copy."""
    folder = root / "subprojects"
    return folder.is_dir() and any(folder.glob("*.wrap"))


def meson_commands(source: Path, toolchain: Toolchain, scratch: Path) -> list[CompileCommand]:
    missing = [command for command in INSTALL if shutil.which(command) is None]
    if missing:
        raise CompileSetupError(f"Meson projects need meson and ninja: {' and '.join(missing)} not found (Debian/"
                                f"Ubuntu: apt-get install {' '.join(INSTALL[c] for c in missing)})")
    cross = scratch / "aarch64-cross.ini"
    cross.write_text(cross_file(toolchain), encoding="utf-8")
    build = scratch / "meson-build"
    # nodownload: a scan does not fetch subprojects; a wrap that is not in the tree fails the setup
    done = run_step(["meson", "setup", "--cross-file", str(cross), "--wrap-mode=nodownload", str(build),
                     str(source)], source, "meson")  # its messages name files relative to where it runs
    if done.returncode != 0:
        raise step_failed("meson setup (with an aarch64 cross file)", done, _error_line(done.stdout + done.stderr))
    database = build / "compile_commands.json"
    if not database.is_file():
        raise CompileSetupError("meson setup wrote no compile_commands.json")
    return from_database(database)


def _error_line(output: str) -> str:
    """Meson's error, not its last line (where its log is, in a folder that is about to be removed)."""
    errors = [line.strip() for line in output.splitlines() if "ERROR:" in line]
    return errors[-1][:300] if errors else ""


def cross_file(toolchain: Toolchain) -> str:
    binaries = [f"c = {_array([toolchain.cc, *toolchain.flags])}",
                f"cpp = {_array([toolchain.cxx, *toolchain.flags])}"]
    for tool in ("ar", "strip"):
        found = shutil.which(f"aarch64-linux-gnu-{tool}")
        if found:
            binaries.append(f"{tool} = {_string(found)}")
    # without one, a cross build finds no dependency through pkg-config; the build machine's tells the headers
    pkg_config = shutil.which("aarch64-linux-gnu-pkg-config") or shutil.which("pkg-config")
    if pkg_config:
        binaries.append(f"pkgconfig = {_string(pkg_config)}")  # every meson reads it (1.3 prefers pkg-config)
    return "\n".join(["[binaries]", *binaries, "", "[host_machine]", "system = 'linux'", "cpu_family = 'aarch64'",
                      "cpu = 'aarch64'", "endian = 'little'", ""])


def _array(words: list[str]) -> str:
    return "[" + ", ".join(_string(w) for w in words) + "]"


def _string(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
