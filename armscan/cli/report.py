"""`armscan report` and `armscan baseline`: saved results rendered again, merged, or baselined."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from armscan.cli.common import (
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    check_output,
    check_outputs,
    finish,
    load_ruleset,
    load_settings,
    output_targets,
    print_error,
    python_options,
    registry_settings,
    write_output,
)
from armscan.cli_options import (
    BaselineOption,
    ConfigOption,
    CsvOut,
    FailOn,
    FailOnOption,
    GateScope,
    HtmlOut,
    JsonOut,
    MarkdownOut,
    NoIndex,
    Offline,
    Quiet,
    SarifOut,
    ScopeOption,
    Verbose,
)
from armscan.limits import Limits
from armscan.reporters.escape import terminal
from armscan.scan import ScanOptions, scan_paths


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
    scope: ScopeOption = None,
    baseline: BaselineOption = None,
    verbose: Verbose = 0,
    quiet: Quiet = False,
) -> None:
    """Render saved results again, or merge many into one organisation-wide report."""
    from armscan.reporters.load import ResultError, load, merge

    stderr = Console(stderr=True)
    try:
        outputs = output_targets(json_out, html_out, sarif_out, markdown_out, csv_out)
        check_outputs(outputs)
        try:
            merged = merge([load(path) for path in results])
        except ResultError as e:
            raise UsageError(str(e)) from e
        code = finish(merged, outputs, fail_on or FailOn.HIGH, verbose, quiet, stderr, baseline,
                      every_scope=scope is GateScope.ALL)
    except UsageError as e:
        print_error(stderr, str(e))
        code = EXIT_USAGE
    raise typer.Exit(code)


baseline_app = typer.Typer(help="Baselines: accept today's findings so that only new ones fail the gate.",
                           no_args_is_help=True)


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
        check_output(str(output))
        if all(p.is_file() and p.suffix == ".json" for p in inputs):
            try:
                result = merge([load(p) for p in inputs])
            except ResultError as e:
                raise UsageError(str(e)) from e
        else:
            for path in inputs:
                if not os.path.lexists(path):
                    raise UsageError(f"{path}: no such file or folder")
            config = load_settings(config_file, [p if p.is_dir() else p.parent for p in inputs])
            offline = offline or config.get("offline", False)
            no_index = no_index or config.get("no-index", False)
            python = None if no_index else python_options(
                config.get("index-url"), config.get("extra-index-url") or [], offline, config.get("python-version"),
                config.get("glibc"), config.get("musl"), None, 15.0, False, None, config.get("find-links") or [],
                False)
            ruleset = load_ruleset(frozenset(config.get("disable", ())))
            result = scan_paths([(str(p), str(p)) for p in inputs], ruleset,
                                ScanOptions(excludes=tuple(config.get("exclude", ())), limits=Limits(), python=python,
                                            registry=None if offline else registry_settings(None, 30.0)))
        write_output(str(output), create_baseline(result))
        counted = sum(1 for f in result.findings if not (f.suppressed or "").startswith("inline"))
        Console(stderr=True).print(Text(terminal(f"wrote {output}: {counted} findings")), soft_wrap=True)
        code = EXIT_OK if result.complete else EXIT_INCOMPLETE
        for error in result.errors:
            print_error(stderr, error)
    except UsageError as e:
        print_error(stderr, str(e))
        code = EXIT_USAGE
    raise typer.Exit(code)
