"""Ask a Python interpreter where its environment is: its version and its site-packages folders.

The interpreter runs isolated (-I) and only prints facts about itself; nothing from the environment is
imported, so a broken or hostile package cannot run code here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass

_PROBE = r"""
import json, os, platform, site, sys, sysconfig
dirs = []
paths = sysconfig.get_paths()
for key in ("purelib", "platlib"):
    dirs.append(paths.get(key))
try:
    dirs.extend(site.getsitepackages())
except AttributeError:
    pass
if sys.prefix == sys.base_prefix:
    try:
        dirs.append(site.getusersitepackages())
    except AttributeError:
        pass
print(json.dumps({
    "version": list(sys.version_info[:2]),
    "implementation": sys.implementation.name,
    "machine": platform.machine(),
    "libc": list(platform.libc_ver()),
    "prefix": sys.prefix,
    "dirs": [d for d in dirs if d],
}))
"""

TIMEOUT = 60.0


class InterpreterError(Exception):
    """The interpreter could not be found or run, or answered nonsense."""


@dataclass(frozen=True)
class InterpreterInfo:
    executable: str
    version: tuple[int, int]
    implementation: str
    machine: str
    libc: tuple[str, str]
    prefix: str
    site_dirs: tuple[str, ...]  # existing folders, each once


def default_interpreter() -> str:
    """The `python3` a user would get in this shell (an activated virtualenv's, if any)."""
    virtual_env = os.environ.get("VIRTUAL_ENV")
    if virtual_env:
        candidate = os.path.join(virtual_env, "bin", "python")
        if os.path.exists(candidate):
            return candidate
    found = shutil.which("python3") or shutil.which("python")
    if found is None:
        raise InterpreterError("no python3 on PATH; name one with --python")
    return found


def probe(executable: str) -> InterpreterInfo:
    resolved = shutil.which(executable) if os.sep not in executable else executable
    if resolved is None or not os.path.exists(resolved):
        raise InterpreterError(f"{executable}: no such interpreter")
    try:
        done = subprocess.run([resolved, "-I", "-c", _PROBE], capture_output=True, text=True, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise InterpreterError(f"{executable} did not answer within {TIMEOUT:.0f} s") from e
    except OSError as e:
        raise InterpreterError(f"{executable} cannot be run: {e.strerror or e}") from e
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InterpreterError(f"{executable} is not a usable Python 3 interpreter: {last[:200]}")
    try:
        data = json.loads(done.stdout.strip().splitlines()[-1])
        version = (int(data["version"][0]), int(data["version"][1]))
        dirs = [str(d) for d in data["dirs"]]
        libc = (str(data["libc"][0]), str(data["libc"][1]))
    except (ValueError, KeyError, IndexError, TypeError) as e:
        raise InterpreterError(f"{executable} gave an answer armscan cannot read") from e
    seen: set[str] = set()
    existing = []
    for folder in dirs:
        real = os.path.realpath(folder)
        if real not in seen and os.path.isdir(real):
            seen.add(real)
            existing.append(real)
    return InterpreterInfo(resolved, version, str(data.get("implementation", "")), str(data.get("machine", "")),
                           libc, str(data.get("prefix", "")), tuple(existing))
