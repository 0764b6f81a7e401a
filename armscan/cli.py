"""The armscan command line: parse flags, run a scan, write outputs, return the exit code."""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from armscan import __version__
from armscan.cli_options import (
    Audit,
    BaselineOption,
    CacheDir,
    ConfigOption,
    CsvOut,
    ExtraIndexUrl,
    FailOn,
    FailOnOption,
    FindLinks,
    Glibc,
    HtmlOut,
    IndexUrl,
    InsecureRegistry,
    Jobs,
    JsonOut,
    MarkdownOut,
    Musl,
    NoIndex,
    Offline,
    OsvUrl,
    PythonVersion,
    Quiet,
    RegistryTimeout,
    SarifOut,
    Timeout,
    Verbose,
)
from armscan.config import Config, ConfigError
from armscan.config import load as load_config
from armscan.limits import Limits
from armscan.model import ScanResult, Severity
from armscan.python.analyze import PythonOptions
from armscan.python.http import redact
from armscan.reporters import json_report, terminal
from armscan.rules_engine.loader import RuleError, RuleSet, load_rules
from armscan.scan import ScanOptions, scan_paths

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3

app = typer.Typer(
    name="armscan",
    help="ARM migration readiness scanner: what will not run on aarch64, why, and the work it takes.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class UsageError(Exception):
    """Bad flags or inputs: exit code 2 with a one-line message."""


def _error(console: Console, message: str) -> None:
    """One line, however long: CI logs and scripts read errors by line."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"armscan {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """armscan finds what stands between your code and 64-bit ARM servers."""


def _setup_logging(verbose: int, console: Console) -> None:
    logger = logging.getLogger("armscan")
    logger.handlers[:] = [RichHandler(console=console, show_path=False)]
    logger.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)
    logger.propagate = False


class _BarProgress:
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


def _check_output(target: str | None) -> None:
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


def _failed_result(reference: str, ruleset: RuleSet, error: str) -> ScanResult:
    from datetime import datetime, timezone

    from armscan.model import ImageRecord, Stats

    return ScanResult(tool_version=__version__, inputs=(reference,),
                      started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
                      rule_packs=(ruleset.pack,), artifacts=(), findings=(), skipped=(), stats=Stats(),
                      complete=False, errors=(error,), images=(ImageRecord(reference=reference),))


def _renderers(result: ScanResult, threshold: Severity | None) -> dict[str, Callable[[], str]]:
    from armscan.reporters import csv_report, markdown, sarif

    return {"json": lambda: json_report.render(result), "html": lambda: _html(result, threshold),
            "sarif": lambda: sarif.render(result), "markdown": lambda: markdown.render(result, threshold),
            "csv": lambda: csv_report.render(result)}


def _html(result: ScanResult, threshold: Severity | None) -> str:
    from armscan.reporters import html_report  # Jinja is only imported when a report is asked for

    return html_report.render(result, threshold)


def _exit_code(result: ScanResult, threshold: Severity | None) -> int:
    if not result.complete:
        return EXIT_INCOMPLETE
    if threshold is not None and result.findings_at_or_above(threshold):
        return EXIT_FINDINGS
    return EXIT_OK


@app.command()
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Folders or files to scan.", show_default=False)],
    config_file: ConfigOption = None,
    json_out: JsonOut = None,
    html_out: HtmlOut = None,
    sarif_out: SarifOut = None,
    markdown_out: MarkdownOut = None,
    csv_out: CsvOut = None,
    fail_on: FailOnOption = None,
    baseline: BaselineOption = None,
    jobs: Jobs = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", metavar="GLOB",
                                                         help="Skip paths matching GLOB (gitignore syntax); "
                                                              "repeatable.")] = None,
    no_ignore: Annotated[bool, typer.Option("--no-ignore",
                                            help="Do not read .gitignore and .armscanignore files.")] = False,
    disable: Annotated[list[str] | None, typer.Option("--disable", metavar="RULE-ID",
                                                         help="Do not run this rule; repeatable.")] = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
    index_url: IndexUrl = None,
    extra_index_url: ExtraIndexUrl = None,
    no_index: NoIndex = False,
    find_links: FindLinks = None,
    offline: Offline = False,
    python_version: PythonVersion = None,
    glibc: Glibc = None,
    musl: Musl = None,
    cache_dir: CacheDir = None,
    timeout: Timeout = 15.0,
    audit: Audit = False,
    osv_url: OsvUrl = None,
    insecure_registry: InsecureRegistry = None,
    registry_timeout: RegistryTimeout = 30.0,
) -> None:
    """Scan code trees for x86-only binaries, x86-specific source and build settings, and Python dependencies."""
    stderr = Console(stderr=True)
    _setup_logging(verbose, stderr)
    try:
        for path in paths:
            if not os.path.lexists(path):
                raise UsageError(f"{path}: no such file or folder")
        config = _config(config_file, [p if p.is_dir() else p.parent for p in paths])
        offline = offline or config.get("offline", False)
        no_index = no_index or config.get("no-index", False)
        find_links = find_links or config.get("find-links")
        python = None if no_index and not find_links else _python_options(
            index_url or config.get("index-url"), extra_index_url or config.get("extra-index-url") or [], offline,
            python_version or config.get("python-version"), glibc or config.get("glibc"), musl or config.get("musl"),
            cache_dir, timeout, audit or config.get("audit", False), osv_url, find_links or [], no_index)
        outputs = _outputs(json_out, html_out, sarif_out, markdown_out, csv_out)
        registry = None if offline else _registry(insecure_registry or config.get("insecure-registry"),
                                                  registry_timeout)
        request = _Request([(str(p), str(p)) for p in paths], outputs, _fail_on(fail_on, config),
                           ScanOptions(jobs=jobs, excludes=tuple(exclude or config.get("exclude", ())),
                                       use_ignore_files=not (no_ignore or config.get("no-ignore", False)),
                                       limits=Limits(), python=python, registry=registry),
                           frozenset(disable or config.get("disable", ())),
                           baseline=baseline or _path(config.path("baseline")))
        code = _run_scan(request, verbose, quiet, stderr)
    except UsageError as e:
        _error(stderr, str(e))
        code = EXIT_USAGE
    raise typer.Exit(code)


@app.command("env")
def env(
    site_packages: Annotated[list[Path] | None, typer.Argument(
        help="site-packages folders or virtualenvs to check (default: the environment of --python).",
        show_default=False)] = None,
    python: Annotated[str | None, typer.Option(
        "--python", metavar="PATH", help="The interpreter whose environment to check (default: python3 on PATH, "
                                         "or the active virtualenv's).")] = None,
    json_out: JsonOut = None,
    html_out: HtmlOut = None,
    sarif_out: SarifOut = None,
    markdown_out: MarkdownOut = None,
    csv_out: CsvOut = None,
    fail_on: FailOnOption = None,
    baseline: BaselineOption = None,
    jobs: Jobs = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
    index_url: IndexUrl = None,
    extra_index_url: ExtraIndexUrl = None,
    no_index: NoIndex = False,
    find_links: FindLinks = None,
    offline: Offline = False,
    python_version: PythonVersion = None,
    glibc: Glibc = None,
    musl: Musl = None,
    cache_dir: CacheDir = None,
    timeout: Timeout = 15.0,
    audit: Audit = False,
    osv_url: OsvUrl = None,
) -> None:
    """Check an installed Python environment: every distribution at its installed version, for aarch64."""
    from armscan.python.interpreter import InterpreterError, default_interpreter, probe

    stderr = Console(stderr=True)
    _setup_logging(verbose, stderr)
    try:
        folders = [(str(p), str(p)) for p in site_packages or []]
        for path in site_packages or []:
            if not path.is_dir():
                raise UsageError(f"{path}: not a folder")
        if python is not None or not folders:
            try:
                info = probe(python or default_interpreter())
            except InterpreterError as e:
                raise UsageError(str(e)) from e
            if not info.site_dirs:
                raise UsageError(f"{info.executable} has no site-packages folder")
            folders.extend((d, d) for d in info.site_dirs)
            python_version = python_version or f"{info.version[0]}.{info.version[1]}"
        options = None if no_index and not find_links else _python_options(
            index_url, extra_index_url or [], offline, python_version, glibc, musl, cache_dir, timeout, audit, osv_url,
            find_links or [], no_index)
        request = _Request(folders, _outputs(json_out, html_out, sarif_out, markdown_out, csv_out),
                           fail_on or FailOn.HIGH,
                           ScanOptions(jobs=jobs, use_ignore_files=False, limits=Limits(), python=options),
                           frozenset(), binaries_only=True, baseline=baseline)
        code = _run_scan(request, verbose, quiet, stderr)
    except UsageError as e:
        _error(stderr, str(e))
        code = EXIT_USAGE
    raise typer.Exit(code)


def _version_pair(text: str, flag: str) -> tuple[int, int]:
    parts = text.strip().split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise UsageError(f"{flag} takes a version like 3.11, not {text!r}")
    return int(parts[0]), int(parts[1])


def _python_options(index_url: str | None, extras: list[str], offline: bool, python_version: str | None,
                    glibc: str | None, musl: str | None, cache_dir: Path | None, timeout: float, audit: bool,
                    osv_url: str | None, find_links: list[str], no_index: bool) -> PythonOptions:
    import platformdirs

    from armscan.python.audit import DEFAULT_OSV_URL

    if osv_url is not None and not audit:
        raise UsageError("--osv-url only applies with --audit")
    if osv_url is not None and not osv_url.startswith(("http://", "https://")):
        raise UsageError(f"--osv-url must start with http:// or https://, not {redact(osv_url)!r}")
    for url in [index_url, *extras]:
        if url is not None and not url.startswith(("http://", "https://", "file:")):
            raise UsageError(f"index URL must start with http://, https:// or file:, not {redact(url)!r}")
    return PythonOptions(
        index_url=index_url,
        extra_index_urls=tuple(extras),
        python_version=_version_pair(python_version, "--python-version") if python_version else None,
        libc="musl" if musl else "glibc",
        libc_version=_version_pair(musl, "--musl") if musl else _version_pair(glibc or "2.34", "--glibc"),
        offline=offline,
        cache_dir=cache_dir or Path(platformdirs.user_cache_dir("armscan")) / "index",
        timeout=timeout,
        audit=audit,
        osv_url=osv_url or DEFAULT_OSV_URL,
        find_links=tuple(_find_link(location) for location in find_links),
        no_index=no_index,
    )


def _registry(insecure: list[str] | None, timeout: float) -> object:
    from armscan.image.open import RegistrySettings

    return RegistrySettings(insecure=frozenset(insecure or ()), timeout=timeout)


def _find_link(location: str) -> str:
    if "://" in location or location.startswith("file:"):
        return location
    path = Path(location).expanduser()
    if not path.exists():
        raise UsageError(f"--find-links {location}: no such file or folder")
    return str(path.resolve())


@dataclass(frozen=True)
class _Request:
    inputs: list[tuple[str, str]]
    outputs: dict[str, str | None]
    fail_on: FailOn
    options: ScanOptions
    disabled: frozenset[str]
    binaries_only: bool = False  # installed environments: their source is not the user's to port
    baseline: Path | None = None


def _config(explicit: Path | None, folders: list[Path]) -> Config:
    try:
        return load_config(explicit, folders)
    except ConfigError as e:
        raise UsageError(str(e)) from e


def _fail_on(flag: FailOn | None, config: Config) -> FailOn:
    return flag if flag is not None else FailOn(config.get("fail-on", "high"))


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _outputs(json_out: str | None, html_out: str | None, sarif_out: str | None, markdown_out: str | None,
             csv_out: str | None) -> dict[str, str | None]:
    return {"json": json_out, "html": html_out, "sarif": sarif_out, "markdown": markdown_out, "csv": csv_out}


def _check_outputs(outputs: dict[str, str | None]) -> None:
    if outputs.get("html") == "-":
        raise UsageError("--html needs a file name")
    for target in outputs.values():
        _check_output(target)


def _load_ruleset(disabled: frozenset[str]) -> RuleSet:
    try:
        ruleset = load_rules()
    except RuleError as e:
        raise UsageError(str(e)) from e
    unknown = sorted(d for d in disabled if not any(r.id == d for r in ruleset.rules))
    if unknown:
        raise UsageError(f"--disable names unknown rule(s): {', '.join(unknown)} (see 'armscan rules')")
    return ruleset.without(disabled)


def _run_scan(request: _Request, verbose: int, quiet: bool, stderr: Console) -> int:
    _check_outputs(request.outputs)
    ruleset = _load_ruleset(request.disabled)
    if request.binaries_only:
        ruleset = ruleset.without(frozenset(r.id for r in ruleset.source_rules()))
    progress = _BarProgress(stderr) if stderr.is_terminal and not quiet else None
    try:
        result = scan_paths(request.inputs, ruleset, request.options, progress)
    finally:
        if progress is not None:
            progress.stop()
    return _report(result, request.outputs, request.fail_on, verbose, quiet, stderr, request.baseline)


def _report(result: ScanResult, outputs: dict[str, str | None], fail_on: FailOn, verbose: int, quiet: bool,
            stderr: Console, baseline: Path | None = None) -> int:
    """Apply the baseline, write the outputs asked for, print the summary and errors, return the exit code."""
    if baseline is not None:
        from armscan.gate import BaselineError, apply_baseline, load_baseline

        try:
            result = apply_baseline(result, load_baseline(baseline))
        except BaselineError as e:
            raise UsageError(str(e)) from e
    threshold = fail_on.threshold()
    renderers = _renderers(result, threshold)
    if sum(1 for target in outputs.values() if target == "-") > 1:
        raise UsageError("only one output can go to standard output ('-')")
    for kind, target in outputs.items():
        if target is None:
            continue
        try:
            write_output(target, renderers[kind]())
        except OSError as e:
            _error(stderr, f"cannot write {target}: {e.strerror or e}")
            return EXIT_INCOMPLETE
    if not quiet:
        console = stderr if "-" in outputs.values() else Console()
        terminal.render(result, console, threshold=threshold, verbose=verbose > 0)
    for error in result.errors:
        _error(stderr, error)
    return _exit_code(result, threshold)


@app.command("image")
def image(
    reference: Annotated[str, typer.Argument(
        help="An image: host/repo:tag, repo@sha256:..., a Docker Hub name, docker-archive:FILE, oci:DIR[:TAG] "
             "or docker-daemon:NAME.", show_default=False)],
    json_out: JsonOut = None,
    html_out: HtmlOut = None,
    sarif_out: SarifOut = None,
    markdown_out: MarkdownOut = None,
    csv_out: CsvOut = None,
    fail_on: FailOnOption = None,
    baseline: BaselineOption = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
    creds: Annotated[str | None, typer.Option(
        "--creds", metavar="USER:PASSWORD", rich_help_panel="Registry",
        help="Credentials for the image's registry (default: Docker's config, else anonymous).")] = None,
    insecure_registry: InsecureRegistry = None,
    registry_timeout: RegistryTimeout = 30.0,
    index_url: IndexUrl = None,
    extra_index_url: ExtraIndexUrl = None,
    no_index: NoIndex = False,
    find_links: FindLinks = None,
    offline: Offline = False,
    cache_dir: CacheDir = None,
    timeout: Timeout = 15.0,
    audit: Audit = False,
    osv_url: OsvUrl = None,
) -> None:
    """Check a container image: does it have linux/arm64, and what inside it will not run there."""
    from armscan.image.analyze import ImageOptions, analyze_image
    from armscan.image.local import SourceError
    from armscan.image.open import RegistrySettings, open_source, registry_opener
    from armscan.image.reference import ReferenceError_, RegistryRef
    from armscan.image.registry import RegistryError

    stderr = Console(stderr=True)
    _setup_logging(verbose, stderr)
    try:
        _check_outputs(_outputs(json_out, html_out, sarif_out, markdown_out, csv_out))
        user_pass = None
        if creds is not None:
            user, sep, password = creds.partition(":")
            if not sep or not user:
                raise UsageError("--creds takes USER:PASSWORD")
            user_pass = (user, password)
        python = None if no_index and not find_links else _python_options(
            index_url, extra_index_url or [], offline, None, "2.34", None, cache_dir, timeout, audit, osv_url,
            find_links or [], no_index)
        try:
            from armscan.image.reference import parse

            parsed = parse(reference)
        except ReferenceError_ as e:
            raise UsageError(str(e)) from e
        settings = RegistrySettings(user_pass, parsed.registry if isinstance(parsed, RegistryRef) else None,
                                    frozenset(insecure_registry or ()), registry_timeout)
        ruleset = _load_ruleset(frozenset())
        try:
            source, _ = open_source(reference, settings)
            result = analyze_image(source.label, source, None if offline else registry_opener(settings), ruleset,
                                   ImageOptions(limits=Limits(), python=python, offline=offline))
        except (SourceError, RegistryError) as e:  # nothing could be read: an empty, incomplete result
            result = _failed_result(reference, ruleset, str(e))
        outputs = _outputs(json_out, html_out, sarif_out, markdown_out, csv_out)
        code = _report(result, outputs, fail_on or FailOn.HIGH, verbose, quiet, stderr, baseline)
    except UsageError as e:
        _error(stderr, str(e))
        code = EXIT_USAGE
    raise typer.Exit(code)


@app.command("report")
def report(
    results: Annotated[list[Path], typer.Argument(help="JSON results saved with --json (one per repository or "
                                                       "image); several are merged into one report.",
                                                  show_default=False)],
    json_out: JsonOut = None,
    html_out: HtmlOut = None,
    sarif_out: SarifOut = None,
    markdown_out: MarkdownOut = None,
    csv_out: CsvOut = None,
    fail_on: FailOnOption = None,
    baseline: BaselineOption = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Render saved results again, or merge many into one organisation-wide report."""
    from armscan.reporters.load import ResultError, load, merge

    stderr = Console(stderr=True)
    try:
        outputs = _outputs(json_out, html_out, sarif_out, markdown_out, csv_out)
        _check_outputs(outputs)
        try:
            merged = merge([load(path) for path in results])
        except ResultError as e:
            raise UsageError(str(e)) from e
        code = _report(merged, outputs, fail_on or FailOn.HIGH, verbose, quiet, stderr, baseline)
    except UsageError as e:
        _error(stderr, str(e))
        code = EXIT_USAGE
    raise typer.Exit(code)


baseline_app = typer.Typer(help="Baselines: accept today's findings so that only new ones fail the gate.",
                           no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("create")
def baseline_create(
    inputs: Annotated[list[Path], typer.Argument(help="Folders to scan, or JSON results saved with --json.",
                                                 show_default=False)],
    output: Annotated[Path, typer.Option("--output", "-o", metavar="FILE",
                                         help="Where to write the baseline.")] = Path("armscan-baseline.json"),
    config_file: ConfigOption = None,
    offline: Offline = False,
    no_index: NoIndex = False,
) -> None:
    """Write a baseline of the current findings (a scan of the folders, or saved results)."""
    from armscan.gate import create_baseline
    from armscan.reporters.load import ResultError, load, merge

    stderr = Console(stderr=True)
    try:
        _check_output(str(output))
        if all(p.is_file() and p.suffix == ".json" for p in inputs):
            try:
                result = merge([load(p) for p in inputs])
            except ResultError as e:
                raise UsageError(str(e)) from e
        else:
            for path in inputs:
                if not os.path.lexists(path):
                    raise UsageError(f"{path}: no such file or folder")
            config = _config(config_file, [p if p.is_dir() else p.parent for p in inputs])
            offline = offline or config.get("offline", False)
            no_index = no_index or config.get("no-index", False)
            python = None if no_index else _python_options(
                config.get("index-url"), config.get("extra-index-url") or [], offline, config.get("python-version"),
                config.get("glibc"), config.get("musl"), None, 15.0, False, None, config.get("find-links") or [],
                False)
            ruleset = _load_ruleset(frozenset(config.get("disable", ())))
            result = scan_paths([(str(p), str(p)) for p in inputs], ruleset,
                                ScanOptions(excludes=tuple(config.get("exclude", ())), limits=Limits(), python=python,
                                            registry=None if offline else _registry(None, 30.0)))
        write_output(str(output), create_baseline(result))
        counted = sum(1 for f in result.findings if not (f.suppressed or "").startswith("inline"))
        Console(stderr=True).print(f"wrote {output}: {counted} findings", highlight=False)
        code = EXIT_OK if result.complete else EXIT_INCOMPLETE
        for error in result.errors:
            _error(stderr, error)
    except UsageError as e:
        _error(stderr, str(e))
        code = EXIT_USAGE
    raise typer.Exit(code)


@app.command("rules")
def list_rules() -> None:
    """List every rule with its ID, severity and title."""
    try:
        ruleset = load_rules()
    except RuleError as e:
        _error(Console(stderr=True), str(e))
        raise typer.Exit(EXIT_USAGE) from e
    from rich.table import Table

    table = Table(title=f"{ruleset.pack.name} {ruleset.pack.version}: {len(ruleset.rules)} rules",
                  title_justify="left")
    for column in ("ID", "Severity", "Title"):
        table.add_column(column)
    for rule in sorted(ruleset.rules, key=lambda r: r.id):
        table.add_row(rule.id, rule.severity.value, rule.title)
    Console().print(table)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        _error(Console(stderr=True), "interrupted")
        sys.exit(EXIT_INCOMPLETE)
