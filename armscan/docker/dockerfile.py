"""Parse a Dockerfile as BuildKit reads it: parser directives, line continuations, comments inside
continuations, heredocs, stages, and variable substitution from ARG and ENV.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"^#\s*(syntax|escape|check)\s*=\s*(\S+)\s*$", re.IGNORECASE)
_HEREDOC = re.compile(r"<<-?\s*[\"']?([A-Za-z_][\w-]*)[\"']?")
_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_]\w*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_]\w*))")

# Build arguments BuildKit defines for each platform; their values differ per target, so they are never x86.
PLATFORM_ARGS = frozenset({"TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT", "BUILDPLATFORM",
                           "BUILDOS", "BUILDARCH", "BUILDVARIANT"})


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case
    text: str  # the arguments, continuations joined with a space, comments inside them dropped
    line: int  # where the instruction starts (1-based)
    flags: dict[str, str] = field(default_factory=dict, hash=False)  # --platform=..., --from=...
    heredocs: tuple[str, ...] = ()


@dataclass
class Stage:
    base: str  # as written
    name: str | None
    line: int
    platform: str | None
    instructions: list[Instruction] = field(default_factory=list)


@dataclass
class Dockerfile:
    global_args: dict[str, str | None] = field(default_factory=dict)
    stages: list[Stage] = field(default_factory=list)
    instructions: list[Instruction] = field(default_factory=list)


def _flags(text: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    rest = text
    while rest.startswith("--"):
        word, _, remainder = rest.partition(" ")
        name, _, value = word[2:].partition("=")
        flags[name.lower()] = value
        rest = remainder.lstrip()
    return flags, rest


def parse(text: str) -> Dockerfile:
    lines = text.splitlines()  # every line: parsing is one pass, and a line left out could hide an instruction
    escape = "\\"
    for line in lines:
        match = _DIRECTIVE.match(line.strip())
        if not match:
            break
        if match.group(1).lower() == "escape" and match.group(2) in ("`", "\\"):
            escape = match.group(2)
    result = Dockerfile()
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        start = i + 1
        parts: list[str] = []
        while True:
            raw = lines[i].rstrip()
            continued = raw.endswith(escape)
            parts.append(raw[:-1] if continued else raw)
            i += 1
            # blank and comment lines inside a continuation are skipped, as BuildKit does
            while continued and i < len(lines) and (not lines[i].strip() or lines[i].lstrip().startswith("#")):
                i += 1
            if not continued or i >= len(lines):
                break
        joined = " ".join(p.strip() for p in parts)
        keyword, _, arguments = joined.partition(" ")
        heredocs = []
        for name in _HEREDOC.findall(arguments) if keyword.upper() in ("RUN", "COPY", "ADD") else []:
            body = []
            while i < len(lines) and lines[i].strip() != name:
                body.append(lines[i])
                i += 1
            i += 1
            heredocs.append("\n".join(body))
        flags, rest = _flags(arguments.strip())
        instruction = Instruction(keyword.upper(), rest, start, flags, tuple(heredocs))
        result.instructions.append(instruction)
        _place(result, instruction)
    return result


def _place(result: Dockerfile, instruction: Instruction) -> None:
    if instruction.keyword == "FROM":
        words = instruction.text.split()
        name = words[2] if len(words) >= 3 and words[1].lower() == "as" else None
        result.stages.append(Stage(words[0] if words else "", name, instruction.line,
                                   instruction.flags.get("platform")))
    elif instruction.keyword == "ARG" and not result.stages:
        result.global_args.update(arg_definitions(instruction.text))
    elif result.stages:
        result.stages[-1].instructions.append(instruction)


def arg_definitions(text: str) -> dict[str, str | None]:
    """`ARG A=1 B` -> {"A": "1", "B": None}; quotes as the shell would read them."""
    found: dict[str, str | None] = {}
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    for word in words:
        name, sep, value = word.partition("=")
        if re.fullmatch(r"[A-Za-z_]\w*", name):
            found[name] = value if sep else None
    return found


def env_definitions(text: str) -> dict[str, str]:
    """`ENV A=1 B=2`, or the legacy `ENV A 1`."""
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    if words and "=" not in words[0]:
        return {words[0]: " ".join(words[1:])} if re.fullmatch(r"[A-Za-z_]\w*", words[0]) else {}
    return {name: value for name, _, value in (w.partition("=") for w in words) if re.fullmatch(r"[A-Za-z_]\w*", name)}


def substitute(text: str, values: dict[str, str | None]) -> str:
    """Replace $VAR, ${VAR}, ${VAR:-default} and ${VAR:+alt} with known values; unknown variables stay."""
    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        operator, word = match.group(2), match.group(3) or ""
        value = values.get(name)
        if operator in (":-", "-"):
            return value if value else word
        if operator in (":+", "+"):
            return word if value else ""
        return value if value is not None else match.group(0)

    return _VARIABLE.sub(replace, text)
