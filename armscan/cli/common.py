"""What the commands share: options into settings, outputs written, the gate's exit code."""

from __future__ import annotations

import logging
import os
import re
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from armscan import __version__
from armscan.cli_options import FailOn, GateScope
from armscan.config import Config, ConfigError
from armscan.config import load as load_config
from armscan.model import ScanResult, Severity
from armscan.python.analyze import PythonOptions
from armscan.python.http import BadURL, check_url
from armscan.python.pipconfig import pip_settings
from armscan.reporters import json_report, terminal
from armscan.reporters.escape import terminal as terminal_text
from armscan.rules_engine.loader import RuleError, RuleSet, load_rules
from armscan.scan import ScanOptions, scan_paths
from armscan.targets import Targets

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3


class UsageError(Exception):
    """Bad flags or inputs: exit code 2 with a one-line message."""


def print_error(console: Console, message: str) -> None:
    """One line, however long: CI logs and scripts read errors by line."""
    console.print(f"[bold red]error:[/] {escape(terminal_text(message))}", highlight=False, soft_wrap=True)


def print_version(value: bool) -> None:
    if value:
        typer.echo(f"armscan {__version__}")
        raise typer.Exit()



class _PrintableRecords(logging.Filter):
    """Log messages quote scanned names: made printable like every other line armscan writes."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = terminal_text(record.getMessage()), None
        return True


def setup_logging(verbose: int, console: Console) -> None:
    logger = logging.getLogger("armscan")
    handler = RichHandler(console=console, show_path=False, markup=False)
    handler.addFilter(_PrintableRecords())
    logger.handlers[:] = [handler]
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


class BarProgress:
    """The progress bar on stderr, shown only on a terminal."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
            console=console, transient=True,
        )
        self._task = self._progress.add_task("walking", total=None)
        self._progress.start()

    def walking(self, files_found: int) -> None:
        self._progress.update(self._task, description=f"walking ({files_found} files)")

    def started(self, total_files: int) -> None:
        self._progress.update(self._task, description="analyzing", total=total_files, completed=0)

    def advanced(self, files: int) -> None:
        self._progress.advance(self._task, files)

    def stop(self) -> None:
        self._progress.stop()


def check_output(target: str | None) -> None:
    if target is None or target == "-":
        return
    parent = Path(target).expanduser().parent
    if not parent.is_dir():
        raise UsageError(f"cannot write {target}: folder {parent} does not exist")
    if Path(target).is_dir():
        raise UsageError(f"cannot write {target}: it is a folder")


def write_output(target: str, content: str) -> None:
    """Write a report next to its final name, then rename, so a failed run never leaves half a file."""
    if target == "-":
        sys.stdout.write(content)
        sys.stdout.flush()
        return
    path = Path(target).expanduser()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def failed_result(reference: str, ruleset: RuleSet, error: str) -> ScanResult:
    from datetime import datetime, timezone

    from armscan.model import ImageRecord, Stats

    return ScanResult(tool_version=__version__, inputs=(reference,),
                      started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      rule_packs=(ruleset.pack,), artifacts=(), findings=(), skipped=(), stats=Stats(),
                      complete=False, errors=(error,), images=(ImageRecord(reference=reference),))


def output_renderers(result: ScanResult, threshold: Severity | None,
                     every_scope: bool = False) -> dict[str, Callable[[], str]]:
    from armscan.reporters import csv_report, markdown, sarif

    return {"json": lambda: json_report.render(result),
            "html": lambda: render_html(result, threshold, every_scope),
            "sarif": lambda: sarif.render(result),
            "markdown": lambda: markdown.render(result, threshold, every_scope=every_scope),
            "csv": lambda: csv_report.render(result)}


def render_html(result: ScanResult, threshold: Severity | None, every_scope: bool = False) -> str:
    from armscan.reporters import html_report  # Jinja is only imported when a report is asked for

    return html_report.render(result, threshold, every_scope=every_scope)


def exit_code(result: ScanResult, threshold: Severity | None, every_scope: bool = False) -> int:
    if not result.complete:
        return EXIT_INCOMPLETE
    if threshold is not None and result.findings_at_or_above(threshold, every_scope=every_scope):
        return EXIT_FINDINGS
    return EXIT_OK


def version_pair(text: str, flag: str) -> tuple[int, int]:
    parts = text.strip().split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise UsageError(f"{flag} takes a version like 3.11, not {text!r}")
    return int(parts[0]), int(parts[1])


def python_options(index_url: str | None, extras: list[str], offline: bool, python_version: str | None,
                    glibc: str | None, musl: str | None, cache_dir: Path | None, timeout: float, audit: bool,
                    osv_url: str | None, find_links: list[str], no_index: bool) -> PythonOptions:
    import platformdirs

    from armscan.python.audit import DEFAULT_OSV_URL

    if osv_url is not None and not audit:
        raise UsageError("--osv-url only applies with --audit")
    if osv_url is not None:
        usable_url(osv_url, "--osv-url", ("http", "https"))
    usable_url(index_url, "--index-url (or index-url in the settings file)")
    for url in extras:
        usable_url(url, "--extra-index-url (or extra-index-url in the settings file)")
    pip_index, pip_extras, pip_links = pip_settings()
    usable_url(pip_index, "the index URL from PIP_INDEX_URL or pip's configuration")
    for url in [*pip_extras, *(link for link in pip_links if "://" in link)]:
        usable_url(url, "a URL from PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS or pip's configuration")
    return PythonOptions(
        index_url=index_url,
        extra_index_urls=tuple(extras),
        python_version=version_pair(python_version, "--python-version") if python_version else None,
        libc="musl" if musl else "glibc",
        libc_version=version_pair(musl, "--musl") if musl else version_pair(glibc or "2.34", "--glibc"),
        offline=offline,
        cache_dir=cache_dir or Path(platformdirs.user_cache_dir("armscan")) / "index",
        timeout=timeout,
        audit=audit,
        osv_url=osv_url or DEFAULT_OSV_URL,
        find_links=tuple(find_link(location) for location in find_links),
        no_index=no_index,
    )


_REGISTRY_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])"
                            r"(?::[0-9]{1,5})?")


def registry_settings(insecure: list[str] | None, timeout: float) -> object:
    from armscan.image.open import RegistrySettings

    for host in insecure or ():
        if not _REGISTRY_HOST.fullmatch(host):
            raise UsageError("--insecure-registry (or insecure-registry in the settings file) takes a HOST[:PORT], "
                             "without scheme, credentials or path")
    return RegistrySettings(insecure=frozenset(insecure or ()), timeout=timeout)


def usable_url(url: str | None, what: str, schemes: tuple[str, ...] = ("http", "https", "file")) -> None:
    """A usage error, naming the option and never echoing the URL (it may hold a password), for a bad URL."""
    if url is None:
        return
    try:
        check_url(url, schemes)
    except BadURL as e:
        raise UsageError(f"{what} is not a usable URL: {e}") from None


def find_link(location: str) -> str:
    if "://" in location or location.startswith("file:"):
        usable_url(location, "--find-links (or find-links in the settings file)")
        return location
    path = Path(location).expanduser()
    if not path.exists():
        raise UsageError(f"--find-links {location}: no such file or folder")
    return str(path.resolve())


@dataclass(frozen=True)
class ScanRequest:
    inputs: list[tuple[str, str]]
    outputs: dict[str, str | None]
    fail_on: FailOn
    options: ScanOptions
    disabled: frozenset[str]
    binaries_only: bool = False  # installed environments: their source is not the user's to port
    baseline: Path | None = None
    every_scope: bool = False  # the gate counts tests, benchmarks, CI... too


def load_settings(explicit: Path | None, folders: list[Path]) -> Config:
    try:
        return load_config(explicit, folders)
    except ConfigError as e:
        raise UsageError(str(e)) from e


def resolve_fail_on(flag: FailOn | None, config: Config) -> FailOn:
    return flag if flag is not None else FailOn(config.get("fail-on", "high"))


def resolve_scope(flag: GateScope | None, config: Config) -> bool:
    """Whether the gate counts every scope (--scope all), not only the product's findings."""
    return (flag if flag is not None else GateScope(config.get("scope", "product"))) is GateScope.ALL


def optional_path(value: str | None) -> Path | None:
    return Path(value) if value else None


def output_targets(json_out: str | None, html_out: str | None, sarif_out: str | None, markdown_out: str | None,
             csv_out: str | None) -> dict[str, str | None]:
    return {"json": json_out, "html": html_out, "sarif": sarif_out, "markdown": markdown_out, "csv": csv_out}


def check_outputs(outputs: dict[str, str | None]) -> None:
    if outputs.get("html") == "-":
        raise UsageError("--html needs a file name")
    for target in outputs.values():
        check_output(target)


def load_ruleset(disabled: frozenset[str]) -> RuleSet:
    try:
        ruleset = load_rules()
    except RuleError as e:
        raise UsageError(str(e)) from e
    unknown = sorted(d for d in disabled if not any(r.id == d for r in ruleset.rules))
    if unknown:
        raise UsageError(f"--disable names unknown rule(s): {', '.join(unknown)} (see 'armscan rules')")
    return ruleset.without(disabled)


def run_scan(request: ScanRequest, verbose: int, quiet: bool, stderr: Console) -> int:
    check_outputs(request.outputs)
    ruleset = load_ruleset(request.disabled)
    if request.binaries_only:
        ruleset = ruleset.without(frozenset(r.id for r in ruleset.source_rules()))
    progress = BarProgress(stderr) if stderr.is_terminal and not quiet else None
    try:
        result = scan_paths(request.inputs, ruleset, request.options, progress)
    finally:
        if progress is not None:
            progress.stop()
    return finish(result, request.outputs, request.fail_on, verbose, quiet, stderr, request.baseline,
                  every_scope=request.every_scope)


def finish(result: ScanResult, outputs: dict[str, str | None], fail_on: FailOn, verbose: int, quiet: bool,
            stderr: Console, baseline: Path | None = None, *, every_scope: bool = False) -> int:
    """Apply the baseline, write the outputs asked for, print the summary and errors, return the exit code."""
    if baseline is not None:
        from armscan.gate import BaselineError, apply_baseline, load_baseline

        try:
            result = apply_baseline(result, load_baseline(baseline))
        except BaselineError as e:
            raise UsageError(str(e)) from e
    threshold = fail_on.threshold()
    renderers = output_renderers(result, threshold, every_scope)
    if sum(1 for target in outputs.values() if target == "-") > 1:
        raise UsageError("only one output can go to standard output ('-')")
    for kind, target in outputs.items():
        if target is None:
            continue
        try:
            write_output(target, renderers[kind]())
        except OSError as e:
            print_error(stderr, f"cannot write {target}: {e.strerror or e}")
            return EXIT_INCOMPLETE
    if not quiet:
        console = stderr if "-" in outputs.values() else Console()
        terminal.render(result, console, threshold=threshold, verbose=verbose > 0, every_scope=every_scope)
    for error in result.errors:
        print_error(stderr, error)
    return exit_code(result, threshold, every_scope)


def resolve_targets(cpus: list[str] | None, system: str | None) -> Targets:
    from armscan.targets import TargetError, resolve

    try:
        return resolve(list(cpus or []), system)
    except TargetError as e:
        raise UsageError(str(e)) from e


def libc_flags(targets: Targets, glibc: str | None, musl: str | None) -> tuple[str | None, str | None]:
    """--glibc/--musl, else the --os profile's C library, for judging Python wheels."""
    if glibc or musl or targets.system.libc_version is None:
        return glibc, musl
    version = f"{targets.system.libc_version[0]}.{targets.system.libc_version[1]}"
    return (None, version) if targets.system.libc == "musl" else (version, None)
