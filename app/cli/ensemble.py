"""``workbench`` commands: the ensemble and its meta-selector (generated from
:data:`app.operations.ensemble.ENSEMBLE_EVAL`)."""

from __future__ import annotations

import typer

from app.cli._app import app
from app.cli._generate import add_command
from app.operations.ensemble import ENSEMBLE_EVAL

ensemble_app = typer.Typer(
    help="Strategy ensemble with a bandit meta-selector.", no_args_is_help=True
)
app.add_typer(ensemble_app, name="ensemble")

add_command(ensemble_app, ENSEMBLE_EVAL)
