"""Compile each translation unit for aarch64 with -fsyntax-only, in parallel, and read the compiler's errors."""

from __future__ import annotations

import concurrent.futures as cf
import os
import re
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from armscan.compile.commands import CompileCommand
from armscan.compile.toolchain import Toolchain

FILE_SECONDS = 120
MAX_ERRORS_PER_UNIT = 20
_DIAGNOSTIC = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+):(?:(?P<column>\d+):)? (?:fatal )?error: (?P<message>.+)$",
                         re.MULTILINE)
_DROP_WITH_VALUE = frozenset({"-o", "-MF", "-MT", "-MQ"})
# -march=native and the like name the machine that builds: an aarch64 one when building natively, but a cross
# compiler has none to ask and rejects them; checked as generic aarch64
_DROP = frozenset({"-c", "-MD", "-MMD", "-MP", "-M", "-MM", "-march=native", "-mcpu=native", "-mtune=native"})
_CXX = re.compile(r"\.(?:cc|cpp|cxx|c\+\+|C|mm)$")


@dataclass(frozen=True)
class CompilerError:
    file: str  # absolute, as the compiler named it
    line: int
    column: int | None
    message: str


@dataclass
class UnitResult:
    command: CompileCommand
    errors: list[CompilerError] = field(default_factory=list)
    headers: set[str] = field(default_factory=set)  # real paths of the files it included
    failure: str | None = None  # the compiler could not be run, or timed out


def check_units(commands: list[CompileCommand], toolchain: Toolchain, jobs: int) -> list[UnitResult]:
    with tempfile.TemporaryDirectory(prefix="armscan-compile-") as scratch, \
            cf.ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = [pool.submit(_check, command, toolchain, Path(scratch) / f"{n}.d")
                   for n, command in enumerate(commands)]
        return [f.result() for f in futures]


def syntax_only(command: CompileCommand, toolchain: Toolchain, depfile: Path) -> list[str]:
    """The command as an aarch64 syntax check: the aarch64 compiler, no output, dependencies to depfile."""
    words = list(command.arguments)
    compiler = toolchain.cxx if ("++" in os.path.basename(words[0]) or _CXX.search(command.file)) else toolchain.cc
    kept: list[str] = []
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
        elif word in _DROP_WITH_VALUE:
            skip = True
        elif word in _DROP or (word.startswith("-o") and len(word) > 2) or word.startswith(("-MF", "-MT", "-MQ")):
            continue
        else:
            kept.append(word)
    # never colours: some builds ask for them (Meson: -fdiagnostics-color=always), and the errors are read
    return [compiler, *toolchain.flags, *kept, "-fsyntax-only", "-fdiagnostics-color=never", "-MD", "-MF",
            str(depfile)]


def _check(command: CompileCommand, toolchain: Toolchain, depfile: Path) -> UnitResult:
    result = UnitResult(command)
    try:
        done = subprocess.run(syntax_only(command, toolchain, depfile), cwd=command.directory, capture_output=True,
                              text=True, errors="replace", timeout=FILE_SECONDS, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        result.failure = f"the aarch64 compiler did not finish in {FILE_SECONDS} s"
        return result
    except OSError as e:
        result.failure = f"the aarch64 compiler could not be run: {e.strerror or e}"
        return result
    for match in _DIAGNOSTIC.finditer(done.stderr):
        if len(result.errors) >= MAX_ERRORS_PER_UNIT:
            break
        path = os.path.normpath(os.path.join(command.directory, match.group("file")))
        column = match.group("column")
        result.errors.append(CompilerError(path, int(match.group("line")), int(column) if column else None,
                                           match.group("message").strip()))
    if done.returncode != 0 and not result.errors:
        lines = [line for line in done.stderr.splitlines() if "error" in line] or done.stderr.splitlines() or [
            f"exit code {done.returncode}"]
        result.errors.append(CompilerError(command.file, 0, None, lines[-1].strip()[:300]))
    result.headers = _dependencies(depfile, command.directory)
    return result


def _dependencies(depfile: Path, directory: str) -> set[str]:
    try:
        text = depfile.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return set()
    words = text.replace("\\\n", " ").split(":", 1)[-1].split()
    return {os.path.realpath(os.path.join(directory, w)) for w in words if w != "\\"}
