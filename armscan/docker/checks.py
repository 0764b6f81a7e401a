"""Checks that need a parsed Dockerfile: architecture fixed through variables, architecture detection that
knows only x86, x86-only packages, and the base image of each stage (checked on its registry by the caller).
"""

from __future__ import annotations

import fnmatch
import re
import shlex
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from armscan.analyzers.source import Hit, to_finding
from armscan.docker.dockerfile import (
    PLATFORM_ARGS,
    Dockerfile,
    Instruction,
    arg_definitions,
    env_definitions,
    parse,
    substitute,
)
from armscan.model import Finding
from armscan.resources import load_yaml, rules_dir
from armscan.rules_engine.loader import RuleSet

_X86_VALUE = re.compile(r"(?<![a-z0-9])(?:amd64|x86_64|x86-64|x64|i386|i686|386)(?![a-z0-9])", re.IGNORECASE)
_ARM_WORD = re.compile(r"(?<![a-z0-9])(?:aarch64|arm64|armv8\w*|arm)(?![a-z0-9])", re.IGNORECASE)
_DETECT = re.compile(r"uname\s+(?:-[a-z]*m|--machine)|dpkg\s+--print-architecture|\$\(\s*arch\s*\)|`arch`"
                     r"|rpm\s+--eval\s+['\"]?%\{?_arch")
_VAR_USE = re.compile(r"\$\{?([A-Za-z_]\w*)")
_INSTALL = re.compile(r"(?:apt-get|apt|aptitude)\s+(?:-\S+\s+)*install\b(?P<apt>[^;&|]*)"
                      r"|(?:yum|dnf|microdnf|tdnf)\s+(?:-\S+\s+)*install\b(?P<rpm>[^;&|]*)"
                      r"|apk\s+(?:-\S+\s+)*add\b(?P<apk>[^;&|]*)"
                      r"|zypper\s+(?:-\S+\s+)*(?:install|in)\b(?P<zypper>[^;&|]*)")
_SCRATCH = "scratch"


@dataclass(frozen=True)
class BaseImage:
    reference: str  # after ARG substitution
    line: int
    written: str


@lru_cache(maxsize=1)
def _x86_packages() -> tuple[dict[str, Any], ...]:
    data = load_yaml((rules_dir() / "knowledge" / "x86-only-packages.yaml").read_text(encoding="utf-8"))
    return tuple(data["packages"])


def _finding(ruleset: RuleSet, variant: str, display: str, instruction: Instruction, detail: str,
             match: str) -> list[Finding]:
    rule = ruleset.variant("dockerfile", variant)
    if rule is None:
        return []
    hit = Hit(line=instruction.line, column=1, end_column=None,
              snippet=f"{instruction.keyword} {instruction.text}"[:300], match=match, detail=detail)
    found = to_finding(rule, hit, display)
    return [replace(found, message=" ".join(found.message.split()))]


def analyze(text: str, display: str, ruleset: RuleSet) -> tuple[list[Finding], list[BaseImage]]:
    dockerfile = parse(text)
    findings: list[Finding] = []
    return findings, _stages(dockerfile, display, ruleset, findings)


def _stages(dockerfile: Dockerfile, display: str, ruleset: RuleSet, findings: list[Finding]) -> list[BaseImage]:
    bases: list[BaseImage] = []
    names: set[str] = set()
    global_values = {k: v for k, v in dockerfile.global_args.items() if k not in PLATFORM_ARGS}
    for stage in dockerfile.stages:
        base = substitute(stage.base, global_values)
        if base.lower() != _SCRATCH and base.lower() not in names and "$" not in base and base:
            bases.append(BaseImage(base, stage.line, stage.base))
        if stage.name:
            names.add(stage.name.lower())
        values: dict[str, tuple[str | None, int]] = {}
        known: dict[str, str | None] = {}  # the values alone, kept beside them rather than copied at each ENV
        for instruction in stage.instructions:
            if instruction.keyword == "ARG":
                for name, value in arg_definitions(instruction.text).items():
                    inherited = value if value is not None else global_values.get(name)
                    values[name] = (None if name in PLATFORM_ARGS else inherited, instruction.line)
                    known[name] = values[name][0]
            elif instruction.keyword == "ENV":
                defined = env_definitions(instruction.text)
                substituted = {name: substitute(value, known) for name, value in defined.items()}
                for name, value in substituted.items():
                    values[name] = (value, instruction.line)
                    known[name] = value
            elif instruction.keyword in ("RUN", "ADD"):
                findings.extend(_run_checks(instruction, values, display, ruleset))
    return bases


def _run_checks(instruction: Instruction, values: dict[str, tuple[str | None, int]], display: str,
                ruleset: RuleSet) -> list[Finding]:
    body = " ".join((instruction.text, *instruction.heredocs))
    found: list[Finding] = []
    for name in dict.fromkeys(_VAR_USE.findall(body)):
        value, defined = values.get(name, (None, 0))
        if value and _X86_VALUE.search(value) and not _ARM_WORD.search(value) and name not in PLATFORM_ARGS:
            detail = (f"${name} is {value!r} (set on line {defined}) and used here, so an arm64 build gets the "
                      f"x86 variant of what this {instruction.keyword} fetches or installs.")
            found += _finding(ruleset, "arg-arch", display, instruction, detail, name)
    detect = _DETECT.search(body)
    if detect and _X86_VALUE.search(body) and not _ARM_WORD.search(body):
        detail = ("asks for the machine architecture but only handles x86 answers "
                  f"({', '.join(sorted({m.lower() for m in _X86_VALUE.findall(body)}))}); on arm64 it takes the "
                  "other branch or fails.")
        found += _finding(ruleset, "arch-detect", display, instruction, detail, detect.group(0))
    for package, entry in _installed_x86_packages(body):
        detail = f"installs {package}: {entry['why']}. Instead: {entry['instead']}."
        found += _finding(ruleset, "x86-package", display, instruction, detail, package)
    return found


def _installed_x86_packages(body: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for match in _INSTALL.finditer(body):
        words_text = next(g for g in match.groups() if g is not None)
        try:
            words = shlex.split(words_text)
        except ValueError:
            words = words_text.split()
        for word in words:
            if word.startswith("-") or "$" in word:
                continue
            name = re.split(r"[=<>]", word, maxsplit=1)[0]
            for entry in _x86_packages():
                if any(fnmatch.fnmatchcase(name, pattern) for pattern in entry["names"]):
                    found.append((name, entry))
                    break
    return found
