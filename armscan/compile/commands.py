"""Compile commands: the model, reading a compile_commands.json, and running the steps that produce one."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from armscan.compile.treecopy import TreeCopy

STEP_SECONDS = 300  # each configure, setup, autoreconf or dry-run step
MAX_DATABASE = 64 * 1024 * 1024


class CompileSetupError(Exception):
    """The compile commands could not be had; the message says why and what to do."""


@dataclass(frozen=True)
class CompileCommand:
    directory: str
    file: str  # absolute
    arguments: tuple[str, ...]


@dataclass(frozen=True)
class Generated:
    """The compile commands armscan had by configuring a project for aarch64, and how."""

    commands: list[CompileCommand]  # their files in the user's tree
    how: str
    copy: TreeCopy | None = None  # the copy of the tree they compile, when the tree itself could not be configured


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


def run_step(command: list[str], cwd: Path, tool: str, env: Mapping[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    """Run one step of getting the compile commands, in the C locale (its messages are read), bounded in time."""
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=STEP_SECONDS,
                              stdin=subprocess.DEVNULL, errors="replace",
                              env={**os.environ, **(env or {}), "LC_ALL": "C"})
    except FileNotFoundError as e:
        raise CompileSetupError(f"{tool} is not installed") from e
    except subprocess.TimeoutExpired as e:
        raise CompileSetupError(f"{tool} did not finish in {STEP_SECONDS} s") from e


def step_failed(what: str, done: subprocess.CompletedProcess[str], why: str = "") -> CompileSetupError:
    """One line: what failed, why (by default the last line it printed), and what to do."""
    why = why or last_line(done.stderr) or last_line(done.stdout) or "no output"
    return CompileSetupError(f"{what} failed: {why} "
                             "(install the aarch64 libraries and tools it needs, or give its compile_commands.json "
                             "with --compile-commands)")


def last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""
