"""The compile commands a make dry run (`make -n`) prints: compiler invocations, found behind libtool, echo
and shell separators, each in the folder make was in when it printed it."""

from __future__ import annotations

import os
import re
import shlex
from functools import partial
from pathlib import Path

from armscan.compile.commands import CompileCommand, run_step, step_failed
from armscan.compile.toolchain import Toolchain

SOURCE = re.compile(r"\.(?:c|cc|cpp|cxx|c\+\+|C|m|mm)$")
_DIRECTORY = re.compile(r"^\S*make(?:\[\d+\])?: (Entering|Leaving) directory [`']?(.+?)'?$")
# automake's rule for a source of per-target flags in a VPATH build: `test -f 'a.c' || echo '../src/'`a.c
_VPATH_SOURCE = re.compile(r"`test -f '([^'`]*)' \|\| echo '([^'`]*)'`(\S*)")
_WITH_VALUE = frozenset({"-o", "-MF", "-MT", "-MQ", "-include", "-imacros", "-x"})


def dry_run(directory: Path, toolchain: Toolchain, settings: tuple[str, ...]) -> list[CompileCommand]:
    """GNU make's -n still runs recursive makes and $(shell ...) calls, as building would; -k goes past a
    target it cannot make, so that one missing rule does not hide the rest of the build."""
    done = run_step(["make", "-n", "-k", "-C", str(directory), *settings], directory, "make")
    commands = parse_dry_run(done.stdout, toolchain, str(directory))
    if done.returncode != 0 and not commands:
        raise step_failed("make -n (the dry run)", done)
    return commands


def parse_dry_run(text: str, toolchain: Toolchain, directory: str) -> list[CompileCommand]:
    compilers = {os.path.basename(toolchain.cc), os.path.basename(toolchain.cxx)}
    folders = [directory]
    commands: list[CompileCommand] = []
    for printed in text.replace("\\\n", " ").splitlines():
        moved = _DIRECTORY.match(printed)
        if moved:
            if moved.group(1) == "Entering":
                folders.append(moved.group(2))
            elif len(folders) > 1:
                folders.pop()
            continue
        here = folders[-1]
        for words in _simple_commands(_VPATH_SOURCE.sub(partial(_vpath, cwd=here), printed)):
            start = next((n for n, word in enumerate(words) if os.path.basename(word) in compilers), None)
            if start is None:
                continue
            invocation = words[start:]
            sources = _sources(invocation)
            if "-c" in invocation or len(sources) == 1:
                commands.extend(CompileCommand(here, os.path.normpath(os.path.join(here, source)),
                                               tuple(invocation)) for source in sources)
    return commands


def _vpath(match: re.Match[str], cwd: str) -> str:
    name, prefix, rest = match.groups()
    return rest if os.path.isfile(os.path.join(cwd, name)) else prefix + rest


def _simple_commands(line: str) -> list[list[str]]:
    """The line's commands, split at ; && || | and parentheses as a shell would."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    try:
        for token in lexer:
            if token and all(c in lexer.punctuation_chars for c in token):
                commands.append([])
            else:
                commands[-1].append(token)
    except ValueError:  # unbalanced quotes: not a command line
        return []
    return [c for c in commands if c]


def _sources(words: list[str]) -> list[str]:
    sources = []
    skip = False
    for word in words[1:]:
        if skip:
            skip = False
        elif word in _WITH_VALUE:
            skip = True
        elif SOURCE.search(word) and not word.startswith("-"):
            sources.append(word)
    return sources
