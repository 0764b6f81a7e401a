"""Command-line options shared by the commands that scan something (scan, env)."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from armscan.model import Severity


class FailOn(str, enum.Enum):
    BLOCKER = "blocker"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    NONE = "none"

    def threshold(self) -> Severity | None:
        return None if self is FailOn.NONE else Severity(self.value)


class GateScope(str, enum.Enum):
    """Which findings the gate counts: the product's (tests, benchmarks, CI... left out), or all."""

    PRODUCT = "product"
    ALL = "all"


_PY = "Python"

JsonOut = Annotated[str | None, typer.Option("--json", metavar="FILE",
                                             help="Write the JSON result to FILE ('-' for stdout).")]
HtmlOut = Annotated[str | None, typer.Option("--html", metavar="FILE", help="Write the HTML report to FILE.")]
SarifOut = Annotated[str | None, typer.Option("--sarif", metavar="FILE",
                                              help="Write SARIF 2.1.0 to FILE ('-' for stdout).")]
MarkdownOut = Annotated[str | None, typer.Option("--markdown", metavar="FILE",
                                                 help="Write a pull-request comment summary to FILE ('-' for stdout).")]
CsvOut = Annotated[str | None, typer.Option("--csv", metavar="FILE",
                                            help="Write the findings as CSV to FILE ('-' for stdout).")]
FailOnOption = Annotated[FailOn | None, typer.Option("--fail-on", case_sensitive=False, show_default=False,
                                                     help="Exit 1 when a finding is at or above this severity "
                                                          "[default: high].")]
ScopeOption = Annotated[GateScope | None, typer.Option(
    "--scope", case_sensitive=False, show_default=False,
    help="Which findings --fail-on counts: the product's, or all, tests, benchmarks, fuzzers, examples and CI "
         "included [default: product].")]
BaselineOption = Annotated[Path | None, typer.Option("--baseline", metavar="FILE",
                                                     help="Findings this baseline lists do not fail the gate "
                                                          "(see 'armscan baseline create').")]
ConfigOption = Annotated[Path | None, typer.Option("--config", metavar="FILE",
                                                   help="Settings file (.armscan.toml, or a pyproject.toml with "
                                                        "\\[tool.armscan]); default: looked for in the scanned "
                                                        "folder, then here.")]
Jobs = Annotated[int | None, typer.Option("--jobs", "-j", min=1, max=512,
                                          help="Worker processes (default: available cores).")]
Verbose = Annotated[int, typer.Option("--verbose", "-v", count=True,
                                      help="List every finding, info included; -vv for debug logs.")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing on the terminal but errors.")]
IndexUrl = Annotated[str | None, typer.Option("--index-url", metavar="URL", rich_help_panel=_PY,
                                              help="Package index (PEP 503/691 simple API) for Python "
                                                   "dependencies; default: pip's configuration, else PyPI.")]
ExtraIndexUrl = Annotated[list[str] | None, typer.Option("--extra-index-url", metavar="URL", rich_help_panel=_PY,
                                                         help="Another index to ask; repeatable.")]
NoIndex = Annotated[bool, typer.Option("--no-index", rich_help_panel=_PY,
                                       help="Do not ask any package index: only --find-links locations, and "
                                            "without them Python dependencies stay unchecked.")]
FindLinks = Annotated[list[str] | None, typer.Option("--find-links", "-f", metavar="PATH|URL", rich_help_panel=_PY,
                                                     help="A folder of wheels and sdists, or a page linking to "
                                                          "them, to look in as well (as pip's); repeatable.")]
Offline = Annotated[bool, typer.Option("--offline", help="Ask no registry, and package indexes only through the "
                                                         "on-disk cache.")]
PythonVersion = Annotated[str | None, typer.Option("--python-version", metavar="X.Y", rich_help_panel=_PY,
                                                   help="Target Python (default: the environment's, else "
                                                        "requires-python, else this interpreter).")]
Glibc = Annotated[str | None, typer.Option("--glibc", metavar="X.Y", rich_help_panel=_PY, show_default=False,
                                           help="Target glibc version [default: 2.34, Amazon Linux 2023; Amazon "
                                                "Linux 2: 2.26].")]
Musl = Annotated[str | None, typer.Option("--musl", metavar="X.Y", rich_help_panel=_PY,
                                          help="Target musl libc instead of glibc (Alpine: 1.2).")]
CacheDir = Annotated[Path | None, typer.Option("--cache-dir", metavar="DIR", rich_help_panel=_PY,
                                               help="Where index answers are cached.")]
Timeout = Annotated[float, typer.Option("--timeout", metavar="SECONDS", min=0.1, rich_help_panel=_PY,
                                        help="Per-request timeout for package indexes.")]
Audit = Annotated[bool, typer.Option("--audit", rich_help_panel=_PY,
                                     help="Check every release armscan recommends for known vulnerabilities (OSV, "
                                          "through pip-audit) and skip past vulnerable ones.")]
OsvUrl = Annotated[str | None, typer.Option("--osv-url", metavar="URL", rich_help_panel=_PY,
                                            help="OSV query API for --audit (default: https://api.osv.dev/v1/query).")]
InsecureRegistry = Annotated[list[str] | None, typer.Option(
    "--insecure-registry", metavar="HOST[:PORT]", rich_help_panel="Registry",
    help="Speak plain HTTP to this registry; repeatable.")]
RegistryTimeout = Annotated[float, typer.Option("--registry-timeout", metavar="SECONDS", min=0.1,
                                                rich_help_panel="Registry", help="Per-request timeout for registries.")]
TargetOption = Annotated[list[str] | None, typer.Option(
    "--target", metavar="CPU", rich_help_panel="Targets",
    help="CPU profile aarch64 binaries must run on: a1, graviton2, graviton3, graviton4, armv8.0, armv8.2, or an "
         "instance family (c6g, m7g, r8g...); repeatable [default: graviton2].")]
OsOption = Annotated[str | None, typer.Option(
    "--os", metavar="SYSTEM", rich_help_panel="Targets",
    help="System profile: al2, al2023, ubuntu20.04, ubuntu22.04, ubuntu24.04, debian12, rhel8, rhel9, rhel9-64k, "
         "alpine [default: al2023].")]
