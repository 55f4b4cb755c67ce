"""The root ``workbench`` Typer app; feature modules register their commands on it."""

from __future__ import annotations

import typer

app = typer.Typer(
    help="Trading Research Workbench command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
