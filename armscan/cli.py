"""The armscan command line: parse flags, run a scan, write outputs, return the exit code."""

from __future__ import annotations

import enum
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from armscan import __version__
from armscan.limits import Limits
from armscan.model import ScanResult, Severity
from armscan.python.analyze import PythonOptions
from armscan.python.http import redact
from armscan.reporters import html_report, json_report, terminal
from armscan.rules_engine.loader import RuleError, load_rules
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


class FailOn(str, enum.Enum):
    BLOCKER = "blocker"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"

    def threshold(self) -> Severity | None:
        return None if self is FailOn.NONE else Severity(self.value)


class UsageError(Exception):
    """Bad flags or inputs: exit code 2 with a one-line message."""


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


def _exit_code(result: ScanResult, threshold: Severity | None) -> int:
    if not result.complete:
        return EXIT_INCOMPLETE
    if threshold is not None and result.findings_at_or_above(threshold):
        return EXIT_FINDINGS
    return EXIT_OK


@app.command()
def scan(
    paths: Annotated[list[Path], typer.Argument(help="Folders or files to scan.", show_default=False)],
    json_out: Annotated[str | None, typer.Option("--json", metavar="FILE",
                                                    help="Write the JSON result to FILE ('-' for stdout).")] = None,
    html_out: Annotated[str | None, typer.Option("--html", metavar="FILE",
                                                    help="Write the HTML report to FILE.")] = None,
    fail_on: Annotated[FailOn, typer.Option("--fail-on", case_sensitive=False,
                                            help="Exit 1 when a finding is at or above this severity.")
                       ] = FailOn.HIGH,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", min=1, max=512,
                                                help="Worker processes (default: available cores).")] = None,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", metavar="GLOB",
                                                         help="Skip paths matching GLOB (gitignore syntax); "
                                                              "repeatable.")] = None,
    no_ignore: Annotated[bool, typer.Option("--no-ignore",
                                            help="Do not read .gitignore and .armscanignore files.")] = False,
    disable: Annotated[list[str] | None, typer.Option("--disable", metavar="RULE-ID",
                                                         help="Do not run this rule; repeatable.")] = None,
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True,
                                         help="List every finding, info included; -vv for debug logs.")] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on the terminal but errors.")
                     ] = False,
    index_url: Annotated[str | None, typer.Option("--index-url", metavar="URL", rich_help_panel="Python",
                                                     help="Package index (PEP 503/691 simple API) for Python "
                                                          "dependencies; default: pip's configuration, else PyPI.")
                         ] = None,
    extra_index_url: Annotated[list[str] | None, typer.Option("--extra-index-url", metavar="URL",
                                                                 rich_help_panel="Python",
                                                                 help="Another index to ask; repeatable.")] = None,
    no_index: Annotated[bool, typer.Option("--no-index", rich_help_panel="Python",
                                           help="Do not ask any package index; requirement files stay unchecked.")
                        ] = False,
    offline: Annotated[bool, typer.Option("--offline", rich_help_panel="Python",
                                          help="Answer from the on-disk cache only.")] = False,
    python_version: Annotated[str | None, typer.Option("--python-version", metavar="X.Y", rich_help_panel="Python",
                                                          help="Target Python (default: requires-python, else "
                                                               "this interpreter).")] = None,
    glibc: Annotated[str, typer.Option("--glibc", metavar="X.Y", rich_help_panel="Python",
                                       help="Target glibc version (Amazon Linux 2: 2.26; 2023: 2.34).")] = "2.34",
    musl: Annotated[str | None, typer.Option("--musl", metavar="X.Y", rich_help_panel="Python",
                                                help="Target musl libc instead of glibc (Alpine: 1.2).")] = None,
    cache_dir: Annotated[Path | None, typer.Option("--cache-dir", metavar="DIR", rich_help_panel="Python",
                                                      help="Where index answers are cached.")] = None,
    timeout: Annotated[float, typer.Option("--timeout", metavar="SECONDS", min=0.1, rich_help_panel="Python",
                                           help="Per-request timeout for package indexes.")] = 15.0,
) -> None:
    """Scan code trees for x86-only binaries, x86-specific source and build settings, and Python dependencies."""
    stderr = Console(stderr=True)
    _setup_logging(verbose, stderr)
    try:
        outputs = {"json": json_out, "html": html_out}
        python = None if no_index else _python_options(index_url, extra_index_url or [], offline, python_version,
                                                        glibc, musl, cache_dir, timeout)
        code = _run_scan(paths, outputs, fail_on, jobs, tuple(exclude or ()), not no_ignore,
                         frozenset(disable or ()), verbose, quiet, stderr, python)
    except UsageError as e:
        stderr.print(f"[bold red]error:[/] {e}", highlight=False)
        code = EXIT_USAGE
    raise typer.Exit(code)


def _version_pair(text: str, flag: str) -> tuple[int, int]:
    parts = text.strip().split(".")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise UsageError(f"{flag} takes a version like 3.11, not {text!r}")
    return int(parts[0]), int(parts[1])


def _python_options(index_url: str | None, extras: list[str], offline: bool, python_version: str | None,
                    glibc: str, musl: str | None, cache_dir: Path | None, timeout: float) -> PythonOptions:
    import platformdirs

    for url in [index_url, *extras]:
        if url is not None and not url.startswith(("http://", "https://", "file:")):
            raise UsageError(f"index URL must start with http://, https:// or file:, not {redact(url)!r}")
    return PythonOptions(
        index_url=index_url,
        extra_index_urls=tuple(extras),
        python_version=_version_pair(python_version, "--python-version") if python_version else None,
        libc="musl" if musl else "glibc",
        libc_version=_version_pair(musl, "--musl") if musl else _version_pair(glibc, "--glibc"),
        offline=offline,
        cache_dir=cache_dir or Path(platformdirs.user_cache_dir("armscan")) / "index",
        timeout=timeout,
    )


def _run_scan(paths: list[Path], outputs: dict[str, str | None], fail_on: FailOn, jobs: int | None,
              excludes: tuple[str, ...], use_ignore: bool, disabled: frozenset[str], verbose: int, quiet: bool,
              stderr: Console, python: PythonOptions | None) -> int:
    for path in paths:
        if not os.path.lexists(path):
            raise UsageError(f"{path}: no such file or folder")
    if outputs.get("html") == "-":
        raise UsageError("--html needs a file name")
    for target in outputs.values():
        _check_output(target)
    try:
        ruleset = load_rules()
    except RuleError as e:
        raise UsageError(str(e)) from e
    unknown = sorted(d for d in disabled if not any(r.id == d for r in ruleset.rules))
    if unknown:
        raise UsageError(f"--disable names unknown rule(s): {', '.join(unknown)} (see 'armscan rules')")
    ruleset = ruleset.without(disabled)
    progress = _BarProgress(stderr) if stderr.is_terminal and not quiet else None
    try:
        result = scan_paths([(str(p), str(p)) for p in paths], ruleset,
                            ScanOptions(jobs=jobs, excludes=excludes, use_ignore_files=use_ignore,
                                        limits=Limits(), python=python), progress)
    finally:
        if progress is not None:
            progress.stop()
    threshold = fail_on.threshold()
    renderers = {"json": lambda: json_report.render(result), "html": lambda: html_report.render(result, threshold)}
    for kind, target in outputs.items():
        if target is None:
            continue
        try:
            write_output(target, renderers[kind]())
        except OSError as e:
            stderr.print(f"[bold red]error:[/] cannot write {target}: {e.strerror or e}", highlight=False)
            return EXIT_INCOMPLETE
    if not quiet:
        console = stderr if "-" in outputs.values() else Console()
        terminal.render(result, console, threshold=threshold, verbose=verbose > 0)
    for error in result.errors:
        stderr.print(f"[bold red]error:[/] {error}", highlight=False)
    return _exit_code(result, threshold)


@app.command("rules")
def list_rules() -> None:
    """List every rule with its ID, severity and title."""
    try:
        ruleset = load_rules()
    except RuleError as e:
        Console(stderr=True).print(f"[bold red]error:[/] {e}", highlight=False)
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
        Console(stderr=True).print("[bold red]error:[/] interrupted")
        sys.exit(EXIT_INCOMPLETE)
