"""Scan code trees: walk them, analyze files in parallel, and merge everything into one result."""

from __future__ import annotations

import concurrent.futures as cf
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from armscan import __version__
from armscan.analyzers import configured, includegraph
from armscan.analyzers.buildfiles import apply_x86_only_sources
from armscan.analyzers.counterparts import forget_listings
from armscan.analyzers.files import Collector, analyze_file
from armscan.analyzers.java import classifier_jar_findings
from armscan.compile.phase import CompileOptions
from armscan.docker import phase as docker_phase
from armscan.gate import apply_inline
from armscan.limits import Limits
from armscan.model import Artifact, Finding, PackageRecord, ScanResult, Skipped, SkipReason, Stats
from armscan.python import phase as python_phase
from armscan.python.analyze import PythonOptions
from armscan.rules_engine.loader import RuleSet
from armscan.scopes import apply_scopes, apply_skipped_scopes
from armscan.sources.tree import FileEntry, walk
from armscan.targets import Targets
from armscan.targets import check as check_targets

logger = logging.getLogger(__name__)

_BATCH_FILES = 128
_BATCH_BYTES = 32 * 1024 * 1024
_IN_PROCESS_BELOW = 300


class Progress(Protocol):
    """What the scan tells whoever shows progress; the CLI implements it, library code never prints."""

    def walking(self, files_found: int) -> None: ...

    def started(self, total_files: int) -> None: ...

    def advanced(self, files: int) -> None: ...


class _Silent:
    def walking(self, files_found: int) -> None:
        pass

    def started(self, total_files: int) -> None:
        pass

    def advanced(self, files: int) -> None:
        pass


@dataclass(frozen=True)
class ScanOptions:
    jobs: int | None = None
    excludes: tuple[str, ...] = ()
    use_ignore_files: bool = True
    limits: Limits = field(default_factory=Limits)
    python: PythonOptions | None = None  # None: requirement files are not checked against an index
    registry: object | None = None  # RegistrySettings for Dockerfile base images; None: not checked (offline)
    targets: Targets | None = None  # CPUs and system aarch64 binaries are checked against; None: not checked
    compile: CompileOptions | None = None  # ask the aarch64 compiler about every translation unit; None: do not
    scopes: bool = True  # tell tests, benchmarks, CI... from the product; not in installed environments


@dataclass(frozen=True)
class _FileResult:
    artifacts: tuple[Artifact, ...]
    findings: tuple[Finding, ...]
    skipped: tuple[Skipped, ...]
    source_scanned: bool
    bytes_read: int
    display: str = ""
    includes: tuple[tuple[str, int], ...] = ()  # a C-family file's `#include "name"` and their lines


_WORKER_RULES: RuleSet | None = None
_WORKER_LIMITS: Limits | None = None


# Only the parent reacts to these: it stops the workers itself (a Ctrl-C reaches the whole process group)
STOP_SIGNALS = frozenset({signal.SIGINT, signal.SIGTERM, signal.SIGHUP})


def _init_worker(ruleset: RuleSet, limits: Limits, configured_off: dict[str, frozenset[str]]) -> None:
    global _WORKER_RULES, _WORKER_LIMITS
    _WORKER_RULES, _WORKER_LIMITS = ruleset, limits
    configured.use(configured_off)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by the parent while it forked us


def _analyze_one(entry: FileEntry, ruleset: RuleSet, limits: Limits) -> _FileResult:
    try:
        out = analyze_file(entry.path, entry.display, ruleset, limits, entry.root)
    except Exception as e:  # an analyzer bug must not sink the scan: the file becomes unknown
        logger.debug("analysis of %s failed", entry.display, exc_info=True)
        out = Collector()
        out.skip(entry.display, SkipReason.ANALYSIS_FAILED, f"analysis failed: {type(e).__name__}: {e}")
    return _FileResult(tuple(out.artifacts), tuple(out.findings), tuple(out.skipped), out.source_scanned,
                       out.bytes_read, entry.display, out.includes)


def _analyze_batch(batch: list[FileEntry]) -> list[_FileResult]:
    assert _WORKER_RULES is not None and _WORKER_LIMITS is not None
    return [_analyze_one(entry, _WORKER_RULES, _WORKER_LIMITS) for entry in batch]


def _batches(entries: list[FileEntry]) -> list[list[FileEntry]]:
    batches: list[list[FileEntry]] = []
    current: list[FileEntry] = []
    size = 0
    for entry in entries:
        current.append(entry)
        size += entry.size
        if len(current) >= _BATCH_FILES or size >= _BATCH_BYTES:
            batches.append(current)
            current, size = [], 0
    if current:
        batches.append(current)
    return batches


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def _pool_context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


class _Merge:
    def __init__(self) -> None:
        self.artifacts: list[Artifact] = []
        self.findings: list[Finding] = []
        self.skipped: list[Skipped] = []
        self.files_analyzed = 0
        self.source_files = 0
        self.bytes_read = 0
        self.packages: list[PackageRecord] = []
        self.targets: set[str] = set()
        self.includes: dict[str, tuple[tuple[str, int], ...]] = {}  # by display

    def add(self, result: _FileResult) -> None:
        self.artifacts.extend(result.artifacts)
        self.findings.extend(result.findings)
        self.skipped.extend(result.skipped)
        self.files_analyzed += 1
        self.source_files += int(result.source_scanned)
        self.bytes_read += result.bytes_read
        if result.includes:
            self.includes[result.display] = result.includes


def scan_paths(inputs: Sequence[tuple[str, str]], ruleset: RuleSet, options: ScanOptions,
               progress: Progress | None = None) -> ScanResult:
    """Scan each (path, display name) input and return one merged result.

    An interrupted or failed run still returns what it has, marked incomplete.
    """
    progress = progress or _Silent()
    forget_listings()  # a folder listed by an earlier scan in this process may have changed since
    started = datetime.now(timezone.utc)
    clock = time.monotonic()
    merge = _Merge()
    errors: list[str] = []
    entries: list[FileEntry] = []
    jobs = options.jobs or default_jobs()
    complete = True
    compile_summary = None
    try:
        for path, display in inputs:
            for item in walk(path, display, excludes=options.excludes, use_ignore_files=options.use_ignore_files):
                if isinstance(item, FileEntry):
                    entries.append(item)
                    if len(entries) % 1000 == 0:
                        progress.walking(len(entries))
                else:
                    merge.skipped.append(item)
        progress.started(len(entries))
        configured_off = configured.learn(entries)
        configured.use(configured_off)
        if jobs <= 1 or len(entries) < _IN_PROCESS_BELOW:
            for entry in entries:
                merge.add(_analyze_one(entry, ruleset, options.limits))
                progress.advanced(1)
        else:
            complete = _run_pool(entries, ruleset, options, jobs, merge, progress, errors, configured_off)
        merge.findings = apply_x86_only_sources(merge.findings, ruleset)
        # before the compile proof, which has the last word on what the aarch64 build compiles
        merge.findings = includegraph.rejudge(entries, merge.findings, ruleset, merge.includes)
        complete = _python(entries, ruleset, options.python, merge, errors) and complete
        merge.findings.extend(classifier_jar_findings([e.display for e in entries], ruleset))
        docker = docker_phase.run(entries, ruleset, options.registry)
        merge.findings.extend(docker.findings)
        merge.skipped.extend(docker.skipped)
        errors.extend(docker.errors)
        if options.compile is not None:
            from armscan.compile import phase as compile_phase

            compiled = compile_phase.run(inputs, entries, merge.findings, ruleset, options.compile)
            merge.findings = compiled.findings
            compile_summary = compiled.summary
            merge.skipped.extend(compiled.skipped)
            errors.extend(compiled.errors)
            complete = complete and not compiled.errors
        complete = complete and not docker.errors
        if options.targets is not None:
            merge.findings.extend(check_targets(merge.artifacts, ruleset, options.targets))
            merge.targets.update(options.targets.describe())
        merge.findings = apply_inline(merge.findings, {e.display: (e.path, e.root) for e in entries})
        if options.scopes:
            # one pass over the merged findings: they come from many analyzers, the scope from the path alone
            merge.findings = apply_scopes(merge.findings, tuple(display for _, display in inputs))
            merge.skipped = apply_skipped_scopes(merge.skipped, tuple(display for _, display in inputs))
    except KeyboardInterrupt as e:  # SIGTERM and SIGHUP too (the command line turns them into this)
        from armscan.python.deadline import expire_all

        expire_all()  # requests still running in other threads end now, not at their timeout
        complete = False
        errors.append(f"interrupted{f' by {e}' if str(e) else ''} before every file was analyzed; "
                      f"the results are partial")
    stats = Stats(
        files_seen=len(entries),
        files_analyzed=merge.files_analyzed,
        source_files_scanned=merge.source_files,
        bytes_read=merge.bytes_read,
        duration_seconds=round(time.monotonic() - clock, 3),
    )
    return ScanResult(
        tool_version=__version__,
        inputs=tuple(display for _, display in inputs),
        started_at=started.isoformat(timespec="seconds"),
        rule_packs=(ruleset.pack,),
        artifacts=tuple(sorted(merge.artifacts, key=lambda a: a.path)),
        findings=tuple(sorted(merge.findings, key=_finding_order)),
        skipped=tuple(sorted(merge.skipped, key=lambda s: s.path)),
        stats=stats,
        complete=complete and merge.files_analyzed == len(entries),
        errors=tuple(errors),
        rules=tuple(r.info() for r in ruleset.rules if r.id in {f.rule_id for f in merge.findings}),
        packages=tuple(merge.packages),
        targets=tuple(sorted(merge.targets)),
        cpu_targets=tuple((c.id, c.name) for c in options.targets.cpus) if options.targets else (),
        compile=compile_summary,
    )


def _python(entries: list[FileEntry], ruleset: RuleSet, options: PythonOptions | None, merge: _Merge,
            errors: list[str]) -> bool:
    """Installed environments, requirement and lock files; False when some packages could not be checked."""
    outcome = python_phase.run(entries, ruleset, options, merge.artifacts, merge.findings)
    merge.artifacts, merge.findings = outcome.artifacts, outcome.findings
    merge.skipped.extend(outcome.skipped)
    merge.packages.extend(outcome.packages)
    merge.targets.update(outcome.targets)
    errors.extend(f"package index: {e}" for e in outcome.errors)
    return not outcome.errors


def _finding_order(f: Finding) -> tuple[str, int, int, str]:
    return (f.location.path, f.location.line or 0, f.location.column or 0, f.rule_id)


def _run_pool(entries: list[FileEntry], ruleset: RuleSet, options: ScanOptions, jobs: int, merge: _Merge,
              progress: Progress, errors: list[str], configured_off: dict[str, frozenset[str]]) -> bool:
    complete = True
    pool = cf.ProcessPoolExecutor(max_workers=jobs, mp_context=_pool_context(), initializer=_init_worker,
                                  initargs=(ruleset, options.limits, configured_off))
    try:
        # the workers start blocking the stop signals, until their initializer has set how they take them
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        try:
            futures = {pool.submit(_analyze_batch, batch): batch for batch in _batches(entries)}
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        for future in cf.as_completed(futures):
            batch = futures[future]
            try:
                results = future.result()
            except Exception as e:  # a worker died (e.g. killed for memory): its files are unknown
                complete = False
                errors.append(f"a worker process failed: {type(e).__name__}: {e}")
                results = [
                    _FileResult((), (), (Skipped(entry.display, SkipReason.ANALYSIS_FAILED,
                                                 "the worker analyzing this file failed"),), False, 0)
                    for entry in batch
                ]
            for result in results:
                merge.add(result)
            progress.advanced(len(batch))
    except BaseException:
        _stop_workers(pool)
        raise
    pool.shutdown()
    return complete


def _stop_workers(pool: cf.ProcessPoolExecutor) -> None:
    """End the workers now: running batches are abandoned, not waited for."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + 2
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(1)
