"""`--compile`: the aarch64 compiler's verdict on every translation unit, after the static analysis.

Compiler errors become findings at the compiler's file and line; C-family sources the aarch64 build does not
compile are listed as not built; static findings in files that compile cleanly for aarch64 (or that it does
not build) are x86 paths that build does not take, and are lowered to that."""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from armscan.analyzers.source import Hit, to_finding
from armscan.compile.check import CompilerError, UnitResult, check_units
from armscan.compile.commands import CompileCommand, CompileSetupError, from_database
from armscan.compile.configure import generate
from armscan.compile.toolchain import INSTALL_HINT, Toolchain, find_toolchain
from armscan.compile.treecopy import TreeCopy
from armscan.model import CompileSummary, Finding, Location, PortStatus, Severity, Skipped, SkipReason
from armscan.rules_engine.loader import Rule, RuleSet
from armscan.sources.confined import inside
from armscan.sources.tree import FileEntry

logger = logging.getLogger(__name__)

_UNITS = (".c", ".cc", ".cpp", ".cxx", ".c++", ".C", ".m", ".mm")
_HEADERS = (".h", ".hh", ".hpp", ".hxx", ".h++", ".H", ".inl", ".inc", ".ipp", ".tcc")


@dataclass(frozen=True)
class CompileOptions:
    commands_file: Path | None = None  # a compile_commands.json; None: configure each input for aarch64
    jobs: int = 1


@dataclass
class CompileOutcome:
    findings: list[Finding]
    skipped: list[Skipped] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    summary: CompileSummary = field(default_factory=CompileSummary)


@dataclass
class _Plan:
    """The units to compile, and what is known before compiling them."""

    units: list[tuple[CompileCommand, TreeCopy | None]] = field(default_factory=list)
    configured: list[str] = field(default_factory=list)  # real roots of the inputs whose commands were had
    builds: list[str] = field(default_factory=list)


def run(inputs: Sequence[tuple[str, str]], entries: list[FileEntry], findings: list[Finding], ruleset: RuleSet,
        options: CompileOptions) -> CompileOutcome:
    outcome = CompileOutcome(list(findings))
    sources = {os.path.realpath(e.path): e for e in entries if e.display.endswith(_UNITS)}
    toolchain = find_toolchain()
    if toolchain is None:
        outcome.errors.append(f"--compile: no aarch64 C/C++ compiler found; {INSTALL_HINT}. The static analysis "
                              "ran; no file was compile-checked")
        outcome.summary = CompileSummary(not_checked=len(sources))
        return outcome
    displays = {os.path.realpath(e.path): e.display for e in entries}
    with tempfile.TemporaryDirectory(prefix="armscan-configure-") as scratch:  # builds run in it: kept to the end
        plan = _plan(inputs, toolchain, options, Path(scratch), outcome)
        if not plan.units and not outcome.errors:
            outcome.errors.append("--compile: the build compiles no file of the scanned tree for aarch64")
        results = check_units([command for command, _ in plan.units], toolchain, options.jobs)
        # while the copies exist: their paths are resolved to find the user's files
        results = [_in_users_tree(r, copy) if copy else r for r, (_, copy) in zip(results, plan.units, strict=True)]
    configured = {real for real, entry in sources.items() if any(inside(entry.root, r) for r in plan.configured)}
    not_built = _judge(results, displays, configured, ruleset, outcome)
    if results and all(not r.errors and r.failure is None for r in results):
        # every unit compiled cleanly, so the headers they read are all the build reads: one none of them
        # included (vector128.h beside vector_neon.h) is an x86 path too, though no finding lists it as not built
        headers = {real for real, entry in displays.items() if entry.endswith(_HEADERS)
                   and any(inside(real, r) for r in plan.configured)}
        unread = {displays[h] for h in headers - {header for r in results for header in r.headers}}
        static = {r.id for r in ruleset.source_rules()}
        outcome.findings = [_lowered(f, True) if f.rule_id in static and f.location.path in unread
                            and f.status is PortStatus.UNPORTED else f for f in outcome.findings]
    outcome.summary = CompileSummary(
        units=len(results), failed=sum(1 for r in results if r.errors or r.failure is not None),
        not_checked=len(sources) - len(configured) + len(not_built), not_built=len(not_built),
        builds=tuple(plan.builds))
    return outcome


def _plan(inputs: Sequence[tuple[str, str]], toolchain: Toolchain, options: CompileOptions, scratch: Path,
          outcome: CompileOutcome) -> _Plan:
    """The compile commands of the scanned trees' own files, configured for aarch64 under `scratch`."""
    plan = _Plan()
    for number, (path, display) in enumerate(inputs):
        root = Path(path)
        if not root.is_dir():
            continue
        copy = None
        try:
            if options.commands_file:
                commands, how = from_database(options.commands_file), "the given compile_commands.json"
            else:
                generated = generate(root, toolchain, scratch / str(number))
                commands, how, copy = generated.commands, generated.how, generated.copy
        except CompileSetupError as e:
            outcome.errors.append(f"--compile: {display}: {e}; its files were not compile-checked")
            continue
        except Exception as e:  # a bug in configuring must not sink the static results
            logger.debug("configuring %s failed", display, exc_info=True)
            outcome.errors.append(f"--compile: {display}: configuring it for aarch64 failed ({type(e).__name__}: "
                                  f"{e}); its files were not compile-checked")
            continue
        real_root = os.path.realpath(root)
        plan.configured.append(real_root)
        plan.builds.append(f"{display}: {how}")
        plan.units.extend((c, copy) for c in commands if inside(os.path.realpath(c.file), real_root))
    return plan


def _in_users_tree(unit: UnitResult, copy: TreeCopy) -> UnitResult:
    """A unit compiled in a copy of the tree, its errors and headers at the user's files."""
    errors = [replace(e, file=copy.original(e.file)) for e in unit.errors]
    return UnitResult(unit.command, errors, {os.path.realpath(copy.original(h)) for h in unit.headers},
                      unit.failure)


def _judge(results: list[UnitResult], displays: dict[str, str], configured_sources: set[str], ruleset: RuleSet,
           outcome: CompileOutcome) -> set[str]:
    """Findings for the compiler's verdicts; of `configured_sources` (the sources of the trees configured),
    those no unit compiled nor included (some sources include others) are returned."""
    error_rule = ruleset.variant("compile", "error")
    not_built_rule = ruleset.variant("compile", "not-built")
    failed: set[str] = set()
    clean: set[str] = set()
    built = {os.path.realpath(r.command.file) for r in results}
    included = {header for r in results for header in r.headers}
    seen: set[tuple[str, int, str]] = set()
    for unit in results:
        unit_file = os.path.realpath(unit.command.file)
        if unit.failure is not None:
            display = displays.get(unit_file, unit.command.file)
            outcome.skipped.append(Skipped(display, SkipReason.ANALYSIS_FAILED, f"--compile: {unit.failure}"))
            failed.add(unit_file)
            continue
        for error in unit.errors:
            real, line = os.path.realpath(error.file), error.line
            if real not in displays:  # an error in a file outside the tree (a system header): the unit's own
                real, line = unit_file, 0
            failed.add(real)
            key = (real, line, error.message)
            if error_rule is None or key in seen:
                continue
            seen.add(key)
            outcome.findings.append(_error_finding(error_rule, error, line, displays.get(real, unit.command.file)))
        if not unit.errors:
            clean.add(unit_file)
            clean.update(unit.headers)
    clean -= failed
    not_built = configured_sources - built - included
    if not_built_rule is not None:
        for real in sorted(not_built):
            hit = Hit(line=0, column=1, end_column=None, snippet="", match=os.path.basename(real))
            finding = to_finding(not_built_rule, hit, displays[real])
            outcome.findings.append(replace(finding, location=Location(path=displays[real])))  # the whole file
    not_built_displays = {displays[r] for r in not_built}
    lowered = {displays[r] for r in clean if r in displays} | not_built_displays
    static = {r.id for r in ruleset.source_rules()}
    outcome.findings = [_lowered(f, f.location.path in not_built_displays)
                        if f.rule_id in static and f.location.path in lowered and f.status is PortStatus.UNPORTED
                        else f for f in outcome.findings]
    return not_built


def _error_finding(rule: Rule, error: CompilerError, line: int, display: str) -> Finding:
    hit = Hit(line=line, column=error.column or 1, end_column=None, snippet="", match=error.message,
              detail=error.message)
    finding = to_finding(rule, hit, display)
    return finding if line else replace(finding, location=Location(path=display))


def _lowered(finding: Finding, not_built: bool) -> Finding:
    why = ("the aarch64 build does not compile this file" if not_built
           else "this file compiles cleanly for aarch64")
    return replace(finding, status=PortStatus.FALLBACK, severity=min(finding.severity, Severity.LOW,
                                                                      key=lambda s: s.rank),
                   message=f"{finding.message} ({why}: an x86 path the aarch64 build does not take)")
