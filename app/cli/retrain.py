"""``workbench`` commands: performance-triggered retraining (generated from
:data:`app.operations.retrain.RETRAIN_REPLAY`)."""

from __future__ import annotations

import typer

from app.cli._app import app
from app.cli._generate import add_command
from app.operations.retrain import RETRAIN_REPLAY

retrain_app = typer.Typer(help="Performance-triggered retraining.", no_args_is_help=True)
app.add_typer(retrain_app, name="retrain")

add_command(retrain_app, RETRAIN_REPLAY)
