"""CMake: configure for aarch64 in a scratch build folder and read the compile_commands.json it exports."""

from __future__ import annotations

import re
from pathlib import Path

from armscan.compile.commands import CompileCommand, CompileSetupError, from_database, run_step, step_failed
from armscan.compile.toolchain import Toolchain

_ERROR_AT = re.compile(r"^CMake Error at (\S+:\d+)")
_OPTION = re.compile(r"^[ \t]*option[ \t]*\([ \t]*([A-Za-z_][\w-]{0,100})\b", re.MULTILINE | re.IGNORECASE)
_NOT_PRODUCT = re.compile(r"(?i)test|bench|fuzz|example|sample|demo|doc")
MAX_CMAKELISTS = 1 << 20


def cmake_commands(root: Path, toolchain: Toolchain, scratch: Path) -> list[CompileCommand]:
    build = scratch / "cmake-build"
    build.mkdir(parents=True, exist_ok=True)
    flags = " ".join(toolchain.flags)
    command = ["cmake", "-S", str(root), "-B", str(build), "-DCMAKE_SYSTEM_NAME=Linux",
               "-DCMAKE_SYSTEM_PROCESSOR=aarch64", f"-DCMAKE_C_COMPILER={toolchain.cc}",
               f"-DCMAKE_CXX_COMPILER={toolchain.cxx}", "-DCMAKE_EXPORT_COMPILE_COMMANDS=ON",
               f"-DCMAKE_C_FLAGS={flags}", f"-DCMAKE_CXX_FLAGS={flags}", "-DBUILD_TESTING=OFF",
               *(f"-D{name}=OFF" for name in not_product_options(root))]
    done = run_step(command, build, "cmake")
    if done.returncode != 0:
        raise step_failed("CMake (configuring for aarch64)", done, _first_error(done.stderr))
    database = build / "compile_commands.json"
    if not database.is_file():
        raise CompileSetupError("CMake wrote no compile_commands.json (is the generator Makefiles or Ninja?)")
    return from_database(database)


def not_product_options(root: Path) -> list[str]:
    """The top CMakeLists.txt's options that build tests, benchmarks, fuzzers, examples or docs: off, since the
    product is what is checked, and their dependencies (googletest fetched from the network) may not be had."""
    try:
        with open(root / "CMakeLists.txt", "rb") as fh:
            text = fh.read(MAX_CMAKELISTS).decode("utf-8", "replace")
    except OSError:
        return []
    names = [match.group(1) for match in _OPTION.finditer(text) if _NOT_PRODUCT.search(match.group(1))]
    return list(dict.fromkeys(names))[:64]


def _first_error(stderr: str) -> str:
    """CMake's first error in one line: where, and its message (the indented paragraphs under the "CMake Error
    at FILE:LINE (command):" line; a call stack follows them)."""
    lines = stderr.splitlines()
    start = next((n for n, line in enumerate(lines) if line.startswith("CMake Error")), None)
    if start is None:
        return ""
    head = _ERROR_AT.match(lines[start])
    if head is None:  # "CMake Error: message" on one line
        return lines[start].partition(":")[2].strip()[:300]
    message = []
    for line in lines[start + 1:]:
        if line.strip() and not line.startswith(" "):
            break
        message.append(line.strip())
    return f"{head.group(1)}: {' '.join(' '.join(message).split())}"[:300]
