"""`armscan image`: container images."""

from __future__ import annotations

import os
from typing import Annotated

import typer
from rich.console import Console

from armscan.cli.common import (
    EXIT_USAGE,
    UsageError,
    check_outputs,
    failed_result,
    finish,
    load_ruleset,
    load_settings,
    optional_path,
    output_targets,
    print_error,
    python_options,
    resolve_fail_on,
    resolve_targets,
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
    HtmlOut,
    IndexUrl,
    InsecureRegistry,
    JsonOut,
    MarkdownOut,
    NoIndex,
    Offline,
    OsOption,
    OsvUrl,
    Quiet,
    RegistryTimeout,
    SarifOut,
    TargetOption,
    Timeout,
    Verbose,
)
from armscan.limits import Limits


def image(
    reference: Annotated[str, typer.Argument(
        help="An image: host/repo:tag, repo@sha256:..., a Docker Hub name, docker-archive:FILE, oci:DIR[:TAG] "
             "or docker-daemon:NAME.", show_default=False)],
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
    from armscan.image.reference import LocalRef, ReferenceError_, RegistryRef
    from armscan.image.registry import RegistryError

    stderr = Console(stderr=True)
    setup_logging(verbose, stderr)
    try:
        check_outputs(output_targets(json_out, html_out, sarif_out, markdown_out, csv_out))
        config = load_settings(config_file, [])
        offline = offline or config.get("offline", False)
        no_index = no_index or config.get("no-index", False)
        find_links = find_links or config.get("find-links")
        user_pass = None
        if creds is not None:
            user, sep, password = creds.partition(":")
            if not sep or not user:
                raise UsageError("--creds takes USER:PASSWORD")
            user_pass = (user, password)
        python = None if no_index and not find_links else python_options(
            index_url or config.get("index-url"), extra_index_url or config.get("extra-index-url") or [], offline,
            None, "2.34", None, cache_dir, timeout, audit or config.get("audit", False), osv_url, find_links or [],
            no_index)
        try:
            from armscan.image.reference import parse

            parsed = parse(reference)
        except ReferenceError_ as e:
            raise UsageError(str(e)) from e
        if isinstance(parsed, LocalRef) and parsed.transport in ("oci", "docker-archive") \
                and not os.path.exists(parsed.path):  # as `scan` on a missing path: the user's mistake
            raise UsageError(f"{reference}: {parsed.path}: no such {'folder' if parsed.transport == 'oci' else 'file'}")
        settings = RegistrySettings(user_pass, parsed.registry if isinstance(parsed, RegistryRef) else None,
                                    frozenset(insecure_registry or config.get("insecure-registry") or ()),
                                    registry_timeout)
        ruleset = load_ruleset(frozenset())
        try:
            source, _ = open_source(reference, settings)
            result = analyze_image(source.label, source, None if offline else registry_opener(settings), ruleset,
                                   ImageOptions(limits=Limits(), python=python, offline=offline,
                                                targets=resolve_targets(target or config.get("targets"),
                                                                        os_name or config.get("os"))))
        except (SourceError, RegistryError) as e:  # nothing could be read: an empty, incomplete result
            result = failed_result(reference, ruleset, str(e))
        outputs = output_targets(json_out, html_out, sarif_out, markdown_out, csv_out)
        code = finish(result, outputs, resolve_fail_on(fail_on, config), verbose, quiet, stderr,
                      baseline or optional_path(config.path("baseline")))
    except UsageError as e:
        print_error(stderr, str(e))
        code = EXIT_USAGE
    raise typer.Exit(code)
