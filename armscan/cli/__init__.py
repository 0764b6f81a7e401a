"""The armscan command line: parse flags, run a scan, write outputs, return the exit code.

Each command lives in its own module; they are registered here, in the order `--help` lists them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console

from armscan.cli import env, image, report, scan
from armscan.cli.app import app
from armscan.cli.common import EXIT_INCOMPLETE, EXIT_USAGE, print_error, print_version
from armscan.rules_engine.loader import RuleError, load_rules

app.command("scan")(scan.scan)
app.command("env")(env.env)
app.command("image")(image.image)
app.command("report")(report.report)
app.add_typer(report.baseline_app, name="baseline")


@app.callback()
def _main(
    version: Annotated[bool, typer.Option("--version", callback=print_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """armscan finds what stands between your code and 64-bit ARM servers."""


@app.command("rules")
def list_rules() -> None:
    """List every rule with its ID, severity and title."""
    try:
        ruleset = load_rules()
    except RuleError as e:
        print_error(Console(stderr=True), str(e))
        raise typer.Exit(EXIT_USAGE) from e
    from rich.table import Table

    table = Table(title=f"{ruleset.pack.name} {ruleset.pack.version}: {len(ruleset.rules)} rules",
                  title_justify="left")
    for column in ("ID", "Severity", "Title"):
        table.add_column(column)
    for rule in sorted(ruleset.rules, key=lambda r: r.id):
        table.add_row(rule.id, rule.severity.value, rule.title)
    Console().print(table)


_TYPER_INTERRUPTED = 130


_SIGNALLED: list[str] = []


def _interrupted(signum: int, frame: FrameType | None) -> None:
    _SIGNALLED.append(signal.Signals(signum).name)
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _leave(code: int) -> None:
    """Exit; after a signal, at once: threads of the stopped worker pool may never finish, and must not hold
    the process (the outputs are written and the streams flushed by then)."""
    if not _SIGNALLED:
        sys.exit(code)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def main() -> None:
    # SIGTERM (a CI job cancelled) and SIGHUP (its terminal gone) end a scan as Ctrl-C does: workers stopped,
    # partial results written, exit 3
    for stop in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(stop) is not signal.SIG_IGN:  # nohup's choice is kept
            signal.signal(stop, _interrupted)
    try:
        app()
    except KeyboardInterrupt:
        print_error(Console(stderr=True), "interrupted")
        _leave(EXIT_INCOMPLETE)
    except SystemExit as e:
        if e.code == _TYPER_INTERRUPTED:  # typer turns a Ctrl-C outside the scan loop into exit 130
            print_error(Console(stderr=True), "interrupted")
            _leave(EXIT_INCOMPLETE)
        if _SIGNALLED:
            _leave(e.code if isinstance(e.code, int) else EXIT_INCOMPLETE)
        raise
    except Exception as e:  # a bug must not exit 1, which means "findings": it is "could not complete"
        if os.environ.get("ARMSCAN_DEBUG"):
            raise
        print_error(Console(stderr=True), f"internal error: {type(e).__name__}: {e} (set ARMSCAN_DEBUG=1 for "
                                          "the traceback)")
        _leave(EXIT_INCOMPLETE)
