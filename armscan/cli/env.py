"""`armscan env`: installed Python environments."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from armscan.cli.common import (
    EXIT_USAGE,
    ScanRequest,
    UsageError,
    libc_flags,
    load_settings,
    optional_path,
    output_targets,
    print_error,
    python_options,
    resolve_fail_on,
    resolve_targets,
    run_scan,
    setup_logging,
)
from armscan.cli_options import (
    Audit,
    BaselineOption,
    CacheDir,
    ConfigOption,
    CsvOut,
    ExtraIndexUrl,
    FailOnOption,
    FindLinks,
    Glibc,
    HtmlOut,
    IndexUrl,
    Jobs,
    JsonOut,
    MarkdownOut,
    Musl,
    NoIndex,
    Offline,
    OsOption,
    OsvUrl,
    PythonVersion,
    Quiet,
    SarifOut,
    TargetOption,
    Timeout,
    Verbose,
)
from armscan.limits import Limits
from armscan.scan import ScanOptions


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
    config_file: ConfigOption = None,
    fail_on: FailOnOption = None,
    target: TargetOption = None,
    os_name: OsOption = None,
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
    setup_logging(verbose, stderr)
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
        config = load_settings(config_file, [])
        offline = offline or config.get("offline", False)
        no_index = no_index or config.get("no-index", False)
        find_links = find_links or config.get("find-links")
        targets = resolve_targets(target or config.get("targets"), os_name or config.get("os"))
        glibc, musl = libc_flags(targets, glibc or config.get("glibc"), musl or config.get("musl"))
        options = None if no_index and not find_links else python_options(
            index_url or config.get("index-url"), extra_index_url or config.get("extra-index-url") or [], offline,
            python_version, glibc, musl, cache_dir, timeout, audit or config.get("audit", False), osv_url,
            find_links or [], no_index)
        request = ScanRequest(folders, output_targets(json_out, html_out, sarif_out, markdown_out, csv_out),
                           resolve_fail_on(fail_on, config),
                           ScanOptions(jobs=jobs, use_ignore_files=False, limits=Limits(), python=options,
                                       targets=targets, scopes=False),
                           frozenset(), binaries_only=True,
                           baseline=baseline or optional_path(config.path("baseline")))
        code = run_scan(request, verbose, quiet, stderr)
    except UsageError as e:
        print_error(stderr, str(e))
        code = EXIT_USAGE
    raise typer.Exit(code)
