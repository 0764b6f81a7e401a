"""`armscan scan`: code trees."""

from __future__ import annotations

import os
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
    registry_settings,
    resolve_fail_on,
    resolve_scope,
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
    InsecureRegistry,
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
    RegistryTimeout,
    SarifOut,
    ScopeOption,
    TargetOption,
    Timeout,
    Verbose,
)
from armscan.compile.phase import CompileOptions
from armscan.limits import Limits
from armscan.scan import ScanOptions, default_jobs


def scan(
    paths: Annotated[list[Path], typer.Argument(help="Folders or files to scan.", show_default=False)],
    config_file: ConfigOption = None,
    json_out: JsonOut = None,
    html_out: HtmlOut = None,
    sarif_out: SarifOut = None,
    markdown_out: MarkdownOut = None,
    csv_out: CsvOut = None,
    fail_on: FailOnOption = None,
    scope: ScopeOption = None,
    target: TargetOption = None,
    os_name: OsOption = None,
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
    compile_check: Annotated[bool, typer.Option(
        "--compile", rich_help_panel="Compile proof",
        help="Compile every C/C++ translation unit for aarch64 (-fsyntax-only) with an aarch64 cross compiler: "
             "compiler errors become findings, files the aarch64 build leaves out are listed, static findings "
             "in files that compile cleanly are lowered.")] = False,
    compile_commands: Annotated[Path | None, typer.Option(
        "--compile-commands", metavar="FILE", rich_help_panel="Compile proof",
        help="The compile_commands.json to use with --compile (default: armscan configures the project for "
             "aarch64 in a scratch folder: CMake, Meson, autotools or a Makefile's dry run).")] = None,
) -> None:
    """Scan code trees for x86-only binaries, x86-specific source and build settings, and Python dependencies."""
    stderr = Console(stderr=True)
    setup_logging(verbose, stderr)
    try:
        for path in paths:
            if not os.path.lexists(path):
                raise UsageError(f"{path}: no such file or folder")
        config = load_settings(config_file, [p if p.is_dir() else p.parent for p in paths])
        targets = resolve_targets(target or config.get("targets"), os_name or config.get("os"))
        glibc, musl = libc_flags(targets, glibc or config.get("glibc"), musl or config.get("musl"))
        offline = offline or config.get("offline", False)
        no_index = no_index or config.get("no-index", False)
        find_links = find_links or config.get("find-links")
        python = None if no_index and not find_links else python_options(
            index_url or config.get("index-url"), extra_index_url or config.get("extra-index-url") or [], offline,
            python_version or config.get("python-version"), glibc, musl,
            cache_dir, timeout, audit or config.get("audit", False), osv_url, find_links or [], no_index)
        outputs = output_targets(json_out, html_out, sarif_out, markdown_out, csv_out)
        if compile_commands is not None and not compile_check:
            raise UsageError("--compile-commands only applies with --compile")
        if compile_commands is not None and not compile_commands.is_file():
            raise UsageError(f"--compile-commands {compile_commands}: no such file")
        compile_options = CompileOptions(compile_commands, jobs or default_jobs()) if compile_check else None
        registry = None if offline else registry_settings(insecure_registry or config.get("insecure-registry"),
                                                  registry_timeout)
        request = ScanRequest([(str(p), str(p)) for p in paths], outputs, resolve_fail_on(fail_on, config),
                           ScanOptions(jobs=jobs, excludes=tuple(exclude or config.get("exclude", ())),
                                       use_ignore_files=not (no_ignore or config.get("no-ignore", False)),
                                       limits=Limits(), python=python, registry=registry, targets=targets,
                                       compile=compile_options),
                           frozenset(disable or config.get("disable", ())),
                           baseline=baseline or optional_path(config.path("baseline")),
                           every_scope=resolve_scope(scope, config))
        code = run_scan(request, verbose, quiet, stderr)
    except UsageError as e:
        print_error(stderr, str(e))
        code = EXIT_USAGE
    raise typer.Exit(code)
