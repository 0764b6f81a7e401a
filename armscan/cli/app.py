"""The typer application every command registers with."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="armscan",
    help="ARM migration readiness scanner: what will not run on aarch64, why, and the work it takes.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
