"""The aarch64 compile commands of a project: a compile_commands.json the user gives, or one armscan makes by
configuring the project for aarch64 in a scratch folder (CMake, or a Makefile's dry run). The user's tree is
never written to."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from armscan.compile.toolchain import Toolchain

CONFIGURE_SECONDS = 300
MAX_DATABASE = 64 * 1024 * 1024
_SOURCE = re.compile(r"\.(?:c|cc|cpp|cxx|c\+\+|C|m|mm)$")


class CompileSetupError(Exception):
    """The compile commands could not be had; the message says why and what to do."""


@dataclass(frozen=True)
class CompileCommand:
    directory: str
    file: str  # absolute
    arguments: tuple[str, ...]


def from_database(path: Path) -> list[CompileCommand]:
    """Read a compile_commands.json (Clang's format: `arguments`, or `command` split as a shell would)."""
    try:
        with open(path, "rb") as fh:
            data = json.loads(fh.read(MAX_DATABASE + 1))
    except OSError as e:
        raise CompileSetupError(f"{path}: {e.strerror or e}") from e
    except (ValueError, RecursionError) as e:
        raise CompileSetupError(f"{path}: not a compile_commands.json ({type(e).__name__})") from e
    if not isinstance(data, list):
        raise CompileSetupError(f"{path}: not a compile_commands.json (not a list)")
    commands = []
    for entry in data:
        if not isinstance(entry, dict) or not isinstance(entry.get("file"), str):
            continue
        directory = str(entry.get("directory") or path.parent)
        if isinstance(entry.get("arguments"), list):
            arguments = tuple(str(a) for a in entry["arguments"])
        elif isinstance(entry.get("command"), str):
            try:
                arguments = tuple(shlex.split(entry["command"]))
            except ValueError:
                continue
        else:
            continue
        commands.append(CompileCommand(directory, os.path.normpath(os.path.join(directory, entry["file"])),
                                       arguments))
    return commands


def generate(root: Path, toolchain: Toolchain, scratch: Path) -> tuple[list[CompileCommand], str]:
    """Configure the project at root for aarch64 in `scratch`; the commands and how they were made."""
    if (root / "CMakeLists.txt").is_file():
        return _cmake(root, toolchain, scratch), "CMake, configured for aarch64"
    if any((root / name).is_file() for name in ("Makefile", "makefile", "GNUmakefile")):
        return _make(root, toolchain), "the Makefile's dry run (make -n) with the aarch64 compilers"
    for name, system in (("meson.build", "Meson"), ("configure", "autotools"), ("configure.ac", "autotools")):
        if (root / name).exists():
            raise CompileSetupError(f"{system} projects are not configured by armscan yet: give their "
                                    "compile_commands.json with --compile-commands")
    raise CompileSetupError("no CMakeLists.txt or Makefile at the top of the tree: give a compile_commands.json "
                            "with --compile-commands")


def _cmake(root: Path, toolchain: Toolchain, scratch: Path) -> list[CompileCommand]:
    build = scratch / "cmake-build"
    build.mkdir(parents=True, exist_ok=True)
    flags = " ".join(toolchain.flags)
    command = ["cmake", "-S", str(root), "-B", str(build), "-DCMAKE_SYSTEM_NAME=Linux",
               "-DCMAKE_SYSTEM_PROCESSOR=aarch64", f"-DCMAKE_C_COMPILER={toolchain.cc}",
               f"-DCMAKE_CXX_COMPILER={toolchain.cxx}", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
               f"-DCMAKE_C_FLAGS={flags}", f"-DCMAKE_CXX_FLAGS={flags}"]
    done = _run(command, build, "cmake")
    if done.returncode != 0:
        last = _last_line(done.stderr or done.stdout)
        raise CompileSetupError(f"CMake could not configure the project for aarch64: {last}")
    database = build / "compile_commands.json"
    if not database.is_file():
        raise CompileSetupError("CMake wrote no compile_commands.json (is the generator Makefiles or Ninja?)")
    return from_database(database)


def _make(root: Path, toolchain: Toolchain) -> list[CompileCommand]:
    """The compiler invocations `make -n` prints, with CC and CXX set to the aarch64 compilers. GNU make's -n
    still runs recursive makes and $(shell ...) calls, as building would: only for projects the user chose."""
    done = _run(["make", "-n", "-C", str(root), f"CC={toolchain.cc}", f"CXX={toolchain.cxx}"], root, "make")
    if done.returncode != 0 and not done.stdout.strip():
        raise CompileSetupError(f"make -n failed: {_last_line(done.stderr)}")
    commands = []
    directory = str(root)
    for line in done.stdout.splitlines():
        entering = re.match(r"make(?:\[\d+\])?: Entering directory '(.+)'", line)
        if entering:
            directory = entering.group(1)
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if not words or os.path.basename(words[0]) not in (os.path.basename(toolchain.cc),
                                                            os.path.basename(toolchain.cxx)):
            continue
        sources = [w for w in words[1:] if _SOURCE.search(w) and not w.startswith("-")]
        if "-c" in words or len(sources) == 1:
            for source in sources:
                commands.append(CompileCommand(directory, os.path.normpath(os.path.join(directory, source)),
                                               tuple(words)))
    return commands


def _run(command: list[str], cwd: Path, tool: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=CONFIGURE_SECONDS,
                              stdin=subprocess.DEVNULL, errors="replace")
    except FileNotFoundError as e:
        raise CompileSetupError(f"{tool} is not installed") from e
    except subprocess.TimeoutExpired as e:
        raise CompileSetupError(f"{tool} did not finish in {CONFIGURE_SECONDS} s") from e


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else "no output"
